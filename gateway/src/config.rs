//! The gateway's settings, built once by the binary from flags and the
//! environment.

use std::{net::SocketAddr, time::Duration};

use fedimpute_common::auth::{ServiceIdentity, Verifier};
use ipnet::IpNet;

/// Requests per minute for each rate-limit bucket.
#[derive(Clone, Copy, Debug)]
pub struct RateSettings {
    /// Per client address, every route but operations.
    pub per_client: u32,
    /// Per signed-in user.
    pub per_user: u32,
    /// Per client address on login, registration and password reset.
    pub credentials: u32,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub addr: SocketAddr,
    pub registry_url: String,
    pub users_url: String,
    pub jobs_url: String,
    pub verifier: Verifier,
    /// The gateway's own identity, proving forwarded metadata to the services.
    pub identity: ServiceIdentity,
    /// Origins allowed cross-origin (empty: none).
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub rate: RateSettings,
    /// Largest JSON or form body read into memory.
    pub max_body_bytes: usize,
    /// Unary calls, and the start of a download or event stream.
    pub request_timeout: Duration,
    /// Uploads (multipart or raw), end to end.
    pub upload_timeout: Duration,
    /// How long in-flight requests may finish after shutdown begins.
    pub grace: Duration,
}
