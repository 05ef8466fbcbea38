//! The registry's one error type and its one mapping to `tonic::Status`.

use fedimpute_common::{
    auth::AuthError,
    db::{UNSTORABLE_TEXT, unstorable_text},
    status::{FieldViolation, invalid_argument},
};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `InvalidArgument`, with a BadRequest detail per field.
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    /// `Unauthenticated`.
    #[error(transparent)]
    Unauthenticated(AuthError),
    /// `PermissionDenied`.
    #[error("{0}")]
    PermissionDenied(String),
    /// `NotFound`.
    #[error("{0}")]
    NotFound(String),
    /// `AlreadyExists`.
    #[error("{0}")]
    AlreadyExists(String),
    /// `FailedPrecondition`: the request is valid but the state of the
    /// service does not allow it (no token to sync with, wrong api_type...).
    #[error("{0}")]
    FailedPrecondition(String),
    /// `Unavailable`: a remote service could not be reached.
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

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(violations) => invalid_argument(&violations),
            Error::Unauthenticated(e) => Status::unauthenticated(e.to_string()),
            Error::PermissionDenied(m) => Status::permission_denied(m),
            Error::NotFound(m) => Status::not_found(m),
            Error::AlreadyExists(m) => Status::already_exists(m),
            Error::FailedPrecondition(m) => Status::failed_precondition(m),
            Error::Unavailable(m) => Status::unavailable(m),
            Error::Db(e) if unstorable_text(&e) => Status::invalid_argument(UNSTORABLE_TEXT),
            Error::Db(e) => {
                tracing::error!(error = %e, "registry database error");
                Status::internal("internal error")
            }
            Error::Internal(e) => {
                tracing::error!(error = %e, "registry internal error");
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
            (
                Error::Invalid(vec![FieldViolation::new("name", "empty")]),
                Code::InvalidArgument,
            ),
            (Error::from(AuthError::Missing), Code::Unauthenticated),
            (
                Error::from(AuthError::Forbidden("no".into())),
                Code::PermissionDenied,
            ),
            (Error::NotFound("x".into()), Code::NotFound),
            (Error::AlreadyExists("x".into()), Code::AlreadyExists),
            (
                Error::FailedPrecondition("x".into()),
                Code::FailedPrecondition,
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
}
