//! Helpers of the job-API tests: a reqwest client, the VCF fixtures, multipart forms, and a
//! bounded poll loop (no sleeping: each poll is one tick).

use reqwest::multipart::{Form, Part};
use serde_json::Value;

use super::{CloudgeneConfig, FakeCloudgene};

pub(super) const TOKEN: &str = "cloudgene-test-token";
pub(super) const PANEL: &str = "apps@1000g-phase-3-v5@2.0.0";

/// 51 samples, chromosome 20, hg19.
pub(super) const VCF_51: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/vcf/chr20.tiny.100snps.vcf.gz"
);
/// 7 samples, chr22, hg38.
pub(super) const VCF_7: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/vcf/chr22.hg38.7samples.phased.vcf.gz"
);

/// The default configuration, changed by `change`.
pub(super) fn config(change: impl FnOnce(&mut CloudgeneConfig)) -> CloudgeneConfig {
    let mut config = CloudgeneConfig::default();
    change(&mut config);
    config
}

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("a reqwest client builds")
}

pub(super) fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// A form with these text fields and `files` parts (filename, bytes).
pub(super) fn form(fields: &[(&str, &str)], files: &[(&str, Vec<u8>)]) -> Form {
    let mut form = Form::new();
    for (name, value) in fields {
        form = form.text((*name).to_owned(), (*value).to_owned());
    }
    for (filename, bytes) in files {
        let part = Part::bytes(bytes.clone()).file_name((*filename).to_owned());
        form = form.part("files", part);
    }
    form
}

/// A valid submission of the 51-sample VCF named `job_name`.
pub(super) fn good_form(job_name: &str) -> Form {
    form(
        &[
            ("job-name", job_name),
            ("refpanel", PANEL),
            ("population", "eur"),
            ("build", "hg19"),
            ("phasing", "eagle"),
            ("mode", "imputation"),
            ("password", "s3cretPass"),
        ],
        &[("chr20.vcf.gz", fixture(VCF_51))],
    )
}

pub(super) async fn submit(fake: &FakeCloudgene, token: &str, form: Form) -> reqwest::Response {
    let url = format!("{}/api/v2/jobs/submit/imputationserver2", fake.base_url());
    client()
        .post(url)
        .header("X-Auth-Token", token)
        .multipart(form)
        .send()
        .await
        .expect("the submit gets a reply")
}

/// Submits and returns the new job id, asserting the 200 body.
pub(super) async fn submit_ok(fake: &FakeCloudgene, form: Form) -> String {
    let reply = submit(fake, TOKEN, form).await;
    assert_eq!(reply.status(), 200, "submit accepted");
    let body: Value = reply.json().await.expect("JSON submit reply");
    assert_eq!(body["success"], Value::Bool(true));
    assert_eq!(
        body["message"],
        "Your job was successfully added to the job queue."
    );
    body["id"].as_str().expect("an id").to_owned()
}

/// A GET with the token (`None`: anonymous): (status, JSON body or `Null`).
pub(super) async fn get_json(
    fake: &FakeCloudgene,
    path: &str,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = client().get(format!("{}{path}", fake.base_url()));
    if let Some(token) = token {
        request = request.header("X-Auth-Token", token);
    }
    let reply = request.send().await.expect("a reply");
    let status = reply.status().as_u16();
    let text = reply.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Polls `…/status` until the job leaves states 1–3 (at most `max_polls`); returns every
/// state seen and the last JobResponse.
pub(super) async fn poll_to_end(
    fake: &FakeCloudgene,
    id: &str,
    max_polls: usize,
) -> (Vec<i64>, Value) {
    let mut seen = Vec::new();
    for _ in 0..max_polls {
        let (status, job) = get_json(fake, &format!("/api/v2/jobs/{id}/status"), Some(TOKEN)).await;
        assert_eq!(status, 200, "status poll: {job}");
        let state = job["state"].as_i64().expect("a state");
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        if !(1..=3).contains(&state) {
            return (seen, job);
        }
    }
    panic!("job {id} still running after {max_polls} polls (states {seen:?})");
}

/// The messages of step `name` as (type, text).
pub(super) fn step_messages(job: &Value, name: &str) -> Vec<(i64, String)> {
    let steps = job["steps"].as_array().cloned().unwrap_or_default();
    steps
        .iter()
        .filter(|s| s["name"] == name)
        .flat_map(|s| s["logMessages"].as_array().cloned().unwrap_or_default())
        .map(|m| {
            let kind = m["type"].as_i64().unwrap_or(-1);
            (kind, m["message"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}
