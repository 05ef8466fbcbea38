//! Following a remote job: one poll per step, one status update per
//! transition (never one per poll), and the remote cancel.

use chrono::Utc;

use super::{Scheduler, submit::failed};
use crate::{
    adapters::{RemoteError, RemoteState, RemoteView, Target},
    domain::{JobStatus, Phase},
    peers::ServiceInfo,
    store::{Advance, Errors, JobRecord, Transition},
};

/// Polls that may find a remote job missing before it counts as deleted.
const NOT_FOUND_LIMIT: i32 = 3;
/// Times the remote is asked to cancel before the job is marked cancelled
/// without its confirmation.
const CANCEL_ATTEMPTS: i32 = 10;

fn to(status: JobStatus, message: String) -> Option<Transition> {
    Some(Transition {
        status,
        details: serde_json::Value::Null,
        message,
    })
}

impl Scheduler {
    pub(super) async fn poll(&self, job: &JobRecord) -> Advance {
        let (service, target) = match self.resolve(job, Phase::Poll).await {
            Ok(resolved) => resolved,
            Err(wait) => return wait,
        };
        if Self::credential_unchanged(job, &target.credential) {
            let mut a = Advance::wait(Phase::Poll, self.jittered(self.settings.credential_recheck));
            a.last_error = "waiting for a new credential".into();
            return a;
        }
        let Some(external) = job.external_id.clone() else {
            return Advance::wait(Phase::Reconcile, Utc::now());
        };
        let seen = {
            let _permit = self.limit(service.id).acquire_owned().await;
            self.remotes
                .status(&target, &external, &job.remote_state)
                .await
        };
        match seen {
            Ok(None) => {
                let queued = job.status == JobStatus::Queued;
                let mut a = Advance::wait(Phase::Poll, self.next_poll(service.api_type, queued));
                a.errors = Errors::Reset;
                self.credential_accepted(job, &mut a);
                a
            }
            Ok(Some(view)) => self.observe(job, &service, &target, &external, view).await,
            Err(e) => self.poll_failed(job, &service, &target, Phase::Poll, e),
        }
    }

    fn credential_accepted(&self, job: &JobRecord, a: &mut Advance) {
        if job.needs_credentials {
            a.needs_credentials = Some((false, String::new()));
            a.error_message = Some(String::new());
        }
    }

    fn poll_failed(
        &self,
        job: &JobRecord,
        service: &ServiceInfo,
        target: &Target,
        phase: Phase,
        e: RemoteError,
    ) -> Advance {
        match e {
            RemoteError::Unauthorized(m) | RemoteError::Forbidden(m) => {
                self.core.peers.forget_credential(job.user_id, service.id);
                self.needs_credentials(job, phase, m, target.credential.fingerprint())
            }
            RemoteError::NotFound(m) => {
                let seen = job.work.not_found_count + 1;
                if seen >= NOT_FOUND_LIMIT {
                    let reason = format!("the job no longer exists on {}", service.name);
                    let mut a = Advance::wait(Phase::Done, Utc::now());
                    a.transition = Some(failed(reason.clone()));
                    a.error_message = Some(reason);
                    a
                } else {
                    let mut a = self.retry_later(job, phase, m);
                    a.not_found_count = Some(seen);
                    a
                }
            }
            RemoteError::Rejected(m)
            | RemoteError::Busy(m)
            | RemoteError::Transient(m)
            | RemoteError::Ambiguous(m) => self.retry_later(job, phase, m),
        }
    }

    /// What a look at the remote job means for ours.
    async fn observe(
        &self,
        job: &JobRecord,
        service: &ServiceInfo,
        target: &Target,
        external: &str,
        view: RemoteView,
    ) -> Advance {
        let api = service.api_type;
        let mut a = Advance::wait(Phase::Poll, self.next_poll(api, false));
        a.errors = Errors::Reset;
        a.not_found_count = Some(0);
        self.credential_accepted(job, &mut a);
        a.remote_state = Some(view.raw_state.clone());
        a.progress = Some(view.progress);
        let digest = crate::files::upload::hex(
            &<sha2::Sha256 as sha2::Digest>::digest(view.payload.to_string().as_bytes())[..16],
        );
        // Logs are synced when the remote's reply changed, not on every
        // poll of a job that has not moved.
        if digest != job.payload_digest {
            a.logs = view.logs;
        }
        a.payload = Some((view.payload, digest));
        if let Some(at) = view.results_expire_at {
            a.results_expire_at = Some(at);
        }
        let name = &service.name;
        match view.state {
            RemoteState::Queued { position } => {
                a.next_run_at = self.next_poll(api, true);
                if position.is_some_and(|p| p > 0) {
                    a.last_error =
                        format!("position {} in the queue of {name}", position.unwrap_or(0));
                }
            }
            RemoteState::Running | RemoteState::Cancelling | RemoteState::Unknown => {
                if job.status == JobStatus::Queued {
                    a.transition = to(JobStatus::Running, format!("Running on {name}"));
                }
            }
            RemoteState::Succeeded => {
                a.transition = to(JobStatus::Completed, format!("Completed on {name}"));
                let copy =
                    self.settings.copy_results && view.results.iter().any(|r| r.downloadable);
                a.phase = if copy { Phase::Fetch } else { Phase::Done };
                a.next_run_at = Utc::now();
                a.results = view.results;
            }
            RemoteState::Failed { reason } => {
                let copy =
                    self.settings.copy_results && view.results.iter().any(|r| r.downloadable);
                a.phase = if copy { Phase::Fetch } else { Phase::Done };
                a.next_run_at = Utc::now();
                a.results = view.results;
                a.error_message = Some(reason.clone());
                a.transition = Some(failed(reason));
            }
            RemoteState::Cancelled => {
                a.phase = Phase::Done;
                a.transition = to(JobStatus::Cancelled, format!("Cancelled on {name}"));
            }
            RemoteState::Ended { reason } => {
                a.phase = Phase::Done;
                if job.cancel_requested {
                    a.transition = to(JobStatus::Cancelled, format!("Cancelled on {name}"));
                } else {
                    a.error_message = Some(reason.clone());
                    a.transition = Some(failed(reason));
                }
            }
            RemoteState::Gone { reason } => {
                a.phase = Phase::Done;
                a.error_message = Some(reason.clone());
                a.transition = Some(failed(reason));
            }
            RemoteState::Dead => {
                return self.dead(job, name, target, external, a).await;
            }
        }
        a
    }

