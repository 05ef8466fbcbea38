//! Quota usage and reservations.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait as _, OnConflict},
};

use crate::store::{
    Reserved, StoreResult,
    entity::{quota_reservations, quota_usage},
};

pub(super) async fn usage(
    db: &DatabaseConnection,
    user_id: i64,
    kind: &str,
    period: &str,
) -> StoreResult<i64> {
    Ok(
        quota_usage::Entity::find_by_id((user_id, kind.to_owned(), period.to_owned()))
            .one(db)
            .await?
            .map_or(0, |u| u.used),
    )
}

/// What an existing reservation with the same id means for a new request:
/// the same user, kind and amount is a retry; anything else is a mismatch.
fn existing(found: &quota_reservations::Model, user_id: i64, kind: &str, amount: i64) -> Reserved {
    if found.user_id == user_id && found.kind == kind && found.amount == amount {
        Reserved::Existing
    } else {
        Reserved::Mismatch
    }
}

pub(super) async fn reserve(
    db: &DatabaseConnection,
    user_id: i64,
    kind: &str,
    period: &str,
    amount: i64,
    limit: i64,
    reservation_id: &str,
) -> StoreResult<Reserved> {
    use quota_usage::Column;
    // Room left for the usage before this amount: `used <= headroom` is
    // `used + amount <= limit` without computing a sum that could overflow
    // (an error on PostgreSQL, a float on SQLite).
    let Some(headroom) = limit.checked_sub(amount).filter(|h| *h >= 0) else {
        // Can never fit: nothing is written, but a retry is still a retry.
        if let Some(found) = quota_reservations::Entity::find_by_id(reservation_id)
            .one(db)
            .await?
        {
            return Ok(existing(&found, user_id, kind, amount));
        }
        let used = usage(db, user_id, kind, period).await?;
        return Ok(Reserved::Exceeded { used });
    };
    let txn = fedimpute_common::db::begin_write(db).await?;
    let recorded = quota_reservations::Entity::insert(quota_reservations::ActiveModel {
        reservation_id: Set(reservation_id.to_owned()),
        user_id: Set(user_id),
        kind: Set(kind.to_owned()),
        period: Set(period.to_owned()),
        amount: Set(amount),
        created_at: Set(Utc::now()),
        released_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(quota_reservations::Column::ReservationId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if recorded == 0 {
        let Some(found) = quota_reservations::Entity::find_by_id(reservation_id)
            .one(&txn)
            .await?
        else {
            return Err(DbErr::RecordNotFound(format!("reservation {reservation_id}")).into());
        };
        return Ok(existing(&found, user_id, kind, amount));
    }
    quota_usage::Entity::insert(quota_usage::ActiveModel {
        user_id: Set(user_id),
        kind: Set(kind.to_owned()),
        period: Set(period.to_owned()),
        used: Set(0),
    })
    .on_conflict(
        OnConflict::columns([Column::UserId, Column::Kind, Column::Period])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let added = quota_usage::Entity::update_many()
        .col_expr(Column::Used, Expr::col(Column::Used).add(amount))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Kind.eq(kind))
        .filter(Column::Period.eq(period))
        .filter(Column::Used.lte(headroom))
        .exec(&txn)
        .await?
        .rows_affected;
    if added == 0 {
        let used = quota_usage::Entity::find_by_id((user_id, kind.to_owned(), period.to_owned()))
            .one(&txn)
            .await?
            .map_or(0, |u| u.used);
        // Rolls the reservation row back.
        txn.rollback().await?;
        return Ok(Reserved::Exceeded { used });
    }
    txn.commit().await?;
    Ok(Reserved::Created)
}

pub(super) async fn release(db: &DatabaseConnection, reservation_id: &str) -> StoreResult<bool> {
    use quota_usage::Column;
    let txn = fedimpute_common::db::begin_write(db).await?;
    let released = quota_reservations::Entity::update_many()
        .col_expr(
            quota_reservations::Column::ReleasedAt,
            Expr::value(Some(Utc::now())),
        )
        .filter(quota_reservations::Column::ReservationId.eq(reservation_id))
        .filter(quota_reservations::Column::ReleasedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if released == 0 {
        return Ok(false);
    }
    let Some(r) = quota_reservations::Entity::find_by_id(reservation_id)
        .one(&txn)
        .await?
    else {
        return Ok(false);
    };
    // Never below zero.
    let less = Expr::case(
        Expr::col(Column::Used).gte(r.amount),
        Expr::col(Column::Used).sub(r.amount),
    )
    .finally(0);
    quota_usage::Entity::update_many()
        .col_expr(Column::Used, less.into())
        .filter(Column::UserId.eq(r.user_id))
        .filter(Column::Kind.eq(r.kind.as_str()))
        .filter(Column::Period.eq(r.period.as_str()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(true)
}
