//! The router: every route of the fake, the request-counting middleware, the fallback.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State as Shared};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use super::{SharedState, catalog, files, info, oauth, runs, submit, workbench_error};
use crate::fakes::lock;

/// The eWES base path of a namespace (`E`).
const E: &str = "/ewes/{namespace}/ga4gh/wes/v1";

pub(super) fn router(state: SharedState) -> Router {
    let ewes = |path: &str| format!("{E}{path}");
    Router::new()
        .route("/api/service-registry/services", get(info::services))
        .route("/oauth/token", post(oauth::token))
        .route(&ewes("/service-info"), get(info::service_info))
        .route(&ewes("/runs"), post(submit::submit).get(runs::list))
        .route(&ewes("/batch"), post(submit::batch))
        .route(&ewes("/runs/cancel"), post(runs::cancel_many))
        .route(&ewes("/runs/delete"), post(runs::delete_many))
        .route(&ewes("/runs/{run_id}"), get(runs::details))
        .route(&ewes("/runs/{run_id}/status"), get(runs::status))
        .route(&ewes("/runs/{run_id}/cancel"), post(runs::cancel))
        .route(&ewes("/runs/{run_id}/tasks"), get(files::tasks))
        .route(&ewes("/runs/{run_id}/logs/{stream}"), get(files::run_log))
        .route(
            &ewes("/runs/{run_id}/tasks/{task_id}/logs/{stream}"),
            get(files::task_log),
        )
        .route("/ewes/{namespace}/engines", get(catalog::engines))
        .route(
            "/ewes/{namespace}/engines/{engine_id}",
            get(catalog::engine),
        )
        .route(
            "/ewes/{namespace}/engines/{engine_id}/health-checks",
            get(catalog::health_checks),
        )
        .route("/workflows/{namespace}/workflows", get(catalog::workflows))
        .route(
            "/workflows/{namespace}/workflows/{workflow_id}/versions",
            get(catalog::versions),
        )
        .route("/outputs/{run_id}/{name}", get(files::output))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), record))
        .with_state(state)
}

async fn record(Shared(state): Shared<SharedState>, request: Request, next: Next) -> Response {
    *lock(&state)
        .hits
        .entry(request.uri().path().to_owned())
        .or_insert(0) += 1;
    next.run(request).await
}

async fn fallback() -> Response {
    workbench_error(StatusCode::NOT_FOUND, "Not Found")
}
