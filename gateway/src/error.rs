//! The gateway's one error type and its one mapping to HTTP: the JSON error
//! body of DESIGN.md (`detail`, `code`, `field_violations`) with the HTTP
//! status of the gRPC code. Internal causes are logged, never returned.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::json;
use tonic::Code;
use tonic_types::StatusExt;

use crate::json::Violation;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// An upstream service answered with an error.
    #[error("{}", .0.message())]
    Status(tonic::Status),
    #[error("{detail}")]
    BadRequest {
        detail: String,
        violations: Vec<Violation>,
    },
    #[error("no API route matches {0}")]
    NotFound(String),
    #[error("{method} is not allowed here")]
    MethodNotAllowed {
        method: Method,
        allowed: Vec<Method>,
    },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests: retry in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    #[error("invalid access token: {0}")]
    Unauthenticated(String),
    #[error("the upstream call took longer than {0:?}")]
    Timeout(std::time::Duration),
}

impl ApiError {
    pub(crate) fn field(violation: Violation) -> Self {
        Self::BadRequest {
            detail: format!(
                "invalid request: {}: {}",
                violation.field, violation.description
            ),
            violations: vec![violation],
        }
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            violations: Vec::new(),
        }
    }

    /// The gRPC code this error stands for.
    pub(crate) fn code(&self) -> Code {
        match self {
            Self::Status(status) => status.code(),
            Self::BadRequest { .. } => Code::InvalidArgument,
            Self::NotFound(_) => Code::NotFound,
            Self::MethodNotAllowed { .. } | Self::UnsupportedMediaType(_) => Code::Unimplemented,
            Self::PayloadTooLarge { .. } => Code::ResourceExhausted,
            Self::TooManyRequests { .. } => Code::ResourceExhausted,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::Timeout(_) => Code::DeadlineExceeded,
        }
    }

    fn http_status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Status(_)
            | Self::BadRequest { .. }
            | Self::NotFound(_)
            | Self::Unauthenticated(_) => http_status(self.code()),
        }
    }
}

/// The HTTP status of a gRPC code.
pub(crate) fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `NOT_FOUND`, `INVALID_ARGUMENT`... (the services' metrics use the same names).
pub(crate) use fedimpute_common::metrics::code_name;

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        Self::Status(status)
    }
}

impl From<Violation> for ApiError {
    fn from(v: Violation) -> Self {
        Self::field(v)
    }
}

impl ApiError {
    /// The JSON body of the error.
    pub(crate) fn body(&self) -> serde_json::Value {
        let code = self.code();
        let (detail, violations) = match self {
            Self::Status(status) => {
                let violations: Vec<Violation> = status
                    .get_details_bad_request()
                    .map(|bad| {
                        bad.field_violations
                            .into_iter()
                            .map(|v| Violation {
                                field: v.field,
                                description: v.description,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let internal = matches!(code, Code::Unknown | Code::Internal | Code::DataLoss);
                let detail = if internal {
                    tracing::error!(code = ?code, cause = %status.message(), "upstream internal error");
                    "internal error: the failure was logged".to_owned()
                } else {
                    status.message().to_owned()
                };
                (detail, violations)
            }
            Self::BadRequest { detail, violations } => (detail.clone(), violations.clone()),
            other @ (Self::NotFound(_)
            | Self::MethodNotAllowed { .. }
            | Self::PayloadTooLarge { .. }
            | Self::UnsupportedMediaType(_)
            | Self::TooManyRequests { .. }
            | Self::Unauthenticated(_)
            | Self::Timeout(_)) => (other.to_string(), Vec::new()),
        };
        json!({
            "detail": detail,
            "code": code_name(code),
            "field_violations": violations
                .iter()
                .map(|v| json!({"field": v.field, "description": v.description}))
                .collect::<Vec<_>>(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.http_status();
        let mut response = (status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::TooManyRequests { retry_after } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            Self::MethodNotAllowed { allowed, .. } => {
                let list = allowed
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                if let Ok(v) = HeaderValue::from_str(&list) {
                    headers.insert(header::ALLOW, v);
                }
            }
            Self::Unauthenticated(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Status(status) if status.code() == Code::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Status(_)
            | Self::BadRequest { .. }
            | Self::NotFound(_)
            | Self::PayloadTooLarge { .. }
            | Self::UnsupportedMediaType(_)
            | Self::Timeout(_) => {}
        }
        response
    }
}
