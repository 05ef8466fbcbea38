//! The edge: what happens to every request before a handler sees it.
//! Request ids (accepted or generated, returned, in every log line of the
//! request), the real client address, identity headers from outside
//! stripped, the bearer token verified, rate limits, metrics, and an access
//! log that names the route template, never the raw path or query (a
//! signed link's token is in its path).

pub(crate) mod limits;
pub(crate) mod metrics;

use std::{net::SocketAddr, sync::Arc, time::Instant};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use fedimpute_common::auth::{CREDENTIAL_METHODS, TOKEN_FREE_METHODS};
use http::{HeaderMap, HeaderValue, header};
use tracing::Instrument;

use crate::{
    error::ApiError,
    routes::Miss,
    state::{Edge, Matched, Shared},
    upstream::{Forwarded, REQUEST_ID_HEADER},
};

/// How a request is served, by its content type and path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Grpc,
    GrpcWeb,
    Rest,
    /// Health, readiness, metrics, OpenAPI: no limits, no identity.
    Operations,
}

pub(crate) fn protocol_of(headers: &HeaderMap, path: &str) -> Protocol {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/grpc-web") {
        Protocol::GrpcWeb
    } else if content_type.starts_with("application/grpc") {
        Protocol::Grpc
    } else if matches!(
        path,
        "/health" | "/healthz" | "/readyz" | "/metrics" | "/api/openapi.json"
    ) {
        Protocol::Operations
    } else {
        Protocol::Rest
    }
}

