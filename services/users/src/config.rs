//! The users service's settings, filled once by the binary (or by tests).

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use fedimpute_common::{
    auth::{PublicKey, ServiceKeys, TokenSigner},
    crypto::Keyring,
    http::OutboundSettings,
    mail::SmtpSettings,
};

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
    pub tokens: TokenSettings,
    /// bcrypt cost of new password hashes (4..=31; 12 by default).
    pub bcrypt_cost: u32,
    /// How many password hashes may be computed at once (the rest queue);
    /// bounded so a burst of logins cannot take every blocking thread.
    pub hashing_concurrency: usize,
    pub throttle: ThrottleSettings,
    pub mail: MailSettings,
    /// The components whose service tokens are trusted (the Jobs component
    /// for the internal RPCs; the gateway for client metadata).
    pub services: ServiceKeys,
    /// Seals service credentials.
    pub keyring: Keyring,
    /// Where the registry is (service existence and credential verification).
    pub registry_url: String,
    /// Outbound calls to the imputation services (credential verification).
    pub outbound: OutboundSettings,
    pub bootstrap: Bootstrap,
    /// Audit entries older than this are deleted.
    pub audit_retention: Duration,
    /// Quotas of new accounts.
    pub default_monthly_job_limit: i32,
    pub default_storage_limit_bytes: i64,
}

/// Access and refresh tokens.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// Signs new access tokens.
    pub signer: Arc<TokenSigner>,
    /// Retired public keys, still published (tokens they signed may be live).
    pub previous_keys: Vec<PublicKey>,
    pub issuer: String,
    pub audience: String,
    /// Access-token lifetime (15 minutes by default).
    pub access_ttl: Duration,
    /// Refresh-token lifetime (30 days by default); each rotation restarts it.
    pub refresh_ttl: Duration,
    /// A session ends this long after sign-in however often it is
    /// refreshed (90 days by default).
    pub session_max_age: Duration,
    /// Password-reset token lifetime (1 hour).
    pub reset_ttl: Duration,
}

impl TokenSettings {
    /// The keys that verify this service's tokens, as published: the
    /// signing key first, then retired ones.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        let current = self.signer.public_key().clone();
        let retired = self
            .previous_keys
            .iter()
            .filter(|k| k.kid() != current.kid())
            .cloned();
        std::iter::once(current.clone()).chain(retired).collect()
    }
}

/// Failed-login throttling, per account and per client address.
#[derive(Clone, Debug)]
pub struct ThrottleSettings {
    /// Failures in `window` that lock an account.
    pub account_limit: u32,
    /// Failures in `window` that lock a client address.
    pub address_limit: u32,
    pub window: Duration,
    /// How long a lock lasts.
    pub lockout: Duration,
    /// Before the lock, each failure beyond the first two delays the answer
    /// by this much more (capped at 5 s).
    pub delay_step: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            account_limit: 5,
            address_limit: 20,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
            delay_step: Duration::from_millis(500),
        }
    }
}

/// Outgoing mail: an outbox table drained by a sender.
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// Unset: in development the messages are written to the log; in
    /// production they wait in the outbox until SMTP is configured.
    pub smtp: Option<SmtpSettings>,
    /// Unset with no SMTP: messages stay queued.
    pub log_when_no_smtp: bool,
    /// The From address.
    pub from: String,
    /// The web client's base URL, for links in mails
    /// (`<base>/reset-password?token=...`).
    pub public_url: String,
    /// How often the outbox is drained (it is also woken on each new mail).
    pub poll_interval: Duration,
    /// First retry delay after a failed send; doubles up to an hour.
    pub retry_base: Duration,
}

/// The first administrator, created on first start when there are no users.
#[derive(Clone)]
pub struct Bootstrap {
    /// The admin's password; unset: a random one is generated and written
    /// to `password_file` (mode 0600).
    pub admin_password: Option<String>,
    pub admin_username: String,
    pub admin_email: String,
    pub password_file: PathBuf,
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrap")
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<redacted>"),
            )
            .field("admin_username", &self.admin_username)
            .field("admin_email", &self.admin_email)
            .field("password_file", &self.password_file)
            .finish()
    }
}
