//! The gRPC face of the registry: thin handlers that identify the caller
//! and forward to [`Registry`].

use fedimpute_common::auth::{Caller, Verifier};
use fedimpute_proto::registry::{self as pb, registry_service_server::RegistryService};
use tonic::{Request, Response, Status};

use crate::{error::Error, registry::Registry};

/// Implements `fedimpute.registry.v1.RegistryService`.
#[derive(Debug, Clone)]
pub(crate) struct RegistryApi {
    core: Registry,
    verifier: Verifier,
}

impl RegistryApi {
    pub(crate) fn new(core: Registry, verifier: Verifier) -> Self {
        Self { core, verifier }
    }

    fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        self.verifier
            .caller(request.metadata())
            .map_err(|e| Status::from(Error::from(e)))
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn ok<T, E: Into<Status>>(result: Result<T, E>) -> Reply<T> {
    result.map(Response::new).map_err(Into::into)
}

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    async fn create_service(
        &self,
        request: Request<pb::CreateServiceRequest>,
    ) -> Reply<pb::CreateServiceResponse> {
        let caller = self.caller(&request)?;
        let service = self
            .core
            .create_service(&caller, request.into_inner())
            .await?;
        ok::<_, Error>(Ok(pb::CreateServiceResponse {
            service: Some(service),
        }))
    }

    async fn get_service(
        &self,
        request: Request<pb::GetServiceRequest>,
    ) -> Reply<pb::GetServiceResponse> {
        let service = self.core.get_service(request.into_inner()).await?;
        ok::<_, Error>(Ok(pb::GetServiceResponse {
            service: Some(service),
        }))
    }

    async fn list_services(
        &self,
        request: Request<pb::ListServicesRequest>,
    ) -> Reply<pb::ListServicesResponse> {
        ok(self.core.list_services(request.into_inner()).await)
    }

    async fn update_service(
        &self,
        request: Request<pb::UpdateServiceRequest>,
    ) -> Reply<pb::UpdateServiceResponse> {
        let caller = self.caller(&request)?;
        let service = self
            .core
            .update_service(&caller, request.into_inner())
            .await?;
        ok::<_, Error>(Ok(pb::UpdateServiceResponse {
            service: Some(service),
        }))
    }

    async fn delete_service(
        &self,
        request: Request<pb::DeleteServiceRequest>,
    ) -> Reply<pb::DeleteServiceResponse> {
        let caller = self.caller(&request)?;
        ok(self
            .core
            .delete_service(&caller, request.into_inner())
            .await)
    }

    async fn discover_services(
        &self,
        request: Request<pb::DiscoverServicesRequest>,
    ) -> Reply<pb::DiscoverServicesResponse> {
        ok(self.core.discover(request.into_inner()).await)
    }

    async fn get_service_health(
        &self,
        request: Request<pb::GetServiceHealthRequest>,
    ) -> Reply<pb::GetServiceHealthResponse> {
        let health = self.core.get_health(request.into_inner()).await?;
        ok::<_, Error>(Ok(pb::GetServiceHealthResponse {
            health: Some(health),
        }))
    }

    async fn check_service_health(
        &self,
        request: Request<pb::CheckServiceHealthRequest>,
    ) -> Reply<pb::CheckServiceHealthResponse> {
        let caller = self.caller(&request)?;
        let health = self
            .core
            .check_health(&caller, request.into_inner())
            .await?;
        ok::<_, Error>(Ok(pb::CheckServiceHealthResponse {
            health: Some(health),
        }))
    }

    async fn list_health_history(
        &self,
        request: Request<pb::ListHealthHistoryRequest>,
    ) -> Reply<pb::ListHealthHistoryResponse> {
        ok(self.core.health_history(request.into_inner()).await)
    }

    async fn list_services_at_risk(
        &self,
        _request: Request<pb::ListServicesAtRiskRequest>,
    ) -> Reply<pb::ListServicesAtRiskResponse> {
        ok(self.core.at_risk().await)
    }

    async fn sync_reference_panels(
        &self,
        request: Request<pb::SyncReferencePanelsRequest>,
    ) -> Reply<pb::SyncReferencePanelsResponse> {
        let caller = self.caller(&request)?;
        ok(self.core.sync_panels(&caller, request.into_inner()).await)
    }

    async fn create_reference_panel(
        &self,
        request: Request<pb::CreateReferencePanelRequest>,
    ) -> Reply<pb::CreateReferencePanelResponse> {
        let caller = self.caller(&request)?;
        let panel = self
            .core
            .create_panel(&caller, request.into_inner())
            .await?;
        ok::<_, Error>(Ok(pb::CreateReferencePanelResponse { panel: Some(panel) }))
    }

    async fn get_reference_panel(
        &self,
        request: Request<pb::GetReferencePanelRequest>,
    ) -> Reply<pb::GetReferencePanelResponse> {
        let panel = self.core.get_panel(request.into_inner()).await?;
        ok::<_, Error>(Ok(pb::GetReferencePanelResponse { panel: Some(panel) }))
    }

    async fn list_reference_panels(
        &self,
        request: Request<pb::ListReferencePanelsRequest>,
    ) -> Reply<pb::ListReferencePanelsResponse> {
        ok(self.core.list_panels(request.into_inner()).await)
    }

    async fn update_reference_panel(
        &self,
        request: Request<pb::UpdateReferencePanelRequest>,
    ) -> Reply<pb::UpdateReferencePanelResponse> {
        let caller = self.caller(&request)?;
        let panel = self
            .core
            .update_panel(&caller, request.into_inner())
            .await?;
        ok::<_, Error>(Ok(pb::UpdateReferencePanelResponse { panel: Some(panel) }))
    }

    async fn delete_reference_panel(
        &self,
        request: Request<pb::DeleteReferencePanelRequest>,
    ) -> Reply<pb::DeleteReferencePanelResponse> {
        let caller = self.caller(&request)?;
        self.core
            .delete_panel(&caller, request.into_inner())
            .await?;
        ok::<_, Error>(Ok(pb::DeleteReferencePanelResponse {}))
    }
}
