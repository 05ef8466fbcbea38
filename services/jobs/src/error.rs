//! The jobs service's one error type and its one mapping to `tonic::Status`.

use fedimpute_common::{
    auth::AuthError,
    db::{UNSTORABLE_TEXT, unstorable_text},
    status::{FieldViolation, invalid_argument},
};
use tonic::Status;

use crate::{
    files::{storage::StorageError, upload::UploadError},
    store::StoreError,
};

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// `InvalidArgument`, with a BadRequest detail per field.
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    /// `Unauthenticated`.
    #[error(transparent)]
    Unauthenticated(AuthError),
    /// `PermissionDenied`.
    #[error("{0}")]
    PermissionDenied(String),
    /// `NotFound`: also what another user's job or file is.
    #[error("{0}")]
    NotFound(String),
    /// `FailedPrecondition`: the request is fine, the state is not (a
    /// service that is inactive, a job still running...).
    #[error("{0}")]
    FailedPrecondition(String),
    /// `ResourceExhausted`: a quota.
    #[error("{0}")]
    Exhausted(String),
    /// `Unavailable`: a component or the file store is down.
    #[error("{0}")]
    Unavailable(String),
    /// `InvalidArgument`: text the database cannot store (NUL, on
    /// PostgreSQL), so the request's fault.
    #[error("text the database cannot store")]
    UnstorableText,
    /// `Internal`: logged, never shown.
    #[error("{0}")]
    Internal(String),
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(field: &str, description: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }
}

impl Error {
    /// Names the quota a `ResourceExhausted` is about.
    pub(crate) fn quota(self, which: &str) -> Self {
        if let Self::Exhausted(m) = self {
            Self::Exhausted(format!("{which}: {m}"))
        } else {
            self
        }
    }

    /// A `NotFound` about a request field becomes an invalid field.
    pub(crate) fn on_field(self, field: &str) -> Self {
        if let Self::NotFound(m) = self {
            Self::invalid(field, m)
        } else {
            self
        }
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
            StoreError::InUse => {
                Self::FailedPrecondition("a job still uses this file: delete the job first".into())
            }
            StoreError::Corrupt(e) => Self::Internal(format!("jobs database: {e}")),
            StoreError::Db(e) if unstorable_text(&e) => Self::UnstorableText,
            StoreError::Db(e) => Self::Internal(format!("jobs database: {e}")),
        }
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::from(StoreError::Db(err))
    }
}

impl From<StorageError> for Error {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound => {
                Self::Internal("an object is missing from the file store".into())
            }
            StorageError::Config { .. } | StorageError::Store(_) => {
                Self::Unavailable(format!("the file store cannot be used: {err}"))
            }
        }
    }
}

impl From<UploadError> for Error {
    fn from(err: UploadError) -> Self {
        match err {
            UploadError::Refused(message) => Self::invalid("file", message),
            UploadError::TooLarge { limit } => Self::invalid(
                "file",
                format!("the file is larger than the limit of {limit} bytes"),
            ),
            UploadError::Interrupted(message) => {
                Self::invalid("file", format!("the upload was interrupted: {message}"))
            }
            UploadError::Storage(e) => Self::from(e),
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
            Error::FailedPrecondition(m) => Status::failed_precondition(m),
            Error::Exhausted(m) => Status::resource_exhausted(m),
            Error::Unavailable(m) => {
                tracing::warn!(error = %m, "a dependency is unavailable");
                Status::unavailable(m)
            }
            Error::UnstorableText => Status::invalid_argument(UNSTORABLE_TEXT),
            Error::Internal(e) => {
                tracing::error!(error = %e, "jobs internal error");
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
            (Error::invalid("name", "required"), Code::InvalidArgument),
            (Error::from(AuthError::Missing), Code::Unauthenticated),
            (Error::PermissionDenied("x".into()), Code::PermissionDenied),
            (Error::NotFound("x".into()), Code::NotFound),
            (
                Error::FailedPrecondition("x".into()),
                Code::FailedPrecondition,
            ),
            (Error::Exhausted("x".into()), Code::ResourceExhausted),
            (Error::Unavailable("x".into()), Code::Unavailable),
            (Error::Internal("secret detail".into()), Code::Internal),
            (Error::from(StoreError::InUse), Code::FailedPrecondition),
        ];
        for (err, code) in cases {
            let status = Status::from(err);
            assert_eq!(status.code(), code);
            assert!(!status.message().contains("secret detail"));
        }
    }
}
