//! The job routes after submission (A.3): list, details and status (which advance the job),
//! cancel, restart, delete (login tokens only) and `/logs/{id}`.

use axum::extract::{Path, State as Shared};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{
    ROUTE_CANCEL, ROUTE_LIST, ROUTE_RESTART, ROUTE_STATUS, SharedState, State, auth_token, machine,
    message, now_ms, render, unauthorized, user_of,
};
use crate::fakes::{apply_fault, json_reply, lock};

/// Checks the token and that job `id` exists and is the caller's: the 401, 404 or 403
/// rejection, if any.
fn check_owner(state: &State, headers: &HeaderMap, path: &str, id: &str) -> Option<Response> {
    let Some(username) = user_of(state, auth_token(headers).as_deref()) else {
        return Some(unauthorized(path));
    };
    match state.jobs.get(id) {
        None => Some(message(
            StatusCode::NOT_FOUND,
            &format!("Job {id} not found."),
        )),
        Some(job) if job.username != username => {
            Some(message(StatusCode::FORBIDDEN, "Access denied."))
        }
        Some(_) => None,
    }
}

/// `GET /api/v2/jobs[?page=N]`: the caller's jobs, newest first; never advances a job.
pub(super) async fn list(
    Shared(state): Shared<SharedState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let fault = lock(&state).faults.next(ROUTE_LIST);
    if let Some(response) = apply_fault(fault).await {
        return response;
    }
    let page = uri.query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "page")
            .map(|(_, value)| value.parse::<usize>().unwrap_or(1).max(1))
    });
    let body = {
        let state = lock(&state);
        let Some(username) = user_of(&state, auth_token(&headers).as_deref()) else {
            return unauthorized(uri.path());
        };
        let now = now_ms();
        let count = state.jobs.of_user(&username).count();
        let (skip, take) = page.map_or((0, count), |p| {
            ((p - 1) * render::PAGE_SIZE, render::PAGE_SIZE)
        });
        let data: Vec<Value> = state
            .jobs
            .of_user(&username)
            .skip(skip)
            .take(take)
            .map(|job| render::job_json(job, &state.config, now))
            .collect();
        if state.config.legacy_list_array {
            Value::Array(data)
        } else {
            render::page_json(count, page, data)
        }
    };
    json_reply(StatusCode::OK, body)
}

/// `GET /api/v2/jobs/{id}` and `…/status` (the same JobResponse in CG3): advances the job by
/// `ticks_per_poll` first.
pub(super) async fn details(
    Shared(state): Shared<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let fault = lock(&state).faults.next(ROUTE_STATUS);
    if let Some(response) = apply_fault(fault).await {
        return response;
    }
    let body = {
        let mut guard = lock(&state);
        if let Some(response) = check_owner(&guard, &headers, uri.path(), &id) {
            return response;
        }
        let State { config, jobs, .. } = &mut *guard;
        let now = now_ms();
        jobs.update(&id, |job| {
            machine::advance(job, config, config.ticks_per_poll, now);
            render::job_json(job, config, now)
        })
    };
    body.map_or_else(
        || message(StatusCode::NOT_FOUND, &format!("Job {id} not found.")),
        |body| json_reply(StatusCode::OK, body),
    )
}

/// `GET /api/v2/jobs/{id}/cancel`: 1–3 → 6 at once; other states unchanged (200).
pub(super) async fn cancel(
    Shared(state): Shared<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let fault = lock(&state).faults.next(ROUTE_CANCEL);
    if let Some(response) = apply_fault(fault).await {
        return response;
    }
    let body = {
        let mut guard = lock(&state);
        if let Some(response) = check_owner(&guard, &headers, uri.path(), &id) {
            return response;
        }
        let State { config, jobs, .. } = &mut *guard;
        let now = now_ms();
        jobs.update(&id, |job| {
            machine::cancel(job, now);
            render::job_json(job, config, now)
        })
    };
    body.map_or_else(
        || message(StatusCode::NOT_FOUND, &format!("Job {id} not found.")),
        |body| json_reply(StatusCode::OK, body),
    )
}

/// `GET /api/v2/jobs/{id}/restart`: a DEAD job (-1) goes back to 1; else 400.
pub(super) async fn restart(
    Shared(state): Shared<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let fault = lock(&state).faults.next(ROUTE_RESTART);
    if let Some(response) = apply_fault(fault).await {
        return response;
    }
    let restarted = {
        let mut guard = lock(&state);
        if let Some(response) = check_owner(&guard, &headers, uri.path(), &id) {
            return response;
        }
        let State { config, jobs, .. } = &mut *guard;
        let now = now_ms();
        jobs.update(&id, |job| {
            machine::restart(job).then(|| render::job_json(job, config, now))
        })
    };
    match restarted {
        Some(Some(body)) => json_reply(StatusCode::OK, body),
        Some(None) => message(
            StatusCode::BAD_REQUEST,
            &format!("Job {id} is not pending."),
        ),
        None => message(StatusCode::NOT_FOUND, &format!("Job {id} not found.")),
    }
}

/// `DELETE /api/v2/jobs/{id}`: login tokens only, and every token of this fake is an API
/// token, so 403 (Micronaut's `AuthorizationException`).
pub(super) async fn delete(
    Shared(state): Shared<SharedState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let known = user_of(&lock(&state), auth_token(&headers).as_deref()).is_some();
    if !known {
        return unauthorized(uri.path());
    }
    json_reply(
        StatusCode::FORBIDDEN,
        json!({"message": "Forbidden",
        "_links": {"self": {"href": uri.path(), "templated": false}},
        "_embedded": {"errors": [{"message": "Forbidden"}]}}),
    )
}

/// `GET /logs/{id}`: the job's log lines as `text/plain`, owner only.
pub(super) async fn logs(
    Shared(state): Shared<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let text = {
        let state = lock(&state);
        if let Some(response) = check_owner(&state, &headers, uri.path(), &id) {
            return response;
        }
        state.jobs.get(&id).map(|job| {
            let mut text = job.log.join("\n");
            text.push('\n');
            text
        })
    };
    match text {
        Some(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text,
        )
            .into_response(),
        None => message(StatusCode::NOT_FOUND, &format!("Job {id} not found.")),
    }
}
