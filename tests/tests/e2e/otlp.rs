//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the binary exports its spans over
//! OTLP/gRPC, continuing the caller's W3C trace: checked against a loopback
//! collector that records what it receives.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use fedimpute_proto::registry as pb;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use tokio::io::{AsyncBufReadExt, BufReader};
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
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fedimpute-e2e"))
        .args([
            "--data-dir",
            data.path().to_str().unwrap(),
            "serve",
            "registry",
        ])
        .env("FEDIMPUTE_REGISTRY_ADDR", "127.0.0.1:0")
        .env("FEDIMPUTE_LOG_FORMAT", "json")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if json.pointer("/fields/message").and_then(|m| m.as_str()) == Some("registry bound") {
                return json
                    .pointer("/fields/addr")
                    .and_then(|a| a.as_str())
                    .unwrap()
                    .to_owned();
            }
        }
        panic!("the binary exited before binding");
    })
    .await
    .expect("binds in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    // A call made as part of a trace of ours.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
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
    let pid = child.id().unwrap().to_string();
    assert!(
        tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits in time")
        .unwrap();
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
