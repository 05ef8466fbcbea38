//! The Registry service: the imputation services of the network, their
//! reference panels and their live health (`fedimpute.registry.v1`).

pub mod config;
mod convert;
pub mod discover;
pub mod domain;
pub mod error;
mod grpc;
pub mod health;
mod registry;
mod secrets;
pub mod startup;
pub mod store;
pub mod sync;

pub use config::Settings;
pub use startup::{Application, StartError};
