//! Monthly job and storage quotas: read by users, reserved and released by
//! the Jobs component.

use chrono::Utc;
use fedimpute_common::auth::{Component, Origin};
use fedimpute_proto::users as pb;

use super::{Users, require_component};
use crate::{
    error::{Error, Result},
    store::{JOBS, Reserved, STORAGE, UserRecord},
};

/// The current jobs period: the UTC month, "2026-11".
fn month() -> String {
    Utc::now().format("%Y-%m").to_string()
}

impl Users {
    pub(crate) async fn quota_of(&self, user: &UserRecord) -> Result<pb::Quota> {
        let period = month();
        let jobs = self.store.usage(user.id, JOBS, &period).await?;
        let storage = self.store.usage(user.id, STORAGE, "").await?;
        Ok(pb::Quota {
            monthly_job_limit: user.monthly_job_limit,
            monthly_jobs_used: i32::try_from(jobs).unwrap_or(i32::MAX),
            storage_limit_bytes: user.storage_limit_bytes,
            storage_used_bytes: storage,
            period,
        })
    }

    pub(crate) async fn reserve(
        &self,
        origin: &Origin,
        r: pb::ReserveQuotaRequest,
    ) -> Result<pb::ReserveQuotaResponse> {
        require_component(origin, Component::Jobs)?;
        let mut v = fedimpute_common::status::Violations::new();
        if r.amount <= 0 {
            v.add("amount", "must be positive");
        }
        let id = r.reservation_id.trim();
        if id.is_empty() || id.len() > 128 {
            v.add("reservation_id", "must be 1 to 128 characters");
        }
        let kind = match pb::QuotaKind::try_from(r.kind) {
            Ok(pb::QuotaKind::Jobs) => Some((JOBS, month())),
            Ok(pb::QuotaKind::Storage) => Some((STORAGE, String::new())),
            Ok(pb::QuotaKind::Unspecified) | Err(_) => {
                v.add("kind", "must be jobs or storage");
                None
            }
        };
        v.finish()?;
        let (kind, period) =
            kind.ok_or_else(|| Error::invalid("kind", "must be jobs or storage"))?;
        let user = self
            .store
            .user(r.user_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {} does not exist", r.user_id)))?;
        if !user.is_active {
            return Err(Error::FailedPrecondition(format!(
                "user {} is deactivated",
                user.id
            )));
        }
        let limit = if kind == JOBS {
            i64::from(user.monthly_job_limit)
        } else {
            user.storage_limit_bytes
        };
        let created = match self
            .store
            .reserve(user.id, kind, &period, r.amount, limit, id)
            .await?
        {
            Reserved::Created => true,
            Reserved::Existing => false,
            Reserved::Mismatch => {
                return Err(Error::FailedPrecondition(format!(
                    "reservation {id} exists for another user, kind or amount"
                )));
            }
            Reserved::Exceeded { used } => {
                let message = if kind == JOBS {
                    format!("monthly job limit reached: {used} of {limit} jobs used in {period}")
                } else {
                    format!(
                        "storage limit reached: {used} of {limit} bytes used; {} more requested",
                        r.amount
                    )
                };
                return Err(Error::Exhausted {
                    message,
                    retry_after: None,
                });
            }
        };
        Ok(pb::ReserveQuotaResponse {
            quota: Some(self.quota_of(&user).await?),
            created,
        })
    }

    pub(crate) async fn release(
        &self,
        origin: &Origin,
        r: pb::ReleaseQuotaRequest,
    ) -> Result<pb::ReleaseQuotaResponse> {
        require_component(origin, Component::Jobs)?;
        Ok(pb::ReleaseQuotaResponse {
            released: self.store.release(r.reservation_id.trim()).await?,
        })
    }
}
