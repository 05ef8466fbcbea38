//! Monthly job and storage quotas: read by users, reserved and released by
//! the Jobs component.

use chrono::Utc;
use fedimpute_common::auth::{Component, Origin};
use fedimpute_proto::users as pb;

use super::{Users, require_component};
use crate::{
    domain::quota::{QuotaKind, Reservation},
    error::{Error, Result},
    store::{Reserved, UserRecord},
};

impl Users {
    pub(crate) async fn quota_of(&self, user: &UserRecord) -> Result<pb::Quota> {
        let period = QuotaKind::Jobs.period(Utc::now());
        let jobs = self
            .store
            .usage(user.id, QuotaKind::Jobs.as_str(), &period)
            .await?;
        let storage = self
            .store
            .usage(user.id, QuotaKind::Storage.as_str(), "")
            .await?;
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
        let r = Reservation::try_from(r)?;
        let (kind, period) = (r.kind.as_str(), r.kind.period(Utc::now()));
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
        let limit = if r.kind == QuotaKind::Jobs {
            i64::from(user.monthly_job_limit)
        } else {
            user.storage_limit_bytes
        };
        let created = match self
            .store
            .reserve(user.id, kind, &period, r.amount, limit, &r.id)
            .await?
        {
            Reserved::Created => true,
            Reserved::Existing => false,
            Reserved::Mismatch => {
                return Err(Error::FailedPrecondition(format!(
                    "reservation {} exists for another user, kind or amount",
                    r.id
                )));
            }
            Reserved::Exceeded { used } => {
                let message = if r.kind == QuotaKind::Jobs {
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
