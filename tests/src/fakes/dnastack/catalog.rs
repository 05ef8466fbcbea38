//! The namespace's execution engines (`/ewes/{ns}/engines…`) and registered workflows
//! (`/workflows/{ns}/workflows…`), from the config (C.3).

use axum::extract::{Path, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{SharedState, State, authorize, workbench_error};
use crate::fakes::wes::artifacts::now;
use crate::fakes::{json_reply, lock};

/// When the fake's engines and workflows were "created".
const CREATED: &str = "2025-01-15T12:00:00Z";

fn engine_json(id: &str, default: bool) -> Value {
    json!({"id": id, "name": format!("Fake engine {id}"),
        "description": "Cromwell on the fake DNAstack", "provider": "LOCAL",
        "region": "local", "default": default, "created_at": CREATED, "updated_at": CREATED,
        "state": "HEALTHY", "engine_adapter_configuration": {}})
}

/// Runs `render` for an authorized request (401/403 otherwise).
fn guarded(
    state: &SharedState,
    headers: &HeaderMap,
    namespace: &str,
    render: impl FnOnce(&State) -> Response,
) -> Response {
    let guard = lock(state);
    match authorize(&guard, headers, namespace) {
        Ok(_) => render(&guard),
        Err(denied) => denied.reply(),
    }
}

/// `GET /ewes/{ns}/engines` → `{engines, pagination}`.
pub(super) async fn engines(
    Shared(state): Shared<SharedState>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
) -> Response {
    guarded(&state, &headers, &namespace, |state| {
        let engines: Vec<Value> = (state.config.engines.iter().enumerate())
            .map(|(i, id)| engine_json(id, i == 0))
            .collect();
        let total = engines.len();
        json_reply(
            StatusCode::OK,
            json!({"engines": engines, "pagination": {"total_elements": total}}),
        )
    })
}

fn engine_position(state: &State, engine_id: &str) -> Option<usize> {
    state.config.engines.iter().position(|e| e == engine_id)
}

fn no_engine(engine_id: &str) -> Response {
    workbench_error(
        StatusCode::NOT_FOUND,
        &format!("Engine {engine_id} not found"),
    )
}

/// `GET /ewes/{ns}/engines/{id}` → ExecutionEngine.
pub(super) async fn engine(
    Shared(state): Shared<SharedState>,
    Path((namespace, engine_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    guarded(
        &state,
        &headers,
        &namespace,
        |state| match engine_position(state, &engine_id) {
            Some(i) => json_reply(StatusCode::OK, engine_json(&engine_id, i == 0)),
            None => no_engine(&engine_id),
        },
    )
}

/// `GET /ewes/{ns}/engines/{id}/health-checks` → `{health_checks, pagination}` (one, all
/// checks passing, just now).
pub(super) async fn health_checks(
    Shared(state): Shared<SharedState>,
    Path((namespace, engine_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    guarded(&state, &headers, &namespace, |state| {
        if engine_position(state, &engine_id).is_none() {
            return no_engine(&engine_id);
        }
        let checks: Vec<Value> = [
            "CONNECTIVITY",
            "CREDENTIALS",
            "PERMISSIONS",
            "STORAGE",
            "LOGS",
        ]
        .into_iter()
        .map(|kind| json!({"type": kind, "outcome": "SUCCESS", "error": null}))
        .collect();
        let check = json!({"created_at": now(), "outcome": "SUCCESS", "checks": checks});
        json_reply(
            StatusCode::OK,
            json!({"health_checks": [check], "pagination": {"total_elements": 1}}),
        )
    })
}

fn version_json(workflow_id: &str, version_id: &str) -> Value {
    json!({"workflowId": workflow_id, "id": version_id, "externalId": null,
        "versionName": version_id, "workflowName": workflow_id, "createdAt": CREATED,
        "lastUpdatedAt": CREATED, "descriptorType": "WDL", "authors": ["fedimpute tests"],
        "description": null, "deleted": false, "etag": format!("\"{workflow_id}-{version_id}\"")})
}

/// The registered versions of `workflow_id`, in config order.
fn versions_of<'a>(state: &'a State, workflow_id: &'a str) -> impl Iterator<Item = &'a str> {
    let workflows = state.config.workflows.iter();
    workflows
        .filter(move |(id, _)| id == workflow_id)
        .map(|(_, version)| version.as_str())
}

/// `GET /workflows/{ns}/workflows` → `{workflows, pagination}`.
pub(super) async fn workflows(
    Shared(state): Shared<SharedState>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
) -> Response {
    guarded(&state, &headers, &namespace, |state| {
        let mut ids: Vec<&str> = Vec::new();
        for (id, _) in &state.config.workflows {
            if !ids.contains(&id.as_str()) {
                ids.push(id);
            }
        }
        let workflows: Vec<Value> = ids
            .iter()
            .map(|id| {
                let versions: Vec<Value> = versions_of(state, id)
                    .map(|v| version_json(id, v))
                    .collect();
                let latest = versions_of(state, id).last().unwrap_or_default();
                json!({"internalId": id, "source": "PRIVATE", "name": id,
                    "description": "Fake registered workflow", "lastUpdatedAt": CREATED,
                    "latestVersion": latest, "authors": ["fedimpute tests"],
                    "versions": versions, "deleted": false, "etag": format!("\"{id}\""),
                    "labels": ["imputation"]})
            })
            .collect();
        let total = workflows.len();
        json_reply(
            StatusCode::OK,
            json!({"workflows": workflows, "pagination": {"total_elements": total}}),
        )
    })
}

/// `GET /workflows/{ns}/workflows/{id}/versions` → `{versions, pagination}`.
pub(super) async fn versions(
    Shared(state): Shared<SharedState>,
    Path((namespace, workflow_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    guarded(&state, &headers, &namespace, |state| {
        let versions: Vec<Value> = versions_of(state, &workflow_id)
            .map(|v| version_json(&workflow_id, v))
            .collect();
        if versions.is_empty() {
            let msg = format!("Workflow {workflow_id} not found");
            return workbench_error(StatusCode::NOT_FOUND, &msg);
        }
        let total = versions.len();
        json_reply(
            StatusCode::OK,
            json!({"versions": versions, "pagination": {"total_elements": total}}),
        )
    })
}
