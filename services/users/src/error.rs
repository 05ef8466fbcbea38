//! The users service's one error type and its one mapping to `tonic::Status`.

use std::time::Duration;

use fedimpute_common::{
    auth::AuthError,
    db::{UNSTORABLE_TEXT, unstorable_text},
    status::{FieldViolation, invalid_argument},
};
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `InvalidArgument`, with a BadRequest detail per field.
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    /// `Unauthenticated`.
    #[error(transparent)]
    Unauthenticated(AuthError),
    /// `Unauthenticated`: wrong username or password (one message for both).
    #[error("invalid username or password")]
    BadCredentials,
    /// `PermissionDenied`.
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// `ResourceExhausted`, with a RetryInfo delay when there is one.
    #[error("{message}")]
    Exhausted {
        message: String,
        retry_after: Option<Duration>,
    },
    /// `Unavailable`: a dependency (the registry, a remote service) is down.
    #[error("{0}")]
    Unavailable(String),
    /// `Internal`: logged, never shown.
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// `Internal`: logged, never shown.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }
}

impl From<Vec<FieldViolation>> for Error {
    fn from(violations: Vec<FieldViolation>) -> Self {
        Self::Invalid(violations)
    }
}

impl From<AuthError> for Error {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Forbidden(message) => Self::PermissionDenied(message),
            AuthError::Missing | AuthError::Invalid(_) => Self::Unauthenticated(err),
        }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(name) => Self::AlreadyExists(match name.as_str() {
                "users_username_key" => "this username is taken".to_owned(),
                "users_email_key" => "an account with this email exists".to_owned(),
                other => {
                    tracing::warn!(constraint = other, "unexpected unique violation");
                    "it already exists".to_owned()
                }
            }),
            StoreError::LastAdmin => Self::FailedPrecondition(
                "this would leave no active admin: grant admin to someone else first".into(),
            ),
            StoreError::Db(e) => Self::Db(e),
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(violations) => invalid_argument(&violations),
            Error::Unauthenticated(e) => Status::unauthenticated(e.to_string()),
            Error::BadCredentials => Status::unauthenticated(Error::BadCredentials.to_string()),
            Error::PermissionDenied(m) => Status::permission_denied(m),
            Error::NotFound(m) => Status::not_found(m),
            Error::AlreadyExists(m) => Status::already_exists(m),
            Error::FailedPrecondition(m) => Status::failed_precondition(m),
            Error::Exhausted {
                message,
                retry_after,
            } => match retry_after {
                Some(delay) => Status::with_error_details(
                    tonic::Code::ResourceExhausted,
                    message,
                    ErrorDetails::with_retry_info(Some(delay)),
                ),
                None => Status::resource_exhausted(message),
            },
            Error::Unavailable(m) => Status::unavailable(m),
            Error::Db(e) if unstorable_text(&e) => Status::invalid_argument(UNSTORABLE_TEXT),
            Error::Db(e) => {
                tracing::error!(error = %e, "users database error");
                Status::internal("internal error")
            }
            Error::Internal(e) => {
                tracing::error!(error = %e, "users internal error");
                Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn maps_every_variant_to_its_code() {
        let cases = [
            (Error::invalid("email", "bad"), Code::InvalidArgument),
            (Error::from(AuthError::Missing), Code::Unauthenticated),
            (Error::BadCredentials, Code::Unauthenticated),
            (Error::PermissionDenied("x".into()), Code::PermissionDenied),
            (Error::NotFound("x".into()), Code::NotFound),
            (Error::AlreadyExists("x".into()), Code::AlreadyExists),
            (
                Error::FailedPrecondition("x".into()),
                Code::FailedPrecondition,
            ),
            (
                Error::Exhausted {
                    message: "locked".into(),
                    retry_after: Some(Duration::from_secs(60)),
                },
                Code::ResourceExhausted,
            ),
            (Error::Unavailable("x".into()), Code::Unavailable),
            (Error::Internal("secret detail".into()), Code::Internal),
        ];
        for (err, code) in cases {
            let status = Status::from(err);
            assert_eq!(status.code(), code);
            assert!(!status.message().contains("secret detail"));
        }
    }

    #[test]
    fn lockouts_carry_the_retry_delay() {
        let status = Status::from(Error::Exhausted {
            message: "locked".into(),
            retry_after: Some(Duration::from_secs(90)),
        });
        let details = status.get_error_details();
        assert_eq!(
            details.retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(90))
        );
    }
}
