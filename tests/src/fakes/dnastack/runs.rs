//! The eWES run routes after submission: list, details, status, cancel (one or many),
//! delete.

use axum::extract::{Path, Query, RawQuery, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{EwesState, Run};
use super::{
    Denied, ROUTE_CANCEL, ROUTE_LIST, ROUTE_STATUS, SharedState, State, authorize, workbench_error,
    workbench_error_json,
};
use crate::fakes::wes::artifacts::deliver;
use crate::fakes::{Fault, apply_fault, json_reply, lock};

/// Page size of `GET E/runs` when none is asked for.
const DEFAULT_PAGE_SIZE: usize = 20;

/// Advances a run by `ticks` (a no-op for an unknown run).
pub(super) fn advance(state: &mut State, run_id: &str, ticks: u32) {
    let State {
        runs, base, config, ..
    } = state;
    if let Some(run) = runs.get_mut(run_id) {
        for _ in 0..ticks {
            run.tick(config.running_ticks, base);
        }
    }
}

/// Authorizes the request and draws `route`'s fault.
fn begin(
    state: &SharedState,
    headers: &HeaderMap,
    namespace: &str,
    route: &str,
) -> Result<Fault, Denied> {
    let mut guard = lock(state);
    authorize(&guard, headers, namespace)?;
    Ok(guard.faults.next(route))
}

pub(super) fn not_found(run_id: &str) -> Response {
    workbench_error(StatusCode::NOT_FOUND, &format!("Run {run_id} not found"))
}

#[derive(Debug, Deserialize)]
pub(super) struct DetailsQuery {
    exclude_tasks: Option<bool>,
}

/// The common path of details and status: auth, fault, advance, render.
async fn poll(
    state: SharedState,
    (namespace, run_id): (String, String),
    headers: HeaderMap,
    render: impl FnOnce(&Run, &str) -> Value,
) -> Response {
    let fault = match begin(&state, &headers, &namespace, ROUTE_STATUS) {
        Ok(fault) => fault,
        Err(denied) => return denied.reply(),
    };
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let response = {
        let mut guard = lock(&state);
        let ticks = guard.config.ticks_per_poll;
        advance(&mut guard, &run_id, ticks);
        match guard.runs.get(&run_id) {
            Some(run) => json_reply(StatusCode::OK, render(run, &guard.base)),
            None => not_found(&run_id),
        }
    };
    deliver(fault, response).await
}

/// `GET E/runs/{id}` → ExtendedRun (`exclude_tasks=true` leaves out `task_logs`).
pub(super) async fn details(
    Shared(state): Shared<SharedState>,
    Path(ids): Path<(String, String)>,
    Query(query): Query<DetailsQuery>,
    headers: HeaderMap,
) -> Response {
    let with_tasks = !query.exclude_tasks.unwrap_or(false);
    poll(state, ids, headers, |run, base| {
        run.run_json(base, with_tasks)
    })
    .await
}

/// `GET E/runs/{id}/status` → `{run_id, state}`.
pub(super) async fn status(
    Shared(state): Shared<SharedState>,
    Path(ids): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let render = |run: &Run, _: &str| json!({"run_id": run.run_id, "state": run.state.as_str()});
    poll(state, ids, headers, render).await
}

/// `GET E/runs`: filtered by `state` (repeatable), `tag` (`key:value`, repeatable),
/// `engine_id` and `search`; paged by `page_size` and `page_token` (an offset), with a
/// relative `pagination.next_page_url` until the last page.
pub(super) async fn list(
    Shared(state): Shared<SharedState>,
    Path(namespace): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let fault = match begin(&state, &headers, &namespace, ROUTE_LIST) {
        Ok(fault) => fault,
        Err(denied) => return denied.reply(),
    };
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let values = |name: &str| -> Vec<&str> {
        let named = pairs.iter().filter(|(key, _)| key == name);
        named.map(|(_, value)| value.as_str()).collect()
    };
    let first = |name: &str| values(name).first().and_then(|v| v.parse::<usize>().ok());
    let size = first("page_size").unwrap_or(DEFAULT_PAGE_SIZE).max(1);
    let offset = first("page_token").unwrap_or(0);
    let (states, tags) = (values("state"), values("tag"));
    let (engines, search) = (values("engine_id"), values("search"));
    let keep = |run: &Run| {
        let state_ok = states.is_empty()
            || states
                .iter()
                .any(|s| s.eq_ignore_ascii_case(run.state.as_str()));
        let tags_ok = tags.iter().all(|tag| {
            let (key, value) = tag.split_once(':').unwrap_or((tag, ""));
            run.request.tags.get(key).map(String::as_str) == Some(value)
        });
        let engine_ok = engines.iter().all(|e| *e == run.request.engine_id);
        let search_ok = search.iter().all(|needle| {
            run.run_id.contains(needle)
                || run.workflow_url().contains(needle)
                || run.request.tags.values().any(|v| v.contains(needle))
        });
        state_ok && tags_ok && engine_ok && search_ok
    };
    let response = {
        let guard = lock(&state);
        let matching: Vec<&Run> = guard
            .order
            .iter()
            .filter_map(|id| guard.runs.get(id))
            .filter(|run| keep(run))
            .collect();
        let total = matching.len();
        let page: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(size)
            .map(|run| run.status_json())
            .collect();
        let mut body = json!({"runs": page, "pagination": {"total_elements": total}});
        if offset + size < total {
            let token = (offset + size).to_string();
            let mut next = url::form_urlencoded::Serializer::new(String::new());
            next.append_pair("page_size", &size.to_string());
            next.append_pair("page_token", &token);
            for name in ["state", "tag", "engine_id", "search"] {
                for value in values(name) {
                    next.append_pair(name, value);
                }
            }
            body["pagination"]["next_page_url"] = json!(format!("runs?{}", next.finish()));
            body["next_page_token"] = json!(token);
        }
        json_reply(StatusCode::OK, body)
    };
    deliver(fault, response).await
}

/// `POST E/runs/{id}/cancel` → `{run_id, state}`.
pub(super) async fn cancel(
    Shared(state): Shared<SharedState>,
    Path((namespace, run_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let fault = match begin(&state, &headers, &namespace, ROUTE_CANCEL) {
        Ok(fault) => fault,
        Err(denied) => return denied.reply(),
    };
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let response = {
        let mut guard = lock(&state);
        let State { runs, base, .. } = &mut *guard;
        match runs.get_mut(&run_id) {
            Some(run) => {
                run.cancel(base);
                json_reply(
                    StatusCode::OK,
                    json!({"run_id": run_id, "state": run.state.as_str()}),
                )
            }
            None => not_found(&run_id),
        }
    };
    deliver(fault, response).await
}

/// The body of `POST E/runs/cancel|delete`: a JSON array of run ids.
fn run_ids(body: &[u8]) -> Option<Vec<String>> {
    serde_json::from_slice::<Vec<String>>(body).ok()
}

fn not_run_ids() -> Response {
    let msg = "The body must be a JSON array of run ids";
    workbench_error(StatusCode::BAD_REQUEST, msg)
}

/// One ActionResult of a bulk action.
fn outcome(run_id: &str, result: Result<EwesState, (StatusCode, String)>) -> Value {
    match result {
        Ok(state) => {
            json!({"outcome": "SUCCESS", "data": {"run_id": run_id, "state": state.as_str()}})
        }
        Err((status, msg)) => json!({"outcome": "FAILURE", "data": {"run_id": run_id},
            "exception": workbench_error_json(status, &msg)}),
    }
}

/// `POST E/runs/cancel` → `{results: [ActionResult]}`.
pub(super) async fn cancel_many(
    Shared(state): Shared<SharedState>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fault = match begin(&state, &headers, &namespace, ROUTE_CANCEL) {
        Ok(fault) => fault,
        Err(denied) => return denied.reply(),
    };
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let Some(ids) = run_ids(&body) else {
        return not_run_ids();
    };
    let response = {
        let mut guard = lock(&state);
        let State { runs, base, .. } = &mut *guard;
        let results: Vec<Value> = ids
            .iter()
            .map(|id| {
                let result = runs.get_mut(id).map(|run| {
                    run.cancel(base);
                    run.state
                });
                let missing = (StatusCode::NOT_FOUND, format!("Run {id} not found"));
                outcome(id, result.ok_or(missing))
            })
            .collect();
        json_reply(StatusCode::OK, json!({"results": results}))
    };
    deliver(fault, response).await
}

/// `POST E/runs/delete`: ended runs are removed; live ones are refused (409).
pub(super) async fn delete_many(
    Shared(state): Shared<SharedState>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(denied) = authorize(&lock(&state), &headers, &namespace) {
        return denied.reply();
    }
    let Some(ids) = run_ids(&body) else {
        return not_run_ids();
    };
    let mut guard = lock(&state);
    let mut deleted = Vec::new();
    let results: Vec<Value> = ids
        .iter()
        .map(|id| {
            let result = match guard.runs.get(id).map(|run| run.state) {
                None => Err((StatusCode::NOT_FOUND, format!("Run {id} not found"))),
                Some(state) if !state.is_terminal() => Err((
                    StatusCode::CONFLICT,
                    format!("Run {id} is {} and cannot be deleted", state.as_str()),
                )),
                Some(state) => {
                    guard.runs.remove(id);
                    deleted.push(id.clone());
                    Ok(state)
                }
            };
            outcome(id, result)
        })
        .collect();
    guard.order.retain(|id| !deleted.contains(id));
    json_reply(StatusCode::OK, json!({"results": results}))
}
