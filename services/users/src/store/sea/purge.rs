//! Purging what has outlived its use.

use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, sea_query::Query,
};

use crate::store::{
    StoreResult, Time,
    entity::{login_throttle, mail_outbox, password_resets, refresh_tokens, sessions},
};

/// Deletes, in one transaction: refresh tokens expired before `before`;
/// sessions expired or revoked before it, with all their refresh tokens;
/// reset tokens expired before it; throttle rows whose window started and
/// whose lock (if any) ended before it; mail sent or failed for good
/// before it. Returns the rows deleted.
pub(super) async fn purge_expired(db: &DatabaseConnection, before: Time) -> StoreResult<u64> {
    let txn = fedimpute_common::db::begin_write(db).await?;
    let mut deleted = 0;
    deleted += refresh_tokens::Entity::delete_many()
        .filter(refresh_tokens::Column::ExpiresAt.lt(before))
        .exec(&txn)
        .await?
        .rows_affected;
    let ended = Condition::any()
        .add(sessions::Column::RevokedAt.lt(before))
        .add(sessions::Column::ExpiresAt.lt(before));
    // The tokens of the sessions to delete first (there is no foreign key
    // to cascade on SQLite without `PRAGMA foreign_keys`).
    deleted += refresh_tokens::Entity::delete_many()
        .filter(
            refresh_tokens::Column::SessionId.in_subquery(
                Query::select()
                    .column(sessions::Column::Id)
                    .from(sessions::Entity)
                    .cond_where(ended.clone())
                    .to_owned(),
            ),
        )
        .exec(&txn)
        .await?
        .rows_affected;
    deleted += sessions::Entity::delete_many()
        .filter(ended)
        .exec(&txn)
        .await?
        .rows_affected;
    deleted += password_resets::Entity::delete_many()
        .filter(password_resets::Column::ExpiresAt.lt(before))
        .exec(&txn)
        .await?
        .rows_affected;
    deleted += login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::WindowStart.lt(before))
        .filter(
            Condition::any()
                .add(login_throttle::Column::LockedUntil.is_null())
                .add(login_throttle::Column::LockedUntil.lt(before)),
        )
        .exec(&txn)
        .await?
        .rows_affected;
    deleted += mail_outbox::Entity::delete_many()
        .filter(
            Condition::any()
                .add(mail_outbox::Column::SentAt.lt(before))
                .add(mail_outbox::Column::FailedAt.lt(before)),
        )
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(deleted)
}
