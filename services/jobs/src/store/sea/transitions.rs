//! Applying a scheduler step's outcome: one transaction that checks the
//! lease, merges a cancel that arrived meanwhile, writes the job, its status
//! update, logs, results and mails, and recomputes its parent.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, sea_query::OnConflict,
};

use super::{parent, rows};
use crate::domain::{JobStatus, Phase};
use crate::store::{
    Advance, Applied, Errors, NewLog, NewResult, StoreResult, Time, Transition,
    entity::{job_logs, jobs, result_files},
};

pub(super) async fn advance(
    db: &DatabaseConnection,
    id: &str,
    owner: &str,
    advance: Advance,
) -> StoreResult<Option<Applied>> {
    let txn = fedimpute_common::db::begin_write(db).await?;
    if !parent::lock(&txn, id, Some(owner)).await? {
        return Ok(None);
    }
    let Some(row) = jobs::Entity::find_by_id(id.to_owned()).one(&txn).await? else {
        return Ok(None);
    };
    let applied = apply(&txn, row, advance, true).await?;
    txn.commit().await?;
    Ok(Some(applied))
}

/// A cancel requested while the step ran wins over the step's next phase.
fn merge_cancel(row: &jobs::Model, mut a: Advance, now: Time) -> Advance {
    let ends = a
        .transition
        .as_ref()
        .is_some_and(|t| t.status.is_terminal());
    if !row.cancel_requested || ends {
        return a;
    }
    let on_remote = row.external_id.is_some() || a.external_id.is_some();
    match a.phase {
        Phase::Submit if !on_remote => {
            a.phase = Phase::Done;
            a.transition = Some(Transition {
                status: JobStatus::Cancelled,
                message: "Cancelled before it reached the remote service".into(),
                details: serde_json::Value::Null,
            });
        }
        Phase::Submit | Phase::Submitting | Phase::Reconcile | Phase::Poll => {
            a.phase = Phase::Cancel;
            a.next_run_at = now;
        }
        Phase::Cancel | Phase::Fetch | Phase::Done => {}
    }
    a
}

/// Applies `a` to `row` inside `txn`; `release_lease` clears the lease.
pub(super) async fn apply(
    txn: &impl ConnectionTrait,
    row: jobs::Model,
    a: Advance,
    release_lease: bool,
) -> StoreResult<Applied> {
    let now = Utc::now();
    let a = merge_cancel(&row, a, now);
    let old_status = rows::status(&row.status)?;
    let old_phase = row.phase.clone();
    let mut am = row.clone().into_active_model();
    let mut visible = false;
    am.phase = Set(a.phase.as_str().into());
    am.next_run_at = Set(a.next_run_at);
    if release_lease {
        am.lease_owner = Set(None);
        am.lease_until = Set(None);
    }
    if let Some(p) = a.progress
        && p != row.progress
    {
        am.progress = Set(p.clamp(0, 100));
        visible = true;
    }
    if let Some(state) = &a.remote_state
        && *state != row.remote_state
    {
        am.remote_state = Set(state.clone());
        visible = true;
    }
    if let Some((payload, digest)) = &a.payload
        && *digest != row.payload_digest
    {
        am.remote_payload = Set(rows::to_json(payload));
        am.payload_digest = Set(digest.clone());
        visible = true;
    }
    if let Some(external) = &a.external_id
        && row.external_id.as_deref() != Some(external)
    {
        am.external_id = Set(Some(external.clone()));
        if row.submitted_at.is_none() {
            am.submitted_at = Set(Some(now));
        }
        visible = true;
    }
    if let Some(message) = &a.error_message
        && *message != row.error_message
    {
        am.error_message = Set(message.clone());
        visible = true;
    }
    am.last_error = Set(a.last_error.clone());
    match a.errors {
        Errors::Reset => am.error_count = Set(0),
        Errors::Increment => am.error_count = Set(row.error_count.saturating_add(1)),
        Errors::Keep => {}
    }
    if let Some((refused, fingerprint)) = &a.needs_credentials {
        if *refused != row.needs_credentials {
            visible = true;
        }
        am.needs_credentials = Set(*refused);
        am.refused_credential = Set(fingerprint.clone());
    }
    if let Some(started) = a.submit_started_at {
        am.submit_started_at = Set(started);
    }
    if let Some(n) = a.not_found_count {
        am.not_found_count = Set(n);
    }
    if let Some(n) = a.restart_count {
        am.restart_count = Set(n);
    }
    if let Some(n) = a.cancel_attempts {
        am.cancel_attempts = Set(n);
    }
    if let Some(at) = a.results_expire_at
        && row.results_expire_at != Some(at)
    {
        am.results_expire_at = Set(Some(at));
        visible = true;
    }
    let mut release = Vec::new();
    let reached_remote = row.external_id.is_some() || a.external_id.is_some() || a.consume_quota;
    if a.consume_quota {
        am.quota_reservation = Set(None);
    }
    let mut new_status = None;
    if let Some(t) = &a.transition
        && t.status != old_status
        && (t.status.rank() > old_status.rank())
    {
        new_status = Some(t.status);
        am.status = Set(t.status.as_str().into());
        parent::stamp(&mut am, &row, t.status, now);
        let progress = if t.status == JobStatus::Completed {
            100
        } else {
            a.progress.unwrap_or(row.progress)
        };
        am.progress = Set(progress);
        if t.status.is_terminal()
            && !reached_remote
            && let Some(reservation) = &row.quota_reservation
        {
            release.push(reservation.clone());
            am.quota_reservation = Set(None);
        }
        parent::status_update(
            txn,
            (&row.id, row.attempt),
            t.status,
            progress,
            (&t.message, &t.details),
            now,
        )
        .await?;
        visible = true;
    }
    if visible {
        am.version = Set(row.version + 1);
        am.updated_at = Set(now);
    }
    let updated = am.update(txn).await?;
    upsert_logs(txn, &row.id, row.attempt, &a.logs, now).await?;
    insert_results(txn, &row.id, row.attempt, &a.results, now).await?;

    // One mail per outcome, for a job standing alone (a federated job's
    // children are summed up in their parent's mail). A completed job is
    // announced once its results are in.
    let status = new_status.unwrap_or(old_status);
    let results_in = old_phase == Phase::Fetch.as_str() && a.phase == Phase::Done;
    let announce = match status {
        JobStatus::Completed => a.phase == Phase::Done && (new_status.is_some() || results_in),
        JobStatus::Failed | JobStatus::Cancelled => new_status.is_some(),
        JobStatus::Pending | JobStatus::Queued | JobStatus::Running => false,
    };
    if announce && updated.parent_id.is_none() {
        let notice = parent::outcome_notice(&updated, status, "");
        parent::enqueue(txn, &row.id, row.user_id, notice, now).await?;
    }
    for notice in a.notices {
        parent::enqueue(txn, &row.id, row.user_id, notice, now).await?;
    }
    let parent_id = updated.parent_id.clone();
    if let (Some(parent_id), Some(_)) = (&parent_id, new_status) {
        parent::recompute(txn, parent_id).await?;
    } else if let Some(parent_id) = &parent_id
        && updated.progress != row.progress
    {
        parent::recompute(txn, parent_id).await?;
    }
    Ok(Applied {
        job: rows::job(updated)?,
        release_quota: release,
        parent_id,
    })
}

