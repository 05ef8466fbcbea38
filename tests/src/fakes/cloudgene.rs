//! Loopback fake of a Cloudgene 3 server (Michigan, TOPMed, H3Africa/Afrigen): the health
//! probe and reference-panel discovery (external-apis.md A.2, A.3, A.5, A.9, A.10).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Request, State as Shared};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Fault, Loopback, apply_fault, bind_loopback, json_reply, lock};

/// The display name of the imputation app, as `imputationserver2` calls itself.
pub const APP_NAME: &str = "Genotype Imputation";
/// The maintenance message of `GET /api/v2/server` and of the 503 replies.
pub const MAINTENANCE_MESSAGE: &str = "This functionality is currently under maintenance.";

/// A reference panel offered by the fake's imputation app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakePanel {
    /// The `refpanel` key, e.g. `"apps@h3africa-v6hc-s@1.0.0"`.
    pub key: String,
    /// The display name.
    pub label: String,
    /// Allowed `population` values as (key, label), e.g. `("afr", "AFR")`.
    pub populations: Vec<(String, String)>,
}

impl FakePanel {
    /// A panel whose population labels are the upper-cased keys (`"mixed"` → `"MIXED"`).
    pub fn new(key: &str, label: &str, populations: &[&str]) -> Self {
        Self {
            key: key.to_owned(),
            label: label.to_owned(),
            populations: populations
                .iter()
                .map(|p| ((*p).to_owned(), p.to_uppercase()))
                .collect(),
        }
    }
}

/// Configuration of a [`FakeCloudgene`].
#[derive(Clone, Debug)]
pub struct CloudgeneConfig {
    /// The server name in `GET /api/v2/server`.
    pub name: String,
    /// Valid API tokens (`X-Auth-Token`); token i belongs to user [`username_for`]`(i)`.
    pub tokens: Vec<String>,
    /// The installed imputation app, `"<id>@<version>"`.
    pub app_id: String,
    /// The reference panels the app offers.
    pub panels: Vec<FakePanel>,
}

impl Default for CloudgeneConfig {
    fn default() -> Self {
        let all = ["afr", "amr", "eas", "eur", "sas", "mixed", "off"];
        Self {
            name: "Fake Cloudgene".to_owned(),
            tokens: vec!["cloudgene-test-token".to_owned()],
            app_id: "imputationserver2@2.0.12".to_owned(),
            panels: vec![
                FakePanel::new(
                    "apps@1000g-phase-3-v5@2.0.0",
                    "1000 Genomes Phase 3 (Version 5)",
                    &all,
                ),
                FakePanel::new(
                    "apps@h3africa-v6hc-s@1.0.0",
                    "H3Africa Reference Panel (v6)",
                    &["afr", "mixed", "off"],
                ),
                FakePanel::new(
                    "apps@topmed-r3@1.0.0",
                    "TOPMed (Version R3)",
                    &["all", "off"],
                ),
            ],
        }
    }
}

/// The username owning the `index`-th configured token (`fake-user`, `fake-user-2`, …).
pub fn username_for(index: usize) -> String {
    match index {
        0 => "fake-user".to_owned(),
        n => format!("fake-user-{}", n + 1),
    }
}

#[derive(Debug)]
struct State {
    config: CloudgeneConfig,
    maintenance: bool,
    fault: Fault,
    queue_size: u64,
    hits: HashMap<String, usize>,
    last_token: HashMap<String, String>,
}

type SharedState = Arc<Mutex<State>>;

/// A running fake Cloudgene server.
#[derive(Debug)]
pub struct FakeCloudgene {
    state: SharedState,
    server: Loopback,
}

impl FakeCloudgene {
    /// Starts the fake on an ephemeral loopback port.
    pub async fn start(config: CloudgeneConfig) -> Self {
        let state = Arc::new(Mutex::new(State {
            config,
            maintenance: false,
            fault: Fault::None,
            queue_size: 0,
            hits: HashMap::new(),
            last_token: HashMap::new(),
        }));
        let (listener, _) = bind_loopback().await;
        let server = Loopback::serve(listener, router(Arc::clone(&state)));
        Self { state, server }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Sets the `maintenace` (sic) flag; while on, the apps route answers 503.
    pub fn set_maintenance(&self, on: bool) {
        lock(&self.state).maintenance = on;
    }

    /// Injects a fault into `GET /api/v2/server` (only).
    pub fn set_fault(&self, fault: Fault) {
        lock(&self.state).fault = fault;
    }

    /// Replaces the reference panels of the app.
    pub fn set_panels(&self, panels: Vec<FakePanel>) {
        lock(&self.state).config.panels = panels;
    }

    /// Replaces the valid API tokens (a removed token is "revoked" and gets 401).
    pub fn set_tokens(&self, tokens: Vec<String>) {
        lock(&self.state).config.tokens = tokens;
    }

    /// Sets `queue.size` of `GET /api/v2/server/counters`.
    pub fn set_queue_size(&self, size: u64) {
        lock(&self.state).queue_size = size;
    }

    /// How many requests were received whose URI path equals `path`.
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.state).hits.get(path).copied().unwrap_or(0)
    }

    /// The `X-Auth-Token` header of the last request to `path` that carried one.
    pub fn last_token(&self, path: &str) -> Option<String> {
        lock(&self.state).last_token.get(path).cloned()
    }

    /// Shuts the server down; afterwards connecting to its port is refused.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

