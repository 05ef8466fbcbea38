//! Sessions and their refresh tokens (stored as hashes).

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr,
};

use super::accounts::lock_user;
use crate::store::{
    NewSession, RefreshLifetime, Revoke, Rotated, StoreError, StoreResult, Time,
    entity::{refresh_tokens, sessions, users},
};

/// Inserts the session and its first token only if the user is active and
/// still has `verified_hash`; false (nothing written) otherwise.
pub(super) async fn create_session(
    db: &DatabaseConnection,
    s: NewSession,
    verified_hash: &str,
) -> StoreResult<bool> {
    let now = Utc::now();
    let txn = fedimpute_common::db::begin_write(db).await?;
    // The write first (see the module doc of `store`): it locks the user
    // row, so a racing deactivation or password change commits either
    // before the read below (and the session is refused) or after this
    // transaction (and sees the session).
    match lock_user(&txn, s.user_id).await {
        Ok(()) => {}
        Err(StoreError::Db(DbErr::RecordNotFound(_))) => return Ok(false),
        Err(err) => return Err(err),
    }
    let allowed = users::Entity::find_by_id(s.user_id)
        .one(&txn)
        .await?
        .is_some_and(|u| u.is_active && u.password_hash == verified_hash);
    if !allowed {
        return Ok(false);
    }
    sessions::ActiveModel {
        id: Set(s.id.clone()),
        user_id: Set(s.user_id),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(s.expires_at),
        revoked_at: Set(None),
        revoked_reason: Set(String::new()),
        ip_address: Set(s.ip_address),
        user_agent: Set(s.user_agent),
    }
    .insert(&txn)
    .await?;
    refresh_tokens::ActiveModel {
        token_hash: Set(s.token_hash),
        session_id: Set(s.id),
        user_id: Set(s.user_id),
        issued_at: Set(now),
        expires_at: Set(s.expires_at),
        used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(true)
}

pub(super) async fn rotate_refresh(
    db: &DatabaseConnection,
    old_hash: &str,
    new_hash: &str,
    lifetime: RefreshLifetime,
) -> StoreResult<Rotated> {
    let now = Utc::now();
    let txn = fedimpute_common::db::begin_write(db).await?;
    // Spending comes first: the write lock at once, and only one of two
    // concurrent rotations of the same token wins.
    let spent = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(Some(now)))
        .filter(refresh_tokens::Column::TokenHash.eq(old_hash))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .filter(refresh_tokens::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    let Some(token) = refresh_tokens::Entity::find_by_id(old_hash)
        .one(&txn)
        .await?
    else {
        return Ok(Rotated::Refused);
    };
    if !spent {
        if token.expires_at <= now || token.used_at.is_none() {
            return Ok(Rotated::Refused);
        }
        // A spent token again: assume theft, end the whole session.
        revoke_one(&txn, None, &token.session_id, "refresh token reused", now).await?;
        txn.commit().await?;
        return Ok(Rotated::Reused {
            user_id: token.user_id,
            session_id: token.session_id,
        });
    }
    let session = sessions::Entity::find_by_id(token.session_id.as_str())
        .one(&txn)
        .await?;
    let deadline = session
        .as_ref()
        .map_or(now, |s| s.created_at + lifetime.max_age);
    let session_ok =
        session.is_some_and(|s| s.revoked_at.is_none() && s.expires_at > now && deadline > now);
    let new_expires_at = (now + lifetime.ttl).min(deadline);
    let user_ok = users::Entity::find_by_id(token.user_id)
        .one(&txn)
        .await?
        .is_some_and(|u| u.is_active);
    if !(session_ok && user_ok) {
        // The token stays spent.
        txn.commit().await?;
        return Ok(Rotated::Refused);
    }
    refresh_tokens::ActiveModel {
        token_hash: Set(new_hash.to_owned()),
        session_id: Set(token.session_id.clone()),
        user_id: Set(token.user_id),
        issued_at: Set(now),
        expires_at: Set(new_expires_at),
        used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    sessions::Entity::update_many()
        .col_expr(sessions::Column::LastUsedAt, Expr::value(now))
        .col_expr(sessions::Column::ExpiresAt, Expr::value(new_expires_at))
        .filter(sessions::Column::Id.eq(token.session_id.as_str()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Rotated::Ok {
        user_id: token.user_id,
        session_id: token.session_id,
    })
}

pub(super) async fn session_live(db: &DatabaseConnection, session_id: &str) -> StoreResult<bool> {
    Ok(sessions::Entity::find()
        .filter(sessions::Column::Id.eq(session_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .count(db)
        .await?
        > 0)
}

/// Revokes the session unless it is revoked already (and, with a user,
/// unless it is someone else's); true when it was revoked now.
pub(super) async fn revoke_one(
    db: &impl ConnectionTrait,
    user_id: Option<i64>,
    session_id: &str,
    reason: &str,
    now: Time,
) -> StoreResult<bool> {
    let mut update = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Some(now)))
        .col_expr(sessions::Column::RevokedReason, Expr::value(reason))
        .filter(sessions::Column::Id.eq(session_id))
        .filter(sessions::Column::RevokedAt.is_null());
    if let Some(user_id) = user_id {
        update = update.filter(sessions::Column::UserId.eq(user_id));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Revokes the user's sessions not revoked yet; how many it revoked.
pub(super) async fn revoke_all(
    db: &impl ConnectionTrait,
    user_id: i64,
    which: &Revoke<'_>,
    reason: &str,
    now: Time,
) -> StoreResult<u64> {
    let mut update = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Some(now)))
        .col_expr(sessions::Column::RevokedReason, Expr::value(reason))
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null());
    match which {
        Revoke::All => {}
        Revoke::AllExcept(keep) => update = update.filter(sessions::Column::Id.ne(*keep)),
    }
    Ok(update.exec(db).await?.rows_affected)
}

pub(super) async fn session_of_token(
    db: &DatabaseConnection,
    token_hash: &str,
) -> StoreResult<Option<(i64, String)>> {
    Ok(refresh_tokens::Entity::find_by_id(token_hash)
        .one(db)
        .await?
        .map(|t| (t.user_id, t.session_id)))
}
