//! Role grants.

use chrono::Utc;
use fedimpute_common::auth::Role;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    sea_query::{Expr, SelectStatement},
};

use super::{
    accounts::lock_user,
    rows::{grant_record, role_to_str},
};
use crate::store::{
    GrantRecord, NewGrant, StoreError, StoreResult, Time,
    entity::{role_grants, users},
};

/// Ids of the users holding `role` in force (`unscoped`: with no service).
pub(super) fn holders(role: Role, unscoped: bool, now: Time) -> SelectStatement {
    let mut query = role_grants::Entity::find()
        .select_only()
        .column(role_grants::Column::UserId)
        .filter(role_grants::Column::Role.eq(role_to_str(role)))
        .filter(
            Condition::any()
                .add(role_grants::Column::ExpiresAt.is_null())
                .add(role_grants::Column::ExpiresAt.gt(now)),
        );
    if unscoped {
        query = query.filter(role_grants::Column::ServiceId.is_null());
    }
    query.into_query()
}

pub(super) async fn active_admins(db: &DatabaseConnection, now: Time) -> StoreResult<Vec<i64>> {
    Ok(users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::IsActive.eq(true))
        .filter(users::Column::Id.in_subquery(holders(Role::Admin, true, now)))
        .order_by_asc(users::Column::Id)
        .into_tuple::<i64>()
        .all(db)
        .await?)
}

/// Starts a transaction's work with a write that locks every active admin's
/// row, and returns how many there are: with [`admins_left`] after the
/// change, two admins demoting each other at once cannot both succeed.
pub(super) async fn lock_admins(txn: &impl ConnectionTrait, now: Time) -> StoreResult<u64> {
    Ok(users::Entity::update_many()
        .col_expr(users::Column::Id, Expr::col(users::Column::Id))
        .filter(users::Column::IsActive.eq(true))
        .filter(users::Column::Id.in_subquery(holders(Role::Admin, true, now)))
        .exec(txn)
        .await?
        .rows_affected)
}

/// `LastAdmin` when a change took the active admins from some to none.
pub(super) async fn admins_left(
    txn: &impl ConnectionTrait,
    before: u64,
    now: Time,
) -> StoreResult<()> {
    let after = users::Entity::find()
        .filter(users::Column::IsActive.eq(true))
        .filter(users::Column::Id.in_subquery(holders(Role::Admin, true, now)))
        .count(txn)
        .await?;
    if before > 0 && after == 0 {
        return Err(StoreError::LastAdmin);
    }
    Ok(())
}

pub(super) async fn insert_grants(
    db: &impl ConnectionTrait,
    user_id: i64,
    grants: &[NewGrant],
    now: Time,
) -> StoreResult<()> {
    for grant in grants {
        role_grants::ActiveModel {
            user_id: Set(user_id),
            role: Set(role_to_str(grant.role).to_owned()),
            service_id: Set(grant.service_id),
            expires_at: Set(grant.expires_at),
            granted_at: Set(now),
            granted_by: Set(grant.granted_by),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

pub(super) async fn grants_of(
    db: &impl ConnectionTrait,
    user_ids: &[i64],
) -> StoreResult<Vec<(i64, GrantRecord)>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = role_grants::Entity::find()
        .filter(role_grants::Column::UserId.is_in(user_ids.iter().copied()))
        .order_by_asc(role_grants::Column::UserId)
        .order_by_asc(role_grants::Column::Id)
        .all(db)
        .await?;
    found
        .into_iter()
        .map(|g| Ok((g.user_id, grant_record(g)?)))
        .collect()
}

pub(super) async fn set_grants(
    db: &DatabaseConnection,
    user_id: i64,
    grants: &[NewGrant],
) -> StoreResult<Vec<GrantRecord>> {
    let now = Utc::now();
    let txn = fedimpute_common::db::begin_write(db).await?;
    let admins = lock_admins(&txn, now).await?;
    // Concurrent replacements one after the other, not merged.
    lock_user(&txn, user_id).await?;
    role_grants::Entity::delete_many()
        .filter(role_grants::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    insert_grants(&txn, user_id, grants, now).await?;
    admins_left(&txn, admins, now).await?;
    let stored = grants_of(&txn, &[user_id]).await?;
    txn.commit().await?;
    Ok(stored.into_iter().map(|(_, g)| g).collect())
}
