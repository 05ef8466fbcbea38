//! The test-side controls of [`FakeCloudgene`]: server settings, recorded submissions, job
//! inspection and driving (ticks, forced states, restart, retirement), downloads, faults.

use super::model::{FakeJob, Scenario, Submission};
use super::{FakeCloudgene, FakePanel, State, downloads, machine, now_ms};
use crate::fakes::{Fault, lock};

impl FakeCloudgene {
    /// Sets the `maintenace` (sic) flag; while on, the apps and submit routes answer 503.
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
        let mut state = lock(&self.state);
        state.config.tokens = tokens;
        state.index_tokens();
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

    /// The `traceparent` header of the last request to `path` that carried one.
    pub fn last_traceparent(&self, path: &str) -> Option<String> {
        lock(&self.state).last_traceparent.get(path).cloned()
    }

    /// Every accepted submission, in order.
    pub fn submissions(&self) -> Vec<Submission> {
        lock(&self.state).jobs.submissions.clone()
    }

    /// How many submissions were accepted (jobs created).
    pub fn submission_count(&self) -> usize {
        lock(&self.state).jobs.submissions.len()
    }

    /// A snapshot of one job.
    pub fn job(&self, id: &str) -> Option<FakeJob> {
        lock(&self.state).jobs.get(id).map(|job| job.view())
    }

    /// Snapshots of all jobs, in submission order.
    pub fn jobs(&self) -> Vec<FakeJob> {
        lock(&self.state).jobs.all().map(|job| job.view()).collect()
    }

    /// Moves job `id` `ticks` steps forward; `false` for an unknown id.
    pub fn advance(&self, id: &str, ticks: u32) -> bool {
        let mut guard = lock(&self.state);
        let State { config, jobs, .. } = &mut *guard;
        let now = now_ms();
        jobs.update(id, |job| machine::advance(job, config, ticks, now))
            .is_some()
    }

    /// Moves every job `ticks` steps forward.
    pub fn advance_all(&self, ticks: u32) {
        let mut guard = lock(&self.state);
        let State { config, jobs, .. } = &mut *guard;
        let now = now_ms();
        jobs.update_all(|job| machine::advance(job, config, ticks, now));
    }

    /// Forces job `id` into state code `state` (edge cases); 4 and 8 get outputs if missing,
    /// 1 starts the job over. `false` for an unknown id.
    pub fn set_state(&self, id: &str, state: i32) -> bool {
        let mut guard = lock(&self.state);
        let State { config, jobs, .. } = &mut *guard;
        let now = now_ms();
        jobs.update(id, |job| machine::force(job, config, state, now))
            .is_some()
    }

    /// Downloads left for result file `name` of job `job_id` (-1 = unlimited).
    pub fn downloads_left(&self, job_id: &str, name: &str) -> Option<i64> {
        let state = lock(&self.state);
        state.jobs.get(job_id)?.file(name).map(|file| file.count)
    }

    /// The bytes the download routes serve for result file `name` of job `job_id` (once
    /// the job lists it).
    pub fn file_bytes(&self, job_id: &str, name: &str) -> Option<Vec<u8>> {
        let listed = lock(&self.state)
            .jobs
            .get(job_id)
            .is_some_and(|job| job.file(name).is_some());
        listed.then(|| downloads::file_bytes(job_id, name))
    }

    /// Retention is over for job `id`: state 7, and its downloads answer 404.
    pub fn retire(&self, id: &str) -> bool {
        let now = now_ms();
        lock(&self.state)
            .jobs
            .update(id, |job| machine::retire(job, now))
            .is_some()
    }

    /// Simulates a server restart: every job in states 1–3 becomes DEAD (-1).
    pub fn restart_server(&self) {
        lock(&self.state).jobs.update_all(machine::kill);
    }

    /// The next submission without a `fake:` marker plays `scenario` (FIFO).
    pub fn push_scenario(&self, scenario: Scenario) {
        lock(&self.state).scenarios.push_back(scenario);
    }

    /// Sets the fault every request to `route` (a `ROUTE_*` const) gets; `Fault::None` clears.
    pub fn set_route_fault(&self, route: &str, fault: Fault) {
        lock(&self.state).faults.set(route, fault);
    }

    /// The next `times` requests to `route` get `fault`, then it answers as before.
    pub fn push_route_fault(&self, route: &str, fault: Fault, times: usize) {
        lock(&self.state).faults.push(route, fault, times);
    }

    /// Downloads answer 302 to the S3 stand-in ([`Self::s3_base_url`]) instead of the bytes;
    /// the count still drops once per original GET.
    pub fn set_redirect_downloads(&self, on: bool) {
        lock(&self.state).redirect_downloads = on;
    }
}
