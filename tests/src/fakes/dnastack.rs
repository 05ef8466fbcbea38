//! Loopback fake of DNAstack Workbench: the service registry, the OAuth2 client-credentials
//! token endpoint, and the namespace-scoped eWES service (service-info, runs, batch, tasks,
//! logs), engines and workflow registry, with scripted scenarios and faults
//! (external-apis.md C.2–C.7).
//!
//! Runs advance one state per poll (`GET E/runs/{id}` or `/status`; `ticks_per_poll`), so a
//! test drives a run's life by polling, or by [`FakeDnastack::advance`] with
//! `ticks_per_poll: 0`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::{Fault, FaultPlan, Loopback, bind_loopback, json_reply, lock};
use crate::fakes::wes::artifacts::{self, hex};

mod catalog;
mod files;
mod info;
mod model;
mod oauth;
mod records;
mod render;
mod routes;
mod runs;
mod states;
mod submit;

use model::EwesState;
#[cfg(test)]
use oauth::base64url;
pub use records::{EwesRun, EwesSubmission};
pub use states::EwesScenario;

/// Default lifetime of issued access tokens, in seconds.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 300;
/// Fault route: `POST /oauth/token`.
pub const ROUTE_TOKEN: &str = "token";
/// Fault route: `POST E/runs` and `POST E/batch`.
pub const ROUTE_SUBMIT: &str = "submit";
/// Fault route: `GET E/runs/{id}` and `GET E/runs/{id}/status`.
pub const ROUTE_STATUS: &str = "status";
/// Fault route: `GET E/runs`.
pub const ROUTE_LIST: &str = "list";
/// Fault route: `POST E/runs/{id}/cancel` and `POST E/runs/cancel`.
pub const ROUTE_CANCEL: &str = "cancel";
/// Fault route: `GET /outputs/{run_id}/{name}`.
pub const ROUTE_OUTPUT: &str = "output";

/// Configuration of a [`FakeDnastack`].
#[derive(Clone, Debug)]
pub struct DnastackConfig {
    /// The OAuth2 client id the token endpoint accepts.
    pub client_id: String,
    /// The OAuth2 client secret the token endpoint accepts.
    pub client_secret: String,
    /// The Workbench namespace the issued tokens are valid for.
    pub namespace: String,
    /// Registered workflows, as (workflow id, version id).
    pub workflows: Vec<(String, String)>,
    /// Execution engine ids (the first is the default).
    pub engines: Vec<String>,
    /// Ticks a run advances per `GET E/runs/{id}[/status]` (0: only [`FakeDnastack::advance`]).
    pub ticks_per_poll: u32,
    /// Ticks a run stays RUNNING.
    pub running_ticks: u32,
    /// The scenario of runs with no `tags.fake` and no pushed scenario.
    pub default_scenario: EwesScenario,
}

impl Default for DnastackConfig {
    fn default() -> Self {
        Self {
            client_id: "fake-client".to_owned(),
            client_secret: "fake-secret".to_owned(),
            namespace: "fake-namespace".to_owned(),
            workflows: vec![("fedimpute-imputation".to_owned(), "v1".to_owned())],
            engines: vec!["engine-1".to_owned()],
            ticks_per_poll: 1,
            running_ticks: 2,
            default_scenario: EwesScenario::Success,
        }
    }
}

