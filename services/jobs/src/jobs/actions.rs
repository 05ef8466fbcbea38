//! Acting on jobs: cancel (the remote too), retry (a new attempt, the old
//! one kept), delete (with the files that were only the job's).

use fedimpute_common::auth::Caller;
use fedimpute_proto::{jobs as pb, users::QuotaKind};

use super::Jobs;
use crate::{
    convert,
    domain::JobStatus,
    error::{Error, Result},
    store::{Cancelled, JobRecord, RetrySpec},
};

impl Jobs {
    pub(crate) async fn cancel(&self, caller: &Caller, id: &str) -> Result<pb::CancelJobResponse> {
        let me = self.me(caller)?;
        let job = self.visible_job(&me, id).await?;
        if job.user_id != me.id && !me.is_admin() {
            return Err(Error::PermissionDenied(
                "only the job's owner can cancel it".into(),
            ));
        }
        let (message, job) = match self.store.cancel(&job.id).await? {
            Cancelled::AlreadyEnded(job) => {
                return Err(Error::FailedPrecondition(format!(
                    "the job has already ended ({}): it cannot be cancelled",
                    job.status.as_str()
                )));
            }
            Cancelled::Now(applied) => {
                self.release_all(&applied.release_quota).await;
                ("Job cancelled", applied.job)
            }
            Cancelled::Requested(job) => ("Job cancellation initiated", job),
        };
        self.touched(&job);
        tracing::info!(job = %job.id, by = me.id, "cancel requested");
        Ok(pb::CancelJobResponse {
            message: message.into(),
            job_id: job.id.clone(),
            job: Some(self.view(&me, &job).await?),
        })
    }

    pub(crate) async fn retry(&self, caller: &Caller, id: &str) -> Result<pb::RetryJobResponse> {
        let me = self.submitter(caller)?;
        let job = self.own_job(&me, id).await?;
        let targets: Vec<JobRecord> = if job.is_parent {
            self.store
                .children(&job.id)
                .await?
                .into_iter()
                .filter(|c| matches!(c.status, JobStatus::Failed | JobStatus::Cancelled))
                .collect()
        } else if matches!(job.status, JobStatus::Failed | JobStatus::Cancelled) {
            vec![job.clone()]
        } else {
            Vec::new()
        };
        if targets.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "only a failed or cancelled job can be retried (this one is {})",
                job.status.as_str()
            )));
        }
        for target in &targets {
            let attempt = target.attempt + 1;
            let reservation = format!("job:{}:{attempt}", target.id);
            self.peers
                .reserve(me.id, QuotaKind::Jobs, 1, &reservation)
                .await
                .map_err(|e| e.quota("monthly job quota"))?;
            let password = if target.results_password.is_empty() {
                String::new()
            } else {
                let fresh: String =
                    rand::Rng::sample_iter(rand::thread_rng(), &rand::distributions::Alphanumeric)
                        .take(24)
                        .map(char::from)
                        .collect();
                self.keyring
                    .seal(fresh.as_bytes(), &convert::password_context(&target.id))
            };
            let spec = RetrySpec {
                reservation: Some(reservation.clone()),
                results_password: password,
            };
            match self.store.retry(&target.id, spec).await {
                Ok(Some(applied)) => self.touched(&applied.job),
                Ok(None) => self.release_all(&[reservation]).await,
                Err(e) => {
                    self.release_all(&[reservation]).await;
                    return Err(e.into());
                }
            }
        }
        let job = self
            .store
            .job(&job.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("job {id} does not exist")))?;
        Ok(pb::RetryJobResponse {
            message: format!("Retrying {} job(s)", targets.len()),
            job: Some(self.view(&me, &job).await?),
        })
    }

    pub(crate) async fn delete(&self, caller: &Caller, id: &str) -> Result<pb::DeleteJobResponse> {
        let me = self.me(caller)?;
        let job = self.own_job(&me, id).await?;
        if job.parent_id.is_some() {
            return Err(Error::FailedPrecondition(
                "this job is part of a federated job: delete the federated (parent) job".into(),
            ));
        }
        let mut all = vec![job.clone()];
        if job.is_parent {
            all.extend(self.store.children(&job.id).await?);
        }
        if let Some(running) = all.iter().find(|j| !j.status.is_terminal()) {
            return Err(Error::FailedPrecondition(format!(
                "job {} has not ended ({}): cancel it first",
                running.id,
                running.status.as_str()
            )));
        }
        let ids: Vec<String> = all.iter().map(|j| j.id.clone()).collect();
        let keys = self.store.delete_jobs(&ids).await?;
        for key in keys {
            if let Err(e) = self.storage.delete(&key).await {
                tracing::warn!(key, error = %e, "cannot delete a result file");
            }
        }
        // The input goes too when no other job uses it.
        if let Some(file_id) = &job.input_file_id {
            let used = self
                .store
                .file_job_counts(std::slice::from_ref(file_id))
                .await?
                .into_iter()
                .any(|(_, n)| n > 0);
            if !used && let Ok(file) = self.own_file(&me, file_id).await {
                match self.store.delete_file(&file.id).await {
                    Ok(_) => {
                        self.storage.delete(&file.storage_key).await.ok();
                        self.release_all(&[format!("file:{}", file.id)]).await;
                    }
                    Err(e) => tracing::info!(file = %file.id, error = %e, "input file kept"),
                }
            }
        }
        tracing::info!(job = %job.id, by = me.id, "job deleted");
        Ok(pb::DeleteJobResponse {
            message: format!("Deleted {} job(s)", ids.len()),
            deleted_job_ids: ids,
        })
    }

    /// Nudges the watchers of a job and of its parent, and the scheduler.
    pub(crate) fn touched(&self, job: &JobRecord) {
        match &job.parent_id {
            Some(parent) => self.changed(&[&job.id, parent]),
            None => self.changed(&[&job.id]),
        }
    }
}
