//! Loopback fake of a Cloudgene 3 server (Michigan, TOPMed, H3Africa/Afrigen): the health
//! probe, reference-panel discovery, and the job API with its state machine, failure
//! scenarios, downloads and per-route faults (external-apis.md A.2–A.10).
//!
//! Jobs move one *tick* at a time: each `GET /api/v2/jobs/{id}` (or `…/status`) advances
//! that job by [`CloudgeneConfig::ticks_per_poll`] before answering, and tests can drive
//! jobs directly with [`FakeCloudgene::advance`]. Which way a job ends is its [`Scenario`],
//! chosen by a `fake:<scenario>` marker in its `job-name`, [`FakeCloudgene::push_scenario`],
//! or [`CloudgeneConfig::default_scenario`]; broken inputs fail validation on their own.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

pub use app::FakePanel;
pub use model::{FakeJob, Scenario, Submission, SubmittedFile};

use super::{Fault, FaultPlan, Loopback, bind_loopback, json_reply, lock};

/// The display name of the imputation app, as `imputationserver2` calls itself.
pub const APP_NAME: &str = "Genotype Imputation";
/// The maintenance message of `GET /api/v2/server` and of the 503 replies.
pub const MAINTENANCE_MESSAGE: &str = "This functionality is currently under maintenance.";

/// Fault route: `POST /api/v2/jobs/submit/{app}`.
pub const ROUTE_SUBMIT: &str = "submit";
/// Fault route: `GET /api/v2/jobs/{id}` and `GET /api/v2/jobs/{id}/status`.
pub const ROUTE_STATUS: &str = "status";
/// Fault route: `GET /api/v2/jobs`.
pub const ROUTE_LIST: &str = "list";
/// Fault route: `GET /api/v2/jobs/{id}/cancel`.
pub const ROUTE_CANCEL: &str = "cancel";
/// Fault route: `GET /api/v2/jobs/{id}/restart`.
pub const ROUTE_RESTART: &str = "restart";
/// Fault route: `GET /share/results/…` and `GET /downloads/…` (not the S3 side).
pub const ROUTE_DOWNLOAD: &str = "download";

/// Slack over the upload limit for the multipart framing, so the 413 is the fake's own.
const BODY_SLACK: u64 = 1 << 20;

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
    /// Jobs in states 1–3 a user may have; one more submit gets 400 (Cloudgene: 2).
    pub max_running_jobs_per_user: usize,
    /// A larger submit body gets 413 (Cloudgene `uploadLimit`: 5000 MB).
    pub upload_limit_bytes: u64,
    /// Downloads per result file (`count`; -1 = unlimited; Cloudgene: 10).
    pub max_downloads: i64,
    /// Fewer samples fail "Input Validation" (IS2: 20).
    pub min_samples: usize,
    /// More samples fail "Input Validation" (IS2: 50 000).
    pub max_samples: usize,
    /// Ticks spent in state 1; `positionInQueue` counts down from `queue_ticks - 1`.
    pub queue_ticks: u32,
    /// Ticks of the "Phasing and Imputation" step.
    pub imputation_ticks: u32,
    /// Ticks each details/status GET advances its job by (0: only [`FakeCloudgene::advance`]).
    pub ticks_per_poll: u32,
    /// Ticks after 4 (or 5/6) before 8 (or 9) with `deletedOn` set; `None`: never.
    pub notify_after_ticks: Option<u32>,
    /// `GET /api/v2/jobs` answers a bare array (Cloudgene 2 docs) instead of a page.
    pub legacy_list_array: bool,
    /// Keep the full bytes of uploaded files in [`SubmittedFile::bytes`].
    pub keep_uploads: bool,
    /// The scenario of jobs without a marker or a pushed scenario.
    pub default_scenario: Scenario,
}

