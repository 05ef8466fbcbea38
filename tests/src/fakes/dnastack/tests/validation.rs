//! What `POST E/runs` rejects; Bearer auth (401, 403); engines and workflows.

use super::*;

/// The `msg` of a 400 WorkbenchApiError.
fn rejected((status, body): (u16, Value)) -> String {
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (400, Some(400)),
        "{body}"
    );
    assert!(body["timestamp"].is_string() && body["trace_id"].is_string());
    body["msg"].as_str().expect("a msg").to_owned()
}

#[tokio::test]
async fn submissions_need_json_a_registered_workflow_and_a_known_engine() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let api = Ewes::connect(&fake).await;
    let url = format!("{}/runs", api.ewes);
    let form = reqwest::multipart::Form::new()
        .text("workflow_url", "fedimpute-imputation/v1")
        .text("workflow_params", "{}");
    let multipart = api.send(api.http.post(&url).multipart(form)).await;
    assert!(rejected(multipart).contains("multipart/form-data"));
    let bad_json = api
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{oops");
    rejected(api.send(bad_json).await);
    rejected(api.post("/runs", &json!(["not", "an", "object"])).await);

    let mut unknown = run_request(json!({}));
    unknown["workflow_url"] = json!("fedimpute-imputation/v9");
    let msg = rejected(api.post("/runs", &unknown).await);
    assert!(
        msg.contains("'fedimpute-imputation' version 'v9' is not registered"),
        "{msg}"
    );
    let ids = json!({"workflow_id": "other", "workflow_version_id": "v1"});
    assert!(rejected(api.post("/runs", &ids).await).contains("'other'"));
    assert!(
        rejected(api.post("/runs", &json!({"workflow_params": {}})).await).contains("required")
    );
    let no_slash = json!({"workflow_url": "fedimpute-imputation"});
    rejected(api.post("/runs", &no_slash).await);
    let mut engine = run_request(json!({}));
    engine["engine_id"] = json!("engine-9");
    assert!(rejected(api.post("/runs", &engine).await).contains("engine-9"));
    let mut tags = run_request(json!({}));
    tags["tags"] = json!({"n": 1});
    assert!(rejected(api.post("/runs", &tags).await).contains("tags"));
    let mut params = run_request(json!({}));
    params["workflow_params"] = json!("input=x");
    assert!(rejected(api.post("/runs", &params).await).contains("workflow_params"));
    assert_eq!(fake.submission_count(), 0);
    assert!(fake.runs().is_empty());
    fake.stop().await;
}

#[tokio::test]
async fn bearer_tokens_expiry_and_namespaces() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let api = Ewes::connect(&fake).await;
    let run_id = api.submit(&run_request(json!({}))).await;
    let status = format!("{}/runs/{run_id}/status", api.ewes);
    let anonymous = api.http.get(&status).send().await.expect("reply");
    assert_eq!(anonymous.status().as_u16(), 401);
    let body: Value = anonymous.json().await.expect("json");
    assert_eq!(body["error_code"], json!(401));
    assert!(
        body["msg"].is_string() && body["trace_id"].is_string() && body["timestamp"].is_string()
    );
    let forged = api
        .http
        .get(&status)
        .bearer_auth("forged")
        .send()
        .await
        .expect("reply");
    assert_eq!(forged.status().as_u16(), 401);
    let other = format!("{}/ewes/other-namespace/ga4gh/wes/v1/runs", api.base);
    let (code, body) = api.get(&other).await;
    assert_eq!((code, body["error_code"].as_u64()), (403, Some(403)));
    let post = api.http.post(&other).json(&run_request(json!({})));
    assert_eq!(api.send(post).await.0, 403);
    assert_eq!(fake.submission_count(), 1);
    // The registry needs no token.
    let registry = api
        .http
        .get(format!("{}/api/service-registry/services", api.base));
    assert_eq!(registry.send().await.expect("reply").status().as_u16(), 200);

    assert_eq!(api.state(&run_id).await, "QUEUED");
    fake.expire_tokens();
    let (code, body) = api.get(&format!("/runs/{run_id}/status")).await;
    assert_eq!((code, body["error_code"].as_u64()), (401, Some(401)));
    // The refused poll did not advance the run; a fresh token works.
    assert_eq!(
        fake.run(&run_id).map(|r| r.state).as_deref(),
        Some("QUEUED")
    );
    let fresh = Ewes::connect(&fake).await;
    assert_eq!(fresh.state(&run_id).await, "INITIALIZING");
    assert_eq!(fake.token_requests(), 2);
    fake.stop().await;
}

#[tokio::test]
async fn engines_and_workflows_are_listed_for_the_namespace() {
    let fake = FakeDnastack::start(DnastackConfig {
        workflows: vec![
            ("fedimpute-imputation".into(), "v1".into()),
            ("fedimpute-imputation".into(), "v2".into()),
            ("qc-only".into(), "1.0".into()),
        ],
        ..DnastackConfig::default()
    })
    .await;
    let api = Ewes::connect(&fake).await;
    let ns = format!("{}/ewes/fake-namespace", api.base);
    let (code, engines) = api.get(&format!("{ns}/engines")).await;
    assert_eq!(
        (code, engines["engines"][0]["id"].as_str()),
        (200, Some("engine-1"))
    );
    assert_eq!(engines["engines"][0]["provider"], json!("LOCAL"));
    assert_eq!(engines["engines"][0]["default"], json!(true));
    let (code, engine) = api.get(&format!("{ns}/engines/engine-1")).await;
    assert_eq!((code, engine["name"].is_string()), (200, true));
    assert_eq!(api.get(&format!("{ns}/engines/engine-9")).await.0, 404);
    let (code, checks) = api
        .get(&format!("{ns}/engines/engine-1/health-checks"))
        .await;
    assert_eq!(
        (code, checks["health_checks"][0]["outcome"].as_str()),
        (200, Some("SUCCESS"))
    );
    assert_eq!(
        api.get(&format!("{ns}/engines/engine-9/health-checks"))
            .await
            .0,
        404
    );
    let other = format!("{}/ewes/elsewhere/engines", api.base);
    assert_eq!(api.get(&other).await.0, 403);
    let anon = api
        .http
        .get(format!("{ns}/engines"))
        .send()
        .await
        .expect("reply");
    assert_eq!(anon.status().as_u16(), 401);

    let wf = format!("{}/workflows/fake-namespace/workflows", api.base);
    let (code, list) = api.get(&wf).await;
    assert_eq!(code, 200);
    let names: Vec<&str> = list["workflows"]
        .as_array()
        .expect("workflows")
        .iter()
        .filter_map(|w| w["internalId"].as_str())
        .collect();
    assert_eq!(names, ["fedimpute-imputation", "qc-only"]);
    assert_eq!(list["workflows"][0]["latestVersion"], json!("v2"));
    let (code, versions) = api
        .get(&format!("{wf}/fedimpute-imputation/versions"))
        .await;
    let ids: Vec<&str> = versions["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert_eq!((code, ids), (200, vec!["v1", "v2"]));
    assert_eq!(api.get(&format!("{wf}/nope/versions")).await.0, 404);
    let mut v2 = run_request(json!({}));
    v2["workflow_url"] = json!("fedimpute-imputation/v2");
    api.submit(&v2).await;
    fake.stop().await;
}
