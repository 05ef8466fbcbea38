//! Reading jobs: one, lists, history, logs, results, downloads, stats and
//! the watch stream.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use fedimpute_common::auth::Caller;
use fedimpute_proto::{jobs as pb, registry as rpb};
use futures::{StreamExt, stream::BoxStream};

use super::{
    Jobs, Me,
    files::{FileOut, chunked, page},
};
use crate::{
    adapters::Target,
    convert,
    domain::{JobStatus, request::ServiceRef},
    error::{Error, Result},
    peers::Credential,
    store::{JobFilter, JobRecord, ResultState},
    watch,
};

pub(crate) type Events = BoxStream<'static, Result<pb::JobEvent>>;

fn page_token(job: &JobRecord) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", job.created_at.to_rfc3339(), job.id))
}

fn parse_token(raw: &str) -> Result<Option<(chrono::DateTime<chrono::Utc>, String)>> {
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || Error::invalid("page_token", "is not a page token returned by this API");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    let at = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| bad())?;
    Ok(Some((at.with_timezone(&chrono::Utc), id.to_owned())))
}

impl Jobs {
    /// The job as `me` sees it (a parent with its children's aggregate).
    pub(crate) async fn view(&self, me: &Me, job: &JobRecord) -> Result<pb::Job> {
        let children = if job.is_parent {
            Some(self.store.children(&job.id).await?)
        } else {
            None
        };
        Ok(convert::job(job, me.id, &self.keyring, children.as_deref()))
    }

    pub(crate) async fn get_job(&self, caller: &Caller, id: &str) -> Result<pb::Job> {
        let me = self.me(caller)?;
        let job = self.visible_job(&me, id).await?;
        let mut view = self.view(&me, &job).await?;
        if job.attempt > 1 {
            view.previous_attempts = self
                .store
                .attempts(&job.id)
                .await?
                .into_iter()
                .map(|a| pb::JobAttempt {
                    attempt: a.attempt,
                    status: a.status.to_pb() as i32,
                    external_job_id: a.external_id.unwrap_or_default(),
                    error_message: a.error_message,
                    completed_at: a.completed_at.map(fedimpute_common::wire::timestamp),
                })
                .collect();
        }
        Ok(view)
    }

    pub(crate) async fn list_jobs(
        &self,
        caller: &Caller,
        r: pb::ListJobsRequest,
    ) -> Result<pb::ListJobsResponse> {
        let me = self.me(caller)?;
        let (skip, limit) = page(r.skip, r.limit)?;
        let status = match pb::JobStatus::try_from(r.status) {
            Ok(s) => JobStatus::from_pb(s),
            Err(_) => return Err(Error::invalid("status", "is not a job status")),
        };
        let user_id = match (me.is_admin(), r.user_id) {
            (true, user) => user,
            (false, Some(user)) if user != me.id => {
                return Err(Error::PermissionDenied(
                    "only admins may list other users' jobs".into(),
                ));
            }
            (false, _) => Some(me.id),
        };
        let parent_id = match r.parent_job_id.trim() {
            "" => None,
            id => Some(self.visible_job(&me, id).await?.id),
        };
        let search = r.search.trim().to_lowercase();
        let filter = JobFilter {
            user_id,
            status,
            service_id: (r.service_id != 0).then_some(r.service_id),
            search: (!search.is_empty()).then_some(search),
            parent_id,
            after: parse_token(&r.page_token)?,
            skip,
            limit: limit + 1,
        };
        let mut jobs = self.store.jobs(&filter).await?;
        let more = jobs.len() as u64 > limit;
        jobs.truncate(limit as usize);
        let next_page_token = if more {
            jobs.last().map(page_token).unwrap_or_default()
        } else {
            String::new()
        };
        let mut out = Vec::with_capacity(jobs.len());
        for job in &jobs {
            out.push(self.view(&me, job).await?);
        }
        Ok(pb::ListJobsResponse {
            jobs: out,
            next_page_token,
        })
    }

