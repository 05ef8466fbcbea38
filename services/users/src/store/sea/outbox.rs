//! The mail outbox: mail is queued in the transaction that causes it and a
//! sender drains it.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr, sea_query::ExprTrait as _,
};

use crate::store::{NewMail, OutboxMail, StoreError, StoreResult, Time, entity::mail_outbox};

/// Queues a mail, due at once.
pub(super) async fn insert_mail(
    db: &impl ConnectionTrait,
    mail: NewMail,
    now: Time,
) -> StoreResult<()> {
    mail_outbox::ActiveModel {
        recipient: Set(mail.recipient),
        subject: Set(mail.subject),
        body: Set(mail.body),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(String::new()),
        created_at: Set(now),
        sent_at: Set(None),
        failed_at: Set(None),
        dedupe_key: Set(mail.dedupe_key),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

pub(super) async fn enqueue_mail(db: &DatabaseConnection, mail: NewMail) -> StoreResult<bool> {
    match insert_mail(db, mail, Utc::now()).await {
        Ok(()) => Ok(true),
        Err(StoreError::Db(e)) if fedimpute_common::db::unique_violation(&e).is_some() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Mail neither sent nor given up.
pub(super) async fn backlog(db: &DatabaseConnection) -> StoreResult<u64> {
    Ok(sea_orm::PaginatorTrait::count(pending(), db).await?)
}

fn pending() -> sea_orm::Select<mail_outbox::Entity> {
    mail_outbox::Entity::find()
        .filter(mail_outbox::Column::SentAt.is_null())
        .filter(mail_outbox::Column::FailedAt.is_null())
}

/// Claims due mail: each row's next attempt moves `lease` ahead with a
/// compare-and-set, so with several replicas each mail goes to one sender,
/// and a sender that dies mid-send leaves it to another after the lease.
pub(super) async fn due_mail(
    db: &DatabaseConnection,
    limit: u64,
    lease: chrono::Duration,
) -> StoreResult<Vec<OutboxMail>> {
    let now = Utc::now();
    let due = pending()
        .filter(mail_outbox::Column::NextAttemptAt.lte(now))
        .order_by_asc(mail_outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let mut claimed = Vec::with_capacity(due.len());
    for m in due {
        let won = mail_outbox::Entity::update_many()
            .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(now + lease))
            .filter(mail_outbox::Column::Id.eq(m.id))
            .filter(mail_outbox::Column::NextAttemptAt.eq(m.next_attempt_at))
            .filter(mail_outbox::Column::SentAt.is_null())
            .filter(mail_outbox::Column::FailedAt.is_null())
            .exec(db)
            .await?
            .rows_affected
            == 1;
        if won {
            claimed.push(m);
        }
    }
    Ok(claimed
        .into_iter()
        .map(|m| OutboxMail {
            id: m.id,
            recipient: m.recipient,
            subject: m.subject,
            body: m.body,
            attempts: m.attempts,
        })
        .collect())
}

/// Marks the mail sent and blanks its body: it may hold a reset link.
pub(super) async fn mail_sent(db: &DatabaseConnection, id: i64) -> StoreResult<()> {
    mail_outbox::Entity::update_many()
        .col_expr(mail_outbox::Column::Body, Expr::value(""))
        .col_expr(
            mail_outbox::Column::Attempts,
            Expr::col(mail_outbox::Column::Attempts).add(1),
        )
        .col_expr(mail_outbox::Column::SentAt, Expr::value(Some(Utc::now())))
        .filter(mail_outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub(super) async fn mail_failed(
    db: &DatabaseConnection,
    id: i64,
    error: &str,
    retry_at: Option<Time>,
) -> StoreResult<()> {
    let mut update = mail_outbox::Entity::update_many()
        .col_expr(
            mail_outbox::Column::Attempts,
            Expr::col(mail_outbox::Column::Attempts).add(1),
        )
        .col_expr(mail_outbox::Column::LastError, Expr::value(error));
    update = match retry_at {
        Some(at) => update.col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(at)),
        None => update.col_expr(mail_outbox::Column::FailedAt, Expr::value(Some(Utc::now()))),
    };
    update
        .filter(mail_outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub(super) async fn next_mail_due(db: &DatabaseConnection) -> StoreResult<Option<Time>> {
    Ok(pending()
        .order_by_asc(mail_outbox::Column::NextAttemptAt)
        .one(db)
        .await?
        .map(|m| m.next_attempt_at))
}
