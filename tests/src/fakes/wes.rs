//! Loopback fake of a GA4GH WES node (WESkit, GA4GH Starter Kit or strict 1.1 flavour): the
//! service-info health probe and the runs API, with scripted scenarios and faults
//! (external-apis.md B.3–B.8).
//!
//! Runs advance one state per poll (`GET /runs/{id}` or `/status`; `ticks_per_poll`), so a
//! test drives a run's life by polling, or by [`FakeWes::advance`] with `ticks_per_poll: 0`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::{Fault, FaultPlan, Loopback, apply_fault, bind_loopback, json_reply, lock};

/// Shared with the DNAstack fake.
pub(crate) mod artifacts;
mod fetch;
mod info;
mod model;
mod records;
mod routes;
mod runs;
mod states;
mod submit;

#[cfg(test)]
use info::STATES;
pub use model::QC_FAILURE;
use model::{RunState, Timing};
pub use records::{Attachment, FakeRun, FetchedInput, WesSubmission};
pub use states::WesScenario;

/// The WES API prefix the fake serves under.
pub const WES_PREFIX: &str = "/ga4gh/wes/v1";
/// Fault route: `POST /runs`.
pub const ROUTE_SUBMIT: &str = "submit";
/// Fault route: `GET /runs/{id}` and `GET /runs/{id}/status`.
pub const ROUTE_STATUS: &str = "status";
/// Fault route: `GET /runs`.
pub const ROUTE_LIST: &str = "list";
/// Fault route: `POST /runs/{id}/cancel`.
pub const ROUTE_CANCEL: &str = "cancel";
/// Fault route: `GET /outputs/{run_id}/{name}`.
pub const ROUTE_OUTPUT: &str = "output";

/// Largest accepted `POST /runs` body (attachments are streamed, not buffered).
const SUBMIT_BODY_LIMIT: usize = 1 << 30;

/// Which real implementation the fake imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WesStyle {
    /// WESkit (current eLwazi nodes): WES 1.0 service-info, NFL/SMK engines, `{msg, status_code}` errors.
    #[default]
    WesKit,
    /// GA4GH Starter Kit WES (2023–24 eLwazi nodes): GA4GH service-info header, bare-array type versions.
    StarterKit,
    /// Strict WES 1.1: RunSummary listing with real paging, `task_logs_url`, absolute workflow URLs.
    Spec11,
}

/// Configuration of a [`FakeWes`].
#[derive(Clone, Debug)]
pub struct WesConfig {
    /// Which implementation to imitate.
    pub style: WesStyle,
    /// Bearer token required on every route, service-info included, when set (output and
    /// log files excepted).
    pub require_token: Option<String>,
    /// Further Bearer tokens accepted when `require_token` is set ("other users").
    pub other_tokens: Vec<String>,
    /// Ticks a run advances per `GET /runs/{id}[/status]` (0: only [`FakeWes::advance`]).
    pub ticks_per_poll: u32,
    /// Ticks a run stays RUNNING.
    pub running_ticks: u32,
    /// Ticks a `stuck-unknown` run stays UNKNOWN.
    pub unknown_ticks: u32,
    /// Whether a run entering INITIALIZING downloads the http(s) URLs of its input parameter.
    pub fetch_inputs: bool,
    /// The `workflow_params` key holding the inputs (space-separated URLs).
    pub input_param: String,
    /// The scenario of runs with no `tags.fake` and no pushed scenario.
    pub default_scenario: WesScenario,
}

impl Default for WesConfig {
    fn default() -> Self {
        Self {
            style: WesStyle::default(),
            require_token: None,
            other_tokens: Vec::new(),
            ticks_per_poll: 1,
            running_ticks: 2,
            unknown_ticks: 3,
            fetch_inputs: false,
            input_param: "input".to_owned(),
            default_scenario: WesScenario::Success,
        }
    }
}

impl WesConfig {
    fn timing(&self) -> Timing {
        Timing {
            running_ticks: self.running_ticks,
            unknown_ticks: self.unknown_ticks,
            fetch_inputs: self.fetch_inputs,
        }
    }
}

