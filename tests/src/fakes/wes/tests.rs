//! Tests of the fake wes server over real loopback HTTP.

use super::*;
use crate::fakes::testing::request;
use serde_json::Value;

const INFO: &str = "/ga4gh/wes/v1/service-info";

#[tokio::test]
async fn weskit_service_info_shape_and_faults() {
    let fake = FakeWes::start(WesConfig::default()).await;
    let base = fake.base_url();
    assert!(!base.ends_with('/') && !base.contains("/ga4gh"));
    let info = request(&base, "GET", INFO, &[], "").await.expect("reply");
    assert_eq!(info.status, 200);
    let info = info.json();
    assert_eq!(
        info["workflow_type_versions"]["NFL"]["workflow_type_version"][0],
        json!("22.10.0")
    );
    assert_eq!(info["workflow_engine_versions"]["NFL"], json!("22.10.0"));
    assert_eq!(info["supported_wes_versions"], json!(["1.0.0"]));
    assert_eq!(
        info["supported_filesystem_protocols"],
        json!(["file", "S3"])
    );
    assert_eq!(
        info["system_state_counts"].as_object().map(|m| m.len()),
        Some(STATES.len())
    );
    assert_eq!(
        (
            info["system_state_counts"]["QUEUED"].as_u64(),
            info["system_state_counts"]["RUNNING"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let missing = request(&base, "GET", "/ga4gh/wes/v1/nope", &[], "")
        .await
        .expect("reply");
    assert_eq!(
        (missing.status, missing.json()["status_code"].as_u64()),
        (404, Some(404))
    );
    fake.set_fault(Fault::nginx_bad_gateway());
    let bad = request(&base, "GET", INFO, &[], "").await.expect("reply");
    assert_eq!(bad.status, 502);
    assert!(bad.body.contains("nginx"));
    fake.set_fault(Fault::Delay(std::time::Duration::from_millis(50)));
    let slow = request(&base, "GET", INFO, &[], "").await.expect("reply");
    assert_eq!(slow.status, 200);
    assert_eq!(fake.hits(INFO), 3);
    fake.stop().await;
}

#[tokio::test]
async fn starter_kit_shape_and_bearer_auth() {
    let config = WesConfig {
        style: WesStyle::StarterKit,
        require_token: Some("wes-token".into()),
        ..WesConfig::default()
    };
    let fake = FakeWes::start(config).await;
    let base = fake.base_url();
    let none = request(&base, "GET", INFO, &[], "").await.expect("reply");
    assert_eq!(
        (none.status, none.json()),
        (401, json!({"msg": "Missing Authorization Header"}))
    );
    let wrong = request(&base, "GET", INFO, &[("Authorization", "Bearer nope")], "")
        .await
        .expect("reply");
    assert_eq!(wrong.status, 401);
    let info = request(
        &base,
        "GET",
        INFO,
        &[("Authorization", "Bearer wes-token")],
        "",
    )
    .await
    .expect("reply");
    assert_eq!(info.status, 200);
    let info = info.json();
    assert_eq!(info["id"], json!("org.ga4gh.starterkit.wes"));
    assert_eq!(info["type"]["artifact"], json!("wes"));
    assert_eq!(
        info["workflow_type_versions"],
        json!({"WDL": ["1.0"], "NEXTFLOW": ["21.04.0"]})
    );
    assert_eq!(info["workflow_engine_versions"], json!({"NATIVE": "1.0.0"}));
    assert!(
        info.get("supported_wes_versions").is_none() && info.get("system_state_counts").is_none()
    );
    let runs = request(&base, "GET", "/ga4gh/wes/v1/runs", &[], "")
        .await
        .expect("reply");
    assert_eq!(runs.status, 401);
    let missing = request(
        &base,
        "GET",
        "/x",
        &[("Authorization", "Bearer wes-token")],
        "",
    )
    .await;
    let missing = missing.expect("reply").json();
    assert_eq!(
        (missing["error"].as_str(), missing["status_code"].as_u64()),
        (Some("Not Found"), Some(404))
    );
    assert_eq!(fake.hits(INFO), 3);
    fake.stop().await;
}

mod faults;
mod fetching;
mod life;
mod scenarios;
mod validation;

/// A reqwest client for one fake, with the WES prefix and an optional Bearer token.
#[derive(Debug)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    fn new(fake: &FakeWes, token: Option<&str>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .expect("a reqwest client");
        Self {
            http,
            base: format!("{}{WES_PREFIX}", fake.base_url()),
            token: token.map(str::to_owned),
        }
    }

    fn as_user(&self, token: &str) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            token: Some(token.to_owned()),
        }
    }

    fn with_auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, String) {
        let reply = self.with_auth(request).send().await.expect("a reply");
        let status = reply.status().as_u16();
        (status, reply.text().await.expect("a body"))
    }

    async fn submit(&self, form: reqwest::multipart::Form) -> (u16, Value) {
        let request = self
            .http
            .post(format!("{}/runs", self.base))
            .multipart(form);
        let (status, body) = self.send(request).await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// Submits a valid WESkit form and returns the run id.
    async fn submit_ok(&self, params: Value, tags: Value) -> String {
        let (status, body) = self.submit(weskit_form(&params, &tags)).await;
        assert_eq!(status, 200, "submit failed: {body}");
        body["run_id"].as_str().expect("a run id").to_owned()
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (status, body) = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str) -> (u16, String) {
        self.send(self.http.post(format!("{}{path}", self.base)))
            .await
    }

    async fn state(&self, run_id: &str) -> String {
        let (status, body) = self.get(&format!("/runs/{run_id}/status")).await;
        assert_eq!(status, 200, "status failed: {body}");
        body["state"].as_str().expect("a state").to_owned()
    }

    /// The states seen by polling `/status` until a terminal one (at most 20 polls).
    async fn life(&self, run_id: &str) -> Vec<String> {
        let terminal = [
            "COMPLETE",
            "EXECUTOR_ERROR",
            "SYSTEM_ERROR",
            "CANCELED",
            "PREEMPTED",
        ];
        let mut seen = Vec::new();
        for _ in 0..20 {
            let state = self.state(run_id).await;
            let done = terminal.contains(&state.as_str());
            seen.push(state);
            if done {
                return seen;
            }
        }
        panic!("run {run_id} never ended: {seen:?}");
    }

    /// GET of an absolute URL (outputs, logs), without the token.
    async fn fetch(&self, url: &str) -> (u16, Vec<u8>) {
        let reply = self.http.get(url).send().await.expect("a reply");
        let status = reply.status().as_u16();
        (status, reply.bytes().await.expect("a body").to_vec())
    }
}

/// A valid WESkit submission form.
fn weskit_form(params: &Value, tags: &Value) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("workflow_type", "NFL")
        .text("workflow_type_version", "22.10.0")
        .text("workflow_url", "imputation/main.nf")
        .text("workflow_params", params.to_string())
        .text("tags", tags.to_string())
}

fn params() -> Value {
    json!({"input": "https://example.org/chr20.vcf.gz", "panel": "h3africa-v6"})
}
