//! The users database: the [`UsersStore`] trait the service is written
//! against, and its sea-orm implementation (SQLite and PostgreSQL).
//!
//! Every method that must be atomic is one transaction inside the store;
//! those that check-and-write start with a write so SQLite takes its write
//! lock first (no deferred-transaction upgrade failures under load).

mod entity;
mod records;
mod sea;

use chrono::{DateTime, Utc};

pub use records::*;
pub use sea::SeaOrmStore;

pub type Time = DateTime<Utc>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint, by name (`users_username_key`, `users_email_key`...).
    #[error("unique constraint {0} violated")]
    Conflict(String),
    /// The change would leave the platform without an active admin.
    #[error("the last active admin cannot be removed")]
    LastAdmin,
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

pub type StoreResult<T> = Result<T, StoreError>;

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
    /// Spends `old_hash` and stores `new_hash` in the same session,
    /// atomically. The new token lives `lifetime.ttl`, but never past the
    /// session's `created_at + lifetime.max_age`; a session that old is
    /// refused (its user signs in again).
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        lifetime: RefreshLifetime,
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
    /// Queues a mail; false when its `dedupe_key` was queued before.
    async fn enqueue_mail(&self, mail: NewMail) -> StoreResult<bool>;
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
    /// Mail neither sent nor given up.
    async fn outbox_backlog(&self) -> StoreResult<u64>;
}
