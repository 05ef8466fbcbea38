//! Pieces every state change shares: the status-update row, the outcome
//! notice, and the federated parent's state, recomputed from its children
//! in the transaction of each child's transition.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, sea_query::Expr, sea_query::OnConflict,
};

use super::rows;
use crate::domain::{
    Aggregate, JobStatus,
    notice::{self, Notice, NoticeFacts},
};
use crate::store::{
    StoreResult, Time,
    entity::{job_notifications, job_status_updates, jobs},
};

/// Takes the row's write lock (SQLite: the database's; PostgreSQL: the
/// row's) before anything is read. `owner` narrows the match (the lease
/// holder); returns whether the row matched.
pub(super) async fn lock(
    txn: &impl ConnectionTrait,
    id: &str,
    owner: Option<&str>,
) -> StoreResult<bool> {
    // PostgreSQL: a row lock (a no-op UPDATE would write a new row version).
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        let mut select = jobs::Entity::find()
            .select_only()
            .column(jobs::Column::Id)
            .filter(jobs::Column::Id.eq(id))
            .lock_exclusive();
        if let Some(owner) = owner {
            select = select.filter(jobs::Column::LeaseOwner.eq(owner));
        }
        let found: Option<String> = select.into_tuple().one(txn).await?;
        return Ok(found.is_some());
    }
    // SQLite: the first statement writes, so the transaction holds the
    // database's write lock before it reads.
    let mut update = jobs::Entity::update_many()
        .col_expr(jobs::Column::Version, Expr::col(jobs::Column::Version))
        .filter(jobs::Column::Id.eq(id));
    if let Some(owner) = owner {
        update = update.filter(jobs::Column::LeaseOwner.eq(owner));
    }
    Ok(update.exec(txn).await?.rows_affected == 1)
}

/// One status-update row: `job` is (id, attempt), `note` (message, details).
pub(super) async fn status_update(
    txn: &impl ConnectionTrait,
    job: (&str, i32),
    status: JobStatus,
    progress: i32,
    note: (&str, &serde_json::Value),
    now: Time,
) -> StoreResult<()> {
    let ((job_id, attempt), (message, details)) = (job, note);
    job_status_updates::ActiveModel {
        job_id: Set(job_id.to_owned()),
        attempt: Set(attempt),
        status: Set(status.as_str().into()),
        progress: Set(progress),
        message: Set(message.to_owned()),
        details: Set(if details.is_null() {
            "{}".into()
        } else {
            rows::to_json(details)
        }),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Queues a mail (once per key: a repeated key is ignored).
pub(super) async fn enqueue(
    txn: &impl ConnectionTrait,
    job_id: &str,
    user_id: i64,
    notice: Notice,
    now: Time,
) -> StoreResult<()> {
    let row = job_notifications::ActiveModel {
        job_id: Set(job_id.to_owned()),
        user_id: Set(user_id),
        dedupe_key: Set(notice.dedupe_key),
        subject: Set(notice.subject),
        body: Set(notice.body),
        attempts: Set(0),
        next_attempt_at: Set(now),
        sent_at: Set(None),
        last_error: Set(String::new()),
        created_at: Set(now),
        ..Default::default()
    };
    job_notifications::Entity::insert(row)
        .on_conflict(
            OnConflict::column(job_notifications::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The outcome mail of a job that has just ended (or, completed, whose
/// results are in).
pub(super) fn outcome_notice(row: &jobs::Model, status: JobStatus, summary: &str) -> Notice {
    notice::outcome(&NoticeFacts {
        job_id: &row.id,
        attempt: row.attempt,
        name: &row.name,
        service_name: &row.service_name,
        status,
        error_message: &row.error_message,
        summary,
    })
}

/// Sets the lifecycle timestamps of a transition into `status`.
pub(super) fn stamp(am: &mut jobs::ActiveModel, row: &jobs::Model, status: JobStatus, now: Time) {
    if status == JobStatus::Running && row.started_at.is_none() {
        am.started_at = Set(Some(now));
    }
    if status.is_terminal() {
        am.completed_at = Set(Some(now));
    } else {
        am.completed_at = Set(None);
    }
}

/// Recomputes a parent from its children; writes a status update when its
/// status changes and queues its outcome mail when it ends.
pub(super) async fn recompute(txn: &impl ConnectionTrait, parent_id: &str) -> StoreResult<()> {
    if !lock(txn, parent_id, None).await? {
        return Ok(());
    }
    let now = Utc::now();
    let Some(parent) = jobs::Entity::find_by_id(parent_id.to_owned())
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let children: Vec<(String, i32)> = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::Status)
        .column(jobs::Column::Progress)
        .filter(jobs::Column::ParentId.eq(parent_id))
        .into_tuple()
        .all(txn)
        .await?;
    let statuses = children
        .iter()
        .map(|(s, _)| rows::status(s))
        .collect::<StoreResult<Vec<_>>>()?;
    let progress: Vec<i32> = children.iter().map(|(_, p)| *p).collect();
    let state = Aggregate::of(statuses).parent_state(&progress);
    let old = rows::status(&parent.status)?;
    let changed = state.status != old;
    if !changed && state.progress == parent.progress {
        return Ok(());
    }
    let mut am = parent.clone().into_active_model();
    am.status = Set(state.status.as_str().into());
    am.progress = Set(state.progress);
    am.error_message = Set(if state.status == JobStatus::Failed {
        state.message.clone()
    } else {
        String::new()
    });
    am.updated_at = Set(now);
    am.version = Set(parent.version + 1);
    if changed {
        stamp(&mut am, &parent, state.status, now);
    }
    let updated = am.update(txn).await?;
    if changed {
        status_update(
            txn,
            (parent_id, parent.attempt),
            state.status,
            state.progress,
            (&state.message, &serde_json::Value::Null),
            now,
        )
        .await?;
        if state.status.is_terminal() {
            let notice = outcome_notice(&updated, state.status, &state.message);
            enqueue(txn, parent_id, parent.user_id, notice, now).await?;
        }
    }
    Ok(())
}