#[derive(Debug)]
struct State {
    config: WesConfig,
    base: String,
    fault: Fault,
    faults: FaultPlan,
    hits: HashMap<String, usize>,
    runs: HashMap<String, model::Run>,
    /// Run ids in submission order (the listing order).
    order: Vec<String>,
    submissions: Vec<WesSubmission>,
    scenarios: VecDeque<WesScenario>,
    fetched: Vec<FetchedInput>,
    http: reqwest::Client,
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
        let (listener, base) = bind_loopback().await;
        let state = Arc::new(Mutex::new(State {
            config,
            base,
            fault: Fault::None,
            faults: FaultPlan::default(),
            hits: HashMap::new(),
            runs: HashMap::new(),
            order: Vec::new(),
            submissions: Vec::new(),
            scenarios: VecDeque::new(),
            fetched: Vec::new(),
            http: fetch::client(),
        }));
        let server = Loopback::serve(listener, routes::router(Arc::clone(&state)));
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

    /// Sets the standing fault of a route ([`ROUTE_SUBMIT`] …; `Fault::None` clears it).
    pub fn set_route_fault(&self, route: &str, fault: Fault) {
        lock(&self.state).faults.set(route, fault);
    }

    /// The next `times` requests to `route` get `fault`.
    pub fn push_route_fault(&self, route: &str, fault: Fault, times: usize) {
        lock(&self.state).faults.push(route, fault, times);
    }

    /// Changes the required Bearer token (`None` = open node).
    pub fn set_require_token(&self, token: Option<String>) {
        lock(&self.state).config.require_token = token;
    }

    /// The next submission without a `tags.fake` marker follows `scenario` (FIFO).
    pub fn push_scenario(&self, scenario: WesScenario) {
        lock(&self.state).scenarios.push_back(scenario);
    }

    /// Every accepted `POST /runs`, in order.
    pub fn submissions(&self) -> Vec<WesSubmission> {
        lock(&self.state).submissions.clone()
    }

    /// How many runs were created.
    pub fn submission_count(&self) -> usize {
        lock(&self.state).submissions.len()
    }

    /// The run `run_id`, if it exists.
    pub fn run(&self, run_id: &str) -> Option<FakeRun> {
        lock(&self.state).runs.get(run_id).map(FakeRun::from)
    }

    /// Every run, in submission order.
    pub fn runs(&self) -> Vec<FakeRun> {
        let state = lock(&self.state);
        let runs = state.order.iter().filter_map(|id| state.runs.get(id));
        runs.map(FakeRun::from).collect()
    }

    /// Advances `run_id` by `ticks` (downloading inputs if it enters INITIALIZING and
    /// `fetch_inputs` is on); returns its state afterwards.
    pub async fn advance(&self, run_id: &str, ticks: u32) -> Option<String> {
        runs::advance(&self.state, run_id, ticks).await;
        self.run(run_id).map(|run| run.state)
    }

    /// Puts `run_id` into `state` (a WES state name), with that state's side effects
    /// (outputs for COMPLETE…). False if there is no such run or state.
    pub fn set_state(&self, run_id: &str, state: &str) -> bool {
        let Some(new) = RunState::parse(state) else {
            return false;
        };
        let mut guard = lock(&self.state);
        let State { runs, base, .. } = &mut *guard;
        runs.get_mut(run_id)
            .map(|run| run.enter(new, base))
            .is_some()
    }

    /// The bytes `GET /outputs/{run_id}/{name}` serves, once the run is COMPLETE.
    pub fn output_bytes(&self, run_id: &str, name: &str) -> Option<Vec<u8>> {
        let served = lock(&self.state)
            .runs
            .get(run_id)
            .is_some_and(|run| run.serves(name));
        served
            .then(|| artifacts::output_bytes(run_id, name))
            .flatten()
    }

    /// Every input download so far, in order.
    pub fn fetched_inputs(&self) -> Vec<FetchedInput> {
        lock(&self.state).fetched.clone()
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

/// The Bearer token of a request.
fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

/// The implementation's error body: WESkit `{msg, status_code}`; Starter Kit adds `timestamp`, `error`.
fn error(style: WesStyle, status: StatusCode, msg: &str) -> Response {
    let body = match style {
        WesStyle::WesKit | WesStyle::Spec11 => json!({"msg": msg, "status_code": status.as_u16()}),
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
