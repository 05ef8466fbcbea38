//! The one end-to-end test binary.

mod authz;
mod common;
mod discovery;
mod health;
mod logs;
mod monitor;
mod otlp;
mod panels;
mod platform;
mod secrets;
mod services;
mod sync;
mod telemetry;
mod users_access;
mod users_auth;
mod users_platform;
mod validation;