#[derive(Debug)]
struct State {
    config: DnastackConfig,
    base: String,
    fault: Fault,
    faults: FaultPlan,
    ewes_listed: bool,
    token_lifetime: Duration,
    /// Issued access token → expiry.
    tokens: HashMap<String, Instant>,
    last_token_form: Option<HashMap<String, String>>,
    token_requests: usize,
    hits: HashMap<String, usize>,
    runs: HashMap<String, model::Run>,
    /// Run ids in submission order (the listing order).
    order: Vec<String>,
    submissions: Vec<EwesSubmission>,
    scenarios: VecDeque<EwesScenario>,
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
            faults: FaultPlan::default(),
            ewes_listed: true,
            token_lifetime: Duration::from_secs(DEFAULT_TOKEN_LIFETIME_SECS),
            tokens: HashMap::new(),
            last_token_form: None,
            token_requests: 0,
            hits: HashMap::new(),
            runs: HashMap::new(),
            order: Vec::new(),
            submissions: Vec::new(),
            scenarios: VecDeque::new(),
        }));
        let server = Loopback::serve(listener, routes::router(Arc::clone(&state)));
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

    /// Sets the standing fault of a route ([`ROUTE_TOKEN`] …; `Fault::None` clears it).
    pub fn set_route_fault(&self, route: &str, fault: Fault) {
        lock(&self.state).faults.set(route, fault);
    }

    /// The next `times` requests to `route` get `fault`.
    pub fn push_route_fault(&self, route: &str, fault: Fault, times: usize) {
        lock(&self.state).faults.push(route, fault, times);
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

    /// How many requests `POST /oauth/token` received (faulted ones included).
    pub fn token_requests(&self) -> usize {
        lock(&self.state).token_requests
    }

    /// The next submitted run without a `tags.fake` marker follows `scenario` (FIFO).
    pub fn push_scenario(&self, scenario: EwesScenario) {
        lock(&self.state).scenarios.push_back(scenario);
    }

    /// Every accepted run submission, in order.
    pub fn submissions(&self) -> Vec<EwesSubmission> {
        lock(&self.state).submissions.clone()
    }

    /// How many runs were created.
    pub fn submission_count(&self) -> usize {
        lock(&self.state).submissions.len()
    }

    /// The run `run_id`, if it exists (and was not deleted).
    pub fn run(&self, run_id: &str) -> Option<EwesRun> {
        lock(&self.state).runs.get(run_id).map(EwesRun::from)
    }

    /// Every run, in submission order.
    pub fn runs(&self) -> Vec<EwesRun> {
        let state = lock(&self.state);
        let runs = state.order.iter().filter_map(|id| state.runs.get(id));
        runs.map(EwesRun::from).collect()
    }

    /// Advances `run_id` by `ticks`; returns its state afterwards.
    pub fn advance(&self, run_id: &str, ticks: u32) -> Option<String> {
        let mut guard = lock(&self.state);
        runs::advance(&mut guard, run_id, ticks);
        guard
            .runs
            .get(run_id)
            .map(|run| run.state.as_str().to_owned())
    }

    /// Puts `run_id` into `state` (an eWES state name), with that state's side effects
    /// (events, outputs, errors). False if there is no such run or state.
    pub fn set_state(&self, run_id: &str, state: &str) -> bool {
        let Some(new) = EwesState::parse(state) else {
            return false;
        };
        let mut guard = lock(&self.state);
        let State { runs, base, .. } = &mut *guard;
        runs.get_mut(run_id)
            .map(|run| run.enter(new, base))
            .is_some()
    }

    /// The bytes `GET /outputs/{run_id}/{name}` serves, once the run has that output.
    pub fn output_bytes(&self, run_id: &str, name: &str) -> Option<Vec<u8>> {
        let served = lock(&self.state)
            .runs
            .get(run_id)
            .is_some_and(|run| run.serves(name));
        served
            .then(|| artifacts::output_bytes(run_id, name))
            .flatten()
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

/// A refused request: (status, msg), sent as a WorkbenchApiError.
#[derive(Debug)]
struct Denied(StatusCode, String);

impl Denied {
    fn reply(self) -> Response {
        workbench_error(self.0, &self.1)
    }
}

/// Checks the Bearer token (issued and unexpired, else 401) and that the token's namespace is
/// `namespace` (else 403); returns the token.
fn authorize(state: &State, headers: &HeaderMap, namespace: &str) -> Result<String, Denied> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let valid = bearer
        .and_then(|t| state.tokens.get(t))
        .is_some_and(|expiry| Instant::now() < *expiry);
    let Some(bearer) = bearer.filter(|_| valid) else {
        let msg = "Full authentication is required to access this resource";
        return Err(Denied(StatusCode::UNAUTHORIZED, msg.to_owned()));
    };
    if namespace != state.config.namespace {
        let msg = format!("Access denied to namespace {namespace}");
        return Err(Denied(StatusCode::FORBIDDEN, msg));
    }
    Ok(bearer.to_owned())
}

/// DNAstack's `WorkbenchApiError` body.
fn workbench_error(status: StatusCode, msg: &str) -> Response {
    json_reply(status, workbench_error_json(status, msg))
}

fn workbench_error_json(status: StatusCode, msg: &str) -> serde_json::Value {
    json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "msg": msg, "error_code": status.as_u16(), "trace_id": hex(&rand::random::<[u8; 8]>()),
    })
}

#[cfg(test)]
mod tests;
