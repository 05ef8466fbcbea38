//! Loopback fake of DNAstack Workbench: the service registry, the OAuth2 client-credentials
//! token endpoint and the namespace-scoped eWES service-info (external-apis.md C.2, C.3, C.6, C.7).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Request, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde_json::{Value, json};

use super::{Fault, Loopback, apply_fault, bind_loopback, json_reply, lock};

/// Default lifetime of issued access tokens, in seconds.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 300;

/// Configuration of a [`FakeDnastack`].
#[derive(Clone, Debug)]
pub struct DnastackConfig {
    /// The OAuth2 client id the token endpoint accepts.
    pub client_id: String,
    /// The OAuth2 client secret the token endpoint accepts.
    pub client_secret: String,
    /// The Workbench namespace the issued tokens are valid for.
    pub namespace: String,
}

impl Default for DnastackConfig {
    fn default() -> Self {
        Self {
            client_id: "fake-client".to_owned(),
            client_secret: "fake-secret".to_owned(),
            namespace: "fake-namespace".to_owned(),
        }
    }
}

#[derive(Debug)]
struct State {
    config: DnastackConfig,
    base: String,
    fault: Fault,
    ewes_listed: bool,
    token_lifetime: Duration,
    /// Issued access token → expiry.
    tokens: HashMap<String, Instant>,
    last_token_form: Option<HashMap<String, String>>,
    hits: HashMap<String, usize>,
}

type SharedState = Arc<Mutex<State>>;

/// A running fake DNAstack Workbench.
#[derive(Debug)]
pub struct FakeDnastack {
    state: SharedState,
    server: Loopback,
}

impl FakeDnastack {
    /// Starts the fake on an ephemeral loopback port.
    pub async fn start(config: DnastackConfig) -> Self {
        let (listener, base) = bind_loopback().await;
        let state = Arc::new(Mutex::new(State {
            config,
            base,
            fault: Fault::None,
            ewes_listed: true,
            token_lifetime: Duration::from_secs(DEFAULT_TOKEN_LIFETIME_SECS),
            tokens: HashMap::new(),
            last_token_form: None,
            hits: HashMap::new(),
        }));
        let server = Loopback::serve(listener, router(Arc::clone(&state)));
        Self { state, server }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Injects a fault into `GET /api/service-registry/services` (only).
    pub fn set_fault(&self, fault: Fault) {
        lock(&self.state).fault = fault;
    }

    /// Whether the registry lists the `ewes-service` entry.
    pub fn set_ewes_listed(&self, listed: bool) {
        lock(&self.state).ewes_listed = listed;
    }

    /// Sets the lifetime (`expires_in`) of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        lock(&self.state).token_lifetime = lifetime;
    }

    /// Expires every token issued so far (the next authenticated call gets 401).
    pub fn expire_tokens(&self) {
        lock(&self.state).tokens.clear();
    }

    /// The form fields of the last request to `POST /oauth/token`.
    pub fn last_token_request(&self) -> Option<HashMap<String, String>> {
        lock(&self.state).last_token_form.clone()
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
        .route("/api/service-registry/services", get(services))
        .route("/oauth/token", post(token))
        .route(
            "/ewes/{namespace}/ga4gh/wes/v1/service-info",
            get(service_info),
        )
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), record))
        .with_state(state)
}

async fn record(Shared(state): Shared<SharedState>, request: Request, next: Next) -> Response {
    *lock(&state)
        .hits
        .entry(request.uri().path().to_owned())
        .or_insert(0) += 1;
    next.run(request).await
}

fn registry_entry(base: &str, client_id: &str, artifact: &str, name: &str, path: &str) -> Value {
    json!({
        "id": artifact, "name": name, "description": format!("Fake DNAstack {name}"),
        "type": {"group": "com.dnastack.workbench", "artifact": artifact, "version": "1.0.0"},
        "url": format!("{base}/{path}"), "version": "1.0.0",
        "organization": {"name": "DNAstack", "url": "https://dnastack.com"},
        "authentication": [{
            "type": "oauth2", "grant_type": "client_credentials", "client_id": client_id,
            "resource_url": format!("{base}/{path}/"), "token_endpoint": format!("{base}/oauth/token"),
        }],
    })
}

