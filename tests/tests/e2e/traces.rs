//! One trace crosses every hop: a REST request to the gateway with a
//! `traceparent` creates a job; the gateway's span, the jobs, registry and
//! users server spans, the scheduler's step and the submission to the fake
//! Cloudgene all carry the caller's trace id. A health check started over
//! REST reaches the external service with its trace id too.

use std::time::Duration;

use fedimpute_common::telemetry::install_propagator;
use fedimpute_tests::{TestDb, eventually};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use reqwest::Method;
use tracing_subscriber::{Layer as _, filter::LevelFilter, layer::SubscriberExt};

use crate::gateway_common::{Reply, Stage, TINY};

const TRACE: &str = "5af7183fb1d4cf5f9b1c2b1a3e4d5c6b";
const HEALTH_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn traceparent(trace: &str) -> String {
    format!("00-{trace}-b7ad6b7169203331-01")
}

// The default (current-thread) runtime: every component of this test runs
// on this thread and sees its subscriber.
#[tokio::test]
async fn one_trace_id_crosses_the_gateway_the_services_and_the_external_api() {
    install_propagator();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    // INFO, as in production: the TRACE-level spans of h2 and hyper live
    // as long as their pooled connections, and a parent stays open until
    // its children close.
    let subscriber = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("e2e"))
            .with_filter(LevelFilter::INFO),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let stage = Stage::start(TestDb::sqlite()).await;
    // A warm-up through the same path registers the callsites; the rebuild
    // makes their interest reflect this subscriber (see telemetry.rs).
    let file = stage.upload(TINY).await;
    tracing::callsite::rebuild_interest_cache();

    // Act: a job created over REST, as part of the caller's trace.
    let created = Reply::read(
        stage
            .rest()
            .request(Method::POST, "/api/jobs/", Some(&stage.token))
            .header("traceparent", traceparent(TRACE))
            .json(&stage.job_body("traced", &file["id"]))
            .send()
            .await
            .expect("the gateway answers"),
    )
    .await;
    created.ok(201);
    let submit = "/api/v2/jobs/submit/imputationserver2";
    let sent = eventually(
        "the submission reaches Cloudgene",
        Duration::from_secs(30),
        || async { stage.fake.last_traceparent(submit) },
    )
    .await;

    // A health check over REST, in another trace.
    let checked = Reply::read(
        stage
            .rest()
            .request(
                Method::POST,
                &format!("/api/services/{}/health-check/", stage.service.id),
                Some(&stage.admin),
            )
            .header("traceparent", traceparent(HEALTH_TRACE))
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("the gateway answers"),
    )
    .await;
    checked.ok(200);
    let probed = stage.fake.last_traceparent("/api/v2/server");

    stage.shutdown().await;
    provider.force_flush().unwrap();
    // Assert: the external API saw the caller's trace id.
    assert!(
        sent.starts_with(&format!("00-{TRACE}-")),
        "Cloudgene received traceparent {sent}"
    );
    assert!(
        probed
            .as_deref()
            .is_some_and(|p| p.starts_with(&format!("00-{HEALTH_TRACE}-"))),
        "the probe carried {probed:?}"
    );
    let spans = exporter.get_finished_spans().unwrap();
    let in_trace: Vec<&str> = spans
        .iter()
        .filter(|s| s.span_context.trace_id().to_string() == TRACE)
        .map(|s| s.name.as_ref())
        .collect();
    for expected in [
        "POST /api/jobs",
        "fedimpute.jobs.v1.JobsService/CreateJob",
        "fedimpute.registry.v1.RegistryService/",
        "fedimpute.users.v1.UsersService/",
        "job.step submit",
    ] {
        assert!(
            in_trace.iter().any(|name| name.starts_with(expected)),
            "no span {expected}… in the trace, among {in_trace:?}"
        );
    }
    // The gateway's span is the child of the caller's span.
    let gateway = spans
        .iter()
        .find(|s| s.name.starts_with("POST /api/jobs"))
        .expect("the gateway's span");
    assert_eq!(gateway.parent_span_id.to_string(), "b7ad6b7169203331");
    let health: Vec<&str> = spans
        .iter()
        .filter(|s| s.span_context.trace_id().to_string() == HEALTH_TRACE)
        .map(|s| s.name.as_ref())
        .collect();
    assert!(
        health.contains(&"fedimpute.registry.v1.RegistryService/CheckServiceHealth"),
        "{health:?}"
    );
}
