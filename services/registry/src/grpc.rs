//! The gRPC face of the registry: thin handlers that parse the request,
//! forward to [`Registry`] and wrap the reply. The caller was identified by
//! the `Authenticated` wrapper (see `startup.rs`): the end user in
//! [`caller_of`], the calling component in [`origin_of`].

use fedimpute_common::auth::{caller_of, origin_of};
use fedimpute_proto::registry::{self as pb, registry_service_server::RegistryService};
use tonic::{Request, Response, Status};

use crate::{
    domain::{DiscoverQuery, HistoryQuery, PanelQuery, ServiceQuery},
    error::Error,
    registry::Registry,
};

/// Implements `fedimpute.registry.v1.RegistryService`.
#[derive(Debug, Clone)]
pub(crate) struct RegistryApi {
    core: Registry,
}

impl RegistryApi {
    pub(crate) fn new(core: Registry) -> Self {
        Self { core }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn reply<T>(result: Result<T, Error>) -> Reply<T> {
    result.map(Response::new).map_err(Status::from)
}

fn parse<T, P: TryInto<T, Error = Vec<fedimpute_common::status::FieldViolation>>>(
    proto: P,
) -> Result<T, Error> {
    proto.try_into().map_err(Error::Invalid)
}

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    async fn create_service(
        &self,
        request: Request<pb::CreateServiceRequest>,
    ) -> Reply<pb::CreateServiceResponse> {
        let caller = caller_of(&request);
        let service = self
            .core
            .create_service(&caller, request.into_inner().service)
            .await;
        reply(service.map(|s| pb::CreateServiceResponse { service: Some(s) }))
    }

    async fn get_service(
        &self,
        request: Request<pb::GetServiceRequest>,
    ) -> Reply<pb::GetServiceResponse> {
        let service = self
            .core
            .get_service(&request.into_inner().id_or_slug)
            .await;
        reply(service.map(|s| pb::GetServiceResponse { service: Some(s) }))
    }

    async fn list_services(
        &self,
        request: Request<pb::ListServicesRequest>,
    ) -> Reply<pb::ListServicesResponse> {
        let query: ServiceQuery = parse(request.into_inner())?;
        reply(self.core.list_services(query).await)
    }

    async fn update_service(
        &self,
        request: Request<pb::UpdateServiceRequest>,
    ) -> Reply<pb::UpdateServiceResponse> {
        let caller = caller_of(&request);
        let service = self
            .core
            .update_service(&caller, request.into_inner())
            .await;
        reply(service.map(|s| pb::UpdateServiceResponse { service: Some(s) }))
    }

    async fn delete_service(
        &self,
        request: Request<pb::DeleteServiceRequest>,
    ) -> Reply<pb::DeleteServiceResponse> {
        let caller = caller_of(&request);
        reply(
            self.core
                .delete_service(&caller, request.into_inner().id)
                .await,
        )
    }

    async fn discover_services(
        &self,
        request: Request<pb::DiscoverServicesRequest>,
    ) -> Reply<pb::DiscoverServicesResponse> {
        let query: DiscoverQuery = parse(request.into_inner())?;
        reply(self.core.discover(query).await)
    }

    async fn get_service_health(
        &self,
        request: Request<pb::GetServiceHealthRequest>,
    ) -> Reply<pb::GetServiceHealthResponse> {
        let health = self.core.get_health(request.into_inner().id).await;
        reply(health.map(|h| pb::GetServiceHealthResponse { health: Some(h) }))
    }

    async fn check_service_health(
        &self,
        request: Request<pb::CheckServiceHealthRequest>,
    ) -> Reply<pb::CheckServiceHealthResponse> {
        let caller = caller_of(&request);
        let health = self
            .core
            .check_health(&caller, request.into_inner().id)
            .await;
        reply(health.map(|h| pb::CheckServiceHealthResponse { health: Some(h) }))
    }

    async fn list_health_history(
        &self,
        request: Request<pb::ListHealthHistoryRequest>,
    ) -> Reply<pb::ListHealthHistoryResponse> {
        let query: HistoryQuery = parse(request.into_inner())?;
        reply(self.core.health_history(query).await)
    }

    async fn list_services_at_risk(
        &self,
        _request: Request<pb::ListServicesAtRiskRequest>,
    ) -> Reply<pb::ListServicesAtRiskResponse> {
        reply(self.core.at_risk().await)
    }

    async fn sync_reference_panels(
        &self,
        request: Request<pb::SyncReferencePanelsRequest>,
    ) -> Reply<pb::SyncReferencePanelsResponse> {
        let caller = caller_of(&request);
        let pb::SyncReferencePanelsRequest { id, api_token } = request.into_inner();
        reply(self.core.sync_panels(&caller, id, &api_token).await)
    }

    async fn create_reference_panel(
        &self,
        request: Request<pb::CreateReferencePanelRequest>,
    ) -> Reply<pb::CreateReferencePanelResponse> {
        let caller = caller_of(&request);
        let panel = self
            .core
            .create_panel(&caller, request.into_inner().panel)
            .await;
        reply(panel.map(|p| pb::CreateReferencePanelResponse { panel: Some(p) }))
    }

    async fn get_reference_panel(
        &self,
        request: Request<pb::GetReferencePanelRequest>,
    ) -> Reply<pb::GetReferencePanelResponse> {
        let panel = self.core.get_panel(request.into_inner().id).await;
        reply(panel.map(|p| pb::GetReferencePanelResponse { panel: Some(p) }))
    }

    async fn list_reference_panels(
        &self,
        request: Request<pb::ListReferencePanelsRequest>,
    ) -> Reply<pb::ListReferencePanelsResponse> {
        let query: PanelQuery = parse(request.into_inner())?;
        reply(self.core.list_panels(query).await)
    }

    async fn update_reference_panel(
        &self,
        request: Request<pb::UpdateReferencePanelRequest>,
    ) -> Reply<pb::UpdateReferencePanelResponse> {
        let caller = caller_of(&request);
        let panel = self.core.update_panel(&caller, request.into_inner()).await;
        reply(panel.map(|p| pb::UpdateReferencePanelResponse { panel: Some(p) }))
    }

    async fn delete_reference_panel(
        &self,
        request: Request<pb::DeleteReferencePanelRequest>,
    ) -> Reply<pb::DeleteReferencePanelResponse> {
        let caller = caller_of(&request);
        reply(
            self.core
                .delete_panel(&caller, request.into_inner().id)
                .await
                .map(|()| pb::DeleteReferencePanelResponse {}),
        )
    }

    async fn get_service_secrets(
        &self,
        request: Request<pb::GetServiceSecretsRequest>,
    ) -> Reply<pb::GetServiceSecretsResponse> {
        let origin = origin_of(&request);
        reply(
            self.core
                .service_secrets(&origin, request.into_inner().id)
                .await,
        )
    }
}
