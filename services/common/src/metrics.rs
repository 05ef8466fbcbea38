//! The process-wide Prometheus registry: every component of the process
//! registers its metrics here once (the first time they are used), and
//! `fedimpute serve --metrics-addr` serves them all at `GET /metrics`.
//! Names are prefixed with `fedimpute_`; docs/observability.md lists them.

mod grpc;

use std::{
    future::Future,
    net::SocketAddr,
    sync::{LazyLock, Mutex},
};

use prometheus_client::{
    encoding::text::encode,
    registry::{Metric, Registry},
};

pub(crate) use grpc::MetricsLayer;
pub use grpc::code_name;

static REGISTRY: LazyLock<Mutex<Registry>> =
    LazyLock::new(|| Mutex::new(Registry::with_prefix("fedimpute")));

/// Registers a metric in the process registry (`name` without the
/// `fedimpute_` prefix; counters get `_total` appended). Call it once per
/// metric, from a `LazyLock` that owns the metric.
pub fn register(name: &str, help: &str, metric: impl Metric) {
    REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .register(name, help, metric);
}

/// The Prometheus text exposition of every metric of the process.
pub fn render() -> String {
    // The gRPC metrics exist (with their HELP lines) before the first call.
    LazyLock::force(&grpc::GRPC);
    let registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = String::new();
    if encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

/// The `/metrics` listener of the process.
#[derive(Debug)]
pub struct MetricsServer {
    listener: tokio::net::TcpListener,
}

impl MetricsServer {
    /// Binds `addr` (port 0 allowed).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok(Self { listener })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Serves `GET /metrics` until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(|| async {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    render(),
                )
            }),
        );
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
