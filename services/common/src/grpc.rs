//! The gRPC server scaffold every component uses: standard health
//! (`grpc.health.v1`), reflection in both versions, a server span per call
//! whose parent is the caller's W3C trace context, and a drain with a grace
//! period on shutdown. Also the client interceptor that injects the current
//! trace context into outgoing calls.

use std::{convert::Infallible, future::Future, net::SocketAddr, time::Duration};

use http::{HeaderMap, Request};
use opentelemetry::propagation::{Extractor, Injector};
use tokio::net::TcpListener;
use tonic::{
    body::Body,
    metadata::{MetadataKey, MetadataMap, MetadataValue},
    server::NamedService,
    service::{Interceptor, Routes},
    transport::{Server, server::TcpIncoming},
};
use tonic_health::pb::health_check_response::ServingStatus;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::health::HealthState;

/// Errors of the server scaffold.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot build reflection from the descriptor set: {0}")]
    Reflection(String),
    #[error("the HTTP server failed: {0}")]
    Http(std::io::Error),
    #[error("the gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// A bound gRPC server with health and reflection, waiting for its services.
pub struct GrpcServer {
    listener: TcpListener,
    routes: Routes,
    health: HealthState,
    service_names: Vec<&'static str>,
    grace: Duration,
}

impl std::fmt::Debug for GrpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcServer")
            .field("addr", &self.listener.local_addr().ok())
            .field("services", &self.service_names)
            .finish_non_exhaustive()
    }
}

impl GrpcServer {
    /// Binds `addr` (port 0 allowed) and serves health and reflection for the
    /// given encoded descriptor sets.
    pub async fn bind(
        addr: SocketAddr,
        descriptor_sets: &[&'static [u8]],
        grace: Duration,
    ) -> Result<Self, ServeError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let health = HealthState::new();

        let mut v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        let mut v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        for set in descriptor_sets {
            v1 = v1.register_encoded_file_descriptor_set(set);
            v1alpha = v1alpha.register_encoded_file_descriptor_set(set);
        }
        let v1 = v1
            .build_v1()
            .map_err(|e| ServeError::Reflection(e.to_string()))?;
        let v1alpha = v1alpha
            .build_v1alpha()
            .map_err(|e| ServeError::Reflection(e.to_string()))?;

        let routes = Routes::new(health.service())
            .add_service(v1)
            .add_service(v1alpha);
        Ok(Self {
            listener,
            routes,
            health,
            service_names: Vec::new(),
            grace,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Adds a service; it is reported SERVING once `run_until` starts.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower::Service<Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes = self.routes.add_service(service);
        self
    }

    /// A handle to flip health by hand (e.g. a dependency went away).
    pub fn health(&self) -> HealthState {
        self.health.clone()
    }

    /// Serves until `shutdown` resolves, then reports NOT_SERVING, stops
    /// accepting, and gives in-flight calls `grace` to finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Self {
            listener,
            routes,
            health,
            service_names,
            grace,
        } = self;
        for name in &service_names {
            health.set(name, ServingStatus::Serving);
        }
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let component = component_of(&service_names);
        let server = Server::builder()
            .trace_fn(server_span)
            .layer(crate::metrics::MetricsLayer { component })
            .add_routes(routes)
            // Without TCP_NODELAY, small replies wait for delayed ACKs (~40 ms).
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                async {
                    let _ = stop_rx.await;
                },
            );
        let mut server = std::pin::pin!(server);

        tokio::select! {
            result = &mut server => return result.map_err(ServeError::from),
            () = shutdown => {}
        }
        health.set_all_not_serving();
        health.close();
        tracing::info!(grace = ?grace, "health is NOT_SERVING; draining in-flight calls");
        let _ = stop_tx.send(());
        match tokio::time::timeout(grace, server).await {
            Ok(result) => {
                tracing::info!("drained");
                result.map_err(ServeError::from)
            }
            Err(_) => {
                tracing::warn!(grace = ?grace, "calls still in flight after the grace period; closing them");
                Ok(())
            }
        }
    }
}

/// The component a server belongs to, for metric labels: `jobs` for a
/// server of `fedimpute.jobs.v1.JobsService`.
fn component_of(service_names: &[&'static str]) -> &'static str {
    service_names
        .first()
        .and_then(|name| name.split('.').nth(1))
        .unwrap_or("unknown")
}

/// The span of one incoming call, child of the caller's trace context.
/// Its `trace_id` field puts the trace id in every log line of the call.
pub fn server_span(request: &Request<()>) -> tracing::Span {
    let path = request.uri().path();
    let (service, method) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""));
    // The gateway's request id (validated there), so a request can be
    // followed through every component's log.
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| id.len() <= 128)
        .unwrap_or_default();
    let span = tracing::info_span!(
        "grpc.server",
        request_id = %request_id,
        trace_id = tracing::field::Empty,
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
    );
    set_parent_from_headers(&span, request.headers());
    crate::telemetry::record_trace_id(&span);
    span
}

/// Makes `span` the child of the W3C trace context in `headers` (if any).
pub fn set_parent_from_headers(span: &tracing::Span, headers: &HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    // Only fails when no OpenTelemetry layer is installed: nothing to link.
    let _ = span.set_parent(parent);
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Client interceptor: injects the current span's trace context
/// (`traceparent`) into every outgoing call.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextInterceptor;

impl Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_trace_context(request.metadata_mut());
        Ok(request)
    }
}

/// Writes the current span's trace context into gRPC metadata.
pub fn inject_trace_context(metadata: &mut MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(metadata));
    });
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}
