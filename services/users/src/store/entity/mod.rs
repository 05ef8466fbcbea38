//! sea-orm entities of the users tables (see the migration crate, the one
//! truth for their names and columns).

pub(crate) mod audit_logs;
pub(crate) mod credentials;
pub(crate) mod login_throttle;
pub(crate) mod mail_outbox;
pub(crate) mod password_resets;
pub(crate) mod quota_reservations;
pub(crate) mod quota_usage;
pub(crate) mod refresh_tokens;
pub(crate) mod role_grants;
pub(crate) mod sessions;
pub(crate) mod users;
