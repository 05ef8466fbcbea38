//! W3C trace context crosses gRPC: the client's span and the server's span
//! share one trace id, the server span a child of the client span.

use fedimpute_common::{grpc::TraceContextInterceptor, telemetry::install_propagator};
use fedimpute_proto::registry::{self as pb, registry_service_client::RegistryServiceClient};
use fedimpute_tests::{TestDb, TestRegistry};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

// The default (current-thread) runtime: every task of this test, the
// server's included, runs on this thread and sees its subscriber.
#[tokio::test]
async fn client_and_server_spans_share_one_trace() {
    install_propagator();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("e2e")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let registry = TestRegistry::spawn(TestDb::sqlite()).await;
    let mut client =
        RegistryServiceClient::with_interceptor(registry.channel().await, TraceContextInterceptor);
    // Other tests register the same callsites concurrently, and a
    // registration racing with this test's subscriber can cache "never" (a
    // tracing-core race). A warm-up call registers every callsite on the
    // path; the rebuild then makes their interest reflect this subscriber.
    client
        .list_services(pb::ListServicesRequest::default())
        .await
        .unwrap();
    tracing::callsite::rebuild_interest_cache();
    client
        .list_services(pb::ListServicesRequest::default())
        .instrument(tracing::info_span!("client.list_services"))
        .await
        .unwrap();
    registry.shutdown().await;
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let client_span = spans
        .iter()
        .find(|s| s.name == "client.list_services")
        .expect("the client span");
    let server_span = spans
        .iter()
        .filter(|s| s.span_context.trace_id() == client_span.span_context.trace_id())
        .find(|s| s.name == "fedimpute.registry.v1.RegistryService/ListServices")
        .unwrap_or_else(|| {
            panic!(
                "the server span, among {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        server_span.span_context.trace_id(),
        client_span.span_context.trace_id()
    );
    assert_eq!(
        server_span.parent_span_id,
        client_span.span_context.span_id()
    );
}
