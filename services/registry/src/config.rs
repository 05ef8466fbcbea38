//! The registry's settings, filled once by the binary (or by tests).

use std::{net::SocketAddr, time::Duration};

use fedimpute_common::{
    auth::{ServiceKeys, Verifier},
    crypto::Keyring,
    http::OutboundSettings,
};

use crate::health::HealthSettings;

#[derive(Clone, Debug)]
pub struct Settings {
    /// gRPC listen address (port 0 picks one).
    pub addr: SocketAddr,
    pub database_url: String,
    pub max_connections: u32,
    /// Apply pending migrations at start.
    pub migrate: bool,
    /// How long in-flight calls may take to finish on shutdown.
    pub grace: Duration,
    pub health: HealthSettings,
    /// Outbound calls to registered services (probes, panel sync).
    pub outbound: OutboundSettings,
    /// A manual health check this soon after the last probe returns it.
    pub min_check_interval: Duration,
    /// Verifies callers' access tokens.
    pub verifier: Verifier,
    /// The components whose service tokens are trusted.
    pub services: ServiceKeys,
    /// Seals service-level secrets.
    pub keyring: Keyring,
}
