//! The jobs service's settings, filled once by the binary (or by tests).

use std::{net::SocketAddr, time::Duration};

use fedimpute_common::{
    auth::{ServiceIdentity, ServiceKeys, Verifier},
    crypto::Keyring,
    http::OutboundSettings,
};

pub use crate::scheduler::SchedulerSettings;

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
    /// Verifies end users' access tokens.
    pub verifier: Verifier,
    /// The components whose service tokens are trusted (the gateway).
    pub services: ServiceKeys,
    /// This component's own identity, for its calls to users and registry.
    pub identity: ServiceIdentity,
    /// Seals results passwords and signs input links.
    pub keyring: Keyring,
    pub registry_url: String,
    pub users_url: String,
    /// `file:///dir` or `s3://bucket/prefix`.
    pub storage_url: String,
    /// The platform's public address: signed input links and mail links.
    pub public_url: String,
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: u64,
    /// How long a signed input link works.
    pub signed_url_ttl: Duration,
    /// Calls to the remote imputation services.
    pub outbound: OutboundSettings,
    /// Time allowed for a submission's upload, plus one second per MiB.
    pub submit_timeout: Duration,
    pub scheduler: SchedulerSettings,
    /// How often the notification outbox is drained.
    pub notify_interval: Duration,
    /// How often a watched job is read (changes made here are seen at once).
    pub watch_interval: Duration,
}

impl SchedulerSettings {
    /// Production defaults around a base poll interval.
    pub fn with_poll_interval(poll_interval: Duration, worker_id: String) -> Self {
        Self {
            enabled: true,
            worker_id,
            poll_interval,
            max_backoff: Duration::from_secs(300).max(poll_interval),
            lease: Duration::from_secs(120),
            concurrency: 64,
            per_service: 8,
            reconcile_after: (poll_interval * 2).max(Duration::from_secs(1)),
            credential_recheck: Duration::from_secs(300).max(poll_interval),
            copy_results: true,
            max_copy_attempts: 5,
        }
    }
}
