//! Helpers shared by the end-to-end modules.

use fedimpute_proto::registry::{self as pb, registry_service_client::RegistryServiceClient};
use fedimpute_tests::harness::auth::bearer;
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt;

pub(crate) type Client = RegistryServiceClient<Channel>;

/// A valid service of `api_type` at `base_url`.
pub(crate) fn service(name: &str, api_type: pb::ApiType, base_url: &str) -> pb::Service {
    pb::Service {
        name: name.into(),
        api_type: api_type as i32,
        base_url: base_url.into(),
        ..Default::default()
    }
}

/// Creates a service as admin and returns it.
pub(crate) async fn create(client: &mut Client, token: &str, service: pb::Service) -> pb::Service {
    client
        .create_service(bearer(
            token,
            pb::CreateServiceRequest {
                service: Some(service),
            },
        ))
        .await
        .expect("create the service")
        .into_inner()
        .service
        .expect("a service")
}

/// Updates a service (no mask: the fields set in `patch`) and returns it.
pub(crate) async fn update(
    client: &mut Client,
    token: &str,
    id: i64,
    patch: pb::Service,
) -> pb::Service {
    client
        .update_service(bearer(
            token,
            pb::UpdateServiceRequest {
                id,
                service: Some(patch),
                update_mask: None,
            },
        ))
        .await
        .expect("update the service")
        .into_inner()
        .service
        .expect("a service")
}

/// Syncs a service's panels; `api_token` empty uses the stored one.
pub(crate) async fn sync(
    client: &mut Client,
    token: &str,
    id: i64,
    api_token: &str,
) -> Result<pb::SyncReferencePanelsResponse, Status> {
    client
        .sync_reference_panels(bearer(
            token,
            pb::SyncReferencePanelsRequest {
                id,
                api_token: api_token.into(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The health history a request selects.
pub(crate) async fn history(
    client: &mut Client,
    request: pb::ListHealthHistoryRequest,
) -> Result<pb::ListHealthHistoryResponse, Status> {
    client
        .list_health_history(request)
        .await
        .map(tonic::Response::into_inner)
}

/// Creates a panel as admin and returns it.
pub(crate) async fn create_panel(
    client: &mut Client,
    token: &str,
    panel: pb::ReferencePanel,
) -> pb::ReferencePanel {
    client
        .create_reference_panel(bearer(
            token,
            pb::CreateReferencePanelRequest { panel: Some(panel) },
        ))
        .await
        .expect("create the panel")
        .into_inner()
        .panel
        .expect("a panel")
}

/// The fields named by an `InvalidArgument` status's BadRequest details.
pub(crate) fn violated_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("InvalidArgument carries BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// A JSON object as a `google.protobuf.Struct` (an `api_config`).
pub(crate) fn config(value: serde_json::Value) -> prost_types::Struct {
    fn kind(value: serde_json::Value) -> prost_types::Value {
        use prost_types::value::Kind;
        use serde_json::Value;
        let kind = match value {
            Value::Null => Kind::NullValue(0),
            Value::Bool(b) => Kind::BoolValue(b),
            Value::Number(n) => Kind::NumberValue(n.as_f64().expect("a finite number")),
            Value::String(s) => Kind::StringValue(s),
            Value::Array(a) => Kind::ListValue(prost_types::ListValue {
                values: a.into_iter().map(kind).collect(),
            }),
            Value::Object(o) => Kind::StructValue(object(o)),
        };
        prost_types::Value { kind: Some(kind) }
    }
    fn object(map: serde_json::Map<String, serde_json::Value>) -> prost_types::Struct {
        prost_types::Struct {
            fields: map.into_iter().map(|(k, v)| (k, kind(v))).collect(),
        }
    }
    object(
        value
            .as_object()
            .cloned()
            .expect("an api_config is a JSON object"),
    )
}
