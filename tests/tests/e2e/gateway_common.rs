//! Helpers of the gateway's REST tests: calls that read the reply as JSON,
//! the JSON error shape, server-sent events, and a platform with a fake
//! Cloudgene service, its panel and a researcher, all behind the gateway.

use std::time::Duration;

use fedimpute_proto::registry as rpb;
use fedimpute_tests::{
    TestDb,
    fakes::cloudgene::{CloudgeneConfig, FakeCloudgene},
    harness::gateway::TestGateway,
};
use futures::StreamExt;
use reqwest::{Method, StatusCode, header::HeaderMap, multipart};
use serde_json::{Value, json};

pub(crate) const CG_TOKEN: &str = "cg-token-ada-0123456789abcdef";
pub(crate) const TINY: &str = "chr20.tiny.100snps.vcf.gz";
pub(crate) const H3A_PANEL: &str = "apps@h3africa-v6hc-s@1.0.0";
/// The gateway's answer when no route matches (routes.rs / error.rs).
pub(crate) const ROUTE_MISS: &str = "no API route matches";

/// A reply, its body read as JSON (`Null` when empty).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) json: Value,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("the reply body");
        let json = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("a JSON reply ({status}): {e}: {text}"))
        };
        Self {
            status,
            headers,
            json,
            text,
        }
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts the status and a JSON body; returns the body.
    pub(crate) fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert!(
            self.header("content-type").starts_with("application/json"),
            "{:?}",
            self.headers
        );
        &self.json
    }

    /// Asserts a 204 without a body (a reply type without fields).
    pub(crate) fn no_content(&self) {
        assert_eq!(self.status.as_u16(), 204, "{}", self.text);
        assert!(self.text.is_empty(), "a 204 has no body: {}", self.text);
    }

    /// Asserts an error reply in the platform's shape, exactly
    /// `{"detail", "code", "field_violations"}`; returns the violated fields.
    pub(crate) fn error(&self, status: u16, code: &str) -> Vec<String> {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        check_error_shape(&self.json, code).unwrap_or_else(|e| panic!("{e}: {}", self.text));
        fields_of(&self.json)
    }

    /// The detail of an error reply.
    pub(crate) fn detail(&self) -> &str {
        self.json["detail"].as_str().unwrap_or_default()
    }
}

/// Whether `json` is the platform's error body with `code`.
pub(crate) fn check_error_shape(json: &Value, code: &str) -> Result<(), String> {
    let object = json.as_object().ok_or("the error is not a JSON object")?;
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["code", "detail", "field_violations"] {
        return Err(format!("the error has the keys {keys:?}"));
    }
    if json["detail"].as_str().is_none_or(str::is_empty) {
        return Err("the error has no detail".into());
    }
    if json["code"] != code {
        return Err(format!("the error code is {}, not {code}", json["code"]));
    }
    let violations = json["field_violations"]
        .as_array()
        .ok_or("field_violations is not an array")?;
    if !violations
        .iter()
        .all(|v| v["field"].is_string() && v["description"].is_string())
    {
        return Err("a field violation lacks its field or description".into());
    }
    Ok(())
}

/// The fields an error's violations name.
pub(crate) fn fields_of(json: &Value) -> Vec<String> {
    json["field_violations"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter_map(|v| v["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// REST calls on a gateway, with an optional bearer token.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rest<'a>(pub(crate) &'a TestGateway);

impl Rest<'_> {
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = self.0.http.request(method, self.0.url(path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Reply::read(request.send().await.expect("the gateway answers")).await
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let request = self.request(method, path, token);
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        self.send(request).await
    }

    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub(crate) async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(&body)).await
    }

    pub(crate) async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::PATCH, path, token, Some(&body)).await
    }

    pub(crate) async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::DELETE, path, token, None).await
    }

    /// A multipart form: text fields, then (optionally) a file part.
    pub(crate) async fn form(
        &self,
        path: &str,
        token: Option<&str>,
        fields: &[(&str, String)],
        file: Option<(&str, &str, Vec<u8>)>,
    ) -> Reply {
        self.send(
            self.request(Method::POST, path, token)
                .multipart(form(fields, file)),
        )
        .await
    }

    /// Reads `path` as server-sent events until `done` says so or the
    /// stream ends: the response headers and the events (name, JSON data).
    pub(crate) async fn events_until(
        &self,
        path: &str,
        token: &str,
        done: impl Fn(&str, &Value) -> bool,
    ) -> (HeaderMap, Vec<(String, Value)>) {
        let response = self
            .request(Method::GET, path, Some(token))
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        let mut events = Vec::new();
        // A guard against a stream that never says what we wait for (the
        // job ends within seconds), not a timing assertion.
        let read = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.expect("the event stream does not break");
                buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    let Some((name, data)) = parse_event(&frame) else {
                        continue;
                    };
                    let stop = done(&name, &data);
                    events.push((name, data));
                    if stop {
                        return;
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(90), read)
            .await
            .unwrap_or_else(|_| panic!("{path}: the awaited event never came: {events:?}"));
        (headers, events)
    }
}

