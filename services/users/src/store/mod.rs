//! The users database: the [`UsersStore`] trait the service is written
//! against, and its sea-orm implementation (SQLite and PostgreSQL).
//!
//! Every method that must be atomic is one transaction inside the store;
//! those that check-and-write start with a write so SQLite takes its write
//! lock first (no deferred-transaction upgrade failures under load).

mod entity;
mod sea;

use chrono::{DateTime, Utc};
use fedimpute_common::auth::Role;

pub use sea::SeaOrmStore;

pub type Time = DateTime<Utc>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint, by name (`users_username_key`, `users_email_key`...).
    #[error("unique constraint {0} violated")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

pub type StoreResult<T> = Result<T, StoreError>;

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
}

#[derive(Clone, Debug)]
pub struct OutboxMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
}

/// The users database.
#[tonic::async_trait]
pub trait UsersStore: Send + Sync + std::fmt::Debug {
    // Accounts.
    /// Inserts the user with its grants; `Conflict` on a taken username or email.
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRecord>;
    async fn user(&self, id: i64) -> StoreResult<Option<UserRecord>>;
    /// By lower-cased username or email.
    async fn user_by_login(&self, key: &str) -> StoreResult<Option<UserRecord>>;
    /// By lower-cased email.
    async fn user_by_email(&self, email_key: &str) -> StoreResult<Option<UserRecord>>;
    async fn list_users(&self, filter: &UserFilter) -> StoreResult<Vec<UserRecord>>;
    async fn count_users(&self) -> StoreResult<u64>;
    /// Active users holding an unscoped admin grant in force.
    async fn active_admins(&self, now: Time) -> StoreResult<Vec<i64>>;
    /// `None` when there is no such user; `Conflict` on a taken email.
    /// Deactivating also revokes every session, in the same transaction.
    async fn update_user(&self, id: i64, patch: &UserPatch) -> StoreResult<Option<UserRecord>>;
    async fn delete_user(&self, id: i64) -> StoreResult<bool>;
    /// Sets the hash and revokes sessions as told, in one transaction.
    async fn set_password(
        &self,
        id: i64,
        hash: &str,
        revoke: Option<Revoke<'_>>,
    ) -> StoreResult<bool>;
    /// Stamps `last_login`, and replaces the hash when a rehash is given,
    /// only if the stored hash is still the one verified (a password change
    /// meanwhile wins).
    async fn record_login(&self, id: i64, rehash: Option<Rehash<'_>>) -> StoreResult<()>;

    // Roles.
    async fn grants(&self, user_id: i64) -> StoreResult<Vec<GrantRecord>>;
    async fn grants_of(&self, user_ids: &[i64]) -> StoreResult<Vec<(i64, GrantRecord)>>;
    /// Replaces the user's grants.
    async fn set_grants(&self, user_id: i64, grants: &[NewGrant]) -> StoreResult<Vec<GrantRecord>>;

    // Sessions and refresh tokens (stored as hashes).
    /// Creates the session only if the user is active and their hash is
    /// still `verified_hash` (or its rehash): a login racing a deactivation
    /// or a password change gets no session. False when refused.
    async fn create_session(&self, session: NewSession, verified_hash: &str) -> StoreResult<bool>;
    /// Spends `old_hash` and stores `new_hash` in the same session, atomically.
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_expires_at: Time,
    ) -> StoreResult<Rotated>;
    /// Whether the session exists and is not revoked.
    async fn session_live(&self, session_id: &str) -> StoreResult<bool>;
    /// Revokes one session of `user_id`; false when it is not theirs or gone.
    async fn revoke_session(
        &self,
        user_id: i64,
        session_id: &str,
        reason: &str,
    ) -> StoreResult<bool>;
    /// The session a refresh token belongs to: `(user_id, session_id)`.
    async fn session_of_token(&self, token_hash: &str) -> StoreResult<Option<(i64, String)>>;
    async fn revoke_sessions(
        &self,
        user_id: i64,
        which: Revoke<'_>,
        reason: &str,
    ) -> StoreResult<u64>;

