//! REST, transcoded: a request on an annotated path becomes the RPC's
//! request message (path variables, query parameters and the body by the
//! annotation's `body`), the reply becomes JSON (the whole response or its
//! `response_body` field, so lists the original returned bare stay bare).

mod message;
mod stream;
mod upload;

use axum::{
    extract::{Request, State},
    response::{IntoResponse, Response},
};
use http::{Method, StatusCode, header};
use prost_reflect::{DynamicMessage, ReflectMessage};
use serde_json::Value as Json;

use crate::{
    error::ApiError,
    json,
    routes::{Miss, Route, Shape},
    state::{Edge, Matched, Shared},
};

/// The fallback handler for every REST request.
pub(crate) async fn handle(State(state): State<Shared>, request: Request) -> Response {
    match serve(&state, request).await {
        Ok(response) => response,
        Err(error) => {
            // Errors of the services reached over REST, as one series.
            if let ApiError::Status(status) = &error {
                state.metrics.upstream_error("rest", status.code());
            }
            error.into_response()
        }
    }
}

async fn serve(state: &Shared, request: Request) -> Result<Response, ApiError> {
    let Some(edge) = request.extensions().get::<Edge>().cloned() else {
        return Err(ApiError::bad_request("the edge did not run"));
    };
    let Some(Matched { route, variables }) = request.extensions().get::<Matched>().cloned() else {
        // The edge looked the path up and found no route.
        let path = request.uri().path().to_owned();
        return Err(match request.extensions().get::<Miss>() {
            Some(Miss::MethodNotAllowed(allowed)) => ApiError::MethodNotAllowed {
                method: request.method().clone(),
                allowed: allowed.clone(),
            },
            Some(Miss::NotFound) | None => ApiError::NotFound(path),
        });
    };
    match route.shape {
        Shape::Upload => upload::upload(state, &edge, &route, request).await,
        Shape::Unary if message::is_multipart(request.headers()) => {
            upload::multipart_job(state, &edge, &route, &variables, request).await
        }
        Shape::Unary => {
            let message = message::build(state, &route, &variables, request).await?;
            unary(state, &edge, &route, message).await
        }
        Shape::Download => {
            let message = message::build(state, &route, &variables, request).await?;
            stream::download(state, &edge, &route, message).await
        }
        Shape::Events => {
            let message = message::build(state, &route, &variables, request).await?;
            stream::events(state, &edge, &route, message).await
        }
    }
}

async fn unary(
    state: &Shared,
    edge: &Edge,
    route: &Route,
    message: DynamicMessage,
) -> Result<Response, ApiError> {
    let reply = within(
        state,
        state
            .upstreams
            .unary(&route.method, message, &edge.forwarded),
    )
    .await??;
    Ok(reply_json(route, &reply.into_inner()))
}

/// `work` within the request timeout of ordinary calls (for a stream: the
/// time to its start).
pub(crate) async fn within<T>(
    state: &Shared,
    work: impl std::future::Future<Output = T>,
) -> Result<T, ApiError> {
    let timeout = state.settings.request_timeout;
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ApiError::Timeout(timeout))
}

/// The reply as JSON, with the status a REST client expects.
pub(crate) fn reply_json(route: &Route, reply: &DynamicMessage) -> Response {
    let status = success_status(route);
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    let body = select_response_body(route, reply);
    (status, axum::Json(body)).into_response()
}

/// The status of a successful reply (the OpenAPI document says the same):
/// 204 for a reply type without fields (logout, deleting a credential, a
/// user, a panel: nothing to say, as the original API answered), 201 for a
/// POST that creates, else 200.
pub(crate) fn success_status(route: &Route) -> StatusCode {
    if route.response_body.is_none() && route.method.output().fields().len() == 0 {
        StatusCode::NO_CONTENT
    } else if route.verb == Method::POST && creates(route) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// `Create*`, `Register` and `Upload*` make a resource: 201.
fn creates(route: &Route) -> bool {
    let name = route.method.name();
    name.starts_with("Create") || name.starts_with("Upload") || name == "Register"
}

fn select_response_body(route: &Route, reply: &DynamicMessage) -> Json {
    match route
        .response_body
        .as_deref()
        .and_then(|name| reply.descriptor().get_field_by_name(name))
    {
        Some(field) => json::field_json(reply, &field),
        None => json::to_json(reply),
    }
}

/// The `Content-Type` of a request, lower-cased, without parameters.
pub(crate) fn media_type(headers: &http::HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}
