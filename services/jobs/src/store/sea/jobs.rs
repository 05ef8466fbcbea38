//! Creating, reading, listing, counting and deleting jobs.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait as _},
};

use super::rows;
use crate::domain::{JobStatus, Phase};
use crate::store::{
    AttemptRecord, Counts, JobFilter, JobRecord, LogRecord, NewJob, ResultRecord,
    StatusUpdateRecord, StoreResult,
    entity::{job_attempts, job_logs, job_status_updates, jobs, result_files},
};

fn search_text(name: &str, description: &str) -> String {
    format!("{} {}", name.to_lowercase(), description.to_lowercase())
}

pub(super) async fn create_jobs(
    db: &DatabaseConnection,
    new: Vec<NewJob>,
) -> StoreResult<Vec<JobRecord>> {
    let now = Utc::now();
    let txn = fedimpute_common::db::begin_write(db).await?;
    let mut created = Vec::with_capacity(new.len());
    for j in new {
        let phase = if j.is_parent {
            Phase::Done
        } else {
            Phase::Submit
        };
        let row = jobs::ActiveModel {
            id: Set(j.id.clone()),
            user_id: Set(j.user_id),
            parent_id: Set(j.parent_id),
            is_parent: Set(j.is_parent),
            search_text: Set(search_text(&j.name, &j.description)),
            name: Set(j.name),
            description: Set(j.description),
            service_id: Set(j.service_id),
            service_name: Set(j.service_name),
            api_type: Set(j
                .api_type
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default()),
            panel_id: Set(j.panel_id),
            panel_name: Set(j.panel_name),
            panel_external_id: Set(j.panel_external_id),
            remote_config: Set(rows::to_json(&j.remote_config)),
            input_file_id: Set(Some(j.input_file_id)),
            input_file_name: Set(j.input_file_name),
            input_file_size: Set(j.input_file_size),
            input_format: Set("vcf".into()),
            build: Set(j.build.as_str().into()),
            phasing: Set(j.phasing),
            population: Set(j.population),
            mode: Set(j.mode.as_str().into()),
            r2_filter: Set(j.r2_filter),
            status: Set(JobStatus::Queued.as_str().into()),
            progress: Set(0),
            attempt: Set(1),
            external_id: Set(None),
            remote_state: Set(String::new()),
            remote_payload: Set("{}".into()),
            payload_digest: Set(String::new()),
            error_message: Set(String::new()),
            warnings: Set(rows::to_json(&j.warnings)),
            needs_credentials: Set(false),
            refused_credential: Set(String::new()),
            cancel_requested: Set(false),
            results_password: Set(j.results_password),
            results_expire_at: Set(None),
            quota_reservation: Set(j.quota_reservation),
            trace_context: Set(j.trace_context),
            created_at: Set(now),
            updated_at: Set(now),
            submitted_at: Set(None),
            started_at: Set(None),
            completed_at: Set(None),
            version: Set(1),
            phase: Set(phase.as_str().into()),
            next_run_at: Set(now),
            lease_owner: Set(None),
            lease_until: Set(None),
            error_count: Set(0),
            last_error: Set(String::new()),
            submit_started_at: Set(None),
            not_found_count: Set(0),
            restart_count: Set(0),
            cancel_attempts: Set(0),
        }
        .insert(&txn)
        .await?;
        job_status_updates::ActiveModel {
            job_id: Set(j.id),
            attempt: Set(1),
            status: Set(JobStatus::Queued.as_str().into()),
            progress: Set(0),
            message: Set(j.message),
            details: Set("{}".into()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        created.push(rows::job(row)?);
    }
    txn.commit().await?;
    Ok(created)
}

pub(super) async fn job(
    db: &impl sea_orm::ConnectionTrait,
    id: &str,
) -> StoreResult<Option<JobRecord>> {
    jobs::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(rows::job)
        .transpose()
}

pub(super) async fn children(
    db: &impl sea_orm::ConnectionTrait,
    parent_id: &str,
) -> StoreResult<Vec<JobRecord>> {
    rows::jobs(
        jobs::Entity::find()
            .filter(jobs::Column::ParentId.eq(parent_id))
            .order_by_asc(jobs::Column::CreatedAt)
            .order_by_asc(jobs::Column::Id)
            .all(db)
            .await?,
    )
}

fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub(super) async fn jobs(db: &DatabaseConnection, f: &JobFilter) -> StoreResult<Vec<JobRecord>> {
    let mut query = jobs::Entity::find();
    if let Some(user) = f.user_id {
        query = query.filter(jobs::Column::UserId.eq(user));
    }
    if let Some(status) = f.status {
        query = query.filter(jobs::Column::Status.eq(status.as_str()));
    }
    if let Some(service) = f.service_id {
        query = query.filter(jobs::Column::ServiceId.eq(service));
    }
    if let Some(parent) = &f.parent_id {
        query = query.filter(jobs::Column::ParentId.eq(parent.as_str()));
    }
    if let Some(text) = &f.search {
        query = query.filter(
            Expr::col(jobs::Column::SearchText)
                .like(sea_orm::sea_query::LikeExpr::new(like_pattern(text)).escape('\\')),
        );
    }
    if let Some((at, id)) = &f.after {
        query = query.filter(
            Condition::any().add(jobs::Column::CreatedAt.lt(*at)).add(
                Condition::all()
                    .add(jobs::Column::CreatedAt.eq(*at))
                    .add(jobs::Column::Id.lt(id.as_str())),
            ),
        );
    } else if f.skip > 0 {
        query = query.offset(f.skip);
    }
    rows::jobs(
        query
            .order_by_desc(jobs::Column::CreatedAt)
            .order_by_desc(jobs::Column::Id)
            .limit(f.limit)
            .all(db)
            .await?,
    )
}

pub(super) async fn counts(db: &DatabaseConnection, user_id: Option<i64>) -> StoreResult<Counts> {
    let base = || {
        let q = jobs::Entity::find().filter(jobs::Column::IsParent.eq(false));
        match user_id {
            Some(user) => q.filter(jobs::Column::UserId.eq(user)),
            None => q,
        }
    };
    let by_status: Vec<(String, i64)> = base()
        .select_only()
        .column(jobs::Column::Status)
        .column_as(Expr::col(jobs::Column::Id).count(), "n")
        .group_by(jobs::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let by_service: Vec<(Option<i64>, String, String, i64)> = base()
        .select_only()
        .column(jobs::Column::ServiceId)
        .column(jobs::Column::ServiceName)
        .column(jobs::Column::Status)
        .column_as(Expr::col(jobs::Column::Id).count(), "n")
        .group_by(jobs::Column::ServiceId)
        .group_by(jobs::Column::ServiceName)
        .group_by(jobs::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(Counts {
        by_status: by_status
            .into_iter()
            .map(|(s, n)| Ok((rows::status(&s)?, n)))
            .collect::<StoreResult<_>>()?,
        by_service: by_service
            .into_iter()
            .filter_map(|(id, name, s, n)| id.map(|id| (id, name, s, n)))
            .map(|(id, name, s, n)| Ok((id, name, rows::status(&s)?, n)))
            .collect::<StoreResult<_>>()?,
    })
}

pub(super) async fn delete_jobs(
    db: &DatabaseConnection,
    ids: &[String],
) -> StoreResult<Vec<String>> {
    let txn = fedimpute_common::db::begin_write(db).await?;
    let keys: Vec<Option<String>> = result_files::Entity::find()
        .select_only()
        .column(result_files::Column::StorageKey)
        .filter(result_files::Column::JobId.is_in(ids.iter().cloned()))
        .into_tuple()
        .all(&txn)
        .await?;
    // Children first: a parent is referenced by them.
    jobs::Entity::delete_many()
        .filter(jobs::Column::Id.is_in(ids.iter().cloned()))
        .filter(jobs::Column::IsParent.eq(false))
        .exec(&txn)
        .await?;
    jobs::Entity::delete_many()
        .filter(jobs::Column::Id.is_in(ids.iter().cloned()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(keys.into_iter().flatten().collect())
}

pub(super) async fn status_updates(
    db: &DatabaseConnection,
    job_id: &str,
) -> StoreResult<Vec<StatusUpdateRecord>> {
    job_status_updates::Entity::find()
        .filter(job_status_updates::Column::JobId.eq(job_id))
        .order_by_desc(job_status_updates::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(rows::status_update)
        .collect()
}

pub(super) async fn attempts(
    db: &DatabaseConnection,
    job_id: &str,
) -> StoreResult<Vec<AttemptRecord>> {
    job_attempts::Entity::find()
        .filter(job_attempts::Column::JobId.eq(job_id))
        .order_by_asc(job_attempts::Column::Attempt)
        .all(db)
        .await?
        .into_iter()
        .map(|m| {
            Ok(AttemptRecord {
                attempt: m.attempt,
                status: rows::status(&m.status)?,
                external_id: m.external_id,
                error_message: m.error_message,
                completed_at: m.completed_at,
            })
        })
        .collect()
}

pub(super) async fn logs(
    db: &DatabaseConnection,
    job_id: &str,
    attempt: i32,
) -> StoreResult<Vec<LogRecord>> {
    Ok(job_logs::Entity::find()
        .filter(job_logs::Column::JobId.eq(job_id))
        .filter(job_logs::Column::Attempt.eq(attempt))
        .order_by_asc(job_logs::Column::StepIndex)
        .order_by_asc(job_logs::Column::EntryIndex)
        .all(db)
        .await?
        .into_iter()
        .map(rows::log)
        .collect())
}

pub(super) async fn results(
    db: &DatabaseConnection,
    job_id: &str,
) -> StoreResult<Vec<ResultRecord>> {
    result_files::Entity::find()
        .filter(result_files::Column::JobId.eq(job_id))
        .order_by_desc(result_files::Column::Attempt)
        .order_by_asc(result_files::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(rows::result)
        .collect()
}

pub(super) async fn result(db: &DatabaseConnection, id: &str) -> StoreResult<Option<ResultRecord>> {
    result_files::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(rows::result)
        .transpose()
}
