//! Scripted per-route faults: accept-then-hang or -close on submit, and the others.

use std::time::Duration;

use super::*;

fn quick_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .expect("a reqwest client")
}

#[tokio::test]
async fn submit_faults_after_accept_leave_a_run_behind() {
    let fake = FakeWes::start(WesConfig::default()).await;
    let api = Api::new(&fake, None);
    let url = format!("{}/runs", api.base);
    fake.push_route_fault(ROUTE_SUBMIT, Fault::HangAfterAccept, 1);
    let hung = quick_client()
        .post(&url)
        .multipart(weskit_form(&params(), &json!({"platform_job_id": "j1"})))
        .send()
        .await
        .expect_err("no reply comes");
    assert!(hung.is_timeout(), "{hung:?}");
    let runs = fake.runs();
    assert_eq!((runs.len(), fake.submission_count()), (1, 1));
    assert_eq!(runs[0].state, "QUEUED");
    assert_eq!(
        runs[0].tags.get("platform_job_id").map(String::as_str),
        Some("j1")
    );

    fake.push_route_fault(ROUTE_SUBMIT, Fault::CloseAfterAccept, 1);
    let request = api
        .http
        .post(&url)
        .multipart(weskit_form(&params(), &json!({"platform_job_id": "j2"})));
    let closed = async { request.send().await?.text().await }.await;
    let error = closed.expect_err("the reply breaks off");
    assert!(!error.is_timeout(), "{error:?}");
    assert_eq!(fake.submission_count(), 2);
    // A client de-duplicating by tag finds both runs in the listing.
    let (_, list) = api.get("/runs").await;
    assert_eq!(list["runs"].as_array().map(Vec::len), Some(2));

    fake.set_route_fault(
        ROUTE_SUBMIT,
        Fault::Status(503, "busy".into(), "text/plain"),
    );
    let (status, _) = api.submit(weskit_form(&params(), &json!({}))).await;
    assert_eq!((status, fake.submission_count()), (503, 2));
    fake.set_route_fault(ROUTE_SUBMIT, Fault::None);
    api.submit_ok(params(), json!({})).await;
    assert_eq!(fake.submission_count(), 3);
}

#[tokio::test]
async fn status_list_cancel_and_output_faults() {
    let fake = FakeWes::start(WesConfig::default()).await;
    let api = Api::new(&fake, None);
    let run_id = api.submit_ok(params(), json!({})).await;
    let status_path = format!("/runs/{run_id}/status");
    fake.push_route_fault(
        ROUTE_STATUS,
        Fault::Status(503, "busy".into(), "text/plain"),
        2,
    );
    assert_eq!(api.get(&status_path).await.0, 503);
    assert_eq!(api.get(&format!("/runs/{run_id}")).await.0, 503);
    // Failed polls do not advance the run.
    assert_eq!(api.state(&run_id).await, "INITIALIZING");

    fake.set_route_fault(ROUTE_STATUS, Fault::Hang);
    let hung = quick_client()
        .get(format!("{}{status_path}", api.base))
        .send()
        .await
        .expect_err("no reply");
    assert!(hung.is_timeout());
    fake.set_route_fault(ROUTE_STATUS, Fault::CloseAfterAccept);
    let request = api.http.get(format!("{}{status_path}", api.base));
    assert!(async { request.send().await?.text().await }.await.is_err());
    fake.set_route_fault(ROUTE_STATUS, Fault::None);
    // The broken poll still counted as a poll.
    assert_eq!(api.state(&run_id).await, "RUNNING");

    fake.set_route_fault(ROUTE_LIST, Fault::nginx_bad_gateway());
    let reply = api
        .http
        .get(format!("{}/runs", api.base))
        .send()
        .await
        .expect("reply");
    assert_eq!(reply.status().as_u16(), 502);
    assert!(reply.text().await.expect("body").contains("nginx"));
    fake.set_route_fault(ROUTE_LIST, Fault::None);
    assert_eq!(api.get("/runs").await.0, 200);

    fake.push_route_fault(
        ROUTE_CANCEL,
        Fault::Status(500, "boom".into(), "text/plain"),
        1,
    );
    let cancel = format!("/runs/{run_id}/cancel");
    assert_eq!(api.post(&cancel).await, (500, "boom".to_owned()));
    assert_eq!(
        fake.run(&run_id).map(|r| r.state).as_deref(),
        Some("RUNNING")
    );
    assert_eq!(api.post(&cancel).await.0, 200);
    assert_eq!(
        fake.run(&run_id).map(|r| r.state).as_deref(),
        Some("CANCELING")
    );

    let done = api.submit_ok(params(), json!({})).await;
    assert!(fake.set_state(&done, "COMPLETE"));
    let url = format!("{}/outputs/{done}/qc_report.txt", fake.base_url());
    fake.set_route_fault(
        ROUTE_OUTPUT,
        Fault::Status(503, "later".into(), "text/plain"),
    );
    assert_eq!(api.fetch(&url).await.0, 503);
    fake.set_route_fault(ROUTE_OUTPUT, Fault::Delay(Duration::from_millis(5)));
    assert_eq!(api.fetch(&url).await.0, 200);
    fake.stop().await;
}
