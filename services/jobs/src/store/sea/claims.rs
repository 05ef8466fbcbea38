//! The scheduler's leases: due work is claimed by one replica at a time
//! (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: its single writer), and a
//! crashed replica's leases run out, so its work is claimed again.

use sea_orm::{
    ColumnTrait, Condition, DatabaseBackend, DatabaseConnection, EntityTrait, FromQueryResult,
    IdenStatic, Iterable, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
    sea_query::Expr,
};

use super::rows;
use crate::domain::Phase;
use crate::store::{JobRecord, StoreResult, Time, entity::jobs};

pub(super) async fn claim(
    db: &DatabaseConnection,
    owner: &str,
    now: Time,
    until: Time,
    limit: u64,
) -> StoreResult<Vec<JobRecord>> {
    let backend = db.get_database_backend();
    // SQLite has one writer: its UPDATE already excludes other claimers.
    let (lock, param) = if backend == DatabaseBackend::Postgres {
        ("FOR UPDATE SKIP LOCKED", "$")
    } else {
        ("", "?")
    };
    let p = |n: usize| {
        if param == "$" {
            format!("${n}")
        } else {
            "?".to_owned()
        }
    };
    // One statement: the due rows are picked and leased together. The
    // filter `phase <> 'done'` is the partial index's (`jobs_due_idx`), so
    // the rows are read in due order and the scan stops at the limit.
    // The columns by name, never `*`: a statement prepared before a
    // migration added a column would return the old column count.
    let columns = jobs::Column::iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE jobs SET lease_owner = {owner}, lease_until = {until} \
         WHERE id IN (SELECT id FROM jobs \
             WHERE phase <> '{done}' AND next_run_at <= {now} \
             AND (lease_until IS NULL OR lease_until < {now2}) \
             ORDER BY next_run_at LIMIT {limit} {lock}) \
         RETURNING {columns}",
        owner = p(1),
        until = p(2),
        now = p(3),
        now2 = p(4),
        limit = p(5),
        done = Phase::Done.as_str(),
    );
    let values: Vec<Value> = vec![
        owner.into(),
        until.into(),
        now.into(),
        now.into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
    ];
    let rows = jobs::Model::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    rows::jobs(rows)
}

pub(super) async fn renew(
    db: &DatabaseConnection,
    id: &str,
    owner: &str,
    until: Time,
) -> StoreResult<bool> {
    Ok(jobs::Entity::update_many()
        .col_expr(jobs::Column::LeaseUntil, Expr::value(Some(until)))
        .filter(jobs::Column::Id.eq(id))
        .filter(jobs::Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

pub(super) async fn mark_submitting(
    db: &DatabaseConnection,
    id: &str,
    owner: &str,
    at: Time,
) -> StoreResult<bool> {
    Ok(jobs::Entity::update_many()
        .col_expr(jobs::Column::Phase, Expr::value(Phase::Submitting.as_str()))
        .col_expr(jobs::Column::SubmitStartedAt, Expr::value(Some(at)))
        .filter(jobs::Column::Id.eq(id))
        .filter(jobs::Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

pub(super) async fn on_remote(
    db: &DatabaseConnection,
    user_id: i64,
    service_id: i64,
    except: &str,
) -> StoreResult<i64> {
    let phases = Phase::on_remote().map(|p| p.as_str());
    let n = jobs::Entity::find()
        .filter(jobs::Column::UserId.eq(user_id))
        .filter(jobs::Column::ServiceId.eq(service_id))
        .filter(jobs::Column::Phase.is_in(phases))
        .filter(jobs::Column::Id.ne(except))
        .count(db)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(super) async fn waiting_before(
    db: &DatabaseConnection,
    user_id: i64,
    service_id: i64,
    created_at: Time,
    id: &str,
) -> StoreResult<i64> {
    let n = jobs::Entity::find()
        .filter(jobs::Column::UserId.eq(user_id))
        .filter(jobs::Column::ServiceId.eq(service_id))
        .filter(jobs::Column::Phase.eq(Phase::Submit.as_str()))
        .filter(
            Condition::any()
                .add(jobs::Column::CreatedAt.lt(created_at))
                .add(
                    Condition::all()
                        .add(jobs::Column::CreatedAt.eq(created_at))
                        .add(jobs::Column::Id.lt(id)),
                ),
        )
        .count(db)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(super) async fn next_due(db: &DatabaseConnection) -> StoreResult<Option<Time>> {
    let next: Option<Time> = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::NextRunAt)
        .filter(jobs::Column::Phase.ne(Phase::Done.as_str()))
        .filter(
            Condition::any()
                .add(jobs::Column::LeaseUntil.is_null())
                .add(jobs::Column::LeaseUntil.lt(chrono::Utc::now())),
        )
        .order_by_asc(jobs::Column::NextRunAt)
        .into_tuple()
        .one(db)
        .await?;
    Ok(next)
}

pub(super) async fn queue_depth(db: &DatabaseConnection, now: Time) -> StoreResult<i64> {
    let n = jobs::Entity::find()
        .filter(jobs::Column::Phase.ne(Phase::Done.as_str()))
        .filter(jobs::Column::NextRunAt.lte(now))
        .filter(
            Condition::any()
                .add(jobs::Column::LeaseUntil.is_null())
                .add(jobs::Column::LeaseUntil.lt(now)),
        )
        .count(db)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}
