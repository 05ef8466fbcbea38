//! Native gRPC and grpc-web through the gateway. Health and reflection
//! (over all three services, both reflection versions) are answered here;
//! every public RPC is passed through to the service that owns it, its
//! frames untouched, with the gateway's trusted metadata added. grpc-web
//! is the same pass-through behind tonic-web's translation.

use std::convert::Infallible;

use axum::{
    body::Body,
    extract::{Request, State},
    response::{IntoResponse, Response},
};
use fedimpute_common::{auth::SERVICE_TOKEN_HEADER, health::HealthState};
use tonic::{Status, service::Routes};
use tonic_health::pb::health_check_response::ServingStatus;
use tower::{Service, ServiceExt};

use crate::{
    state::{Edge, Shared},
    upstream::Upstreams,
};

/// The gRPC services the gateway answers itself.
#[derive(Clone, Debug)]
pub(crate) struct Local {
    routes: Routes,
    pub(crate) health: HealthState,
}

impl Local {
    pub(crate) fn new() -> Result<Self, String> {
        let health = HealthState::new();
        let builder = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(fedimpute_proto::FILE_DESCRIPTOR_SET)
        };
        let reflection =
            |e: tonic_reflection::server::Error| format!("cannot build reflection: {e}");
        let routes = Routes::new(health.service())
            .add_service(builder().build_v1().map_err(reflection)?)
            .add_service(builder().build_v1alpha().map_err(reflection)?);
        health.set("", ServingStatus::Serving);
        Ok(Self { routes, health })
    }
}

/// Serves one native gRPC (or, behind tonic-web, grpc-web) request.
pub(crate) async fn serve(state: Shared, local: Local, edge: Edge, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let (service, _) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or_default();
    if service.starts_with("grpc.health.") || service.starts_with("grpc.reflection.") {
        let routes = local.routes.clone();
        return match routes.oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        };
    }
    if !state.public_methods.contains(&path) {
        return Status::unimplemented(format!("{path} is not served through the gateway"))
            .into_http::<Body>()
            .into_response();
    }
    let Some(owner) = Upstreams::owner(service) else {
        return Status::unimplemented(format!("no service owns {path}"))
            .into_http::<Body>()
            .into_response();
    };
    let (mut parts, body) = request.into_parts();
    let metadata = state.upstreams.metadata(owner, &edge.forwarded);
    for name in [SERVICE_TOKEN_HEADER, "traceparent", "tracestate"] {
        parts.headers.remove(name);
    }
    for (key, value) in metadata.into_headers() {
        if let Some(key) = key {
            parts.headers.insert(key, value);
        }
    }
    let upstream = http::Request::from_parts(parts, tonic::body::Body::new(body));
    let mut channel = state.upstreams.channel(owner);
    let result = match channel.ready().await {
        Ok(ready) => ready.call(upstream).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(response) => {
            if let Some(code) = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .filter(|c| *c != 0)
            {
                state
                    .metrics
                    .upstream_error(owner.name(), tonic::Code::from_i32(code));
            }
            response.map(Body::new).into_response()
        }
        Err(e) => {
            state
                .metrics
                .upstream_error(owner.name(), tonic::Code::Unavailable);
            tracing::warn!(service = %owner, error = %e, "upstream unreachable");
            Status::unavailable(format!("the {owner} service is unreachable"))
                .into_http::<Body>()
                .into_response()
        }
    }
}

/// A tower service over [`serve`] for one request, so tonic-web can wrap it.
pub(crate) fn service(
    state: Shared,
    local: Local,
    edge: Edge,
) -> impl Service<
    http::Request<tonic::body::Body>,
    Response = http::Response<tonic::body::Body>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send {
    tower::service_fn(move |request: http::Request<tonic::body::Body>| {
        let (state, local, edge) = (state.clone(), local.clone(), edge.clone());
        async move {
            let response = serve(state, local, edge, request.map(Body::new)).await;
            Ok::<_, Infallible>(response.map(tonic::body::Body::new))
        }
    })
}

/// The axum handler for `application/grpc-web*` requests.
pub(crate) async fn grpc_web(
    State((state, local)): State<(Shared, Local)>,
    request: Request,
) -> Response {
    let Some(edge) = request.extensions().get::<Edge>().cloned() else {
        return Status::internal("the edge did not run")
            .into_http::<Body>()
            .into_response();
    };
    let web = tower::Layer::layer(&tonic_web::GrpcWebLayer::new(), service(state, local, edge));
    // tonic-web's decoded body reports the size of the body it decodes, so
    // a grpc-web-text request (base64: longer than its bytes) would reach
    // the service with a wrong `content-length` and be reset. Forget the
    // size: the decoded body is sent with an unknown length.
    let request = request.map(|body| {
        tonic::body::Body::new(http_body_util::StreamBody::new(
            http_body_util::BodyStream::new(body),
        ))
    });
    match web.oneshot(request).await {
        Ok(response) => response.map(Body::new).into_response(),
        Err(never) => match never {},
    }
}