/// A multipart form: text fields, then (optionally) a file part
/// `(field, filename, bytes)`.
pub(crate) fn form(
    fields: &[(&str, String)],
    file: Option<(&str, &str, Vec<u8>)>,
) -> multipart::Form {
    let mut form = multipart::Form::new();
    for (name, value) in fields {
        form = form.text((*name).to_owned(), value.clone());
    }
    if let Some((name, filename, bytes)) = file {
        form = form.part(
            name.to_owned(),
            multipart::Part::bytes(bytes).file_name(filename.to_owned()),
        );
    }
    form
}

/// One SSE frame as (event name, JSON data); `None` for comments.
fn parse_event(frame: &str) -> Option<(String, Value)> {
    let mut name = "message".to_owned();
    let mut data = String::new();
    for line in frame.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if data.is_empty() {
        return None;
    }
    let json =
        serde_json::from_str(&data).unwrap_or_else(|e| panic!("JSON event data: {e}: {data}"));
    Some((name, json))
}

/// The keys of a JSON object, sorted.
pub(crate) fn sorted_keys(json: &Value) -> Vec<String> {
    let mut keys: Vec<String> = json
        .as_object()
        .unwrap_or_else(|| panic!("an object: {json}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// The ids of a bare JSON array of objects.
pub(crate) fn ids(json: &Value) -> Vec<Value> {
    json.as_array()
        .unwrap_or_else(|| panic!("a bare array: {json}"))
        .iter()
        .map(|item| item["id"].clone())
        .collect()
}

/// A platform behind the gateway, a fake Cloudgene registered as a service
/// (requiring a credential) with one panel, and a researcher "ada" whose
/// Cloudgene token is stored.
#[derive(Debug)]
pub(crate) struct Stage {
    pub(crate) gw: TestGateway,
    pub(crate) fake: FakeCloudgene,
    pub(crate) service: rpb::Service,
    pub(crate) panel: rpb::ReferencePanel,
    pub(crate) user_id: i64,
    pub(crate) token: String,
    pub(crate) admin: String,
}

impl Stage {
    /// A second Cloudgene whose jobs never progress, registered (requiring
    /// a credential) with one H3Africa panel for `populations`.
    pub(crate) async fn slow_cloudgene(
        &self,
        populations: &[&str],
    ) -> (FakeCloudgene, rpb::Service, rpb::ReferencePanel) {
        let slow = FakeCloudgene::start(CloudgeneConfig {
            tokens: vec![CG_TOKEN.to_owned()],
            ticks_per_poll: 0,
            ..CloudgeneConfig::default()
        })
        .await;
        let platform = &self.gw.platform;
        let service = platform
            .service(
                "Slow Cloudgene",
                rpb::ApiType::Michigan,
                &slow.base_url(),
                true,
                json!({}),
            )
            .await;
        let panel = platform
            .panel(service.id, "H3AFRICA v6", H3A_PANEL, populations, json!({}))
            .await;
        (slow, service, panel)
    }

    pub(crate) async fn start(db: TestDb) -> Self {
        Self::on(TestGateway::spawn(db).await, CloudgeneConfig::default()).await
    }

    pub(crate) async fn on(gw: TestGateway, config: CloudgeneConfig) -> Self {
        let fake = FakeCloudgene::start(CloudgeneConfig {
            tokens: vec![CG_TOKEN.to_owned()],
            ..config
        })
        .await;
        let service = gw
            .platform
            .service(
                "H3Africa Imputation Service",
                rpb::ApiType::Michigan,
                &fake.base_url(),
                true,
                json!({}),
            )
            .await;
        let panel = gw
            .platform
            .panel(
                service.id,
                "H3AFRICA v6",
                H3A_PANEL,
                &["afr", "mixed", "off"],
                json!({}),
            )
            .await;
        let (user, token) = gw.platform.users.researcher("ada").await;
        gw.platform.credential(&token, service.id, CG_TOKEN).await;
        let admin = gw.admin_token().await;
        Self {
            gw,
            fake,
            service,
            panel,
            user_id: user.id,
            token,
            admin,
        }
    }

    pub(crate) fn rest(&self) -> Rest<'_> {
        Rest(&self.gw)
    }

    /// Uploads a fixture over REST as the researcher: the file's JSON.
    pub(crate) async fn upload(&self, name: &str) -> Value {
        let bytes = fedimpute_tests::harness::jobs::fixture(name);
        self.rest()
            .form(
                "/api/files/",
                Some(&self.token),
                &[],
                Some(("file", name, bytes)),
            )
            .await
            .ok(201)
            .clone()
    }

    /// A JSON job on the stage's service and panel.
    pub(crate) fn job_body(&self, name: &str, file_id: &Value) -> Value {
        json!({
            "name": name,
            "service_id": self.service.id.to_string(),
            "reference_panel_id": self.panel.id.to_string(),
            "input_file_id": file_id,
        })
    }

    /// Polls the job over REST until `status`: the job's JSON.
    pub(crate) async fn until_status(&self, token: &str, id: &str, status: &str) -> Value {
        let rest = self.rest();
        let path = format!("/api/jobs/{id}/");
        fedimpute_tests::eventually(
            &format!("job {id} to be {status}"),
            Duration::from_secs(60),
            || {
                let path = path.clone();
                async move {
                    let job = rest.get(&path, Some(token)).await.json;
                    (job["status"] == status).then_some(job)
                }
            },
        )
        .await
    }

    pub(crate) async fn shutdown(self) {
        self.gw.shutdown().await;
        self.fake.stop().await;
    }
}
