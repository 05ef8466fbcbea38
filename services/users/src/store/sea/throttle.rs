//! Login throttling: failures per key in a window, and lockouts.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, sea_query::OnConflict,
};

use super::rows::throttle_state;
use crate::store::{StoreResult, ThrottleState, entity::login_throttle};

pub(super) async fn throttle(
    db: &DatabaseConnection,
    keys: &[String],
) -> StoreResult<Vec<(String, ThrottleState)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let found = login_throttle::Entity::find()
        .filter(login_throttle::Column::Key.is_in(keys.iter().map(String::as_str)))
        .all(db)
        .await?;
    Ok(found
        .into_iter()
        .map(|m| {
            let state = throttle_state(&m);
            (m.key, state)
        })
        .collect())
}

pub(super) async fn record_failure(
    db: &DatabaseConnection,
    key: &str,
    window: chrono::Duration,
    limit: u32,
    lockout: chrono::Duration,
) -> StoreResult<ThrottleState> {
    let now = Utc::now();
    let txn = fedimpute_common::db::begin_write(db).await?;
    // The write first: a fresh row unless there is one.
    login_throttle::Entity::insert(login_throttle::ActiveModel {
        key: Set(key.to_owned()),
        failures: Set(0),
        window_start: Set(now),
        locked_until: Set(None),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(login_throttle::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    // FOR UPDATE on PostgreSQL (SQLite holds its write lock already).
    let Some(row) = login_throttle::Entity::find_by_id(key)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Err(sea_orm::DbErr::RecordNotFound(format!("login_throttle {key}")).into());
    };
    let (failures, window_start, mut locked_until) = if now - row.window_start >= window {
        let still_locked = row.locked_until.filter(|until| *until > now);
        (1, now, still_locked)
    } else {
        (
            row.failures.saturating_add(1),
            row.window_start,
            row.locked_until,
        )
    };
    if i64::from(failures) >= i64::from(limit) {
        locked_until = Some(now + lockout);
    }
    let mut active: login_throttle::ActiveModel = row.into();
    active.failures = Set(failures);
    active.window_start = Set(window_start);
    active.locked_until = Set(locked_until);
    active.updated_at = Set(now);
    let saved = active.update(&txn).await?;
    txn.commit().await?;
    Ok(throttle_state(&saved))
}

pub(super) async fn clear_failures(db: &DatabaseConnection, key: &str) -> StoreResult<()> {
    login_throttle::Entity::delete_by_id(key).exec(db).await?;
    Ok(())
}
