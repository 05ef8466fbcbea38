//! Operations endpoints: `/health` (the original's aggregate shape: each
//! component healthy, unhealthy or unreachable), `/healthz` (the gateway
//! process is up), `/readyz` (it can serve: not draining and every service
//! answers), `/metrics` (Prometheus text) and `/api/openapi.json`.

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use fedimpute_common::auth::Component;
use http::{StatusCode, header};
use serde_json::json;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::state::Shared;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const COMPONENTS: [Component; 3] = [Component::Registry, Component::Users, Component::Jobs];

/// `healthy`, `unhealthy` (answers, not serving) or `unreachable`.
async fn probe(state: &Shared, component: Component) -> &'static str {
    let mut client = HealthClient::new(state.upstreams.channel(component));
    let check = client.check(HealthCheckRequest {
        service: String::new(),
    });
    match tokio::time::timeout(PROBE_TIMEOUT, check).await {
        Ok(Ok(reply)) if reply.get_ref().status == ServingStatus::Serving as i32 => "healthy",
        Ok(Ok(_)) => "unhealthy",
        Ok(Err(status)) if status.code() != tonic::Code::Unavailable => "unhealthy",
        Ok(Err(_)) | Err(_) => "unreachable",
    }
}

async fn probe_all(state: &Shared) -> Vec<(Component, &'static str)> {
    let probes = COMPONENTS.map(|c| async move { (c, probe(state, c).await) });
    futures::future::join_all(probes).await
}

pub(crate) async fn health(State(state): State<Shared>) -> Response {
    let results = probe_all(&state).await;
    let all_healthy = results.iter().all(|(_, s)| *s == "healthy");
    let mut services = serde_json::Map::new();
    services.insert(
        "gateway".into(),
        json!(if state.draining() {
            "unhealthy"
        } else {
            "healthy"
        }),
    );
    for (component, status) in results {
        services.insert(component.name().into(), json!(status));
    }
    let body = json!({
        "status": if all_healthy && !state.draining() { "healthy" } else { "degraded" },
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "services": services,
    });
    let code = if all_healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

pub(crate) async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub(crate) async fn readyz(State(state): State<Shared>) -> Response {
    if state.draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
            .into_response();
    }
    let results = probe_all(&state).await;
    let missing: Vec<&str> = results
        .iter()
        .filter(|(_, s)| *s != "healthy")
        .map(|(c, _)| c.name())
        .collect();
    if missing.is_empty() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "waiting_for": missing})),
        )
            .into_response()
    }
}

pub(crate) async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

pub(crate) async fn openapi(State(state): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.clone(),
    )
        .into_response()
}
