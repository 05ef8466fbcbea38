//! The one end-to-end test binary.

mod common;
mod health;
mod panels;
mod platform;
mod services;
mod sync;
mod telemetry;
