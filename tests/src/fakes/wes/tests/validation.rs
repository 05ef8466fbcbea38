//! What `POST /runs` rejects, run-id checks, and Bearer auth with run ownership.

use reqwest::multipart::{Form, Part};

use super::*;

/// A form with the given type, version, URL and `workflow_params` text.
fn form(kind: &str, version: &str, url: &str, params: &str) -> Form {
    Form::new()
        .text("workflow_type", kind.to_owned())
        .text("workflow_type_version", version.to_owned())
        .text("workflow_url", url.to_owned())
        .text("workflow_params", params.to_owned())
}

/// The `msg` of a 400 reply.
async fn rejected(api: &Api, form: Form) -> String {
    let (status, body) = api.submit(form).await;
    assert_eq!(
        (status, body["status_code"].as_u64()),
        (400, Some(400)),
        "{body}"
    );
    body["msg"].as_str().expect("a msg").to_owned()
}

#[tokio::test]
async fn weskit_rejects_json_bodies_absolute_urls_and_bad_fields() {
    let fake = FakeWes::start(WesConfig::default()).await;
    let api = Api::new(&fake, None);
    let empty = json!({"msg": "Malformed request: Empty form data", "status_code": 400});
    let url = format!("{}/runs", api.base);
    let json_body = api.http.post(&url).json(&json!({"workflow_type": "NFL"}));
    let (status, body) = api.send(json_body).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).ok()),
        (400, Some(empty.clone()))
    );
    let (status, body) = api.send(api.http.post(&url)).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).ok()),
        (400, Some(empty.clone()))
    );
    let urlencoded = api.http.post(&url).form(&[("workflow_type", "NFL")]);
    assert_eq!(api.send(urlencoded).await.0, 400);

    let ok_params = r#"{"input": "x.vcf.gz"}"#;
    for bad in [
        "https://github.com/elwazi/fedimpute",
        "http://x/main.nf",
        "/data/main.nf",
        "../main.nf",
    ] {
        let msg = rejected(&api, form("NFL", "22.10.0", bad, ok_params)).await;
        assert!(
            msg.starts_with("Malformed request: [\"workflow_url: "),
            "{msg}"
        );
    }
    let msg = rejected(&api, form("NFL", "22.10.0", "main.nf", "{not json")).await;
    assert!(
        msg.starts_with("Malformed request: [") && msg.contains("workflow_params"),
        "{msg}"
    );
    let msg = rejected(&api, form("NFL", "22.10.0", "main.nf", "[1, 2]")).await;
    assert!(msg.contains("workflow_params"), "{msg}");
    // ORIG sent workflow_type "imputation", valid nowhere.
    let msg = rejected(&api, form("imputation", "1.0", "main.nf", ok_params)).await;
    assert!(
        msg.contains("workflow_type: unallowed value 'imputation'"),
        "{msg}"
    );
    let msg = rejected(&api, form("NFL", "21.04.0", "main.nf", ok_params)).await;
    assert!(
        msg.contains("workflow_type_version: unallowed value '21.04.0'"),
        "{msg}"
    );
    let missing = Form::new().text("workflow_type", "NFL");
    let msg = rejected(&api, missing).await;
    for field in ["workflow_type_version", "workflow_url", "workflow_params"] {
        assert!(msg.contains(&format!("{field}: required field")), "{msg}");
    }
    let tags = form("NFL", "22.10.0", "main.nf", ok_params).text("tags", r#"{"n": 1}"#);
    assert!(
        rejected(&api, tags)
            .await
            .contains("tags: values must be strings")
    );
    let engine =
        form("NFL", "22.10.0", "main.nf", ok_params).text("workflow_engine_parameters", "nope");
    assert!(
        rejected(&api, engine)
            .await
            .contains("workflow_engine_parameters")
    );
    for name in ["../etc/passwd", ".nextflow/history"] {
        let part = Part::bytes(b"x".to_vec()).file_name(name.to_owned());
        let attach = form("NFL", "22.10.0", "main.nf", ok_params).part("workflow_attachment", part);
        assert!(rejected(&api, attach).await.contains("workflow_attachment"));
    }
    let unnamed = form("NFL", "22.10.0", "main.nf", ok_params)
        .part("workflow_attachment", Part::bytes(b"x".to_vec()));
    assert!(rejected(&api, unnamed).await.contains("needs a filename"));
    assert_eq!(fake.submission_count(), 0);
    assert!(fake.runs().is_empty());

    for good in [
        "imputation/main.nf",
        "file:imputation/main.nf",
        "trs://example.org/fedimpute/1.0",
    ] {
        assert_eq!(
            api.submit(form("SMK", "6.10.0", good, ok_params)).await.0,
            200
        );
    }
    assert_eq!(fake.submission_count(), 3);
    fake.stop().await;
}