    pub(crate) async fn status_updates(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Vec<pb::StatusUpdate>> {
        let me = self.me(caller)?;
        let job = self.visible_job(&me, id).await?;
        Ok(self
            .store
            .status_updates(&job.id)
            .await?
            .iter()
            .map(convert::status_update)
            .collect())
    }

    pub(crate) async fn logs(
        &self,
        caller: &Caller,
        id: &str,
        attempt: Option<i32>,
    ) -> Result<Vec<pb::JobLog>> {
        let me = self.me(caller)?;
        let job = self.visible_job(&me, id).await?;
        let attempt = attempt.unwrap_or(job.attempt);
        if !(1..=job.attempt).contains(&attempt) {
            return Err(Error::invalid(
                "attempt",
                format!("the job has attempts 1 to {}", job.attempt),
            ));
        }
        Ok(self
            .store
            .logs(&job.id, attempt)
            .await?
            .iter()
            .map(convert::log)
            .collect())
    }

    pub(crate) async fn results(&self, caller: &Caller, id: &str) -> Result<Vec<pb::ResultFile>> {
        let me = self.me(caller)?;
        let job = self.visible_job(&me, id).await?;
        Ok(self
            .store
            .results(&job.id)
            .await?
            .iter()
            .map(convert::result)
            .collect())
    }

    /// Streams a result: from the platform's copy, or (not copied yet, or
    /// copying is off) straight from the remote.
    pub(crate) async fn download_result(
        &self,
        caller: &Caller,
        job_id: &str,
        file_id: &str,
    ) -> Result<FileOut> {
        let me = self.me(caller)?;
        let job = self.visible_job(&me, job_id).await?;
        let not_found = || Error::NotFound(format!("result {file_id} does not exist"));
        let result = self
            .store
            .result(file_id)
            .await?
            .filter(|r| r.job_id == job.id)
            .ok_or_else(not_found)?;
        if let Some(key) = &result.storage_key {
            return self
                .stream_out(key, &result.name, &result.content_type)
                .await;
        }
        match result.state {
            ResultState::Pending if result.downloadable => {}
            ResultState::Pending
            | ResultState::Remote
            | ResultState::Available
            | ResultState::Expired
            | ResultState::Failed => {
                return Err(Error::FailedPrecondition(format!(
                    "{} cannot be downloaded through the platform ({}){}",
                    result.name,
                    result.state.as_str(),
                    if result.error.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", result.error)
                    }
                )));
            }
        }
        let service_id = job.service_id.ok_or_else(not_found)?;
        let service = self.peers.service(&ServiceRef::Id(service_id)).await?;
        let credential = self
            .peers
            .credential(job.user_id, &service)
            .await
            .unwrap_or(Credential::None);
        let target = Target {
            api_type: service.api_type,
            service_id,
            base_url: service.base_url.clone(),
            config: job.remote_config.clone(),
            credential,
        };
        let (size, bytes) = self
            .remotes
            .download(&target, &result.remote_location)
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        let head = pb::FileChunk {
            filename: result.name.clone(),
            content_type: result.content_type.clone(),
            size_bytes: size.map_or(result.size_bytes, |s| i64::try_from(s).unwrap_or(i64::MAX)),
            data: Vec::new(),
        };
        Ok(chunked(
            head,
            bytes.map(|r| r.map_err(|e| Error::Unavailable(e.to_string()))),
        ))
    }

    pub(crate) async fn stats(&self, caller: &Caller, all_users: bool) -> Result<pb::JobStats> {
        let me = self.me(caller)?;
        if all_users && !me.is_admin() {
            return Err(Error::PermissionDenied(
                "only admins may see everybody's job statistics".into(),
            ));
        }
        let counts = self.store.counts((!all_users).then_some(me.id)).await?;
        let count = |status: JobStatus| {
            counts
                .by_status
                .iter()
                .filter(|(s, _)| *s == status)
                .map(|(_, n)| *n)
                .sum::<i64>()
        };
        let (completed, failed) = (count(JobStatus::Completed), count(JobStatus::Failed));
        let mut by_service: Vec<pb::ServiceJobStats> = Vec::new();
        for (id, name, status, n) in &counts.by_service {
            let entry = match by_service.iter_mut().find(|s| s.service_id == *id) {
                Some(entry) => entry,
                None => {
                    by_service.push(pb::ServiceJobStats {
                        service_id: *id,
                        service_name: name.clone(),
                        ..Default::default()
                    });
                    by_service
                        .last_mut()
                        .ok_or_else(|| Error::Internal("empty".into()))?
                }
            };
            entry.total += n;
            match status {
                JobStatus::Running => entry.running += n,
                JobStatus::Completed => entry.completed += n,
                JobStatus::Failed => entry.failed += n,
                JobStatus::Pending | JobStatus::Queued | JobStatus::Cancelled => {}
            }
        }
        by_service.sort_by_key(|s| s.service_id);
        Ok(pb::JobStats {
            total: counts.by_status.iter().map(|(_, n)| n).sum(),
            pending: count(JobStatus::Pending),
            queued: count(JobStatus::Queued),
            running: count(JobStatus::Running),
            completed,
            failed,
            cancelled: count(JobStatus::Cancelled),
            success_rate: if completed + failed == 0 {
                0.0
            } else {
                (completed as f64) * 100.0 / ((completed + failed) as f64)
            },
            by_service,
        })
    }

