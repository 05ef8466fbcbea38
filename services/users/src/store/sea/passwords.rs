//! Passwords: changes and resets.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait as _},
};

use super::{accounts::lock_user, outbox::insert_mail, rows::user_record, sessions::revoke_all};
use crate::store::{
    NewMail, Rehash, Revoke, StoreResult, Time, UserRecord,
    entity::{password_resets, users},
};

pub(super) async fn set_password(
    db: &DatabaseConnection,
    id: i64,
    hash: &str,
    revoke: Option<Revoke<'_>>,
) -> StoreResult<bool> {
    let now = Utc::now();
    let txn = fedimpute_common::db::begin_write(db).await?;
    if !store_hash(&txn, id, hash, now).await? {
        return Ok(false);
    }
    if let Some(which) = revoke {
        revoke_all(&txn, id, &which, "password changed", now).await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// Sets a new password (hash and `password_changed_at`); false when there
/// is no such user.
pub(super) async fn store_hash(
    db: &impl ConnectionTrait,
    id: i64,
    hash: &str,
    now: Time,
) -> StoreResult<bool> {
    let model = users::ActiveModel {
        password_hash: Set(hash.to_owned()),
        password_changed_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    Ok(users::Entity::update_many()
        .set(model)
        .filter(users::Column::Id.eq(id))
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

/// One statement: the stamp, and the rehash only where the stored hash is
/// still the verified one (a password change meanwhile wins).
pub(super) async fn record_login(
    db: &DatabaseConnection,
    id: i64,
    rehash: Option<Rehash<'_>>,
) -> StoreResult<()> {
    let mut update = users::Entity::update_many()
        .col_expr(users::Column::LastLogin, Expr::value(Some(Utc::now())));
    if let Some(Rehash { verified, new }) = rehash {
        let hash = Expr::case(
            Expr::col(users::Column::PasswordHash).eq(verified),
            Expr::value(new),
        )
        .finally(Expr::col(users::Column::PasswordHash));
        update = update.col_expr(users::Column::PasswordHash, hash.into());
    }
    update.filter(users::Column::Id.eq(id)).exec(db).await?;
    Ok(())
}

pub(super) async fn create_reset(
    db: &DatabaseConnection,
    user_id: i64,
    token_hash: &str,
    expires_at: Time,
    mail: NewMail,
) -> StoreResult<()> {
    let now = Utc::now();
    let txn = fedimpute_common::db::begin_write(db).await?;
    // Earlier unused tokens stay valid until one is used (then all end):
    // a stranger asking for resets cannot void the link the owner holds.
    lock_user(&txn, user_id).await?;
    password_resets::ActiveModel {
        token_hash: Set(token_hash.to_owned()),
        user_id: Set(user_id),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    insert_mail(&txn, mail, now).await?;
    txn.commit().await?;
    Ok(())
}

pub(super) async fn reset_user(
    db: &DatabaseConnection,
    token_hash: &str,
) -> StoreResult<Option<UserRecord>> {
    let Some(reset) = password_resets::Entity::find_by_id(token_hash)
        .filter(password_resets::Column::UsedAt.is_null())
        .filter(password_resets::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(users::Entity::find_by_id(reset.user_id)
        .one(db)
        .await?
        .map(user_record))
}

pub(super) async fn consume_reset(
    db: &DatabaseConnection,
    token_hash: &str,
    new_hash: &str,
) -> StoreResult<Option<i64>> {
    let now = Utc::now();
    let txn = fedimpute_common::db::begin_write(db).await?;
    let spent = password_resets::Entity::update_many()
        .col_expr(password_resets::Column::UsedAt, Expr::value(Some(now)))
        .filter(password_resets::Column::TokenHash.eq(token_hash))
        .filter(password_resets::Column::UsedAt.is_null())
        .filter(password_resets::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?
        .rows_affected;
    if spent == 0 {
        return Ok(None);
    }
    let Some(reset) = password_resets::Entity::find_by_id(token_hash)
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    if !store_hash(&txn, reset.user_id, new_hash, now).await? {
        return Ok(None);
    }
    // Every other outstanding link of the user ends with this one.
    password_resets::Entity::update_many()
        .col_expr(password_resets::Column::UsedAt, Expr::value(Some(now)))
        .filter(password_resets::Column::UserId.eq(reset.user_id))
        .filter(password_resets::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    revoke_all(&txn, reset.user_id, &Revoke::All, "password reset", now).await?;
    txn.commit().await?;
    Ok(Some(reset.user_id))
}
