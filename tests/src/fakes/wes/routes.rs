//! The router: every route of the fake, the counting and Bearer-checking middleware, and
//! the service-info and fallback handlers.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State as Shared};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::{
    SUBMIT_BODY_LIMIT, SharedState, WES_PREFIX, apply_fault, bearer, error, info, runs, submit,
};
use crate::fakes::{json_reply, lock};

pub(super) fn router(state: SharedState) -> Router {
    let runs = post(submit::submit)
        .layer(DefaultBodyLimit::max(SUBMIT_BODY_LIMIT))
        .get(runs::list);
    Router::new()
        .route(&format!("{WES_PREFIX}/service-info"), get(service_info))
        .route(&format!("{WES_PREFIX}/runs"), runs)
        .route(&format!("{WES_PREFIX}/runs/{{run_id}}"), get(runs::details))
        .route(
            &format!("{WES_PREFIX}/runs/{{run_id}}/status"),
            get(runs::status),
        )
        .route(
            &format!("{WES_PREFIX}/runs/{{run_id}}/cancel"),
            post(runs::cancel),
        )
        .route(
            &format!("{WES_PREFIX}/runs/{{run_id}}/tasks"),
            get(runs::tasks),
        )
        .route(
            &format!("{WES_PREFIX}/runs/{{run_id}}/tasks/{{task_id}}"),
            get(runs::task),
        )
        .route("/outputs/{run_id}/{name}", get(runs::output))
        .route("/logs/{run_id}/{stream}", get(runs::log))
        .route(
            "/logs/{run_id}/tasks/{task_id}/{stream}",
            get(runs::task_log),
        )
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            record_and_authorize,
        ))
        .with_state(state)
}

/// Counts the request, then enforces the Bearer token when one is configured (output and
/// log files are fake-local download URLs, open like pre-signed ones).
async fn record_and_authorize(
    Shared(state): Shared<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let open = path.starts_with("/outputs/") || path.starts_with("/logs/");
    let presented = bearer(request.headers());
    let allowed = {
        let mut state = lock(&state);
        *state.hits.entry(path.to_owned()).or_insert(0) += 1;
        let config = &state.config;
        match (&config.require_token, &presented) {
            (None, _) => true,
            (Some(_), _) if open => true,
            (Some(_), None) => false,
            (Some(required), Some(token)) => {
                token == required || config.other_tokens.contains(token)
            }
        }
    };
    if !allowed {
        // flask-jwt-extended's body (no status_code field).
        return json_reply(
            StatusCode::UNAUTHORIZED,
            json!({"msg": "Missing Authorization Header"}),
        );
    }
    next.run(request).await
}

async fn service_info(Shared(state): Shared<SharedState>) -> Response {
    let (fault, style) = {
        let state = lock(&state);
        (state.fault.clone(), state.config.style)
    };
    if let Some(response) = apply_fault(fault).await {
        return response;
    }
    json_reply(StatusCode::OK, info::service_info(style))
}

async fn fallback(Shared(state): Shared<SharedState>) -> Response {
    let style = lock(&state).config.style;
    error(
        style,
        StatusCode::NOT_FOUND,
        "The requested URL was not found on the server.",
    )
}
