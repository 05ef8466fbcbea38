//! Server-streaming RPCs over REST: file chunks become a download with its
//! `Content-Type`, `Content-Length` and `Content-Disposition`, streamed as
//! they come; any other stream becomes server-sent events, one event per
//! message, named by the message's `type` when it has one.

use std::{convert::Infallible, time::Duration};

use axum::{
    body::Body,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::StreamExt;
use http::{HeaderValue, StatusCode, header};
use prost_reflect::{DynamicMessage, Value};

use super::within;
use crate::{
    error::ApiError,
    json,
    routes::Route,
    state::{Edge, Shared},
};

fn text(message: &DynamicMessage, name: &str) -> String {
    message
        .get_field_by_name(name)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn data(message: &DynamicMessage) -> bytes::Bytes {
    match message.get_field_by_name("data").as_deref() {
        Some(Value::Bytes(b)) => b.clone(),
        _ => bytes::Bytes::new(),
    }
}

/// `attachment; filename="..."; filename*=UTF-8''...` (RFC 6266).
fn disposition(filename: &str) -> HeaderValue {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

pub(crate) async fn download(
    state: &Shared,
    edge: &Edge,
    route: &Route,
    message: DynamicMessage,
) -> Result<Response, ApiError> {
    let started = async {
        let mut stream = state
            .upstreams
            .server_streaming(&route.method, message, &edge.forwarded)
            .await?
            .into_inner();
        let first = stream.message().await?.ok_or_else(|| {
            tonic::Status::internal("the download stream ended before its metadata")
        })?;
        Ok::<_, ApiError>((first, stream))
    };
    let (first, stream) = within(state, started).await??;
    let filename = text(&first, "filename");
    let content_type = text(&first, "content_type");
    let size = first
        .get_field_by_name("size_bytes")
        .and_then(|v| v.as_i64())
        .filter(|s| *s >= 0);
    let head = data(&first);
    let rest = stream.map(|item| match item {
        Ok(chunk) => Ok(data(&chunk)),
        Err(status) => {
            tracing::warn!(code = ?status.code(), "download stream broke: {}", status.message());
            Err(std::io::Error::other(status.message().to_owned()))
        }
    });
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(head) })
        .chain(rest)
        .filter(|chunk| futures::future::ready(!matches!(chunk, Ok(b) if b.is_empty())));
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    let content_type = if content_type.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        content_type
    };
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Some(size) = size.filter(|s| *s > 0) {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    if !filename.is_empty() {
        headers.insert(header::CONTENT_DISPOSITION, disposition(&filename));
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

pub(crate) async fn events(
    state: &Shared,
    edge: &Edge,
    route: &Route,
    message: DynamicMessage,
) -> Result<Response, ApiError> {
    let stream = within(
        state,
        state
            .upstreams
            .server_streaming(&route.method, message, &edge.forwarded),
    )
    .await??
    .into_inner();
    let events = stream
        .map(|item| match item {
            Ok(message) => {
                let body = json::to_json(&message);
                let name = body
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("message")
                    .to_owned();
                (Event::default().event(name).data(body.to_string()), false)
            }
            Err(status) => (
                Event::default()
                    .event("error")
                    .data(ApiError::Status(status).body().to_string()),
                true,
            ),
        })
        // Stop after an error event.
        .scan(false, |ended, (event, is_error)| {
            let out = (!*ended).then_some(event);
            *ended = *ended || is_error;
            futures::future::ready(out)
        })
        .map(Ok::<_, Infallible>);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