async fn services(Shared(state): Shared<SharedState>) -> Response {
    let fault = lock(&state).fault.clone();
    if let Some(response) = apply_fault(fault).await {
        return response;
    }
    let state = lock(&state);
    let (base, client) = (&state.base, &state.config.client_id);
    let mut entries = Vec::new();
    if state.ewes_listed {
        entries.push(registry_entry(
            base,
            client,
            "ewes-service",
            "Workbench eWES",
            "ewes",
        ));
    }
    entries.push(registry_entry(
        base,
        client,
        "workflow-service",
        "Workbench Workflow Service",
        "workflows",
    ));
    json_reply(StatusCode::OK, Value::Array(entries))
}

async fn token(
    Shared(state): Shared<SharedState>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let oauth_error = |status, error: &str| json_reply(status, json!({"error": error}));
    let Ok(Form(form)) = form else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let mut state = lock(&state);
    state.last_token_form = Some(form.clone());
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
    }
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("client_id") != Some(state.config.client_id.as_str())
        || field("client_secret") != Some(state.config.client_secret.as_str())
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let lifetime = state.token_lifetime;
    let access_token = jwt_like(
        &state.config.namespace,
        &state.base,
        field("resource"),
        lifetime,
    );
    state
        .tokens
        .insert(access_token.clone(), Instant::now() + lifetime);
    let mut body = json!({"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime.as_secs()});
    if let (Some(scope), Some(map)) = (field("scope"), body.as_object_mut()) {
        map.insert("scope".into(), json!(scope));
    }
    json_reply(StatusCode::OK, body)
}

/// An unsigned-looking JWT (`header.payload.signature`) whose `sub` is the namespace.
fn jwt_like(namespace: &str, issuer: &str, audience: Option<&str>, lifetime: Duration) -> String {
    let now = chrono::Utc::now().timestamp();
    let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let payload = json!({"sub": namespace, "iss": issuer, "aud": audience, "iat": now,
        "exp": now.saturating_add(lifetime), "jti": hex(&rand::random::<[u8; 16]>())});
    let signature: [u8; 32] = rand::random();
    format!(
        "{}.{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(payload.to_string().as_bytes()),
        base64url(&signature)
    )
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn service_info(
    Shared(state): Shared<SharedState>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
) -> Response {
    let state = lock(&state);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let valid = bearer
        .and_then(|t| state.tokens.get(t))
        .is_some_and(|expiry| Instant::now() < *expiry);
    if !valid {
        return workbench_error(
            StatusCode::UNAUTHORIZED,
            "Full authentication is required to access this resource",
        );
    }
    if namespace != state.config.namespace {
        return workbench_error(
            StatusCode::FORBIDDEN,
            &format!("Access denied to namespace {namespace}"),
        );
    }
    let base = &state.base;
    json_reply(
        StatusCode::OK,
        json!({
            "id": "ewes-service", "name": "Workbench eWES", "description": "Fake DNAstack eWES",
            "type": {"group": "com.dnastack.workbench", "artifact": "ewes-service", "version": "1.0.0"},
            "organization": {"name": "DNAstack", "url": "https://dnastack.com"},
            "url": format!("{base}/ewes/{namespace}/ga4gh/wes/v1"), "version": "1.0.0",
            "workflow_type_versions": {"WDL": {"workflow_type_version": ["1.0"]}},
            "supported_wes_versions": ["1.0.0"],
            "supported_filesystem_protocols": ["gs", "s3", "https"],
            "workflow_engine_versions": {"cromwell": "85"},
            "default_workflow_engine_parameters": [],
            "system_state_counts": {},
            "auth_instructions_url": format!("{base}/oauth/token"),
            "tags": {},
        }),
    )
}

async fn fallback() -> Response {
    workbench_error(StatusCode::NOT_FOUND, "Not Found")
}

/// DNAstack's `WorkbenchApiError` body.
fn workbench_error(status: StatusCode, msg: &str) -> Response {
    json_reply(
        status,
        json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "msg": msg, "error_code": status.as_u16(), "trace_id": hex(&rand::random::<[u8; 8]>()),
        }),
    )
}

#[cfg(test)]
mod tests;
