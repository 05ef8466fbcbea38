//! The sea-orm implementation of [`UsersStore`], the same code on SQLite
//! and PostgreSQL. The methods live by topic in the submodules; this impl
//! only dispatches.

mod accounts;
mod audit;
mod credentials;
mod grants;
mod outbox;
mod passwords;
mod purge;
mod quotas;
mod rows;
mod sessions;
#[cfg(test)]
mod tests;
mod throttle;

use chrono::Utc;
use sea_orm::{DatabaseConnection, EntityTrait};

use super::{
    AuditFilter, AuditRecord, CredentialRecord, GrantRecord, NewAudit, NewCredential, NewGrant,
    NewMail, NewSession, NewUser, OutboxMail, RefreshLifetime, Rehash, Reserved, Revoke, Rotated,
    StoreResult, ThrottleState, Time, UserFilter, UserPatch, UserRecord, UsersStore, Verification,
    entity::users,
};

/// The users store on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
}

impl SeaOrmStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[tonic::async_trait]
impl UsersStore for SeaOrmStore {
    // Accounts.
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRecord> {
        accounts::create_user(&self.db, user).await
    }
    async fn user(&self, id: i64) -> StoreResult<Option<UserRecord>> {
        let found = users::Entity::find_by_id(id).one(&self.db).await?;
        Ok(found.map(rows::user_record))
    }
    async fn user_by_login(&self, key: &str) -> StoreResult<Option<UserRecord>> {
        accounts::user_by_login(&self.db, key).await
    }
    async fn user_by_email(&self, email_key: &str) -> StoreResult<Option<UserRecord>> {
        accounts::user_by_email(&self.db, email_key).await
    }
    async fn list_users(&self, filter: &UserFilter) -> StoreResult<Vec<UserRecord>> {
        accounts::list_users(&self.db, filter).await
    }
    async fn count_users(&self) -> StoreResult<u64> {
        accounts::count_users(&self.db).await
    }
    async fn active_admins(&self, now: Time) -> StoreResult<Vec<i64>> {
        grants::active_admins(&self.db, now).await
    }
    async fn update_user(&self, id: i64, patch: &UserPatch) -> StoreResult<Option<UserRecord>> {
        accounts::update_user(&self.db, id, patch).await
    }
    async fn delete_user(&self, id: i64) -> StoreResult<bool> {
        accounts::delete_user(&self.db, id).await
    }
    async fn set_password(
        &self,
        id: i64,
        hash: &str,
        revoke: Option<Revoke<'_>>,
    ) -> StoreResult<bool> {
        passwords::set_password(&self.db, id, hash, revoke).await
    }
    async fn record_login(&self, id: i64, rehash: Option<Rehash<'_>>) -> StoreResult<()> {
        passwords::record_login(&self.db, id, rehash).await
    }

    // Roles.
    async fn grants(&self, user_id: i64) -> StoreResult<Vec<GrantRecord>> {
        let grants = grants::grants_of(&self.db, &[user_id]).await?;
        Ok(grants.into_iter().map(|(_, g)| g).collect())
    }
    async fn grants_of(&self, user_ids: &[i64]) -> StoreResult<Vec<(i64, GrantRecord)>> {
        grants::grants_of(&self.db, user_ids).await
    }
    async fn set_grants(&self, user_id: i64, grants: &[NewGrant]) -> StoreResult<Vec<GrantRecord>> {
        grants::set_grants(&self.db, user_id, grants).await
    }