    // Password resets.
    /// Stores the token (earlier unused ones stay valid) and queues
    /// the mail, in one transaction.
    async fn create_reset(
        &self,
        user_id: i64,
        token_hash: &str,
        expires_at: Time,
        mail: NewMail,
    ) -> StoreResult<()>;
    /// The user of an unused, unexpired reset token.
    async fn reset_user(&self, token_hash: &str) -> StoreResult<Option<UserRecord>>;
    /// Spends the token (and every other outstanding one of the user), sets
    /// the hash and revokes every session, in one transaction; `None` when the token was spent or expired meanwhile.
    async fn consume_reset(&self, token_hash: &str, new_hash: &str) -> StoreResult<Option<i64>>;

    // Login throttling.
    async fn throttle(&self, keys: &[String]) -> StoreResult<Vec<(String, ThrottleState)>>;
    /// Counts a failure (a new window when the last one ended); locks the
    /// key for `lockout` when the count reaches `limit`.
    async fn record_failure(
        &self,
        key: &str,
        window: chrono::Duration,
        limit: u32,
        lockout: chrono::Duration,
    ) -> StoreResult<ThrottleState>;
    async fn clear_failures(&self, key: &str) -> StoreResult<()>;

    // Audit.
    async fn audit(&self, entry: NewAudit) -> StoreResult<()>;
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    async fn purge_audit(&self, before: Time) -> StoreResult<u64>;

    // Credentials.
    /// Upsert on (user, service); true when it was created.
    async fn put_credential(
        &self,
        credential: NewCredential,
    ) -> StoreResult<(CredentialRecord, bool)>;
    async fn credential(
        &self,
        user_id: i64,
        service_id: i64,
    ) -> StoreResult<Option<CredentialRecord>>;
    /// Newest first (by `updated_at`, then service id).
    async fn credentials(&self, user_id: i64) -> StoreResult<Vec<CredentialRecord>>;
    async fn delete_credential(&self, user_id: i64, service_id: i64) -> StoreResult<bool>;
    /// Records a verification outcome, unless the credential was replaced
    /// since `sealed` was read (then `None`).
    async fn record_verification(
        &self,
        user_id: i64,
        service_id: i64,
        sealed: &str,
        outcome: &Verification,
    ) -> StoreResult<Option<CredentialRecord>>;
    async fn touch_credential(&self, user_id: i64, service_id: i64) -> StoreResult<()>;

    // Quotas.
    /// Used amount of `kind` in `period` (0 when none).
    async fn usage(&self, user_id: i64, kind: &str, period: &str) -> StoreResult<i64>;
    /// Atomically: records the reservation and adds `amount` to the usage
    /// if it stays within `limit`.
    async fn reserve(
        &self,
        user_id: i64,
        kind: &str,
        period: &str,
        amount: i64,
        limit: i64,
        reservation_id: &str,
    ) -> StoreResult<Reserved>;
    /// Deletes what has outlived its use: sessions expired or revoked before
    /// `before` (with their refresh tokens), reset tokens expired before it,
    /// throttle rows whose window and lock ended before it, and mail sent or
    /// failed before it. Returns the rows deleted.
    async fn purge_expired(&self, before: Time) -> StoreResult<u64>;
    /// Gives a reservation back (to the period it was taken in); false when
    /// unknown or already released.
    async fn release(&self, reservation_id: &str) -> StoreResult<bool>;

    // Mail outbox.
    async fn enqueue_mail(&self, mail: NewMail) -> StoreResult<()>;
    /// Claims unsent mail whose next attempt is due, oldest first: each is
    /// leased for `lease` (its next attempt moved ahead), so concurrent
    /// senders never take the same mail.
    async fn due_mail(&self, limit: u64, lease: chrono::Duration) -> StoreResult<Vec<OutboxMail>>;
    /// Marks the mail sent and blanks its body (it may hold a reset link).
    async fn mail_sent(&self, id: i64) -> StoreResult<()>;
    /// Records a failed attempt; `retry_at: None` gives up (permanent failure).
    async fn mail_failed(&self, id: i64, error: &str, retry_at: Option<Time>) -> StoreResult<()>;
    /// When the next unsent mail is due, if any.
    async fn next_mail_due(&self) -> StoreResult<Option<Time>>;
}