fn router(state: SharedState) -> Router {
    Router::new()
        .route("/api/v2/server", get(server_info))
        .route("/api/v2/server/counters", get(counters))
        .route("/api/v2/server/apps/{app_id}", get(app_details))
        .route("/api/v2/tokens/verify", post(verify_token))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), record))
        .with_state(state)
}

async fn record(Shared(state): Shared<SharedState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let token = auth_token(request.headers());
    {
        let mut state = lock(&state);
        *state.hits.entry(path.clone()).or_insert(0) += 1;
        if let Some(token) = token {
            state.last_token.insert(path, token);
        }
    }
    next.run(request).await
}

fn auth_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The username of a valid token.
fn user_of(config: &CloudgeneConfig, token: Option<&str>) -> Option<String> {
    let token = token.filter(|t| !t.is_empty())?;
    config
        .tokens
        .iter()
        .position(|t| t == token)
        .map(username_for)
}

fn user_json(username: &str) -> Value {
    json!({"username": username, "mail": format!("{username}@example.org"), "admin": false,
        "name": format!("Fake User ({username})")})
}

fn app_version(app_id: &str) -> &str {
    app_id.split_once('@').map_or("", |(_, version)| version)
}

async fn server_info(Shared(state): Shared<SharedState>, headers: HeaderMap) -> Response {
    let fault = lock(&state).fault.clone();
    if let Some(response) = apply_fault(fault).await {
        return response;
    }
    let state = lock(&state);
    let token = auth_token(&headers);
    let mut body = json!({
        "name": state.config.name, "background": "#f8f9fa", "foreground": "#343a40",
        "footer": "", "emailRequired": true, "oauth": [], "navigation": [],
        "loggedIn": false, "maintenace": state.maintenance,
        "maintenaceMessage": MAINTENANCE_MESSAGE, "apps": [],
    });
    if let (Some(username), Some(map)) = (
        user_of(&state.config, token.as_deref()),
        body.as_object_mut(),
    ) {
        let app = &state.config.app_id;
        map.insert("loggedIn".into(), json!(true));
        map.insert("user".into(), user_json(&username));
        map.insert(
            "apps".into(),
            json!([{"id": app, "name": APP_NAME, "version": app_version(app)}]),
        );
        map.insert("deprecatedApps".into(), json!([]));
        map.insert("experimentalApps".into(), json!([]));
    }
    json_reply(StatusCode::OK, body)
}

async fn counters(Shared(state): Shared<SharedState>) -> Response {
    let size = lock(&state).queue_size;
    json_reply(
        StatusCode::OK,
        json!({"complete": {}, "queue": {"size": size}, "users": 1}),
    )
}

async fn app_details(
    Shared(state): Shared<SharedState>,
    Path(requested): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let state = lock(&state);
    if user_of(&state.config, auth_token(&headers).as_deref()).is_none() {
        return unauthorized(uri.path());
    }
    if state.maintenance {
        return message(StatusCode::SERVICE_UNAVAILABLE, MAINTENANCE_MESSAGE);
    }
    let app_id = &state.config.app_id;
    let bare = app_id.split_once('@').map_or(app_id.as_str(), |(id, _)| id);
    if requested != *app_id && requested != bare {
        let text = format!(
            "Application {requested} not found or the request requires user authentication."
        );
        return message(StatusCode::NOT_FOUND, &text);
    }
    json_reply(StatusCode::OK, app::app_json(&state.config))
}

#[derive(Debug, Deserialize)]
struct VerifyForm {
    token: Option<String>,
}

async fn verify_token(
    Shared(state): Shared<SharedState>,
    form: Result<Form<VerifyForm>, FormRejection>,
) -> Response {
    let token = form.ok().and_then(|Form(form)| form.token);
    let username = user_of(&lock(&state).config, token.as_deref());
    let body = match username {
        Some(username) => {
            let expire = chrono::Utc::now() + chrono::TimeDelta::days(30);
            json!({"valid": true, "message": format!("API Token was created by {username} and is valid."),
                "username": username, "name": format!("Fake User ({username})"),
                "mail": format!("{username}@example.org"),
                "expire": expire.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
        }
        None => {
            json!({"valid": false, "message": "Invalid API Token.", "username": null, "name": null,
            "mail": null, "expire": null})
        }
    };
    json_reply(StatusCode::OK, body)
}

async fn fallback(uri: Uri) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return unauthorized(path);
    }
    json_reply(
        StatusCode::NOT_FOUND,
        json!({"message": "Not Found",
        "_links": {"self": {"href": path, "templated": false}},
        "_embedded": {"errors": [{"message": format!("Page Not Found: {path}")}]}}),
    )
}

/// Micronaut's security rejection.
fn unauthorized(path: &str) -> Response {
    json_reply(
        StatusCode::UNAUTHORIZED,
        json!({"message": "Unauthorized",
        "_links": {"self": {"href": path, "templated": false}},
        "_embedded": {"errors": [{"message": "Unauthorized"}]}}),
    )
}

/// Cloudgene's `MessageWrapper` error body.
fn message(status: StatusCode, text: &str) -> Response {
    json_reply(status, json!({"message": text, "success": false}))
}

mod app;
#[cfg(test)]
mod tests;
