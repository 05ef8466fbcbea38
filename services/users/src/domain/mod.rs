//! Requests parsed into domain values (parse, don't validate).

pub mod account;
pub mod credential;
pub mod profile;
pub mod quota;

pub use credential::{CredentialSpec, CredentialType, SecretParts};
