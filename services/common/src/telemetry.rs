//! Telemetry, initialised once per process: `tracing` with plain or JSON
//! logs, and OpenTelemetry traces over OTLP when an endpoint is configured.
//! W3C trace context crosses every gRPC hop (see [`crate::grpc`]).

use opentelemetry::{propagation::TextMapCompositePropagator, trace::TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Plain,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "plain" | "text" => Ok(Self::Plain),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown log format '{other}': expected plain or json"
            )),
        }
    }
}

/// What `init` needs.
#[derive(Clone, Debug)]
pub struct TelemetrySettings {
    /// An `EnvFilter` directive, e.g. `info` or `info,fedimpute_registry=debug`.
    pub filter: String,
    pub format: LogFormat,
    /// OTLP/gRPC collector endpoint; `None` exports nothing.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported resource.
    pub service_name: String,
}

/// Keeps the exporter alive; flushes pending spans when dropped.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("telemetry: flushing spans failed: {e}");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter '{0}': {1}")]
    Filter(String, String),
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("a global subscriber is already installed: {0}")]
    AlreadyInstalled(String),
}

/// Installs the W3C trace-context propagator used by the gRPC layers.
/// Idempotent; `init` calls it, tests call it directly.
pub fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
    ]));
}

/// Installs the global subscriber. Call once, in `main`.
pub fn init(settings: &TelemetrySettings) -> Result<TelemetryGuard, TelemetryError> {
    install_propagator();
    let filter = EnvFilter::try_new(&settings.filter)
        .map_err(|e| TelemetryError::Filter(settings.filter.clone(), e.to_string()))?;

    let provider = match &settings.otlp_endpoint {
        None => None,
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(
                        Resource::builder()
                            .with_service_name(settings.service_name.clone())
                            .build(),
                    )
                    .build(),
            )
        }
    };
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("fedimpute")));

    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let installed = match settings.format {
        LogFormat::Plain => registry
            .with(tracing_subscriber::fmt::layer().with_target(true))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
    };
    installed.map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    Ok(TelemetryGuard { provider })
}