    pub(crate) async fn dashboard(&self, caller: &Caller) -> Result<pb::GetDashboardStatsResponse> {
        let me = self.me(caller)?;
        let job_stats = self.stats(caller, false).await?;
        let services = self.peers.services().await?;
        let available: Vec<&rpb::Service> = services
            .iter()
            .filter(|s| s.is_active.unwrap_or(true) && s.is_available)
            .collect();
        let mut accessible = 0;
        for s in &available {
            let Ok(info) = self.peers.service(&ServiceRef::Id(s.id)).await else {
                continue;
            };
            if !info.requires_auth || self.peers.credential(me.id, &info).await.is_ok() {
                accessible += 1;
            }
        }
        let recent = self
            .store
            .jobs(&JobFilter {
                user_id: Some(me.id),
                limit: 5,
                ..Default::default()
            })
            .await?;
        let mut recent_jobs = Vec::new();
        for job in &recent {
            recent_jobs.push(self.view(&me, job).await?);
        }
        Ok(pb::GetDashboardStatsResponse {
            job_stats: Some(job_stats),
            service_stats: Some(pb::ServiceStats {
                total_services: services.len() as i64,
                available_services: available.len() as i64,
                accessible_services: accessible,
            }),
            recent_jobs,
        })
    }

    /// The job's snapshot, then its changes, until it and its children
    /// have settled or the watcher goes away.
    pub(crate) async fn watch(&self, caller: &Caller, id: &str) -> Result<Events> {
        let me = self.me(caller)?;
        let job = self.visible_job(&me, id).await?;
        let mut subscription = self.hub.subscribe(&job.id);
        let (job, children) = watch::load(self.store.as_ref(), &job.id)
            .await
            .ok_or_else(|| Error::NotFound(format!("job {id} does not exist")))?;
        let core = self.clone();
        let stream = async_stream(move |tx| async move {
            let mut versions: std::collections::HashMap<String, i64> =
                children.iter().map(|c| (c.id.clone(), c.version)).collect();
            let mut version = job.version;
            let done = |job: &JobRecord, children: &[JobRecord]| {
                watch::settled(job) && children.iter().all(watch::settled)
            };
            let first = pb::JobEvent {
                r#type: pb::JobEventType::Snapshot as i32,
                job: Some(convert::job(
                    &job,
                    me.id,
                    &core.keyring,
                    Some(&children)
                        .filter(|_| job.is_parent)
                        .map(|c| c.as_slice()),
                )),
                child: None,
            };
            if tx.send(Ok(first)).await.is_err() || done(&job, &children) {
                return;
            }
            loop {
                let received = tokio::select! {
                    r = subscription.recv() => r,
                    () = tx.closed() => return,
                };
                let snapshot = match received {
                    Ok(s) => s,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let (job, children) = (&snapshot.0, &snapshot.1);
                let parent = job.is_parent.then_some(children.as_slice());
                for child in children {
                    if versions.get(&child.id).is_some_and(|v| *v >= child.version) {
                        continue;
                    }
                    versions.insert(child.id.clone(), child.version);
                    let event = pb::JobEvent {
                        r#type: pb::JobEventType::ChildUpdated as i32,
                        job: Some(convert::job(job, me.id, &core.keyring, parent)),
                        child: Some(convert::job(child, me.id, &core.keyring, None)),
                    };
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
                if job.version > version {
                    version = job.version;
                    let event = pb::JobEvent {
                        r#type: pb::JobEventType::Updated as i32,
                        job: Some(convert::job(job, me.id, &core.keyring, parent)),
                        child: None,
                    };
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
                if done(job, children) {
                    return;
                }
            }
        });
        Ok(stream)
    }
}

/// A stream fed by a task through a small channel (ends when the task does
/// or the reader goes away).
fn async_stream<F, Fut>(body: F) -> Events
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<pb::JobEvent>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(body(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
}
