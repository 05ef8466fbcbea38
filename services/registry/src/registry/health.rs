//! Health reads and manual checks.

use chrono::Utc;
use fedimpute_common::auth::Caller;
use fedimpute_proto::registry as pb;

use super::Registry;
use crate::{
    convert,
    domain::HistoryQuery,
    error::{Error, Result},
    health::{chrono_duration, earlier},
};

impl Registry {
    pub(crate) async fn get_health(&self, id: i64) -> Result<pb::ServiceHealth> {
        Ok(convert::health(&self.service(id).await?))
    }

    pub(crate) async fn check_health(&self, caller: &Caller, id: i64) -> Result<pb::ServiceHealth> {
        caller.user()?;
        let service = self.service(id).await?;
        let recent = service.last_health_check.is_some_and(|t| {
            Utc::now().signed_duration_since(t) < chrono_duration(self.min_check_interval)
        });
        if recent {
            return Ok(convert::health(&service));
        }
        let checked = self
            .monitor
            .check(&service)
            .await?
            .ok_or_else(|| Error::NotFound(format!("service {id} not found")))?;
        Ok(convert::health(&checked))
    }

    pub(crate) async fn health_history(
        &self,
        query: HistoryQuery,
    ) -> Result<pb::ListHealthHistoryResponse> {
        self.service(query.service_id).await?;
        let rows = self.store.health_history(&query).await?;
        let (rows, next_page_token) = query.page.cut(rows, |c| c.id);
        Ok(pb::ListHealthHistoryResponse {
            checks: rows.iter().map(convert::health_check).collect(),
            next_page_token,
        })
    }

    pub(crate) async fn at_risk(&self) -> Result<pb::ListServicesAtRiskResponse> {
        let now = Utc::now();
        let since = earlier(now, self.monitor.settings().at_risk_after);
        let services = self.store.unhealthy_since(since).await?;
        Ok(pb::ListServicesAtRiskResponse {
            services: services
                .iter()
                .map(|s| pb::ServiceAtRisk {
                    days_offline: s
                        .first_unhealthy_at
                        .map_or(0, |t| now.signed_duration_since(t).num_days()),
                    service: Some(convert::service(s)),
                })
                .collect(),
        })
    }
}
