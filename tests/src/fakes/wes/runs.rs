//! The run routes after submission: list, details, status, cancel, tasks, and the
//! fake-local output and log files.

use axum::extract::{Path, RawQuery, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::artifacts::{deliver, output_reply, text_reply};
use super::model::Run;
use super::{
    ROUTE_CANCEL, ROUTE_LIST, ROUTE_OUTPUT, ROUTE_STATUS, SharedState, State, WesStyle,
    apply_fault, bearer, error, fetch,
};
use crate::fakes::{json_reply, lock};

/// Spec 1.1 flavour: page size when none is asked for.
const DEFAULT_PAGE_SIZE: usize = 10;

/// Advances a run by `ticks`, downloading its inputs (without the lock) when a tick asks.
pub(super) async fn advance(state: &SharedState, run_id: &str, ticks: u32) {
    let mut remaining = ticks;
    while remaining > 0 {
        let (urls, client) = {
            let mut guard = lock(state);
            let State {
                runs,
                base,
                config,
                http,
                ..
            } = &mut *guard;
            let timing = config.timing();
            let Some(run) = runs.get_mut(run_id) else {
                return;
            };
            let mut urls = None;
            while remaining > 0 && urls.is_none() {
                remaining -= 1;
                urls = run.tick(timing, base);
            }
            match urls {
                Some(urls) => (urls, http.clone()),
                None => return,
            }
        };
        let fetched = fetch::fetch_all(&client, run_id, &urls).await;
        let failure = fetched.iter().find_map(|input| {
            let reason = input.error.as_ref()?;
            Some(format!("cannot download input {}: {reason}", input.url))
        });
        let mut guard = lock(state);
        guard.fetched.extend(fetched);
        if let Some(run) = guard.runs.get_mut(run_id) {
            run.staged(failure);
        }
    }
}

/// Why a caller may not see a run: (status, msg), rendered by [`denied`].
type Denied = (StatusCode, String);

/// Checks that `run_id` names a run the caller may see: WESkit answers a non-UUID id with
/// 500, an unknown run with 404, someone else's run with 403.
fn access<'a>(state: &'a State, run_id: &str, headers: &HeaderMap) -> Result<&'a Run, Denied> {
    if state.config.style == WesStyle::WesKit && uuid::Uuid::parse_str(run_id).is_err() {
        let msg = format!("Internal server error: '{run_id}' is not a valid run ID");
        return Err((StatusCode::INTERNAL_SERVER_ERROR, msg));
    }
    let Some(run) = state.runs.get(run_id) else {
        return Err((StatusCode::NOT_FOUND, format!("Run '{run_id}' not found")));
    };
    if run.owner.is_some() && run.owner != bearer(headers) {
        let msg = "User not allowed to access this run".to_owned();
        return Err((StatusCode::FORBIDDEN, msg));
    }
    Ok(run)
}

fn denied(state: &State, (status, msg): Denied) -> Response {
    error(state.config.style, status, &msg)
}

/// The common path of details and status: fault, access check, advance, render.
async fn poll(
    state: SharedState,
    run_id: String,
    headers: HeaderMap,
    render: fn(&Run, &State) -> Value,
) -> Response {
    let (fault, ticks) = {
        let mut guard = lock(&state);
        (guard.faults.next(ROUTE_STATUS), guard.config.ticks_per_poll)
    };
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    {
        let guard = lock(&state);
        if let Err(why) = access(&guard, &run_id, &headers) {
            return denied(&guard, why);
        }
    }
    advance(&state, &run_id, ticks).await;
    let response = {
        let guard = lock(&state);
        match access(&guard, &run_id, &headers) {
            Ok(run) => json_reply(StatusCode::OK, render(run, &guard)),
            Err(why) => denied(&guard, why),
        }
    };
    deliver(fault, response).await
}

pub(super) async fn details(
    Shared(state): Shared<SharedState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let render = |run: &Run, state: &State| {
        run.run_log_json(&state.base, state.config.style == WesStyle::Spec11)
    };
    poll(state, run_id, headers, render).await
}

pub(super) async fn status(
    Shared(state): Shared<SharedState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let render = |run: &Run, _: &State| json!({"run_id": run.run_id, "state": run.state.as_str()});
    poll(state, run_id, headers, render).await
}

/// `GET /runs`: the caller's runs; WESkit and the Starter Kit ignore paging.
pub(super) async fn list(
    Shared(state): Shared<SharedState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let fault = lock(&state).faults.next(ROUTE_LIST);
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let caller = bearer(&headers);
    let response = {
        let guard = lock(&state);
        let visible = guard
            .order
            .iter()
            .filter_map(|id| guard.runs.get(id))
            .filter(|run| run.owner.is_none() || run.owner == caller);
        let body = match guard.config.style {
            WesStyle::WesKit | WesStyle::StarterKit => {
                let runs: Vec<Value> = visible
                    .map(|run| json!({"run_id": run.run_id, "state": run.state.as_str()}))
                    .collect();
                json!({"runs": runs, "next_page_token": ""})
            }
            WesStyle::Spec11 => {
                let (size, offset) = paging(query.as_deref());
                let mut page: Vec<Value> = visible
                    .skip(offset)
                    .take(size + 1)
                    .map(|run| {
                        json!({"run_id": run.run_id, "state": run.state.as_str(),
                            "start_time": run.start_time, "end_time": run.end_time,
                            "tags": run.tags})
                    })
                    .collect();
                let next = if page.len() > size {
                    page.truncate(size);
                    (offset + size).to_string()
                } else {
                    String::new()
                };
                json!({"runs": page, "next_page_token": next})
            }
        };
        json_reply(StatusCode::OK, body)
    };
    deliver(fault, response).await
}

