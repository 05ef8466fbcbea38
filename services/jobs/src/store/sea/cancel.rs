//! Cancelling and retrying jobs.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, QueryFilter,
};

use super::{parent, rows, transitions};
use crate::domain::{JobStatus, Phase};
use crate::store::{
    Advance, Applied, Cancelled, RetrySpec, StoreResult, Transition,
    entity::{job_attempts, jobs},
};

pub(super) async fn cancel(db: &DatabaseConnection, id: &str) -> StoreResult<Cancelled> {
    let txn = fedimpute_common::db::begin_write(db).await?;
    if !parent::lock(&txn, id, None).await? {
        return Err(sea_orm::DbErr::RecordNotFound(format!("job {id}")).into());
    }
    let row = jobs::Entity::find_by_id(id.to_owned())
        .one(&txn)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound(format!("job {id}")))?;
    if rows::status(&row.status)?.is_terminal() {
        let job = rows::job(row)?;
        txn.commit().await?;
        return Ok(Cancelled::AlreadyEnded(job));
    }
    let outcome = if row.is_parent {
        let children = jobs::Entity::find()
            .filter(jobs::Column::ParentId.eq(id))
            .all(&txn)
            .await?;
        let mut release = Vec::new();
        for child in children {
            if rows::status(&child.status)?.is_terminal() {
                continue;
            }
            if let Some(applied) = cancel_one(&txn, child).await? {
                release.extend(applied.release_quota);
            }
        }
        parent::recompute(&txn, id).await?;
        let job = super::jobs::job(&txn, id)
            .await?
            .ok_or_else(|| sea_orm::DbErr::RecordNotFound(format!("job {id}")))?;
        if job.status.is_terminal() {
            Cancelled::Now(Applied {
                job,
                release_quota: release,
                parent_id: None,
            })
        } else {
            Cancelled::Requested(job)
        }
    } else {
        match cancel_one(&txn, row).await? {
            Some(applied) => Cancelled::Now(applied),
            None => Cancelled::Requested(
                super::jobs::job(&txn, id)
                    .await?
                    .ok_or_else(|| sea_orm::DbErr::RecordNotFound(format!("job {id}")))?,
            ),
        }
    };
    txn.commit().await?;
    Ok(outcome)
}

/// Cancels a job that has not ended: at once when it never reached the
/// remote and no worker holds it; otherwise marks it, and the scheduler
/// cancels the remote job. `Some` when it ended here.
async fn cancel_one(txn: &impl ConnectionTrait, row: jobs::Model) -> StoreResult<Option<Applied>> {
    let now = Utc::now();
    let leased = row.lease_until.is_some_and(|until| until > now);
    let phase = Phase::parse(&row.phase).unwrap_or(Phase::Poll);
    let mut am = row.clone().into_active_model();
    am.cancel_requested = Set(true);
    if leased {
        // The worker holding it applies the cancel when its step ends.
        am.update(txn).await?;
        return Ok(None);
    }
    if phase == Phase::Submit && row.external_id.is_none() {
        let marked = am.update(txn).await?;
        let mut a = Advance::wait(Phase::Done, now);
        a.transition = Some(Transition {
            status: JobStatus::Cancelled,
            message: "Cancelled before it reached the remote service".into(),
            details: serde_json::Value::Null,
        });
        return transitions::apply(txn, marked, a, false).await.map(Some);
    }
    am.phase = Set(Phase::Cancel.as_str().into());
    am.next_run_at = Set(now);
    am.version = Set(row.version + 1);
    am.updated_at = Set(now);
    am.update(txn).await?;
    Ok(None)
}

pub(super) async fn retry(
    db: &DatabaseConnection,
    id: &str,
    spec: RetrySpec,
) -> StoreResult<Option<Applied>> {
    let txn = fedimpute_common::db::begin_write(db).await?;
    if !parent::lock(&txn, id, None).await? {
        return Ok(None);
    }
    let Some(row) = jobs::Entity::find_by_id(id.to_owned()).one(&txn).await? else {
        return Ok(None);
    };
    let status = rows::status(&row.status)?;
    if row.is_parent || !matches!(status, JobStatus::Failed | JobStatus::Cancelled) {
        return Ok(None);
    }
    let now = Utc::now();
    job_attempts::ActiveModel {
        job_id: Set(row.id.clone()),
        attempt: Set(row.attempt),
        status: Set(row.status.clone()),
        external_id: Set(row.external_id.clone()),
        remote_state: Set(row.remote_state.clone()),
        error_message: Set(row.error_message.clone()),
        submitted_at: Set(row.submitted_at),
        started_at: Set(row.started_at),
        completed_at: Set(row.completed_at),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let attempt = row.attempt + 1;
    let mut am = row.clone().into_active_model();
    am.attempt = Set(attempt);
    am.status = Set(JobStatus::Queued.as_str().into());
    am.progress = Set(0);
    am.external_id = Set(None);
    am.remote_state = Set(String::new());
    am.remote_payload = Set("{}".into());
    am.payload_digest = Set(String::new());
    am.error_message = Set(String::new());
    am.needs_credentials = Set(false);
    am.refused_credential = Set(String::new());
    am.cancel_requested = Set(false);
    am.results_password = Set(spec.results_password);
    am.results_expire_at = Set(None);
    am.quota_reservation = Set(spec.reservation);
    am.submitted_at = Set(None);
    am.started_at = Set(None);
    am.completed_at = Set(None);
    am.updated_at = Set(now);
    am.version = Set(row.version + 1);
    am.phase = Set(Phase::Submit.as_str().into());
    am.next_run_at = Set(now);
    am.lease_owner = Set(None);
    am.lease_until = Set(None);
    am.error_count = Set(0);
    am.last_error = Set(String::new());
    am.submit_started_at = Set(None);
    am.not_found_count = Set(0);
    am.restart_count = Set(0);
    am.cancel_attempts = Set(0);
    let updated = am.update(&txn).await?;
    parent::status_update(
        &txn,
        (id, attempt),
        JobStatus::Queued,
        0,
        (
            &format!("Retried: attempt {attempt}"),
            &serde_json::json!({"previous_status": row.status, "previous_external_id": row.external_id}),
        ),
        now,
    )
    .await?;
    if let Some(parent_id) = &updated.parent_id {
        // A new outcome of the parent is announced again.
        if parent::lock(&txn, parent_id, None).await? {
            jobs::Entity::update_many()
                .col_expr(
                    jobs::Column::Attempt,
                    sea_orm::sea_query::ExprTrait::add(
                        sea_orm::sea_query::Expr::col(jobs::Column::Attempt),
                        1,
                    ),
                )
                .filter(jobs::Column::Id.eq(parent_id.as_str()))
                .filter(jobs::Column::Status.is_in([
                    JobStatus::Completed.as_str(),
                    JobStatus::Failed.as_str(),
                    JobStatus::Cancelled.as_str(),
                ]))
                .exec(&txn)
                .await?;
        }
        parent::recompute(&txn, parent_id).await?;
    }
    let parent_id = updated.parent_id.clone();
    txn.commit().await?;
    Ok(Some(Applied {
        job: rows::job(updated)?,
        release_quota: Vec::new(),
        parent_id,
    }))
}
