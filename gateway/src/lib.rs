//! The fedimpute gateway: the one port external callers reach. Native gRPC
//! is passed through to the owning service (with health and reflection
//! over all three services answered here), grpc-web is translated by
//! tonic-web onto the same pass-through, and everything else is REST,
//! transcoded from the `google.api.http` annotations of the descriptor set
//! read at start-up. The edge verifies tokens, strips identity headers from
//! outside, rate-limits and counts. See docs/gateway.md.

mod config;
mod edge;
mod error;
mod grpc;
mod json;
mod openapi;
mod ops;
mod rest;
mod routes;
mod startup;
mod state;
mod upstream;

pub use config::{RateSettings, Settings};
pub use startup::Application;
