//! Input staging: the fake downloads the run's input URLs from a test server.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;

use super::*;
use crate::fakes::wes::artifacts::sha256_hex;
use crate::fakes::{Loopback, bind_loopback};

fn input_bytes(name: &str) -> Vec<u8> {
    format!("##fileformat=VCFv4.2\n##input={name}\n")
        .repeat(50)
        .into_bytes()
}

/// Serves `/data/{name}` (404 for `missing.vcf.gz`).
async fn input_server() -> (Loopback, String) {
    let (listener, base) = bind_loopback().await;
    let router = Router::new().route(
        "/data/{name}",
        get(|Path(name): Path<String>| async move {
            if name == "missing.vcf.gz" {
                (StatusCode::NOT_FOUND, Vec::new())
            } else {
                (StatusCode::OK, input_bytes(&name))
            }
        }),
    );
    (Loopback::serve(listener, router), base)
}

fn fetching(input_param: &str) -> WesConfig {
    WesConfig {
        fetch_inputs: true,
        input_param: input_param.to_owned(),
        ..WesConfig::default()
    }
}

#[tokio::test]
async fn inputs_are_downloaded_when_the_run_initializes() {
    let (server, data) = input_server().await;
    let fake = FakeWes::start(fetching("input")).await;
    let api = Api::new(&fake, None);
    let input = format!("{data}/data/chr20.vcf.gz  {data}/data/chr21.vcf.gz s3://bucket/x.vcf.gz");
    let run_id = api.submit_ok(json!({"input": input}), json!({})).await;
    assert!(fake.fetched_inputs().is_empty());
    assert_eq!(api.state(&run_id).await, "INITIALIZING");
    let fetched = fake.fetched_inputs();
    let urls: Vec<&str> = fetched.iter().map(|f| f.url.as_str()).collect();
    let chr20 = format!("{data}/data/chr20.vcf.gz");
    let chr21 = format!("{data}/data/chr21.vcf.gz");
    assert_eq!(urls, [chr20.as_str(), chr21.as_str()]);
    for (input, name) in fetched.iter().zip(["chr20.vcf.gz", "chr21.vcf.gz"]) {
        let bytes = input_bytes(name);
        assert_eq!((input.status, input.error.as_deref()), (Some(200), None));
        assert_eq!(
            (input.size, input.run_id.as_str()),
            (bytes.len() as u64, run_id.as_str())
        );
        assert_eq!(input.sha256_hex, sha256_hex(&bytes));
    }
    assert_eq!(api.life(&run_id).await, ["RUNNING", "RUNNING", "COMPLETE"]);
    assert_eq!(fake.fetched_inputs().len(), 2, "inputs are fetched once");
    fake.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn a_failed_download_fails_the_run() {
    let (server, data) = input_server().await;
    let (gone, gone_base) = bind_loopback().await;
    drop(gone);
    let fake = FakeWes::start(fetching("vcfs")).await;
    let api = Api::new(&fake, None);
    let missing = format!("{data}/data/missing.vcf.gz");
    let input = format!("{data}/data/chr20.vcf.gz {missing}");
    let run_id = api.submit_ok(json!({"vcfs": input}), json!({})).await;
    assert_eq!(api.life(&run_id).await, ["INITIALIZING", "EXECUTOR_ERROR"]);
    let fetched = fake.fetched_inputs();
    assert_eq!(fetched.len(), 2);
    assert_eq!(
        (fetched[1].status, fetched[1].error.as_deref()),
        (Some(404), Some("HTTP 404 Not Found"))
    );
    let (_, log) = api.get(&format!("/runs/{run_id}")).await;
    assert_eq!(log["run_log"]["exit_code"], json!(1));
    let (_, stderr) = api
        .fetch(log["run_log"]["stderr"].as_str().expect("url"))
        .await;
    let expected = format!("cannot download input {missing}: HTTP 404 Not Found");
    assert!(String::from_utf8_lossy(&stderr).contains(&expected));

    let refused = format!("{gone_base}/data/chr20.vcf.gz");
    let run_id = api.submit_ok(json!({"vcfs": refused}), json!({})).await;
    assert_eq!(api.life(&run_id).await, ["INITIALIZING", "EXECUTOR_ERROR"]);
    let last = fake.fetched_inputs().pop().expect("a download");
    assert_eq!(
        (last.url.as_str(), last.status, last.size),
        (refused.as_str(), None, 0)
    );
    assert!(last.error.is_some());
    fake.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn nothing_is_downloaded_unless_asked() {
    let (server, data) = input_server().await;
    let fake = FakeWes::start(WesConfig::default()).await;
    let api = Api::new(&fake, None);
    let input = format!("{data}/data/missing.vcf.gz");
    let run_id = api.submit_ok(json!({"input": input}), json!({})).await;
    assert_eq!(
        api.life(&run_id).await.last().map(String::as_str),
        Some("COMPLETE")
    );
    assert!(fake.fetched_inputs().is_empty());
    // With ticks_per_poll 0 the download happens inside `advance`.
    let config = WesConfig {
        ticks_per_poll: 0,
        ..fetching("input")
    };
    let manual = FakeWes::start(config).await;
    let api = Api::new(&manual, None);
    let run_id = api.submit_ok(json!({"input": input}), json!({})).await;
    assert_eq!(
        manual.advance(&run_id, 1).await.as_deref(),
        Some("INITIALIZING")
    );
    assert_eq!(manual.fetched_inputs().len(), 1);
    assert_eq!(
        manual.advance(&run_id, 1).await.as_deref(),
        Some("EXECUTOR_ERROR")
    );
    fake.stop().await;
    manual.stop().await;
    server.stop().await;
}
