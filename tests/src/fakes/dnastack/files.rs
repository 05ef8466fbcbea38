//! The files of a run: task logs, the stdout/stderr streams (`max`, `offset`), and the
//! HTTP copies of outputs.

use axum::body::Body;
use axum::extract::{Path, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::runs::not_found;
use super::{ROUTE_OUTPUT, SharedState, authorize, workbench_error};
use crate::fakes::wes::artifacts::{deliver, output_reply};
use crate::fakes::{apply_fault, json_reply, lock};

/// `GET E/runs/{id}/tasks` → `{tasks: [Log], pagination}` (one page).
pub(super) async fn tasks(
    Shared(state): Shared<SharedState>,
    Path((namespace, run_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let guard = lock(&state);
    if let Err(denied) = authorize(&guard, &headers, &namespace) {
        return denied.reply();
    }
    match guard.runs.get(&run_id) {
        Some(run) => {
            let tasks = run.tasks_json(&guard.base);
            let total = tasks.len();
            json_reply(
                StatusCode::OK,
                json!({"tasks": tasks, "pagination": {"total_elements": total}}),
            )
        }
        None => not_found(&run_id),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct LogQuery {
    max: Option<usize>,
    offset: Option<usize>,
}

/// Log text, cut to `offset` and `max` bytes (`Content-Length: 0` when empty).
fn log_reply(text: &str, query: &LogQuery) -> Response {
    let bytes = text.as_bytes();
    let start = query.offset.unwrap_or(0).min(bytes.len());
    let end = query.max.map_or(bytes.len(), |max| {
        start.saturating_add(max).min(bytes.len())
    });
    let body = Body::from(bytes[start..end].to_vec());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `GET E/runs/{id}/logs/stdout|stderr`.
pub(super) async fn run_log(
    Shared(state): Shared<SharedState>,
    Path((namespace, run_id, stream)): Path<(String, String, String)>,
    Query(query): Query<LogQuery>,
    headers: HeaderMap,
) -> Response {
    let guard = lock(&state);
    if let Err(denied) = authorize(&guard, &headers, &namespace) {
        return denied.reply();
    }
    let text = guard.runs.get(&run_id).and_then(|run| match &*stream {
        "stdout" => Some(run.stdout()),
        "stderr" => Some(run.stderr.clone()),
        _ => None,
    });
    text.map_or_else(|| not_found(&run_id), |text| log_reply(&text, &query))
}

/// `GET E/runs/{id}/tasks/{task_id}/logs/stdout|stderr`.
pub(super) async fn task_log(
    Shared(state): Shared<SharedState>,
    Path((namespace, run_id, task_id, stream)): Path<(String, String, String, String)>,
    Query(query): Query<LogQuery>,
    headers: HeaderMap,
) -> Response {
    let guard = lock(&state);
    if let Err(denied) = authorize(&guard, &headers, &namespace) {
        return denied.reply();
    }
    let stderr = guard
        .runs
        .get(&run_id)
        .and_then(|r| r.task_stderr(&task_id));
    let text = match &*stream {
        "stderr" => stderr,
        "stdout" => stderr.map(|_| format!("task {task_id}\n")),
        _ => None,
    };
    text.map_or_else(|| not_found(&run_id), |text| log_reply(&text, &query))
}

/// `GET /outputs/{run_id}/{name}`: the HTTP copy of an output (no token needed).
pub(super) async fn output(
    Shared(state): Shared<SharedState>,
    Path((run_id, name)): Path<(String, String)>,
) -> Response {
    let (fault, served) = {
        let mut guard = lock(&state);
        let served = guard.runs.get(&run_id).is_some_and(|run| run.serves(&name));
        (guard.faults.next(ROUTE_OUTPUT), served)
    };
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let reply = served.then(|| output_reply(&run_id, &name)).flatten();
    let response = reply
        .unwrap_or_else(|| workbench_error(StatusCode::NOT_FOUND, &format!("No output {name}")));
    deliver(fault, response).await
}
