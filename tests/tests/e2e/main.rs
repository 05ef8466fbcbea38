//! The one end-to-end test binary.

mod common;
mod health;
mod logs;
mod panels;
mod platform;
mod services;
mod sync;
mod telemetry;
