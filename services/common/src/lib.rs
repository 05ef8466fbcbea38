//! Runtime scaffolding shared by every fedimpute component: the pieces of
//! configuration they have in common, telemetry, shutdown, the gRPC server
//! scaffold (health, reflection, trace context), database connection, token
//! verification, secret encryption and the guarded outbound HTTP client.
//!
//! Nothing here knows the fedimpute protos: descriptor sets and services are
//! passed in by the service crates.

pub mod auth;
pub mod config;
pub mod crypto;
pub mod db;
pub mod grpc;
pub mod health;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod page;
pub mod shutdown;
pub mod status;
pub mod telemetry;
pub mod wire;