impl Default for CloudgeneConfig {
    fn default() -> Self {
        Self {
            name: "Fake Cloudgene".to_owned(),
            tokens: vec!["cloudgene-test-token".to_owned()],
            app_id: "imputationserver2@2.0.12".to_owned(),
            panels: app::default_panels(),
            max_running_jobs_per_user: 2,
            upload_limit_bytes: 5000 << 20,
            max_downloads: 10,
            min_samples: 20,
            max_samples: 50_000,
            queue_ticks: 1,
            imputation_ticks: 2,
            ticks_per_poll: 1,
            notify_after_ticks: None,
            legacy_list_array: false,
            keep_uploads: false,
            default_scenario: Scenario::Success,
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
    /// Token → index in `config.tokens` (rebuilt by `set_tokens`).
    token_index: HashMap<String, usize>,
    maintenance: bool,
    fault: Fault,
    queue_size: u64,
    hits: HashMap<String, usize>,
    last_token: HashMap<String, String>,
    last_traceparent: HashMap<String, String>,
    jobs: table::JobTable,
    faults: FaultPlan,
    scenarios: VecDeque<Scenario>,
    redirect_downloads: bool,
    /// The S3 stand-in's `http://127.0.0.1:<port>`.
    s3_base: String,
}

impl State {
    fn index_tokens(&mut self) {
        self.token_index = self
            .config
            .tokens
            .iter()
            .enumerate()
            .map(|(i, token)| (token.clone(), i))
            .collect();
    }
}

type SharedState = Arc<Mutex<State>>;

/// A running fake Cloudgene server (and its S3 stand-in for redirected downloads).
#[derive(Debug)]
pub struct FakeCloudgene {
    state: SharedState,
    server: Loopback,
    s3: Loopback,
}

impl FakeCloudgene {
    /// Starts the fake on an ephemeral loopback port (and its S3 stand-in on another).
    pub async fn start(config: CloudgeneConfig) -> Self {
        let (s3_listener, s3_base) = bind_loopback().await;
        let body_limit = config.upload_limit_bytes.saturating_add(BODY_SLACK);
        let mut state = State {
            config,
            token_index: HashMap::new(),
            maintenance: false,
            fault: Fault::None,
            queue_size: 0,
            hits: HashMap::new(),
            last_token: HashMap::new(),
            last_traceparent: HashMap::new(),
            jobs: table::JobTable::default(),
            faults: FaultPlan::default(),
            scenarios: VecDeque::new(),
            redirect_downloads: false,
            s3_base,
        };
        state.index_tokens();
        let state = Arc::new(Mutex::new(state));
        let (listener, _) = bind_loopback().await;
        let body_limit = usize::try_from(body_limit).unwrap_or(usize::MAX);
        let server = Loopback::serve(listener, router(Arc::clone(&state), body_limit));
        let s3_router = Router::new()
            .route("/s3/{hash}/{*name}", get(downloads::s3_object))
            .with_state(Arc::clone(&state));
        let s3 = Loopback::serve(s3_listener, s3_router);
        Self { state, server, s3 }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The S3 stand-in's `http://127.0.0.1:<port>` (redirected downloads land there).
    pub fn s3_base_url(&self) -> String {
        self.s3.base_url()
    }

    /// Shuts both listeners down; afterwards connecting to their ports is refused.
    pub async fn stop(self) {
        self.server.stop().await;
        self.s3.stop().await;
    }
}

fn router(state: SharedState, body_limit: usize) -> Router {
    Router::new()
        .route("/api/v2/server", get(server::server_info))
        .route("/api/v2/server/counters", get(server::counters))
        .route("/api/v2/server/apps/{app_id}", get(server::app_details))
        .route("/api/v2/tokens/verify", post(server::verify_token))
        .route(
            "/api/v2/jobs/submit/{app}",
            post(submit::submit).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/api/v2/jobs", get(jobs::list))
        .route("/api/v2/jobs/{id}", get(jobs::details).delete(jobs::delete))
        .route("/api/v2/jobs/{id}/status", get(jobs::details))
        .route("/api/v2/jobs/{id}/cancel", get(jobs::cancel))
        .route("/api/v2/jobs/{id}/restart", get(jobs::restart))
        .route("/logs/{id}", get(jobs::logs))
        .route("/share/results/{hash}/{*name}", get(downloads::share))
        .route("/downloads/{job}/{hash}/{*name}", get(downloads::by_job))
        .fallback(server::fallback)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), record))
        .with_state(state)
}

async fn record(Shared(state): Shared<SharedState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let token = auth_token(request.headers());
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    {
        let mut state = lock(&state);
        *state.hits.entry(path.clone()).or_insert(0) += 1;
        if let Some(traceparent) = traceparent {
            state.last_traceparent.insert(path.clone(), traceparent);
        }
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
fn user_of(state: &State, token: Option<&str>) -> Option<String> {
    let token = token.filter(|t| !t.is_empty())?;
    state.token_index.get(token).copied().map(username_for)
}

fn app_version(app_id: &str) -> &str {
    app_id.split_once('@').map_or("", |(_, version)| version)
}

/// Now, in epoch milliseconds (Cloudgene's times).
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
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

mod admission;
mod app;
mod control;
mod downloads;
mod jobs;
mod machine;
mod model;
mod render;
mod server;
mod submit;
mod table;
mod vcf;
mod zip;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_access;
#[cfg(test)]
mod tests_downloads;
#[cfg(test)]
mod tests_jobs;
#[cfg(test)]
mod tests_scenarios;