#[tokio::test]
async fn starter_kit_and_spec11_validation() {
    let config = WesConfig {
        style: WesStyle::StarterKit,
        ..WesConfig::default()
    };
    let fake = FakeWes::start(config).await;
    let api = Api::new(&fake, None);
    let (status, body) = api
        .submit(form(
            "NEXTFLOW",
            "21.04.0",
            "https://github.com/elwazi/fedimpute",
            "{bad",
        ))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        (body["status_code"].as_u64(), body["error"].as_str()),
        (Some(400), Some("Bad Request"))
    );
    assert!(body["timestamp"].is_string());
    let msg = body["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("Supplied workflow_params not valid JSON"),
        "{msg}"
    );
    let json_body = api.http.post(format!("{}/runs", api.base)).json(&json!({}));
    let (status, body) = api.send(json_body).await;
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!((status, body["error"].as_str()), (400, Some("Bad Request")));
    let (status, _) = api.submit(form("NFL", "22.10.0", "main.nf", "{}")).await;
    assert_eq!(status, 400);
    fake.stop().await;

    let config = WesConfig {
        style: WesStyle::Spec11,
        ..WesConfig::default()
    };
    let fake = FakeWes::start(config).await;
    let api = Api::new(&fake, None);
    let url = "https://github.com/elwazi/fedimpute/main.nf";
    assert_eq!(api.submit(form("NFL", "22.10.0", url, "{}")).await.0, 200);
    assert_eq!(api.submit(form("CWL", "v1.2", url, "{}")).await.0, 200);
    assert_eq!(api.submit(form("SMK", "6.10.0", url, "{}")).await.0, 400);
    fake.stop().await;
}

#[tokio::test]
async fn run_ids_unknown_runs_and_owners() {
    let config = WesConfig {
        require_token: Some("alice".into()),
        other_tokens: vec!["bob".into()],
        ..WesConfig::default()
    };
    let fake = FakeWes::start(config).await;
    let alice = Api::new(&fake, Some("alice"));
    let bob = alice.as_user("bob");
    let anonymous = Api::new(&fake, None);
    let (status, body) = anonymous.submit(weskit_form(&params(), &json!({}))).await;
    assert_eq!(
        (status, body),
        (401, json!({"msg": "Missing Authorization Header"}))
    );
    assert_eq!(alice.as_user("mallory").get("/runs").await.0, 401);
    let run_id = alice.submit_ok(params(), json!({})).await;
    assert_eq!(
        fake.run(&run_id).and_then(|r| r.owner).as_deref(),
        Some("alice")
    );
    assert_eq!(fake.submissions()[0].bearer.as_deref(), Some("alice"));

    for path in [format!("/runs/{run_id}"), format!("/runs/{run_id}/status")] {
        let (status, body) = bob.get(&path).await;
        assert_eq!(
            (status, body["status_code"].as_u64()),
            (403, Some(403)),
            "{path}"
        );
        assert!(body["msg"].is_string());
    }
    assert_eq!(bob.post(&format!("/runs/{run_id}/cancel")).await.0, 403);
    assert_eq!(bob.get(&format!("/runs/{run_id}/tasks")).await.0, 403);
    // Bob's polls did not move Alice's run; his listing does not show it.
    assert_eq!(
        fake.run(&run_id).map(|r| r.state).as_deref(),
        Some("QUEUED")
    );
    assert_eq!(bob.get("/runs").await.1["runs"], json!([]));
    assert_eq!(
        alice.get("/runs").await.1["runs"][0]["run_id"],
        json!(run_id)
    );

    let (status, body) = alice.get("/runs/not-a-uuid/status").await;
    assert_eq!((status, body["status_code"].as_u64()), (500, Some(500)));
    assert!(body["msg"].is_string());
    let unknown = uuid::Uuid::new_v4();
    let (status, body) = alice.get(&format!("/runs/{unknown}")).await;
    assert_eq!((status, body["status_code"].as_u64()), (404, Some(404)));

    // Output and log files need no token (they stand for pre-signed URLs).
    assert_eq!(
        alice.life(&run_id).await.last().map(String::as_str),
        Some("COMPLETE")
    );
    let (_, log) = alice.get(&format!("/runs/{run_id}")).await;
    let vcf = log["outputs"]["imputed_vcf"].as_str().expect("url");
    assert_eq!(anonymous.fetch(vcf).await.0, 200);
    let stderr = log["run_log"]["stderr"].as_str().expect("url");
    assert_eq!(anonymous.fetch(stderr).await.0, 200);
    fake.stop().await;
}
