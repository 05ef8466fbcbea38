//! Job API tests over loopback HTTP: the submit checks in the server's order, field
//! handling, access control (401/403/404), cancel and restart.

use serde_json::{Value, json};

use super::testkit::*;
use super::*;

#[tokio::test]
async fn submit_checks_auth_maintenance_cap_app_and_fields_in_order() {
    let fake = FakeCloudgene::start(config(|c| c.tokens.push("second-token".to_owned()))).await;
    let reply = submit(&fake, "", good_form("anon")).await;
    assert_eq!(reply.status(), 401);
    let body: Value = reply.json().await.unwrap_or_default();
    assert_eq!(body["message"], "Unauthorized");
    assert_eq!(submit(&fake, "wrong", good_form("x")).await.status(), 401);
    fake.set_maintenance(true);
    let reply = submit(&fake, TOKEN, good_form("x")).await;
    assert_eq!(reply.status(), 503);
    assert_eq!(
        reply.json::<Value>().await.unwrap_or_default()["message"],
        MAINTENANCE_MESSAGE
    );
    fake.set_maintenance(false);

    let first = submit_ok(&fake, good_form("one")).await;
    submit_ok(&fake, good_form("two")).await;
    let reply = submit(&fake, TOKEN, good_form("three")).await;
    assert_eq!(reply.status(), 400);
    let body: Value = reply.json().await.unwrap_or_default();
    assert_eq!(
        body,
        json!({"message": "Only 2 jobs per user can be executed simultaneously.", "success": false})
    );
    assert_eq!(
        submit(&fake, "second-token", good_form("theirs"))
            .await
            .status(),
        200,
        "the cap is per user"
    );
    let (status, cancelled) =
        get_json(&fake, &format!("/api/v2/jobs/{first}/cancel"), Some(TOKEN)).await;
    assert_eq!((status, cancelled["state"].as_i64()), (200, Some(6)));
    let third = submit_ok(&fake, good_form("three")).await;
    fake.set_state(&third, 5);

    let url = format!("{}/api/v2/jobs/submit/minimac4", fake.base_url());
    let reply = client()
        .post(url)
        .header("X-Auth-Token", TOKEN)
        .multipart(good_form("x"))
        .send()
        .await;
    let reply = reply.expect("reply");
    assert_eq!(reply.status(), 404);
    assert_eq!(
        reply.json::<Value>().await.unwrap_or_default()["message"],
        "Application 'minimac4' not found."
    );
    let url = format!(
        "{}/api/v2/jobs/submit/imputationserver2@2.0.12",
        fake.base_url()
    );
    let reply = client()
        .post(url)
        .header("X-Auth-Token", TOKEN)
        .multipart(good_form("versioned"))
        .send()
        .await;
    assert_eq!(reply.expect("reply").status(), 200);

    fake.advance_all(100);
    let before = fake.submission_count();
    let bad = form(
        &[("input-refpanel", PANEL), ("input-format", "vcf")],
        &[("a.vcf.gz", fixture(VCF_51))],
    );
    let reply = submit(&fake, TOKEN, bad).await;
    assert_eq!(reply.status(), 400);
    let body: Value = reply.json().await.unwrap_or_default();
    assert_eq!(
        body,
        json!({"message": "Parameter 'format' not found.", "success": false})
    );
    assert_eq!(
        fake.submission_count(),
        before,
        "a rejected submit creates no job"
    );
    fake.stop().await;
}

#[tokio::test]
async fn submit_strips_prefixes_escapes_text_and_can_keep_uploads() {
    let fake = FakeCloudgene::start(config(|c| c.keep_uploads = true)).await;
    let vcf = fixture(VCF_51);
    let fields = [
        ("input-job-name", "a<b>&\"c\""),
        ("input-refpanel", "1000g-phase-3-v5"),
        ("files-pattern", "*.vcf.gz"),
        ("password", "p&ss"),
        ("aesEncryption", "false"),
    ];
    let id = submit_ok(&fake, form(&fields, &[("chr20.vcf.gz", vcf.clone())])).await;
    let job = fake.job(&id).expect("job");
    assert_eq!(job.name, "a&lt;b&gt;&amp;&quot;c&quot;");
    assert_eq!(
        (job.password.as_deref(), job.aes_encryption),
        (Some("p&amp;ss"), true)
    );
    assert_eq!(
        (job.scenario, job.refpanel.as_deref()),
        (Scenario::Success, Some("1000g-phase-3-v5"))
    );
    let submission = fake.submissions().pop().expect("recorded");
    let names: Vec<&str> = submission.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "job-name",
            "refpanel",
            "files-pattern",
            "password",
            "aesEncryption"
        ]
    );
    assert_eq!(submission.files[0].bytes.as_deref(), Some(vcf.as_slice()));
    fake.stop().await;
}

