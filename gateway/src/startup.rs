//! Building and running the gateway: `Application::build` binds and reads
//! the descriptors, `run_until` serves until shutdown, then reports not
//! ready and gives in-flight requests the grace period.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{Request, State},
    middleware,
    response::Response,
    routing::get,
    serve::ListenerExt,
};
use fedimpute_common::grpc::ServeError;
use http::{HeaderName, HeaderValue, Method, header};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{
    config::Settings,
    edge::{self, Protocol},
    grpc::{self, Local},
    ops, rest,
    state::{AppState, Edge, Shared},
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid gateway configuration: {0}")]
    Config(String),
}

/// A built, bound gateway.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: Shared,
    local: Local,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let addr = settings.addr;
        let state = Arc::new(AppState::new(settings).map_err(StartError::Config)?);
        let local = Local::new().map_err(StartError::Config)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let bound = listener.local_addr().unwrap_or(addr);
        tracing::info!(addr = %bound, routes = state.routes.routes().len(), "gateway bound");
        Ok(Self {
            listener,
            state,
            local,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Serves until `shutdown` resolves, then drains for the grace period.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let Self {
            listener,
            state,
            local,
        } = self;
        let router = router(state.clone(), local.clone()).map_err(ServeError::Reflection)?;
        let pruner = {
            let state = state.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    state.rate.prune();
                }
            })
        };
        let grace = state.settings.grace;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stop_rx.await;
        });
        let server = server.into_future();
        let mut server = std::pin::pin!(server);
        tokio::select! {
            result = &mut server => {
                pruner.abort();
                return result.map_err(ServeError::Http);
            }
            () = shutdown => {}
        }
        state.begin_drain();
        local.health.set_all_not_serving();
        tracing::info!(grace = ?grace, "gateway draining");
        let _ = stop_tx.send(());
        let result = tokio::time::timeout(grace, server).await;
        pruner.abort();
        match result {
            Ok(result) => result.map_err(ServeError::Http),
            Err(_) => {
                tracing::warn!(grace = ?grace, "requests still in flight after the grace period; closing them");
                Ok(())
            }
        }
    }
}

fn router(state: Shared, local: Local) -> Result<Router, String> {
    let ops = Router::new()
        .route("/health", get(ops::health))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/openapi.json", get(ops::openapi))
        .with_state(state.clone());
    let dispatch = Router::new()
        .fallback(dispatch)
        .with_state((state.clone(), local));
    let mut router = ops
        .merge(dispatch)
        .layer(middleware::from_fn_with_state(state.clone(), edge::edge));
    if let Some(cors) = cors(&state.settings.cors_origins)? {
        router = router.layer(cors);
    }
    Ok(router)
}

/// By content type: gRPC, grpc-web, or REST.
async fn dispatch(State((state, local)): State<(Shared, Local)>, request: Request) -> Response {
    match edge::protocol_of(request.headers(), request.uri().path()) {
        Protocol::GrpcWeb => grpc::grpc_web(State((state, local)), request).await,
        Protocol::Grpc => {
            let Some(edge) = request.extensions().get::<Edge>().cloned() else {
                return tonic::Status::internal("the edge did not run")
                    .into_http::<axum::body::Body>();
            };
            grpc::serve(state, local, edge, request).await
        }
        Protocol::Rest | Protocol::Operations => rest::handle(State(state), request).await,
    }
}

fn cors(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() {
        return Ok(None);
    }
    let origins = origins
        .iter()
        .map(|o| {
            HeaderValue::from_str(o.trim_end_matches('/'))
                .map_err(|_| format!("FEDIMPUTE_CORS_ORIGINS: '{o}' is not a valid origin"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let names = |list: &[&'static str]| {
        list.iter()
            .map(|n| HeaderName::from_static(n))
            .collect::<Vec<_>>()
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PATCH,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(
                [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT]
                    .into_iter()
                    .chain(names(&[
                        "x-grpc-web",
                        "x-user-agent",
                        "grpc-timeout",
                        "x-request-id",
                        "x-client-type",
                        "x-client-version",
                        "x-csrftoken",
                    ]))
                    .collect::<Vec<_>>(),
            )
            .expose_headers(names(&[
                "grpc-status",
                "grpc-message",
                "grpc-status-details-bin",
                "x-request-id",
                "retry-after",
                "content-disposition",
            ]))
            .allow_credentials(true)
            .max_age(Duration::from_secs(600)),
    ))
}
