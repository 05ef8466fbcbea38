//! Copying a completed job's results into the platform's store, so they
//! outlive the remote's retention and each remote download is spent once.

use chrono::Utc;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::Scheduler;
use crate::{
    adapters::{RemoteError, Target},
    domain::{Phase, filename},
    store::{Advance, Errors, JobRecord, ResultCopy, ResultRecord, ResultState},
};

impl Scheduler {
    pub(super) async fn fetch(&self, job: &JobRecord) -> Advance {
        let pending = match self.store().pending_results(&job.id, job.attempt).await {
            Ok(pending) => pending,
            Err(e) => return self.retry_later(job, Phase::Fetch, e.to_string()),
        };
        if pending.is_empty() {
            return Advance::wait(Phase::Done, Utc::now());
        }
        let (service, target) = match self.resolve(job, Phase::Fetch).await {
            Ok(resolved) => resolved,
            Err(wait) => return wait,
        };
        let mut retry = Vec::new();
        for result in pending {
            let _permit = self.limit(service.id).acquire_owned().await;
            let copy = self.copy(job, &target, &result).await;
            if let ResultCopy::Retry(e) = &copy {
                if result.download_attempts + 1 >= self.settings.max_copy_attempts {
                    let gave_up = ResultCopy::Failed(
                        ResultState::Failed,
                        format!(
                            "not copied after {} attempts: {e}",
                            result.download_attempts + 1
                        ),
                    );
                    self.record(&result, gave_up).await;
                    continue;
                }
                retry.push(e.clone());
            }
            self.record(&result, copy).await;
        }
        if retry.is_empty() {
            let mut a = Advance::wait(Phase::Done, Utc::now());
            a.errors = Errors::Reset;
            a
        } else {
            self.retry_later(job, Phase::Fetch, retry.join("; "))
        }
    }

    async fn record(&self, result: &ResultRecord, copy: ResultCopy) {
        if let Err(e) = self.store().record_copy(&result.id, copy).await {
            tracing::error!(result = %result.id, error = %e, "cannot record a result copy");
        }
    }

    async fn copy(&self, job: &JobRecord, target: &Target, result: &ResultRecord) -> ResultCopy {
        let (_, mut bytes) = match self.remotes.download(target, &result.remote_location).await {
            Ok(download) => download,
            Err(RemoteError::NotFound(_)) => {
                return ResultCopy::Failed(
                    ResultState::Expired,
                    "the service deleted it before it could be copied".into(),
                );
            }
            Err(RemoteError::Rejected(m)) => return ResultCopy::Failed(ResultState::Failed, m),
            Err(e) => return ResultCopy::Retry(e.to_string()),
        };
        let safe = filename::sanitize(&result.name.replace('/', "_"));
        let key = format!("results/{}/{}/{}/{safe}", job.id, job.attempt, result.id);
        let mut writer = match self.core.storage.writer(&key).await {
            Ok(w) => w,
            Err(e) => return ResultCopy::Retry(e.to_string()),
        };
        let mut hasher = Sha256::new();
        let mut size = 0i64;
        while let Some(chunk) = bytes.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    writer.abort().await;
                    return ResultCopy::Retry(e.to_string());
                }
            };
            hasher.update(&chunk);
            size += i64::try_from(chunk.len()).unwrap_or(i64::MAX);
            if let Err(e) = writer.write(&chunk).await {
                writer.abort().await;
                return ResultCopy::Retry(e.to_string());
            }
        }
        if let Err(e) = writer.finish().await {
            return ResultCopy::Retry(e.to_string());
        }
        tracing::info!(job = %job.id, result = %result.name, size, "result copied");
        ResultCopy::Copied {
            storage_key: key,
            size_bytes: size,
            sha256: crate::files::upload::hex(&hasher.finalize()),
        }
    }
}
