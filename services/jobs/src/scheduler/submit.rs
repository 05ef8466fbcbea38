//! Sending a job, and finding it again after an ambiguous send. No remote
//! API makes submission idempotent: each remote job carries our tag, a send
//! whose outcome is unknown (a timeout or reset after the upload, a worker
//! that died mid-send) is looked for by that tag, and sent again only when
//! the remote has had time to list it and does not.

use chrono::Utc;
use rpb::HealthStatus;

use fedimpute_proto::registry as rpb;

use super::Scheduler;
use crate::{
    adapters::{Input, RemoteError, Submission},
    convert,
    domain::{
        ApiType, JobStatus, Phase, filename,
        notice::{self, NoticeFacts},
    },
    error::Error,
    store::{Advance, Errors, JobRecord, Transition},
};

/// Cloudgene runs this many jobs per user at once unless the service says.
const DEFAULT_RUNNING_PER_USER: i64 = 2;

pub(super) fn failed(message: String) -> Transition {
    Transition {
        status: JobStatus::Failed,
        message: message.clone(),
        details: serde_json::json!({ "reason": message }),
    }
}

impl Scheduler {
    /// The remote refused the credential (or there is none): the job waits
    /// for a new one, and its owner is told once per refused credential.
    pub(super) fn needs_credentials(
        &self,
        job: &JobRecord,
        phase: Phase,
        message: String,
        fingerprint: String,
    ) -> Advance {
        let mut a = Advance::wait(phase, self.jittered(self.settings.credential_recheck));
        // The remote's words, framed for the owner ("none": there is no
        // credential at all, and the message already says what to do).
        let message = if fingerprint == "none" {
            message
        } else {
            format!(
                "{} refused the credential ({message}): save a new one in Settings → Service Credentials; the job continues by itself",
                job.service_name
            )
        };
        a.error_message = Some(message.clone());
        a.last_error = message;
        a.errors = Errors::Keep;
        if !(job.needs_credentials && job.refused_credential == fingerprint) {
            a.notices.push(notice::credentials(
                &NoticeFacts {
                    job_id: &job.id,
                    attempt: job.attempt,
                    name: &job.name,
                    service_name: &job.service_name,
                    status: job.status,
                    error_message: "",
                    summary: "",
                },
                &fingerprint,
            ));
        }
        a.needs_credentials = Some((true, fingerprint));
        a
    }

    /// Resolves the job's target, or says what the job waits for.
    pub(super) async fn resolve(
        &self,
        job: &JobRecord,
        phase: Phase,
    ) -> Result<(crate::peers::ServiceInfo, crate::adapters::Target), Advance> {
        match self.target(job).await {
            Ok(resolved) => Ok(resolved),
            Err(Error::FailedPrecondition(message)) => {
                Err(self.needs_credentials(job, phase, message, "none".into()))
            }
            Err(e) => Err(self.retry_later(job, phase, e.to_string())),
        }
    }

