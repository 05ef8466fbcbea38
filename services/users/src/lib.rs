//! The Users service: accounts, sessions and tokens, roles, quotas, the
//! users' credentials for the external imputation services, the audit log
//! and outgoing mail (`fedimpute.users.v1`). See docs/users.md.

mod bootstrap;
pub mod config;
mod convert;
pub mod domain;
pub mod error;
mod grpc;
mod hashing;
mod mail;
pub mod ops;
mod remote;
pub mod startup;
pub mod store;
mod tokens;
mod users;

pub use config::Settings;
pub use startup::{Application, StartError};
