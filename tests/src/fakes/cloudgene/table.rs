//! The job table behind the routes: a `HashMap` by id plus per-user, running-count and
//! download-hash indexes, so one job's request costs the same with 10 or 10 000 jobs.

use std::collections::HashMap;

use super::model::{Job, OutputFile, Submission};

/// Why a download is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// 404 `download not found.`
    NotFound,
    /// 400 `number of max downloads exceeded.`
    Exhausted,
}

/// All jobs, with the indexes the routes need.
#[derive(Debug, Default)]
pub(super) struct JobTable {
    jobs: HashMap<String, Job>,
    order: Vec<String>,
    by_user: HashMap<String, Vec<String>>,
    active: HashMap<String, usize>,
    by_hash: HashMap<String, String>,
    last_id_ms: i64,
    pub(super) submissions: Vec<Submission>,
}

impl JobTable {
    /// A fresh `job-YYYYMMDD-HHmmss-SSS`, bumping the milliseconds past the last id given.
    pub(super) fn new_id(&mut self, now_ms: i64) -> String {
        let mut ms = now_ms.max(self.last_id_ms + 1);
        loop {
            let time = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
            let id = time.format("job-%Y%m%d-%H%M%S-%3f").to_string();
            if !self.jobs.contains_key(&id) {
                self.last_id_ms = ms;
                return id;
            }
            ms += 1;
        }
    }

    pub(super) fn insert(&mut self, job: Job) {
        if job.is_active() {
            *self.active.entry(job.username.clone()).or_insert(0) += 1;
        }
        self.order.push(job.id.clone());
        let ids = self.by_user.entry(job.username.clone()).or_default();
        ids.push(job.id.clone());
        self.jobs.insert(job.id.clone(), job);
    }

    pub(super) fn get(&self, id: &str) -> Option<&Job> {
        self.jobs.get(id)
    }

    /// Jobs in states 1–3 of `username`.
    pub(super) fn active_of(&self, username: &str) -> usize {
        self.active.get(username).copied().unwrap_or(0)
    }

    /// `username`'s jobs, newest first.
    pub(super) fn of_user<'a>(&'a self, username: &str) -> impl Iterator<Item = &'a Job> + 'a {
        let ids = self.by_user.get(username).map_or(&[][..], Vec::as_slice);
        ids.iter().rev().filter_map(|id| self.jobs.get(id))
    }

    /// All jobs in submission order.
    pub(super) fn all(&self) -> impl Iterator<Item = &Job> + '_ {
        self.order.iter().filter_map(|id| self.jobs.get(id))
    }

    /// Changes one job, keeping the running counts and download index right.
    pub(super) fn update<R>(&mut self, id: &str, change: impl FnOnce(&mut Job) -> R) -> Option<R> {
        let job = self.jobs.get_mut(id)?;
        let before = (job.is_active(), job.outputs.is_some());
        let result = change(job);
        reindex(&mut self.active, &mut self.by_hash, before, job);
        Some(result)
    }

    /// Changes every job (in no particular order).
    pub(super) fn update_all(&mut self, mut change: impl FnMut(&mut Job)) {
        for job in self.jobs.values_mut() {
            let before = (job.is_active(), job.outputs.is_some());
            change(job);
            reindex(&mut self.active, &mut self.by_hash, before, job);
        }
    }

    /// Counts one download of the file `hash` (of job `job_id`, if given, named `name`).
    /// Returns the job id on success.
    pub(super) fn take_download(
        &mut self,
        hash: &str,
        job_id: Option<&str>,
        name: &str,
    ) -> Result<String, Refusal> {
        let id = self.by_hash.get(hash).ok_or(Refusal::NotFound)?;
        let job = self.jobs.get_mut(id).ok_or(Refusal::NotFound)?;
        if job_id.is_some_and(|j| j != job.id) || matches!(job.state, 7 | 10) {
            return Err(Refusal::NotFound);
        }
        let file = job
            .outputs
            .as_mut()
            .and_then(|o| {
                o.files
                    .iter_mut()
                    .find(|f| f.hash == hash && f.name == name)
            })
            .ok_or(Refusal::NotFound)?;
        match file.count {
            0 => Err(Refusal::Exhausted),
            n => {
                if n > 0 {
                    file.count = n - 1;
                }
                Ok(job.id.clone())
            }
        }
    }

    /// The job and file name behind a download hash, without counting (the S3 side).
    pub(super) fn peek_download(&self, hash: &str) -> Option<(&Job, &OutputFile)> {
        let job = self.jobs.get(self.by_hash.get(hash)?)?;
        if matches!(job.state, 7 | 10) {
            return None;
        }
        let file = job
            .outputs
            .as_ref()?
            .files
            .iter()
            .find(|f| f.hash == hash)?;
        Some((job, file))
    }
}

fn reindex(
    active: &mut HashMap<String, usize>,
    by_hash: &mut HashMap<String, String>,
    (was_active, had_outputs): (bool, bool),
    job: &Job,
) {
    match (was_active, job.is_active()) {
        (false, true) => *active.entry(job.username.clone()).or_insert(0) += 1,
        (true, false) => {
            if let Some(n) = active.get_mut(&job.username) {
                *n = n.saturating_sub(1);
            }
        }
        (true, true) | (false, false) => {}
    }
    if let (false, Some(outputs)) = (had_outputs, &job.outputs) {
        for file in &outputs.files {
            by_hash.insert(file.hash.clone(), job.id.clone());
        }
    }
}