    // Sessions and refresh tokens.
    async fn create_session(&self, session: NewSession, verified_hash: &str) -> StoreResult<bool> {
        sessions::create_session(&self.db, session, verified_hash).await
    }
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        lifetime: RefreshLifetime,
    ) -> StoreResult<Rotated> {
        sessions::rotate_refresh(&self.db, old_hash, new_hash, lifetime).await
    }
    async fn session_live(&self, session_id: &str) -> StoreResult<bool> {
        sessions::session_live(&self.db, session_id).await
    }
    async fn revoke_session(
        &self,
        user_id: i64,
        session_id: &str,
        reason: &str,
    ) -> StoreResult<bool> {
        sessions::revoke_one(&self.db, Some(user_id), session_id, reason, Utc::now()).await
    }
    async fn session_of_token(&self, token_hash: &str) -> StoreResult<Option<(i64, String)>> {
        sessions::session_of_token(&self.db, token_hash).await
    }
    async fn revoke_sessions(
        &self,
        user_id: i64,
        which: Revoke<'_>,
        reason: &str,
    ) -> StoreResult<u64> {
        sessions::revoke_all(&self.db, user_id, &which, reason, Utc::now()).await
    }

    // Password resets.
    async fn create_reset(
        &self,
        user_id: i64,
        token_hash: &str,
        expires_at: Time,
        mail: NewMail,
    ) -> StoreResult<()> {
        passwords::create_reset(&self.db, user_id, token_hash, expires_at, mail).await
    }
    async fn reset_user(&self, token_hash: &str) -> StoreResult<Option<UserRecord>> {
        passwords::reset_user(&self.db, token_hash).await
    }
    async fn consume_reset(&self, token_hash: &str, new_hash: &str) -> StoreResult<Option<i64>> {
        passwords::consume_reset(&self.db, token_hash, new_hash).await
    }

    // Login throttling.
    async fn throttle(&self, keys: &[String]) -> StoreResult<Vec<(String, ThrottleState)>> {
        throttle::throttle(&self.db, keys).await
    }
    async fn record_failure(
        &self,
        key: &str,
        window: chrono::Duration,
        limit: u32,
        lockout: chrono::Duration,
    ) -> StoreResult<ThrottleState> {
        throttle::record_failure(&self.db, key, window, limit, lockout).await
    }
    async fn clear_failures(&self, key: &str) -> StoreResult<()> {
        throttle::clear_failures(&self.db, key).await
    }

    // Audit.
    async fn audit(&self, entry: NewAudit) -> StoreResult<()> {
        audit::audit(&self.db, entry).await
    }
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        audit::list_audit(&self.db, filter).await
    }
    async fn purge_audit(&self, before: Time) -> StoreResult<u64> {
        audit::purge_audit(&self.db, before).await
    }

    // Credentials.
    async fn put_credential(
        &self,
        credential: NewCredential,
    ) -> StoreResult<(CredentialRecord, bool)> {
        credentials::put_credential(&self.db, credential).await
    }
    async fn credential(
        &self,
        user_id: i64,
        service_id: i64,
    ) -> StoreResult<Option<CredentialRecord>> {
        credentials::credential(&self.db, user_id, service_id).await
    }
    async fn credentials(&self, user_id: i64) -> StoreResult<Vec<CredentialRecord>> {
        credentials::credentials(&self.db, user_id).await
    }
    async fn delete_credential(&self, user_id: i64, service_id: i64) -> StoreResult<bool> {
        credentials::delete_credential(&self.db, user_id, service_id).await
    }
    async fn record_verification(
        &self,
        user_id: i64,
        service_id: i64,
        sealed: &str,
        outcome: &Verification,
    ) -> StoreResult<Option<CredentialRecord>> {
        credentials::record_verification(&self.db, user_id, service_id, sealed, outcome).await
    }
    async fn touch_credential(&self, user_id: i64, service_id: i64) -> StoreResult<()> {
        credentials::touch_credential(&self.db, user_id, service_id).await
    }

    // Quotas.
    async fn usage(&self, user_id: i64, kind: &str, period: &str) -> StoreResult<i64> {
        quotas::usage(&self.db, user_id, kind, period).await
    }
    async fn reserve(
        &self,
        user_id: i64,
        kind: &str,
        period: &str,
        amount: i64,
        limit: i64,
        reservation_id: &str,
    ) -> StoreResult<Reserved> {
        quotas::reserve(
            &self.db,
            user_id,
            kind,
            period,
            amount,
            limit,
            reservation_id,
        )
        .await
    }
    async fn purge_expired(&self, before: Time) -> StoreResult<u64> {
        purge::purge_expired(&self.db, before).await
    }
    async fn release(&self, reservation_id: &str) -> StoreResult<bool> {
        quotas::release(&self.db, reservation_id).await
    }

    // Mail outbox.
    async fn enqueue_mail(&self, mail: NewMail) -> StoreResult<bool> {
        outbox::enqueue_mail(&self.db, mail).await
    }
    async fn due_mail(&self, limit: u64, lease: chrono::Duration) -> StoreResult<Vec<OutboxMail>> {
        outbox::due_mail(&self.db, limit, lease).await
    }
    async fn mail_sent(&self, id: i64) -> StoreResult<()> {
        outbox::mail_sent(&self.db, id).await
    }
    async fn mail_failed(&self, id: i64, error: &str, retry_at: Option<Time>) -> StoreResult<()> {
        outbox::mail_failed(&self.db, id, error, retry_at).await
    }
    async fn next_mail_due(&self) -> StoreResult<Option<Time>> {
        outbox::next_mail_due(&self.db).await
    }
    async fn outbox_backlog(&self) -> StoreResult<u64> {
        outbox::backlog(&self.db).await
    }
}
