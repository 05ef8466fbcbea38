//! The records the store reads and writes.

use fedimpute_common::auth::Role;

use super::Time;

/// Profile fields (stored on the user row).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileFields {
    pub institution: String,
    pub department: String,
    pub position: String,
    pub country: String,
    pub research_interests: String,
    pub phone: String,
    pub bio: String,
    pub preferred_language: String,
    pub time_zone: String,
    pub email_notifications: bool,
}

#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password_hash: String,
    pub is_active: bool,
    pub date_joined: Time,
    pub last_login: Option<Time>,
    pub password_changed_at: Time,
    pub profile: ProfileFields,
    pub monthly_job_limit: i32,
    pub storage_limit_bytes: i64,
    pub updated_at: Time,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    pub role: Role,
    pub service_id: Option<i64>,
    pub expires_at: Option<Time>,
    pub granted_at: Time,
    pub granted_by: Option<i64>,
}

impl GrantRecord {
    pub fn in_force(&self, now: Time) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// A grant to write: `granted_at` is the store's now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewGrant {
    pub role: Role,
    pub service_id: Option<i64>,
    pub expires_at: Option<Time>,
    pub granted_by: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password_hash: String,
    pub is_active: bool,
    pub profile: ProfileFields,
    pub monthly_job_limit: i32,
    pub storage_limit_bytes: i64,
    pub grants: Vec<NewGrant>,
}

/// Fields to change; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub is_active: Option<bool>,
    pub profile: ProfilePatch,
    pub monthly_job_limit: Option<i32>,
    pub storage_limit_bytes: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct ProfilePatch {
    pub institution: Option<String>,
    pub department: Option<String>,
    pub position: Option<String>,
    pub country: Option<String>,
    pub research_interests: Option<String>,
    pub phone: Option<String>,
    pub bio: Option<String>,
    pub preferred_language: Option<String>,
    pub time_zone: Option<String>,
    pub email_notifications: Option<bool>,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        let p = &self.profile;
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.is_active.is_none()
            && self.monthly_job_limit.is_none()
            && self.storage_limit_bytes.is_none()
            && p.institution.is_none()
            && p.department.is_none()
            && p.position.is_none()
            && p.country.is_none()
            && p.research_interests.is_none()
            && p.phone.is_none()
            && p.bio.is_none()
            && p.preferred_language.is_none()
            && p.time_zone.is_none()
            && p.email_notifications.is_none()
    }
}

/// A page of users, ordered by id.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Lower-cased; matched as a substring of `search_text`.
    pub q: Option<String>,
    pub is_active: Option<bool>,
    /// Users holding this role in any scope (expired grants do not count).
    pub role: Option<Role>,
    /// Only ids greater than this.
    pub after_id: i64,
    pub limit: u64,
}

/// A new session with its first refresh token.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: String,
    pub user_id: i64,
    pub ip_address: String,
    pub user_agent: String,
    pub token_hash: String,
    pub expires_at: Time,
}

/// What spending a refresh token did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotated {
    /// Spent; the new token is stored in the same session.
    Ok { user_id: i64, session_id: String },
    /// The token was already spent: its session is now revoked.
    Reused { user_id: i64, session_id: String },
    /// Unknown, expired, or its session revoked or its user inactive.
    Refused,
}

/// Replacing a verified hash by a new one.
#[derive(Clone, Copy, Debug)]
pub struct Rehash<'a> {
    pub verified: &'a str,
    pub new: &'a str,
}

/// How long refresh tokens and their sessions live.
#[derive(Clone, Copy, Debug)]
pub struct RefreshLifetime {
    /// Each new refresh token.
    pub ttl: chrono::Duration,
    /// The session, from its creation, however often it is refreshed.
    pub max_age: chrono::Duration,
}

/// Which sessions to revoke.
#[derive(Clone, Debug)]
pub enum Revoke<'a> {
    All,
    AllExcept(&'a str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottleState {
    pub failures: u32,
    pub window_start: Time,
    pub locked_until: Option<Time>,
}

#[derive(Clone, Debug)]
pub struct NewAudit {
    pub user_id: Option<i64>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub details: String,
    pub ip_address: String,
    pub user_agent: String,
}

#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub id: i64,
    pub user_id: Option<i64>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub details: String,
    pub ip_address: String,
    pub user_agent: String,
    pub timestamp: Time,
}

/// Newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub user_id: Option<i64>,
    pub action: Option<String>,
    pub start: Option<Time>,
    pub end: Option<Time>,
    /// Only ids lower than this.
    pub before_id: Option<i64>,
    pub limit: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRecord {
    pub user_id: i64,
    pub service_id: i64,
    pub credential_type: String,
    pub label: String,
    pub hint: String,
    pub has_api_token: bool,
    pub has_oauth_token: bool,
    pub has_basic_auth: bool,
    /// Sealed secret parts (AES-256-GCM).
    pub sealed: String,
    pub expires_at: Option<Time>,
    pub is_verified: bool,
    pub last_verified_at: Option<Time>,
    pub verification_error: String,
    pub last_used_at: Option<Time>,
    pub created_at: Time,
    pub updated_at: Time,
}

/// A credential to store (replacing the pair's previous one, if any; the
/// verification state is reset).
#[derive(Clone, Debug)]
pub struct NewCredential {
    pub user_id: i64,
    pub service_id: i64,
    pub credential_type: String,
    pub label: String,
    pub hint: String,
    pub has_api_token: bool,
    pub has_oauth_token: bool,
    pub has_basic_auth: bool,
    pub sealed: String,
    pub expires_at: Option<Time>,
}

/// The outcome of a remote verification.
#[derive(Clone, Debug)]
pub struct Verification {
    pub verified: bool,
    pub error: String,
    /// Replaces the stored expiry when the remote said.
    pub expires_at: Option<Time>,
}

/// Quota kinds as stored.
pub const JOBS: &str = "jobs";
pub const STORAGE: &str = "storage";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reserved {
    Created,
    /// This reservation id exists already for the same user, kind and
    /// amount; nothing changed.
    Existing,
    /// This reservation id exists for another user, kind or amount.
    Mismatch,
    /// `used + amount` would exceed `limit`; nothing changed.
    Exceeded {
        used: i64,
    },
}

#[derive(Clone, Debug)]
pub struct NewMail {
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// An idempotency key: a second mail with the same key is not queued.
    pub dedupe_key: Option<String>,
}

#[derive(Clone, Debug)]
pub struct OutboxMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
}
