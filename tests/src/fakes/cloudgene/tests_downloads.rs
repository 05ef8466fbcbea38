//! Downloads and faults over loopback HTTP: counters, the S3 redirect mode, retirement, the
//! per-route faults and the accept-then-hang/close submissions, and the upload limit.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::testkit::*;
use super::*;

/// Submits a job and runs it to success; returns (id, JobResponse).
async fn finished(fake: &FakeCloudgene) -> (String, Value) {
    let id = submit_ok(fake, good_form("downloads")).await;
    let (seen, job) = poll_to_end(fake, &id, 20).await;
    assert_eq!(seen.last(), Some(&4));
    (id, job)
}

/// (name, hash) of every file of the `output` parameter.
fn files(job: &Value) -> Vec<(String, String)> {
    let files = job["outputParams"][0]["files"].as_array().cloned();
    files
        .unwrap_or_default()
        .iter()
        .map(|f| {
            let text = |key: &str| f[key].as_str().unwrap_or_default().to_owned();
            (text("name"), text("hash"))
        })
        .collect()
}

async fn download(base: &str, path: &str) -> (u16, Option<u64>, Vec<u8>) {
    let reply = client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("reply");
    let status = reply.status().as_u16();
    let length = reply.content_length();
    let body = reply.bytes().await.expect("body").to_vec();
    (status, length, body)
}

#[tokio::test]
async fn downloads_serve_real_bytes_and_count_down() {
    let fake = FakeCloudgene::start(CloudgeneConfig {
        max_downloads: 2,
        ..CloudgeneConfig::default()
    })
    .await;
    let base = fake.base_url();
    let (id, job) = finished(&fake).await;
    let files = files(&job);
    let (zip, zip_hash) = &files[0];
    let expected = fake.file_bytes(&id, zip).expect("bytes of a listed file");
    let (status, length, body) = download(&base, &format!("/share/results/{zip_hash}/{zip}")).await;
    assert_eq!((status, length), (200, Some(expected.len() as u64)));
    assert_eq!(Sha256::digest(&body), Sha256::digest(&expected));
    assert_eq!(&body[..2], b"PK");
    assert_eq!(fake.downloads_left(&id, zip), Some(1));
    let (status, _, _) = download(&base, &format!("/downloads/{id}/{zip_hash}/{zip}")).await;
    assert_eq!(status, 200);
    let (status, _, body) = download(&base, &format!("/share/results/{zip_hash}/{zip}")).await;
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(
        (status, body),
        (
            400,
            json!({"message": "number of max downloads exceeded.", "success": false})
        )
    );
    assert_eq!(fake.downloads_left(&id, zip), Some(0));
    let (_, job) = get_json(&fake, &format!("/api/v2/jobs/{id}"), Some(TOKEN)).await;
    assert_eq!(job["outputParams"][0]["files"][0]["count"], 0);

    let (name, hash) = &files[3];
    assert_eq!(name, "statistics/lift-over.txt");
    let (status, _, body) = download(&base, &format!("/downloads/{id}/{hash}/{name}")).await;
    assert_eq!((status, Some(body)), (200, fake.file_bytes(&id, name)));
    for path in [
        format!("/share/results/{}/{name}", "0".repeat(64)),
        format!("/share/results/{hash}/qc_report.txt"),
        format!("/downloads/job-other/{hash}/{name}"),
    ] {
        let (status, _, body) = download(&base, &path).await;
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("download not found.")),
            "{path}"
        );
    }
    assert_eq!(fake.downloads_left(&id, name), Some(1));
    assert_eq!(fake.file_bytes(&id, "nope.txt"), None);
    fake.stop().await;
}

#[tokio::test]
async fn redirect_mode_sends_downloads_to_the_s3_stand_in() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let (id, job) = finished(&fake).await;
    let (name, hash) = files(&job)[1].clone();
    fake.set_redirect_downloads(true);
    let path = format!("/share/results/{hash}/{name}");
    let (status, _, body) = download(&fake.base_url(), &path).await;
    assert_eq!((status, Some(body)), (200, fake.file_bytes(&id, &name)));
    assert_eq!(fake.downloads_left(&id, &name), Some(9));
    let manual = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let reply = manual
        .get(format!("{}{path}", fake.base_url()))
        .send()
        .await
        .expect("reply");
    assert_eq!(reply.status(), 302);
    let location = reply.headers()["location"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(location, format!("{}/s3/{hash}/{name}", fake.s3_base_url()));
    assert_eq!(fake.downloads_left(&id, &name), Some(8));
    let (status, _, _) = download(&location, "").await;
    assert_eq!(status, 200);
    assert_eq!(
        fake.downloads_left(&id, &name),
        Some(8),
        "S3 does not count"
    );
    fake.stop().await;
}

#[tokio::test]
async fn retired_jobs_keep_their_listing_but_not_their_files() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let (id, job) = finished(&fake).await;
    let (name, hash) = files(&job)[0].clone();
    assert!(fake.retire(&id));
    let (_, job) = get_json(&fake, &format!("/api/v2/jobs/{id}"), Some(TOKEN)).await;
    assert_eq!(job["state"], 7);
    assert!(job["deletedOn"].as_i64() > Some(0));
    assert_eq!(files(&job).len(), 4, "outputParams still list the files");
    let (status, _, _) = download(&fake.base_url(), &format!("/share/results/{hash}/{name}")).await;
    assert_eq!(status, 404);
    let (status, _, _) = download(&fake.s3_base_url(), &format!("/s3/{hash}/{name}")).await;
    assert_eq!(status, 404);
    fake.stop().await;
}

