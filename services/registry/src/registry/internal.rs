//! Internal calls, for the Jobs component only: the service-level secrets
//! it needs to call a remote on the platform's behalf.

use fedimpute_common::auth::{Component, Origin};
use fedimpute_proto::registry as pb;

use super::{Registry, require_component};
use crate::{domain::ApiType, error::Result};

impl Registry {
    /// The opened secrets of service `id`, with the endpoint they were given
    /// for. The component is checked first, so that nobody else learns
    /// which ids exist. Values are never logged, only their names.
    pub(crate) async fn service_secrets(
        &self,
        origin: &Origin,
        id: i64,
    ) -> Result<pb::GetServiceSecretsResponse> {
        require_component(origin, Component::Jobs)?;
        let service = self.service(id).await?;
        let secrets = self.secrets.release(&service)?;
        tracing::info!(
            service_id = service.id,
            names = ?secrets.keys().collect::<Vec<_>>(),
            "service secrets released to the jobs component"
        );
        Ok(pb::GetServiceSecretsResponse {
            secrets: secrets.into_iter().collect(),
            api_type: ApiType::parse(&service.api_type).map_or(0, |a| a.to_proto() as i32),
            base_url: service.base_url,
            slug: service.slug,
        })
    }
}
