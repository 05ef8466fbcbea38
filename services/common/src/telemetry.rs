//! Telemetry, initialised once per process: `tracing` with plain or JSON
//! logs, and OpenTelemetry traces, always on and exported over OTLP when an
//! endpoint is configured. W3C trace context crosses every gRPC hop (see
//! [`crate::grpc`]) and every outbound HTTP call ([`crate::http::traced`]);
//! request spans carry a `trace_id` field for the logs.

use opentelemetry::{
    propagation::TextMapCompositePropagator,
    trace::{TraceContextExt as _, TracerProvider as _},
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
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

    // Spans are always traced, exported or not: the trace context then
    // crosses every hop, and every log line of a request carries its trace
    // id, with or without a collector.
    let mut builder = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(settings.service_name.clone())
            .build(),
    );
    if let Some(endpoint) = &settings.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("fedimpute"));

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
    Ok(TelemetryGuard {
        provider: Some(provider),
    })
}

/// Records the span's OpenTelemetry trace id in its `trace_id` field (a
/// span declared with `trace_id = tracing::field::Empty`), so that the
/// JSON log lines inside it carry the id. Call after `set_parent`.
pub fn record_trace_id(span: &tracing::Span) {
    let context = span.context();
    let trace_id = context.span().span_context().trace_id();
    if trace_id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// The current span's W3C `traceparent` (empty when there is no sampled
/// trace), to store with work that continues the trace later.
pub fn current_traceparent() -> String {
    let context = tracing::Span::current().context();
    let mut carrier = std::collections::HashMap::<String, String>::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut carrier);
    });
    carrier.remove("traceparent").unwrap_or_default()
}

/// Makes `span` a child of a stored `traceparent` (nothing when empty or
/// invalid) and records its trace id.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    if !traceparent.is_empty() {
        let carrier =
            std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&carrier)
        });
        let _ = span.set_parent(parent);
    }
    record_trace_id(span);
}