#[tokio::test]
async fn route_faults_hit_their_route_only_and_queue_up() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let id = submit_ok(&fake, good_form("faults")).await;
    let status = format!("/api/v2/jobs/{id}/status");
    fake.push_route_fault(
        ROUTE_STATUS,
        Fault::Status(500, "boom".into(), "text/plain"),
        2,
    );
    for _ in 0..2 {
        let reply = client()
            .get(format!("{}{status}", fake.base_url()))
            .header("X-Auth-Token", TOKEN)
            .send()
            .await;
        let reply = reply.expect("reply");
        assert_eq!(reply.status(), 500);
        assert_eq!(reply.text().await.unwrap_or_default(), "boom");
    }
    assert_eq!(
        fake.job(&id).map(|j| j.state),
        Some(1),
        "a faulted poll advances nothing"
    );
    let (code, job) = get_json(&fake, &status, Some(TOKEN)).await;
    assert_eq!((code, job["state"].as_i64()), (200, Some(2)));
    fake.set_route_fault(ROUTE_LIST, Fault::NonJson);
    let (code, body) = get_json(&fake, "/api/v2/jobs", Some(TOKEN)).await;
    assert_eq!((code, body), (200, Value::Null));
    fake.set_route_fault(ROUTE_LIST, Fault::None);
    assert_eq!(
        get_json(&fake, "/api/v2/jobs", Some(TOKEN)).await.1["count"],
        1
    );
    fake.push_route_fault(ROUTE_CANCEL, Fault::nginx_bad_gateway(), 1);
    let (code, _) = get_json(&fake, &format!("/api/v2/jobs/{id}/cancel"), Some(TOKEN)).await;
    assert_eq!(code, 502);
    assert_eq!(fake.job(&id).map(|j| j.state), Some(2));
    fake.push_route_fault(
        ROUTE_RESTART,
        Fault::Status(503, String::new(), "text/plain"),
        1,
    );
    assert_eq!(
        get_json(&fake, &format!("/api/v2/jobs/{id}/restart"), Some(TOKEN))
            .await
            .0,
        503
    );
    assert_eq!(
        get_json(&fake, &format!("/api/v2/jobs/{id}/restart"), Some(TOKEN))
            .await
            .0,
        400
    );
    fake.set_route_fault(ROUTE_STATUS, Fault::Hang);
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let hung = quick
        .get(format!("{}{status}", fake.base_url()))
        .header("X-Auth-Token", TOKEN)
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));
    fake.set_route_fault(ROUTE_STATUS, Fault::None);
    fake.advance(&id, 20);
    fake.push_route_fault(
        ROUTE_DOWNLOAD,
        Fault::Status(500, "oops".into(), "text/plain"),
        1,
    );
    let (_, job) = get_json(&fake, &status, Some(TOKEN)).await;
    let (name, hash) = files(&job)[0].clone();
    let path = format!("/share/results/{hash}/{name}");
    assert_eq!(download(&fake.base_url(), &path).await.0, 500);
    assert_eq!(
        fake.downloads_left(&id, &name),
        Some(10),
        "a faulted download is not counted"
    );
    assert_eq!(download(&fake.base_url(), &path).await.0, 200);
    fake.stop().await;
}

#[tokio::test]
async fn submit_faults_after_accept_still_create_the_job() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let url = format!("{}/api/v2/jobs/submit/imputationserver2", fake.base_url());
    fake.push_route_fault(ROUTE_SUBMIT, Fault::HangAfterAccept, 1);
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let hung = quick
        .post(&url)
        .header("X-Auth-Token", TOKEN)
        .multipart(good_form("hang"))
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()), "the client times out");
    assert_eq!(fake.submission_count(), 1);
    let job = fake.jobs().pop().expect("the job exists");
    assert_eq!((job.name.as_str(), job.state), ("hang", 1));

    fake.push_route_fault(ROUTE_SUBMIT, Fault::CloseAfterAccept, 1);
    let closed = client()
        .post(&url)
        .header("X-Auth-Token", TOKEN)
        .multipart(good_form("close"))
        .send()
        .await;
    let failed = match closed {
        Err(_) => true,
        Ok(reply) => reply.bytes().await.is_err(),
    };
    assert!(failed, "the client sees a broken reply");
    assert_eq!(fake.submission_count(), 2);
    assert_eq!(fake.jobs().pop().map(|j| j.name), Some("close".to_owned()));

    fake.push_route_fault(
        ROUTE_SUBMIT,
        Fault::Status(500, "boom".into(), "text/plain"),
        1,
    );
    assert_eq!(
        submit(&fake, TOKEN, good_form("refused")).await.status(),
        500
    );
    assert_eq!(
        fake.submission_count(),
        2,
        "a fault before handling creates nothing"
    );
    fake.stop().await;
}

#[tokio::test]
async fn uploads_over_the_limit_get_413() {
    let fake = FakeCloudgene::start(CloudgeneConfig {
        upload_limit_bytes: 2000,
        ..CloudgeneConfig::default()
    })
    .await;
    let reply = submit(&fake, TOKEN, good_form("big")).await;
    assert_eq!(reply.status(), 413);
    let body: Value = reply.json().await.unwrap_or_default();
    assert_eq!(body["message"], "Request Entity Too Large");
    assert_eq!(fake.submission_count(), 0);
    let small = form(&[("refpanel", PANEL)], &[("a.vcf.gz", vec![0; 100])]);
    assert_eq!(submit(&fake, TOKEN, small).await.status(), 200);
    fake.stop().await;
}