    pub(super) async fn submit(&self, job: &JobRecord) -> Advance {
        let (service, target) = match self.resolve(job, Phase::Submit).await {
            Ok(resolved) => resolved,
            Err(wait) => return wait,
        };
        if !service.is_active {
            let mut a = Advance::wait(Phase::Done, Utc::now());
            a.transition = Some(failed(format!(
                "{} was deactivated before the job could be sent to it",
                service.name
            )));
            a.error_message = Some(format!("{} is inactive", service.name));
            return a;
        }
        if service.health == HealthStatus::Maintenance {
            let mut a = Advance::wait(Phase::Submit, self.next_poll(service.api_type, true));
            a.last_error = format!("{} is in maintenance", service.name);
            return a;
        }
        if Self::credential_unchanged(job, &target.credential) {
            let mut a = Advance::wait(
                Phase::Submit,
                self.jittered(self.settings.credential_recheck),
            );
            a.last_error = "waiting for a new credential".into();
            return a;
        }
        // Count and mark as one step (per replica; across replicas the
        // remote's own refusal, taken as "busy", is the backstop).
        let admitted = self.admission(job.user_id, service.id).lock_owned().await;
        if service.api_type == ApiType::Michigan {
            let limit = service
                .api_config
                .get("max_running_jobs_per_user")
                .and_then(crate::domain::values::whole_number)
                .unwrap_or(DEFAULT_RUNNING_PER_USER);
            // First come, first sent: older jobs of the user still
            // waiting for a slot take the free ones before this one.
            let counted = async {
                let running = self
                    .store()
                    .on_remote(job.user_id, service.id, &job.id)
                    .await?;
                let ahead = self
                    .store()
                    .waiting_before(job.user_id, service.id, job.created_at, &job.id)
                    .await?;
                Ok::<_, crate::store::StoreError>((running, ahead))
            };
            match counted.await {
                Ok((running, ahead)) if running + ahead >= limit => {
                    let mut a =
                        Advance::wait(Phase::Submit, self.next_poll(service.api_type, true));
                    a.last_error = if running >= limit {
                        format!(
                            "waiting: {running} of your jobs already run on {} (it runs {limit} per user at once)",
                            service.name
                        )
                    } else {
                        format!(
                            "waiting: {ahead} of your earlier jobs go to {} first (it runs {limit} per user at once)",
                            service.name
                        )
                    };
                    return a;
                }
                Ok(_) => {}
                Err(e) => return self.retry_later(job, Phase::Submit, e.to_string()),
            }
        }
        let Some(file_id) = &job.input_file_id else {
            let mut a = Advance::wait(Phase::Done, Utc::now());
            a.transition = Some(failed("the job's input file is gone".into()));
            return a;
        };
        let file = match self.store().file(file_id).await {
            Ok(Some(file)) => file,
            Ok(None) => {
                let mut a = Advance::wait(Phase::Done, Utc::now());
                a.transition = Some(failed("the job's input file is gone".into()));
                return a;
            }
            Err(e) => return self.retry_later(job, Phase::Submit, e.to_string()),
        };
        let needs_bytes = service.api_type == ApiType::Michigan
            || target
                .config
                .get("attach_input")
                .and_then(serde_json::Value::as_bool)
                == Some(true);
        let bytes = if needs_bytes {
            match self.core.storage.read(&file.storage_key).await {
                Ok((_, stream)) => Some(futures::StreamExt::boxed(futures::StreamExt::map(
                    stream,
                    |r| r.map_err(std::io::Error::other),
                ))),
                Err(e) => return self.retry_later(job, Phase::Submit, e.to_string()),
            }
        } else {
            None
        };
        let password = if job.results_password.is_empty() {
            None
        } else {
            self.core
                .keyring
                .open(&job.results_password, &convert::password_context(&job.id))
                .ok()
                .and_then(|p| String::from_utf8(p).ok())
        };
        let submission = Submission {
            tag: Self::tag(job),
            name: job.name.clone(),
            panel: job.panel_external_id.clone(),
            build: job.build,
            phasing: job.phasing,
            population: job.population.clone(),
            mode: job.mode,
            r2_filter: job.r2_filter,
            password,
            input: Input {
                filename: filename::as_vcf_gz(&file.filename),
                size: u64::try_from(file.size_bytes).unwrap_or(0),
                bytes,
                url: self.core.signed_link(&file.id),
            },
        };
        // From here the outcome may be ambiguous: say so first, so a worker
        // that dies mid-send leaves the job to be looked for, not resent.
        let started = Utc::now();
        match self
            .store()
            .mark_submitting(&job.id, &self.settings.worker_id, started)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Advance::wait(Phase::Submit, Utc::now()),
            Err(e) => return self.retry_later(job, Phase::Submit, e.to_string()),
        }
        drop(admitted);
        let permit = self.limit(service.id).acquire_owned().await;
        let outcome = self.remotes.submit(&target, submission).await;
        drop(permit);
        let fingerprint = target.credential.fingerprint();
        match outcome {
            Ok(external) => {
                tracing::info!(job = %job.id, external = %external, service = %service.name, "submitted");
                self.accepted(&service, external)
            }
            Err(RemoteError::Busy(message)) => {
                let mut a = Advance::wait(Phase::Submit, self.next_poll(service.api_type, true));
                a.last_error = message;
                a.submit_started_at = Some(None);
                a
            }
            Err(RemoteError::Unauthorized(m) | RemoteError::Forbidden(m)) => {
                self.core.peers.forget_credential(job.user_id, service.id);
                let mut a = self.needs_credentials(job, Phase::Submit, m, fingerprint);
                a.submit_started_at = Some(None);
                a
            }
            Err(RemoteError::Rejected(m) | RemoteError::NotFound(m)) => {
                let mut a = Advance::wait(Phase::Done, Utc::now());
                let reason = format!("{} refused the job: {m}", service.name);
                a.transition = Some(failed(reason.clone()));
                a.error_message = Some(reason);
                a.submit_started_at = Some(None);
                a
            }
            Err(RemoteError::Transient(m)) => {
                let mut a = self.retry_later(job, Phase::Submit, m);
                a.submit_started_at = Some(None);
                a
            }
            Err(RemoteError::Ambiguous(m)) => {
                tracing::warn!(job = %job.id, error = %m, "submission outcome unknown; looking for it on the remote");
                let mut a =
                    Advance::wait(Phase::Reconcile, self.jittered(self.settings.poll_interval));
                a.last_error = m;
                a.errors = Errors::Increment;
                a
            }
        }
    }

    /// The remote has the job: follow it from now on.
    fn accepted(&self, service: &crate::peers::ServiceInfo, external: String) -> Advance {
        let mut a = Advance::wait(Phase::Poll, self.next_poll(service.api_type, true));
        a.external_id = Some(external);
        a.consume_quota = true;
        a.submit_started_at = Some(None);
        a.needs_credentials = Some((false, String::new()));
        a.error_message = Some(String::new());
        a.remote_state = Some("submitted".into());
        a.errors = Errors::Reset;
        a
    }

    pub(super) async fn reconcile(&self, job: &JobRecord) -> Advance {
        if job.external_id.is_some() {
            return Advance::wait(Phase::Poll, Utc::now());
        }
        let (service, target) = match self.resolve(job, Phase::Reconcile).await {
            Ok(resolved) => resolved,
            Err(wait) => return wait,
        };
        let found = {
            let _permit = self.limit(service.id).acquire_owned().await;
            self.remotes.find(&target, &Self::tag(job)).await
        };
        match found {
            Ok(Some(external)) => {
                tracing::info!(job = %job.id, external = %external, "found the earlier submission on the remote");
                self.accepted(&service, external)
            }
            Ok(None) => {
                let since = job.work.submit_started_at.unwrap_or(job.updated_at);
                let settle =
                    chrono::Duration::from_std(self.settings.reconcile_after).unwrap_or_default();
                if Utc::now() - since >= settle {
                    tracing::info!(job = %job.id, "the remote never got the submission; sending it again");
                    let mut a = Advance::wait(Phase::Submit, Utc::now());
                    a.submit_started_at = Some(None);
                    a.last_error = "the earlier submission did not reach the remote".into();
                    a
                } else {
                    let mut a =
                        Advance::wait(Phase::Reconcile, self.jittered(self.settings.poll_interval));
                    a.last_error = "looking for the earlier submission on the remote".into();
                    a
                }
            }
            Err(RemoteError::Unauthorized(m) | RemoteError::Forbidden(m)) => {
                self.core.peers.forget_credential(job.user_id, service.id);
                self.needs_credentials(job, Phase::Reconcile, m, target.credential.fingerprint())
            }
            Err(e) => self.retry_later(job, Phase::Reconcile, e.to_string()),
        }
    }
}
