//! Tests of the fake dnastack server over real loopback HTTP.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::fakes::testing::request;

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");
const REGISTRY: &str = "/api/service-registry/services";
const INFO: &str = "/ewes/fake-namespace/ga4gh/wes/v1/service-info";

#[test]
fn base64url_matches_rfc4648() {
    let cases = [
        ("", ""),
        ("f", "Zg"),
        ("fo", "Zm8"),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg"),
        ("\u{ff}\u{fe}", "w7_Dvg"),
    ];
    for (input, expected) in cases {
        assert_eq!(base64url(input.as_bytes()), expected);
    }
}

#[tokio::test]
async fn registry_lists_services_without_secrets() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let base = fake.base_url();
    let reply = request(&base, "GET", REGISTRY, &[], "")
        .await
        .expect("reply");
    assert!(!reply.body.contains("fake-secret"));
    let list = reply.json();
    assert_eq!(list[0]["type"]["artifact"], json!("ewes-service"));
    assert_eq!(list[0]["url"], json!(format!("{base}/ewes")));
    assert_eq!(
        list[0]["authentication"][0]["token_endpoint"],
        json!(format!("{base}/oauth/token"))
    );
    assert_eq!(
        list[0]["authentication"][0]["client_id"],
        json!("fake-client")
    );
    assert_eq!(list[1]["id"], json!("workflow-service"));
    fake.set_ewes_listed(false);
    let list = request(&base, "GET", REGISTRY, &[], "")
        .await
        .expect("reply")
        .json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    fake.set_fault(Fault::NonJson);
    let html = request(&base, "GET", REGISTRY, &[], "")
        .await
        .expect("reply");
    assert_eq!((html.status, html.json()), (200, Value::Null));
    assert_eq!(fake.hits(REGISTRY), 3);
    fake.stop().await;
}

#[tokio::test]
async fn token_flow_guards_service_info() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let base = fake.base_url();
    let good = "grant_type=client_credentials&client_id=fake-client&client_secret=fake-secret&resource=x&scope=wes";
    let bad_client = "grant_type=client_credentials&client_id=fake-client&client_secret=wrong";
    let bad_grant = "grant_type=password&client_id=fake-client&client_secret=fake-secret";
    let denied = request(&base, "POST", "/oauth/token", &[FORM], bad_client)
        .await
        .expect("reply");
    assert_eq!(
        (denied.status, denied.json()),
        (401, json!({"error": "invalid_client"}))
    );
    let grant = request(&base, "POST", "/oauth/token", &[FORM], bad_grant)
        .await
        .expect("reply");
    assert_eq!(
        (grant.status, grant.json()),
        (400, json!({"error": "unsupported_grant_type"}))
    );
    let junk = request(&base, "POST", "/oauth/token", &[], "{}")
        .await
        .expect("reply");
    assert_eq!(junk.status, 400);
    let issued = request(&base, "POST", "/oauth/token", &[FORM], good)
        .await
        .expect("reply")
        .json();
    assert_eq!(
        (issued["token_type"].as_str(), issued["expires_in"].as_u64()),
        (Some("Bearer"), Some(300))
    );
    let token = issued["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(token.split('.').count(), 3);
    assert_eq!(
        fake.last_token_request()
            .and_then(|f| f.get("scope").cloned())
            .as_deref(),
        Some("wes")
    );
    let anon = request(&base, "GET", INFO, &[], "").await.expect("reply");
    assert_eq!(
        (anon.status, anon.json()["error_code"].as_u64()),
        (401, Some(401))
    );
    assert!(anon.json()["trace_id"].is_string());
    let auth = format!("Bearer {token}");
    let info = request(&base, "GET", INFO, &[("Authorization", &auth)], "")
        .await
        .expect("reply");
    assert_eq!(
        (info.status, info.json()["type"]["artifact"].as_str()),
        (200, Some("ewes-service"))
    );
    let other = "/ewes/other/ga4gh/wes/v1/service-info";
    let forbidden = request(&base, "GET", other, &[("Authorization", &auth)], "")
        .await
        .expect("reply");
    assert_eq!(
        (forbidden.status, forbidden.json()["error_code"].as_u64()),
        (403, Some(403))
    );
    fake.expire_tokens();
    let expired = request(&base, "GET", INFO, &[("Authorization", &auth)], "")
        .await
        .expect("reply");
    assert_eq!(expired.status, 401);
    assert_eq!(fake.hits("/oauth/token"), 4);
    fake.stop().await;
}

mod faults;
mod life;
mod listing;
mod scenarios;
mod validation;

const GOOD_CLIENT: [(&str, &str); 3] = [
    ("grant_type", "client_credentials"),
    ("client_id", "fake-client"),
    ("client_secret", "fake-secret"),
];

/// A reqwest client holding a token of the fake, aimed at its eWES base.
#[derive(Debug)]
struct Ewes {
    http: reqwest::Client,
    base: String,
    ewes: String,
    token: String,
}

impl Ewes {
    async fn connect(fake: &FakeDnastack) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("a reqwest client");
        let base = fake.base_url();
        let reply = http
            .post(format!("{base}/oauth/token"))
            .form(&GOOD_CLIENT)
            .send()
            .await
            .expect("a token reply");
        assert_eq!(reply.status().as_u16(), 200);
        let issued: Value = reply.json().await.expect("a token");
        let token = issued["access_token"].as_str().expect("a token").to_owned();
        let ewes = format!("{base}/ewes/fake-namespace/ga4gh/wes/v1");
        Self {
            http,
            base,
            ewes,
            token,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let reply = request
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("a reply");
        let status = reply.status().as_u16();
        let body = reply.text().await.expect("a body");
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// GET of `path` under the eWES base (or of an absolute URL).
    async fn get(&self, path: &str) -> (u16, Value) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.ewes)
        };
        self.send(self.http.get(url)).await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self.http.post(format!("{}{path}", self.ewes)).json(body);
        self.send(request).await
    }

    async fn submit(&self, body: &Value) -> String {
        let (status, reply) = self.post("/runs", body).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["state"], json!("PREPROCESSING"));
        reply["run_id"].as_str().expect("a run id").to_owned()
    }

    async fn state(&self, run_id: &str) -> String {
        let (status, body) = self.get(&format!("/runs/{run_id}/status")).await;
        assert_eq!(status, 200, "{body}");
        body["state"].as_str().expect("a state").to_owned()
    }

    /// The states seen by polling `/status` until a terminal one (at most 20 polls).
    async fn life(&self, run_id: &str) -> Vec<String> {
        let terminal = [
            "COMPLETE",
            "COMPLETE_WITH_ERRORS",
            "EXECUTOR_ERROR",
            "SYSTEM_ERROR",
            "PREPROCESSING_ERROR",
            "CANCELED",
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

    /// The raw reply to a GET of `url` (with the token if `auth`).
    async fn raw(&self, url: &str, auth: bool) -> reqwest::Response {
        let request = self.http.get(url);
        let request = if auth {
            request.bearer_auth(&self.token)
        } else {
            request
        };
        request.send().await.expect("a reply")
    }
}

/// A valid ExtendedRunRequest for the default config.
fn run_request(tags: Value) -> Value {
    json!({"workflow_url": "fedimpute-imputation/v1", "engine_id": "engine-1",
        "workflow_params": {"fedimpute.vcfs": ["gs://in/chr20.vcf.gz"], "fedimpute.panel": "h3a"},
        "workflow_engine_parameters": {"backend": "local"}, "tags": tags})
}
