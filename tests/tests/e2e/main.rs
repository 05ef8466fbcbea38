//! The one end-to-end test binary.

mod authz;
mod common;
mod discovery;
mod health;
mod jobs_cloudgene;
mod jobs_common;
mod jobs_credentials;
mod jobs_files;
mod logs;
mod monitor;
mod otlp;
mod panel_config;
mod panels;
mod platform;
mod secrets;
mod services;
mod sync;
mod telemetry;
mod users_admin;
mod users_auth;
mod users_credentials;
mod users_hardening;
mod users_matrix;
mod users_platform;
mod users_quotas;
mod validation;
