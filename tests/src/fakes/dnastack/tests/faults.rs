//! Scripted per-route faults: token endpoint down or slow, accept-then-hang or -close on
//! submit, 5xx on list and status, output and cancel faults.

use super::*;

fn quick_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .expect("a reqwest client")
}

#[tokio::test]
async fn token_endpoint_down_or_slow() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let token_url = format!("{}/oauth/token", fake.base_url());
    let http = reqwest::Client::new();
    fake.push_route_fault(
        ROUTE_TOKEN,
        Fault::Status(503, "down".into(), "text/plain"),
        1,
    );
    fake.push_route_fault(
        ROUTE_TOKEN,
        Fault::Status(500, "boom".into(), "text/plain"),
        1,
    );
    for expected in [503, 500] {
        let reply = http
            .post(&token_url)
            .form(&GOOD_CLIENT)
            .send()
            .await
            .expect("reply");
        assert_eq!(reply.status().as_u16(), expected);
    }
    assert!(
        fake.last_token_request().is_none(),
        "faulted requests are not processed"
    );
    fake.set_route_fault(ROUTE_TOKEN, Fault::Delay(Duration::from_secs(5)));
    let slow = quick_client()
        .post(&token_url)
        .form(&GOOD_CLIENT)
        .send()
        .await;
    assert!(slow.expect_err("too slow").is_timeout());
    fake.set_route_fault(ROUTE_TOKEN, Fault::None);
    let api = Ewes::connect(&fake).await;
    assert_eq!(api.get("/service-info").await.0, 200);
    assert_eq!(fake.token_requests(), 4);
    assert_eq!(fake.hits("/oauth/token"), 4);
}

#[tokio::test]
async fn submit_faults_after_accept_leave_a_run_behind() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let api = Ewes::connect(&fake).await;
    let url = format!("{}/runs", api.ewes);
    fake.push_route_fault(ROUTE_SUBMIT, Fault::HangAfterAccept, 1);
    let body = run_request(json!({"platform_job_id": "j1"}));
    let hung = quick_client()
        .post(&url)
        .bearer_auth(&api.token)
        .json(&body)
        .send()
        .await
        .expect_err("no reply comes");
    assert!(hung.is_timeout(), "{hung:?}");
    assert_eq!(fake.submission_count(), 1);
    assert_eq!(fake.runs()[0].state, "PREPROCESSING");

    fake.push_route_fault(ROUTE_SUBMIT, Fault::CloseAfterAccept, 1);
    let request = api.http.post(&url).bearer_auth(&api.token).json(&body);
    let closed = async { request.send().await?.text().await }.await;
    assert!(!closed.expect_err("the reply breaks off").is_timeout());
    assert_eq!(fake.submission_count(), 2);
    // The client de-duplicates by tag (C.5).
    let (_, page) = api.get("/runs?tag=platform_job_id:j1").await;
    assert_eq!(page["pagination"]["total_elements"], json!(2));

    fake.push_route_fault(
        ROUTE_SUBMIT,
        Fault::Status(503, "busy".into(), "text/plain"),
        1,
    );
    let batch = json!({"workflow_url": "fedimpute-imputation/v1", "run_requests": [{}]});
    assert_eq!(api.post("/batch", &batch).await.0, 503);
    assert_eq!(fake.submission_count(), 2);
    assert_eq!(api.post("/batch", &batch).await.0, 200);
    assert_eq!(fake.submission_count(), 3);
}

#[tokio::test]
async fn list_status_cancel_and_output_faults() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let api = Ewes::connect(&fake).await;
    let run_id = api.submit(&run_request(json!({}))).await;
    let status = format!("/runs/{run_id}/status");
    fake.push_route_fault(
        ROUTE_STATUS,
        Fault::Status(503, "busy".into(), "text/plain"),
        1,
    );
    fake.push_route_fault(
        ROUTE_STATUS,
        Fault::Status(500, "boom".into(), "text/plain"),
        1,
    );
    assert_eq!(api.get(&status).await.0, 503);
    assert_eq!(api.get(&format!("/runs/{run_id}")).await.0, 500);
    assert_eq!(
        api.state(&run_id).await,
        "QUEUED",
        "faulted polls do not advance"
    );
    fake.set_route_fault(ROUTE_LIST, Fault::Status(503, "busy".into(), "text/plain"));
    assert_eq!(api.get("/runs").await.0, 503);
    fake.set_route_fault(ROUTE_LIST, Fault::nginx_bad_gateway());
    assert_eq!(api.get("/runs").await.0, 502);
    fake.set_route_fault(ROUTE_LIST, Fault::None);
    assert_eq!(api.get("/runs").await.0, 200);

    fake.push_route_fault(
        ROUTE_CANCEL,
        Fault::Status(500, "boom".into(), "text/plain"),
        2,
    );
    assert_eq!(
        api.post(&format!("/runs/{run_id}/cancel"), &json!({}))
            .await
            .0,
        500
    );
    assert_eq!(api.post("/runs/cancel", &json!([run_id])).await.0, 500);
    assert_eq!(
        fake.run(&run_id).map(|r| r.state).as_deref(),
        Some("QUEUED")
    );

    let done = api.submit(&run_request(json!({}))).await;
    assert!(fake.set_state(&done, "COMPLETE"));
    let url = format!("{}/outputs/{done}/chr20.dose.vcf.gz", fake.base_url());
    fake.push_route_fault(
        ROUTE_OUTPUT,
        Fault::Status(503, "later".into(), "text/plain"),
        1,
    );
    assert_eq!(api.raw(&url, false).await.status().as_u16(), 503);
    let reply = api.raw(&url, false).await;
    assert_eq!(reply.status().as_u16(), 200);
    let bytes = reply.bytes().await.expect("bytes").to_vec();
    assert_eq!(Some(bytes), fake.output_bytes(&done, "chr20.dose.vcf.gz"));
    fake.stop().await;
}
