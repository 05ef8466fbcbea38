//! The service registry (C.2, C.6) and the eWES service-info.

use axum::extract::{Path, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{SharedState, authorize};
use crate::fakes::{apply_fault, json_reply, lock};

fn registry_entry(base: &str, client_id: &str, artifact: &str, name: &str, path: &str) -> Value {
    json!({
        "id": artifact, "name": name, "description": format!("Fake DNAstack {name}"),
        "type": {"group": "com.dnastack.workbench", "artifact": artifact, "version": "1.0.0"},
        "url": format!("{base}/{path}"), "version": "1.0.0",
        "organization": {"name": "DNAstack", "url": "https://dnastack.com"},
        "authentication": [{
            "type": "oauth2", "grant_type": "client_credentials", "client_id": client_id,
            "resource_url": format!("{base}/{path}/"), "token_endpoint": format!("{base}/oauth/token"),
        }],
    })
}

/// `GET /api/service-registry/services` (anonymous), under the probe fault.
pub(super) async fn services(Shared(state): Shared<SharedState>) -> Response {
    let fault = lock(&state).fault.clone();
    if let Some(response) = apply_fault(fault).await {
        return response;
    }
    let state = lock(&state);
    let (base, client) = (&state.base, &state.config.client_id);
    let mut entries = Vec::new();
    if state.ewes_listed {
        entries.push(registry_entry(
            base,
            client,
            "ewes-service",
            "Workbench eWES",
            "ewes",
        ));
    }
    entries.push(registry_entry(
        base,
        client,
        "workflow-service",
        "Workbench Workflow Service",
        "workflows",
    ));
    json_reply(StatusCode::OK, Value::Array(entries))
}

/// `GET E/service-info` (authenticated).
pub(super) async fn service_info(
    Shared(state): Shared<SharedState>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
) -> Response {
    let state = lock(&state);
    if let Err(denied) = authorize(&state, &headers, &namespace) {
        return denied.reply();
    }
    let base = &state.base;
    json_reply(
        StatusCode::OK,
        json!({
            "id": "ewes-service", "name": "Workbench eWES", "description": "Fake DNAstack eWES",
            "type": {"group": "com.dnastack.workbench", "artifact": "ewes-service", "version": "1.0.0"},
            "organization": {"name": "DNAstack", "url": "https://dnastack.com"},
            "url": format!("{base}/ewes/{namespace}/ga4gh/wes/v1"), "version": "1.0.0",
            "workflow_type_versions": {"WDL": {"workflow_type_version": ["1.0"]}},
            "supported_wes_versions": ["1.0.0"],
            "supported_filesystem_protocols": ["gs", "s3", "https"],
            "workflow_engine_versions": {"cromwell": "85"},
            "default_workflow_engine_parameters": [],
            "system_state_counts": {},
            "auth_instructions_url": format!("{base}/oauth/token"),
            "tags": {},
        }),
    )
}