async fn upsert_logs(
    txn: &impl ConnectionTrait,
    job_id: &str,
    attempt: i32,
    logs: &[NewLog],
    now: Time,
) -> StoreResult<()> {
    if logs.is_empty() {
        return Ok(());
    }
    let rows = logs.iter().map(|l| job_logs::ActiveModel {
        job_id: Set(job_id.to_owned()),
        attempt: Set(attempt),
        step_index: Set(l.step_index),
        step_name: Set(l.step_name.clone()),
        entry_index: Set(l.entry_index),
        log_type: Set(l.log_type.clone()),
        message: Set(l.message.clone()),
        logged_at: Set(l.logged_at.unwrap_or(now)),
        ..Default::default()
    });
    // The remote may rewrite an entry (a progress line that ends): the
    // same (step, entry) is updated, never duplicated.
    job_logs::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                job_logs::Column::JobId,
                job_logs::Column::Attempt,
                job_logs::Column::StepIndex,
                job_logs::Column::EntryIndex,
            ])
            .update_columns([
                job_logs::Column::StepName,
                job_logs::Column::LogType,
                job_logs::Column::Message,
            ])
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

async fn insert_results(
    txn: &impl ConnectionTrait,
    job_id: &str,
    attempt: i32,
    results: &[NewResult],
    now: Time,
) -> StoreResult<()> {
    if results.is_empty() {
        return Ok(());
    }
    let rows = results.iter().map(|r| result_files::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        job_id: Set(job_id.to_owned()),
        attempt: Set(attempt),
        name: Set(r.name.clone()),
        description: Set(r.description.clone()),
        size_bytes: Set(r.size_bytes),
        sha256: Set(String::new()),
        remote_hash: Set(r.remote_hash.clone()),
        remote_location: Set(r.remote_location.clone()),
        downloadable: Set(r.downloadable),
        remote_expires_at: Set(r.remote_expires_at),
        state: Set(if r.downloadable {
            crate::store::ResultState::Pending
        } else {
            crate::store::ResultState::Remote
        }
        .as_str()
        .into()),
        storage_key: Set(None),
        content_type: Set(r.content_type.clone()),
        error: Set(String::new()),
        download_attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    });
    result_files::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                result_files::Column::JobId,
                result_files::Column::Attempt,
                result_files::Column::Name,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}