/// `page_size` (default 10, at least 1) and the offset in `page_token`.
fn paging(query: Option<&str>) -> (usize, usize) {
    let (mut size, mut offset) = (DEFAULT_PAGE_SIZE, 0);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "page_size" => size = value.parse().unwrap_or(DEFAULT_PAGE_SIZE).max(1),
            "page_token" => offset = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    (size, offset)
}

/// `POST /runs/{id}/cancel`; the Starter Kit's is a no-op with an empty 200.
pub(super) async fn cancel(
    Shared(state): Shared<SharedState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let fault = lock(&state).faults.next(ROUTE_CANCEL);
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let response = {
        let mut guard = lock(&state);
        let style = guard.config.style;
        match access(&guard, &run_id, &headers) {
            Err(why) => denied(&guard, why),
            Ok(_) if style == WesStyle::StarterKit => StatusCode::OK.into_response(),
            Ok(_) => {
                if let Some(run) = guard.runs.get_mut(&run_id) {
                    run.cancel();
                }
                json_reply(StatusCode::OK, json!({"run_id": run_id}))
            }
        }
    };
    deliver(fault, response).await
}

/// `GET /runs/{id}/tasks` (1.1): every task log on one page.
pub(super) async fn tasks(
    Shared(state): Shared<SharedState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let guard = lock(&state);
    match access(&guard, &run_id, &headers) {
        Ok(run) => json_reply(
            StatusCode::OK,
            json!({"task_logs": run.tasks_json(&guard.base), "next_page_token": ""}),
        ),
        Err(why) => denied(&guard, why),
    }
}

/// `GET /runs/{id}/tasks/{task_id}` (1.1).
pub(super) async fn task(
    Shared(state): Shared<SharedState>,
    Path((run_id, task_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let guard = lock(&state);
    let run = match access(&guard, &run_id, &headers) {
        Ok(run) => run,
        Err(why) => return denied(&guard, why),
    };
    let tasks = run.tasks_json(&guard.base);
    match tasks.into_iter().find(|t| t["id"] == json!(task_id)) {
        Some(task) => json_reply(StatusCode::OK, task),
        None => error(
            guard.config.style,
            StatusCode::NOT_FOUND,
            &format!("Task '{task_id}' not found"),
        ),
    }
}

/// `GET /outputs/{run_id}/{name}`: an output file of a COMPLETE run (no token needed).
pub(super) async fn output(
    Shared(state): Shared<SharedState>,
    Path((run_id, name)): Path<(String, String)>,
) -> Response {
    let (fault, served, style) = {
        let mut guard = lock(&state);
        let served = guard.runs.get(&run_id).is_some_and(|run| run.serves(&name));
        (guard.faults.next(ROUTE_OUTPUT), served, guard.config.style)
    };
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let reply = served.then(|| output_reply(&run_id, &name)).flatten();
    let response = reply
        .unwrap_or_else(|| error(style, StatusCode::NOT_FOUND, &format!("No output '{name}'")));
    deliver(fault, response).await
}

/// `GET /logs/{run_id}/stdout|stderr`: the run's log text.
pub(super) async fn log(
    Shared(state): Shared<SharedState>,
    Path((run_id, stream)): Path<(String, String)>,
) -> Response {
    let guard = lock(&state);
    let text = guard.runs.get(&run_id).and_then(|run| match &*stream {
        "stdout" => Some(run.stdout()),
        "stderr" => Some(run.stderr.clone()),
        _ => None,
    });
    match text {
        Some(text) => text_reply(text),
        None => error(guard.config.style, StatusCode::NOT_FOUND, "No such log"),
    }
}

/// `GET /logs/{run_id}/tasks/{task_id}/stdout|stderr`: a task's log text.
pub(super) async fn task_log(
    Shared(state): Shared<SharedState>,
    Path((run_id, task_id, stream)): Path<(String, String, String)>,
) -> Response {
    let guard = lock(&state);
    let run = guard.runs.get(&run_id);
    let text = match &*stream {
        "stderr" => run.and_then(|run| run.task_stderr(&task_id)),
        "stdout" => run
            .and_then(|run| run.task_stderr(&task_id))
            .map(|_| format!("task {task_id}\n")),
        _ => None,
    };
    match text {
        Some(text) => text_reply(text),
        None => error(guard.config.style, StatusCode::NOT_FOUND, "No such log"),
    }
}
