//! Loopback fake of a GA4GH WES 1.0 node (WESkit or GA4GH Starter Kit flavour): the
//! service-info health probe (external-apis.md B.3, B.4, B.7, B.8).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State as Shared};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::{Fault, Loopback, apply_fault, bind_loopback, json_reply, lock};

/// The WES API prefix the fake serves under.
pub const WES_PREFIX: &str = "/ga4gh/wes/v1";

/// Which real implementation the fake imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WesStyle {
    /// WESkit (current eLwazi nodes): WES 1.0 service-info, NFL/SMK engines, `{msg, status_code}` errors.
    #[default]
    WesKit,
    /// GA4GH Starter Kit WES (2023–24 eLwazi nodes): GA4GH service-info header, bare-array type versions.
    StarterKit,
}

/// Configuration of a [`FakeWes`].
#[derive(Clone, Debug, Default)]
pub struct WesConfig {
    /// Which implementation to imitate.
    pub style: WesStyle,
    /// Bearer token required on every route, service-info included, when set
    pub require_token: Option<String>,
}

#[derive(Debug)]
struct State {
    config: WesConfig,
    fault: Fault,
    hits: HashMap<String, usize>,
}

type SharedState = Arc<Mutex<State>>;

/// A running fake WES server.
#[derive(Debug)]
pub struct FakeWes {
    state: SharedState,
    server: Loopback,
}

impl FakeWes {
    /// Starts the fake on an ephemeral loopback port.
    pub async fn start(config: WesConfig) -> Self {
        let state = Arc::new(Mutex::new(State {
            config,
            fault: Fault::None,
            hits: HashMap::new(),
        }));
        let (listener, _) = bind_loopback().await;
        let server = Loopback::serve(listener, router(Arc::clone(&state)));
        Self { state, server }
    }

    /// `http://127.0.0.1:<port>`, WITHOUT the `/ga4gh/wes/v1` suffix.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Injects a fault into `GET /ga4gh/wes/v1/service-info` (only).
    pub fn set_fault(&self, fault: Fault) {
        lock(&self.state).fault = fault;
    }

    /// Changes the required Bearer token (`None` = open node).
    pub fn set_require_token(&self, token: Option<String>) {
        lock(&self.state).config.require_token = token;
    }

    /// How many requests were received whose URI path equals `path`.
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.state).hits.get(path).copied().unwrap_or(0)
    }

    /// Shuts the server down; afterwards connecting to its port is refused.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

fn router(state: SharedState) -> Router {
    Router::new()
        .route(&format!("{WES_PREFIX}/service-info"), get(service_info))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            record_and_authorize,
        ))
        .with_state(state)
}

/// Counts the request, then enforces the Bearer token when one is configured.
async fn record_and_authorize(
    Shared(state): Shared<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let required = {
        let mut state = lock(&state);
        *state
            .hits
            .entry(request.uri().path().to_owned())
            .or_insert(0) += 1;
        state.config.require_token.clone()
    };
    if let Some(token) = required {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if presented != Some(format!("Bearer {token}").as_str()) {
            // flask-jwt-extended's body (no status_code field).
            return json_reply(
                StatusCode::UNAUTHORIZED,
                json!({"msg": "Missing Authorization Header"}),
            );
        }
    }
    next.run(request).await
}

async fn service_info(Shared(state): Shared<SharedState>) -> Response {
    let (fault, style) = {
        let state = lock(&state);
        (state.fault.clone(), state.config.style)
    };
    if let Some(response) = apply_fault(fault).await {
        return response;
    }
    let body = match style {
        WesStyle::WesKit => weskit_service_info(),
        WesStyle::StarterKit => starter_kit_service_info(),
    };
    json_reply(StatusCode::OK, body)
}

/// WES 1.0 states, all counted by WESkit.
const STATES: [&str; 10] = [
    "UNKNOWN",
    "QUEUED",
    "INITIALIZING",
    "RUNNING",
    "PAUSED",
    "COMPLETE",
    "EXECUTOR_ERROR",
    "SYSTEM_ERROR",
    "CANCELED",
    "CANCELING",
];

fn weskit_service_info() -> Value {
    let counts: serde_json::Map<String, Value> = STATES
        .iter()
        .map(|state| {
            let count = match *state {
                "QUEUED" => 2,
                "RUNNING" => 1,
                _ => 0,
            };
            ((*state).to_owned(), json!(count))
        })
        .collect();
    let engine_params: Vec<Value> = [
        ("NFL|22.10.0|max-memory", "100m"),
        ("NFL|22.10.0|max-runtime", "05:00"),
        ("NFL|22.10.0|accounting-name", ""),
        ("NFL|22.10.0|job-name", "weskit_job"),
        ("SMK|6.10.0|max-memory", "100m"),
        ("SMK|6.10.0|max-runtime", "05:00"),
    ]
    .into_iter()
    .map(|(name, default)| json!({"name": name, "type": "str", "default_value": default}))
    .collect();
    json!({
        "workflow_type_versions": {
            "NFL": {"workflow_type_version": ["22.10.0"]},
            "SMK": {"workflow_type_version": ["6.10.0"]},
        },
        "supported_wes_versions": ["1.0.0"],
        "supported_filesystem_protocols": ["file", "S3"],
        "workflow_engine_versions": {"NFL": "22.10.0", "SMK": "6.10.0"},
        "default_workflow_engine_parameters": engine_params,
        "system_state_counts": counts,
        "auth_instructions_url": "https://somewhere.org",
        "contact_info_url": "your@email.de",
        "tags": {"tag1": "value1", "tag2": "value2"},
    })
}

fn starter_kit_service_info() -> Value {
    json!({
        "id": "org.ga4gh.starterkit.wes",
        "name": "GA4GH Starter Kit WES Service",
        "description": "An open source, community-driven implementation of the GA4GH Workflow Execution Service (WES) API specification.",
        "contactUrl": "mailto:info@ga4gh.org",
        "documentationUrl": "https://github.com/ga4gh/ga4gh-starter-kit-wes",
        "createdAt": "2020-01-15T12:00:00Z",
        "updatedAt": "2020-01-15T12:00:00Z",
        "environment": "test",
        "version": "0.3.2",
        "type": {"group": "org.ga4gh", "artifact": "wes", "version": "1.0.1"},
        "organization": {"name": "Global Alliance for Genomics and Health", "url": "https://ga4gh.org"},
        "workflow_type_versions": {"WDL": ["1.0"], "NEXTFLOW": ["21.04.0"]},
        "workflow_engine_versions": {"NATIVE": "1.0.0"},
    })
}

async fn fallback(Shared(state): Shared<SharedState>) -> Response {
    let style = lock(&state).config.style;
    error(
        style,
        StatusCode::NOT_FOUND,
        "The requested URL was not found on the server.",
    )
}

/// The implementation's error body: WESkit `{msg, status_code}`; Starter Kit adds `timestamp`, `error`.
fn error(style: WesStyle, status: StatusCode, msg: &str) -> Response {
    let body = match style {
        WesStyle::WesKit => json!({"msg": msg, "status_code": status.as_u16()}),
        WesStyle::StarterKit => json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "status_code": status.as_u16(),
            "error": status.canonical_reason().unwrap_or("Error"),
            "msg": msg,
        }),
    };
    json_reply(status, body)
}

#[cfg(test)]
mod tests;