    /// The remote lost the job in a restart: restart it once.
    async fn dead(
        &self,
        job: &JobRecord,
        name: &str,
        target: &Target,
        external: &str,
        mut a: Advance,
    ) -> Advance {
        if job.work.restart_count < 1 {
            match self.remotes.restart(target, external).await {
                Ok(()) => {
                    tracing::info!(job = %job.id, "restarted the job after the remote's restart");
                    a.restart_count = Some(job.work.restart_count + 1);
                    a.last_error = format!("{name} restarted; the job was restarted there");
                    a.next_run_at = self.jittered(self.settings.poll_interval);
                    return a;
                }
                Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot restart the job"),
            }
        }
        let reason = format!(
            "{name} lost the job in a restart and it could not be restarted: retry the job"
        );
        a.phase = Phase::Done;
        a.error_message = Some(reason.clone());
        a.transition = Some(failed(reason));
        a
    }

    pub(super) async fn cancel(&self, job: &JobRecord) -> Advance {
        let cancelled_here = |message: String| {
            let mut a = Advance::wait(Phase::Done, Utc::now());
            a.transition = to(JobStatus::Cancelled, message);
            a
        };
        let (service, target) = match self.resolve(job, Phase::Cancel).await {
            Ok(resolved) => resolved,
            // Without a credential nothing can be cancelled remotely.
            Err(_) if job.external_id.is_none() => {
                return cancelled_here("Cancelled before it reached the remote service".into());
            }
            Err(wait) => return wait,
        };
        let external = match &job.external_id {
            Some(external) => external.clone(),
            None => {
                // A submission that may have happened: find it first.
                if job.work.submit_started_at.is_none() {
                    return cancelled_here("Cancelled before it reached the remote service".into());
                }
                match self.remotes.find(&target, &Self::tag(job)).await {
                    Ok(Some(found)) => {
                        let mut a = Advance::wait(Phase::Cancel, Utc::now());
                        a.external_id = Some(found);
                        a.consume_quota = true;
                        a.submit_started_at = Some(None);
                        return a;
                    }
                    Ok(None) => {
                        let since = job.work.submit_started_at.unwrap_or(job.updated_at);
                        let settle = chrono::Duration::from_std(self.settings.reconcile_after)
                            .unwrap_or_default();
                        if Utc::now() - since >= settle {
                            return cancelled_here(
                                "Cancelled before it reached the remote service".into(),
                            );
                        }
                        return Advance::wait(
                            Phase::Cancel,
                            self.jittered(self.settings.poll_interval),
                        );
                    }
                    Err(e) => return self.retry_later(job, Phase::Cancel, e.to_string()),
                }
            }
        };
        let _permit = self.limit(service.id).acquire_owned().await;
        if let Err(e) = self.remotes.cancel(&target, &external).await {
            // Already gone on the remote: nothing left to stop.
            return if let RemoteError::NotFound(_) = e {
                cancelled_here(format!(
                    "Cancelled ({} no longer has the job)",
                    service.name
                ))
            } else {
                self.poll_failed(job, &service, &target, Phase::Cancel, e)
            };
        }
        let view = match self.remotes.status(&target, &external, "").await {
            Ok(Some(view)) => view,
            Ok(None) => {
                return Advance::wait(Phase::Cancel, self.jittered(self.settings.poll_interval));
            }
            Err(e) => return self.poll_failed(job, &service, &target, Phase::Cancel, e),
        };
        match &view.state {
            RemoteState::Cancelled | RemoteState::Ended { .. } | RemoteState::Gone { .. } => {
                let mut a = self.observe(job, &service, &target, &external, view).await;
                a.phase = Phase::Done;
                a.error_message = Some(String::new());
                a.transition = to(
                    JobStatus::Cancelled,
                    format!("Cancelled on {}", service.name),
                );
                a
            }
            RemoteState::Dead => cancelled_here(format!(
                "Cancelled ({} had lost the job in a restart)",
                service.name
            )),
            RemoteState::Succeeded | RemoteState::Failed { .. } => {
                // Too late: the job ended first; it keeps its real outcome.
                self.observe(job, &service, &target, &external, view).await
            }
            RemoteState::Queued { .. }
            | RemoteState::Running
            | RemoteState::Cancelling
            | RemoteState::Unknown => {
                let tries = job.work.cancel_attempts + 1;
                if tries >= CANCEL_ATTEMPTS {
                    let mut a = cancelled_here(format!(
                        "Cancelled here; {} did not confirm the cancellation",
                        service.name
                    ));
                    a.remote_state = Some(view.raw_state);
                    return a;
                }
                let mut a =
                    Advance::wait(Phase::Cancel, self.jittered(self.settings.poll_interval));
                a.cancel_attempts = Some(tries);
                a.remote_state = Some(view.raw_state);
                a
            }
        }
    }
}