#[tokio::test]
async fn job_routes_answer_401_403_404_and_delete_is_forbidden() {
    let fake = FakeCloudgene::start(config(|c| c.tokens.push("second-token".to_owned()))).await;
    let id = submit_ok(&fake, good_form("mine")).await;
    for suffix in ["", "/status", "/cancel", "/restart"] {
        let path = format!("/api/v2/jobs/{id}{suffix}");
        let (status, body) = get_json(&fake, &path, Some("second-token")).await;
        assert_eq!(
            (status, body),
            (403, json!({"message": "Access denied.", "success": false})),
            "{path}"
        );
        let (status, _) = get_json(&fake, &path, None).await;
        assert_eq!(status, 401, "{path}");
        let (status, body) = get_json(
            &fake,
            &format!("/api/v2/jobs/job-nope{suffix}"),
            Some(TOKEN),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Job job-nope not found.")),
            "{suffix}"
        );
    }
    assert_eq!(
        fake.job(&id).map(|j| j.state),
        Some(1),
        "refused requests advance nothing"
    );
    let url = format!("{}/api/v2/jobs/{id}", fake.base_url());
    let deleted = client()
        .delete(&url)
        .header("X-Auth-Token", TOKEN)
        .send()
        .await
        .expect("reply");
    assert_eq!(deleted.status(), 403);
    let anonymous = client().delete(&url).send().await.expect("reply");
    assert_eq!(anonymous.status(), 401);
    let logs = client()
        .get(format!("{}/logs/{id}", fake.base_url()))
        .header("X-Auth-Token", TOKEN)
        .send()
        .await;
    let logs = logs.expect("reply");
    assert!(
        logs.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    assert!(
        logs.text()
            .await
            .unwrap_or_default()
            .contains(&format!("Job {id} submitted"))
    );
    let (status, _) = get_json(&fake, &format!("/logs/{id}"), Some("second-token")).await;
    assert_eq!(status, 403);
    // A revoked token stops working mid-job.
    fake.set_tokens(vec!["rotated".to_owned()]);
    let (status, _) = get_json(&fake, &format!("/api/v2/jobs/{id}/status"), Some(TOKEN)).await;
    assert_eq!(status, 401);
    let (status, job) =
        get_json(&fake, &format!("/api/v2/jobs/{id}/status"), Some("rotated")).await;
    assert_eq!((status, job["state"].as_i64()), (200, Some(2)));
    fake.stop().await;
}

#[tokio::test]
async fn cancel_stops_running_jobs_and_restart_revives_dead_ones() {
    let fake = FakeCloudgene::start(config(|c| c.max_running_jobs_per_user = 10)).await;
    let running = submit_ok(&fake, good_form("running")).await;
    fake.advance(&running, 2);
    let (_, job) = get_json(
        &fake,
        &format!("/api/v2/jobs/{running}/cancel"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(
        (job["state"].as_i64(), job["endTime"].as_i64() > Some(0)),
        (Some(6), true)
    );
    let (status, again) = get_json(
        &fake,
        &format!("/api/v2/jobs/{running}/cancel"),
        Some(TOKEN),
    )
    .await;
    assert_eq!((status, again["state"].as_i64()), (200, Some(6)));
    let done = submit_ok(&fake, good_form("done")).await;
    fake.advance(&done, 20);
    let (status, job) = get_json(&fake, &format!("/api/v2/jobs/{done}/cancel"), Some(TOKEN)).await;
    assert_eq!(
        (status, job["state"].as_i64()),
        (200, Some(4)),
        "terminal jobs stay as they are"
    );

    fake.push_scenario(Scenario::QcFailure);
    let queued = submit_ok(&fake, good_form("queued")).await;
    let exporting = submit_ok(&fake, good_form("exporting")).await;
    fake.advance(&exporting, 6);
    assert_eq!(fake.job(&exporting).map(|j| j.state), Some(3));
    let path = format!("/api/v2/jobs/{queued}/restart");
    let (status, body) = get_json(&fake, &path, Some(TOKEN)).await;
    assert_eq!(
        (status, body["message"].clone()),
        (400, json!(format!("Job {queued} is not pending.")))
    );
    fake.restart_server();
    let states: Vec<i32> = [&running, &done, &queued, &exporting]
        .iter()
        .filter_map(|id| fake.job(id))
        .map(|j| j.state)
        .collect();
    assert_eq!(states, [6, 4, -1, -1]);
    let (status, job) = get_json(&fake, &path, Some(TOKEN)).await;
    assert_eq!(
        (status, job["state"].as_i64(), job["steps"].clone()),
        (200, Some(1), json!([]))
    );
    let (seen, job) = poll_to_end(&fake, &queued, 20).await;
    assert_eq!(
        (seen, job["state"].as_i64()),
        (vec![2, 5], Some(5)),
        "the scenario survives a restart"
    );
    let (_, job) = get_json(
        &fake,
        &format!("/api/v2/jobs/{exporting}/restart"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(job["state"], 1);
    fake.stop().await;
}
