//! The notification outbox: each mail claimed with a lease, sent through
//! the Users service, retried until it is taken.

use chrono::Utc;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait as _},
};

use crate::store::{NotificationRecord, StoreResult, Time, entity::job_notifications};

pub(super) async fn due(
    db: &DatabaseConnection,
    limit: u64,
    lease: chrono::Duration,
) -> StoreResult<Vec<NotificationRecord>> {
    let now = Utc::now();
    let due = job_notifications::Entity::find()
        .filter(job_notifications::Column::SentAt.is_null())
        .filter(job_notifications::Column::NextAttemptAt.lte(now))
        .order_by_asc(job_notifications::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let mut claimed = Vec::with_capacity(due.len());
    for n in due {
        // Compare-and-set: one sender per mail across replicas.
        let won = job_notifications::Entity::update_many()
            .col_expr(
                job_notifications::Column::NextAttemptAt,
                Expr::value(now + lease),
            )
            .filter(job_notifications::Column::Id.eq(n.id))
            .filter(job_notifications::Column::NextAttemptAt.eq(n.next_attempt_at))
            .filter(job_notifications::Column::SentAt.is_null())
            .exec(db)
            .await?
            .rows_affected
            == 1;
        if won {
            claimed.push(NotificationRecord {
                id: n.id,
                job_id: n.job_id,
                user_id: n.user_id,
                dedupe_key: n.dedupe_key,
                subject: n.subject,
                body: n.body,
                attempts: n.attempts,
            });
        }
    }
    Ok(claimed)
}

pub(super) async fn sent(db: &DatabaseConnection, id: i64) -> StoreResult<()> {
    job_notifications::Entity::update_many()
        .col_expr(
            job_notifications::Column::SentAt,
            Expr::value(Some(Utc::now())),
        )
        .col_expr(
            job_notifications::Column::Attempts,
            Expr::col(job_notifications::Column::Attempts).add(1),
        )
        .filter(job_notifications::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub(super) async fn failed(
    db: &DatabaseConnection,
    id: i64,
    error: &str,
    retry_at: Time,
) -> StoreResult<()> {
    job_notifications::Entity::update_many()
        .col_expr(job_notifications::Column::LastError, Expr::value(error))
        .col_expr(
            job_notifications::Column::NextAttemptAt,
            Expr::value(retry_at),
        )
        .col_expr(
            job_notifications::Column::Attempts,
            Expr::col(job_notifications::Column::Attempts).add(1),
        )
        .filter(job_notifications::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
