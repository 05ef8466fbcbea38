//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the binary exports its spans over
//! OTLP/gRPC, continuing the caller's W3C trace: checked against a loopback
//! collector that records what it receives.

use std::sync::{Arc, Mutex};

use fedimpute_proto::registry as pb;
use fedimpute_tests::harness::process::RunningBinary;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use tokio_stream::wrappers::TcpListenerStream;

/// (service.name, span name, trace id) of every exported span.
type Seen = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

#[derive(Clone, Default)]
struct Collector {
    seen: Seen,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut seen = self.seen.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    seen.push((service.clone(), span.name, span.trace_id));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test]
async fn the_binary_exports_spans_that_continue_the_callers_trace() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let data = tempfile::tempdir().unwrap();
    let running = RunningBinary::serve_registry(
        env!("CARGO_BIN_EXE_fedimpute-e2e"),
        data.path(),
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)],
    )
    .await;

    // A call made as part of a trace of ours.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let channel = running.channel().await;
    let mut request = tonic::Request::new(pb::ListServicesRequest::default());
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    pb::registry_service_client::RegistryServiceClient::new(channel)
        .list_services(request)
        .await
        .unwrap();

    // Spans are flushed when the process stops.
    let exit = running.terminate().await;
    assert!(exit.success(), "{exit:?}");

    let seen = collector.seen.lock().unwrap().clone();
    let (service, _, trace) = seen
        .iter()
        .find(|(_, name, _)| name == "fedimpute.registry.v1.RegistryService/ListServices")
        .unwrap_or_else(|| {
            panic!(
                "the server span was exported, among {:?}",
                seen.iter().map(|s| &s.1).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        hex(trace),
        trace_id,
        "the span continues the caller's trace"
    );
    assert!(service.contains("fedimpute"), "{service}");
    server.abort();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