/// Headers nobody outside may set: the services trust them from the
/// gateway only, and the original's `X-User-*` must not mean anything.
fn strip_identity_headers(headers: &mut HeaderMap) {
    let spoofable: Vec<_> = headers
        .keys()
        .filter(|name| {
            let n = name.as_str();
            n.starts_with("x-fedimpute-") || n.starts_with("x-user-") || n == "x-forwarded-user"
        })
        .cloned()
        .collect();
    for name in spoofable {
        headers.remove(&name);
    }
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The middleware itself.
pub(crate) async fn edge(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(request.headers());
    let protocol = protocol_of(request.headers(), request.uri().path());
    let method = request.method().clone();
    strip_identity_headers(request.headers_mut());
    let client = limits::client_addr(
        peer.ip(),
        request.headers(),
        &state.settings.trusted_proxies,
    );

    // What the request is for: the gRPC method (for tolerance and limits)
    // and the label metrics and logs use.
    let (grpc_path, label) = match protocol {
        Protocol::Grpc | Protocol::GrpcWeb => {
            let path = request.uri().path().to_owned();
            let label = if state.public_methods.contains(&path) || path.starts_with("/grpc.") {
                path.clone()
            } else {
                "grpc:unknown".to_owned()
            };
            (Some(path), label)
        }
        Protocol::Operations => (None, request.uri().path().to_owned()),
        Protocol::Rest => match state.routes.find(&method, request.uri().path()) {
            Ok((route, variables)) => {
                let matched = Matched {
                    route: route.clone(),
                    variables,
                };
                let path = route.grpc_path();
                let label = route.template.as_str().to_owned();
                request.extensions_mut().insert(matched);
                (Some(path), label)
            }
            Err(miss) => {
                let label = match &miss {
                    Miss::MethodNotAllowed(_) => "method-not-allowed",
                    Miss::NotFound => "not-found",
                };
                request.extensions_mut().insert(miss);
                (None, label.to_owned())
            }
        },
    };

    let span = tracing::info_span!(
        "request",
        request_id = %id,
        trace_id = tracing::field::Empty,
        otel.name = %format_args!("{method} {label}"),
        otel.kind = "server",
        method = %method,
        route = %label,
        client = %client,
        user = tracing::field::Empty,
    );
    // The caller's W3C trace continues here (REST, gRPC and grpc-web
    // alike); the upstream calls inject this span's context.
    fedimpute_common::grpc::set_parent_from_headers(&span, request.headers());
    fedimpute_common::telemetry::record_trace_id(&span);
    // Counted however the request ends: a client that goes away is
    // recorded with 499, as proxies log it.
    let mut measured = Measured {
        state: state.clone(),
        label: label.clone(),
        method: method.clone(),
        started,
        status: None,
    };
    let handled = async {
        let response = admit(
            &state,
            request.headers(),
            protocol,
            grpc_path.as_deref(),
            client,
        )
        .await;
        let response = match response {
            Err(error) => refusal(protocol, request.headers(), error),
            Ok(user) => {
                let agent = request
                    .headers()
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .chars()
                    .take(500)
                    .collect();
                let forwarded = Forwarded {
                    authorization: request.headers().get(header::AUTHORIZATION).cloned(),
                    client_addr: client.to_string(),
                    user_agent: agent,
                    request_id: id.clone(),
                };
                if let Some(user) = &user {
                    tracing::Span::current().record("user", user.sub.as_str());
                }
                request.extensions_mut().insert(Edge { forwarded });
                let _in_flight = InFlight::enter(&state.metrics.in_flight);
                next.run(request).await
            }
        };
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        if protocol != Protocol::Operations {
            tracing::info!(status, elapsed_ms = elapsed.as_millis() as u64, "served");
        }
        response
    }
    .instrument(span);
    let mut response = handled.await;
    measured.status = Some(response.status().as_u16());
    drop(measured);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// One request in flight, until dropped: a request whose client goes away
/// is dropped where it stands (an HTTP/2 reset cancels the handler), and
/// must leave the gauge all the same.
struct InFlight(prometheus_client::metrics::gauge::Gauge<i64, std::sync::atomic::AtomicI64>);

impl InFlight {
    fn enter(
        gauge: &prometheus_client::metrics::gauge::Gauge<i64, std::sync::atomic::AtomicI64>,
    ) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Records a request's count and latency when dropped.
struct Measured {
    state: Shared,
    label: String,
    method: http::Method,
    started: Instant,
    status: Option<u16>,
}

impl Drop for Measured {
    fn drop(&mut self) {
        let status = self.status.unwrap_or(499);
        record(&self.state, &self.label, &self.method, status, self.started);
    }
}

fn record(state: &Shared, label: &str, method: &http::Method, status: u16, started: Instant) {
    use metrics::{RequestLabels, RouteLabels};
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            route: label.to_owned(),
            method: method.to_string(),
            status,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels {
            route: label.to_owned(),
            method: method.to_string(),
        })
        .observe(started.elapsed().as_secs_f64());
}

/// Verifies the token and applies the rate limits: the verified caller, or
/// the refusal to send.
async fn admit(
    state: &Shared,
    headers: &HeaderMap,
    protocol: Protocol,
    grpc_path: Option<&str>,
    client: std::net::IpAddr,
) -> Result<Option<Arc<fedimpute_common::auth::Claims>>, ApiError> {
    if protocol == Protocol::Operations || grpc_path.is_some_and(|p| p.starts_with("/grpc.")) {
        return Ok(None);
    }
    let user = match bearer(headers) {
        None => None,
        Some(token) => match state.verifier.verify_fresh(token).await {
            Ok(claims) => Some(Arc::new(claims)),
            Err(e) => {
                let tolerant = grpc_path.is_some_and(|p| TOKEN_FREE_METHODS.contains(&p));
                if !tolerant {
                    let reason = e.to_string();
                    return Err(ApiError::Unauthenticated(
                        reason
                            .strip_prefix("invalid access token: ")
                            .unwrap_or(&reason)
                            .to_owned(),
                    ));
                }
                None
            }
        },
    };
    let credentials = grpc_path.is_some_and(|p| CREDENTIAL_METHODS.contains(&p));
    let user_id = user.as_ref().and_then(|c| c.sub.parse().ok());
    if let Err((bucket, retry_after)) = state.rate.check(client, user_id, credentials) {
        state
            .metrics
            .rate_limited
            .get_or_create(&metrics::BucketLabels {
                bucket: bucket.name().to_owned(),
            })
            .inc();
        tracing::warn!(bucket = bucket.name(), retry_after, "rate limited");
        return Err(ApiError::TooManyRequests { retry_after });
    }
    Ok(user)
}

/// A refusal in the request's own protocol.
pub(crate) fn refusal(protocol: Protocol, headers: &HeaderMap, error: ApiError) -> Response {
    match protocol {
        Protocol::Grpc | Protocol::GrpcWeb => {
            let retry = if let ApiError::TooManyRequests { retry_after } = &error {
                Some(*retry_after)
            } else {
                None
            };
            let status = tonic::Status::new(error.code(), error.to_string());
            let mut response = status.into_http::<axum::body::Body>().into_response();
            if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, content_type.clone());
            }
            if let Some(retry) = retry
                && let Ok(v) = HeaderValue::from_str(&retry.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        Protocol::Rest | Protocol::Operations => error.into_response(),
    }
}
