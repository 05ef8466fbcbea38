//! What every target shares: opening a target database (read-only, and
//! never creating it, for a dry run), reading rows back as plain values,
//! inserting rows, and moving identity sequences past imported ids.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, QueryResult,
    Statement,
    sea_query::{Alias, InsertStatement, Query, SimpleExpr},
};

use super::TargetError;

/// Opens a target for a real run: connects, creating the database file
/// when it is SQLite (the service would on its first start).
pub(super) async fn open_for_write(
    target: &'static str,
    url: &str,
) -> Result<DatabaseConnection, TargetError> {
    fedimpute_common::db::connect(url, 2)
        .await
        .map_err(|source| TargetError::Connect {
            target,
            url: fedimpute_common::db::redact_url(url),
            source,
        })
}

/// Opens a target for a real run, applies its service's migrations, and
/// begins the one transaction everything is written in.
pub(super) async fn open_migrated<M: fedimpute_registry_migration::MigratorTrait>(
    target: &'static str,
    url: &str,
) -> Result<(DatabaseConnection, DatabaseTransaction), TargetError> {
    let conn = open_for_write(target, url).await?;
    M::up(&conn, None)
        .await
        .map_err(|source| TargetError::Migrate { target, source })?;
    let txn = fedimpute_common::db::begin_write(&conn)
        .await
        .map_err(|source| TargetError::Write { target, source })?;
    Ok((conn, txn))
}

/// Opens a target for a dry run without creating or changing anything:
/// `None` when the database does not exist yet (everything would be
/// imported). SQLite is opened read-only; a PostgreSQL server that refuses
/// the connection is an error, a missing database is `None`.
pub(super) async fn open_for_read(
    target: &'static str,
    url: &str,
) -> Result<Option<DatabaseConnection>, TargetError> {
    let url = if url.starts_with("sqlite:") {
        let Some(path) = fedimpute_common::db::sqlite_path(url) else {
            // In memory: a fresh database every time.
            return Ok(None);
        };
        if !std::path::Path::new(&path).exists() {
            return Ok(None);
        }
        format!("sqlite://{path}?mode=ro")
    } else {
        url.to_owned()
    };
    match sea_orm::Database::connect(url.as_str()).await {
        Ok(db) => Ok(Some(db)),
        Err(e) if e.to_string().contains("does not exist") => Ok(None),
        Err(source) => Err(TargetError::Connect {
            target,
            url: fedimpute_common::db::redact_url(&url),
            source,
        }),
    }
}

/// Every row of `sql` (a plain `SELECT`), or none when its table does not
/// exist yet (a dry run against a database the migrations have not made).
pub(super) async fn rows(
    db: &impl ConnectionTrait,
    sql: &str,
    tolerate_missing: bool,
) -> Result<Vec<QueryResult>, DbErr> {
    match db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
    {
        Ok(rows) => Ok(rows),
        Err(e) if tolerate_missing => {
            tracing::debug!(error = %e, sql, "target table not readable: taken as empty");
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// Reads column `i` as text; NULL as "".
pub(super) fn text(row: &QueryResult, i: usize) -> Result<String, DbErr> {
    Ok(row
        .try_get_by_index::<Option<String>>(i)?
        .unwrap_or_default())
}

/// Reads column `i` as an integer, whatever its width; NULL as `None`.
pub(super) fn int(row: &QueryResult, i: usize) -> Result<Option<i64>, DbErr> {
    match row.try_get_by_index::<Option<i64>>(i) {
        Ok(v) => Ok(v),
        Err(_) => Ok(row.try_get_by_index::<Option<i32>>(i)?.map(i64::from)),
    }
}

/// Reads column `i` as a timestamp; NULL as `None`.
pub(super) fn time(row: &QueryResult, i: usize) -> Result<Option<DateTime<Utc>>, DbErr> {
    row.try_get_by_index::<Option<DateTime<Utc>>>(i)
}

/// One row to insert: `(column, value)` pairs.
#[derive(Debug, Default)]
pub(super) struct Row {
    columns: Vec<Alias>,
    values: Vec<SimpleExpr>,
}

impl Row {
    pub(super) fn new() -> Self {
        Self::default()
    }

    pub(super) fn set(mut self, column: &str, value: impl Into<sea_orm::Value>) -> Self {
        self.columns.push(Alias::new(column));
        self.values.push(SimpleExpr::Value(value.into()));
        self
    }

    pub(super) fn statement(self, table: &str) -> InsertStatement {
        let mut insert = Query::insert();
        insert.into_table(Alias::new(table)).columns(self.columns);
        insert
            .values(self.values)
            .expect("one value per column, by construction");
        insert
    }
}

/// Inserts one row.
pub(super) async fn insert(db: &impl ConnectionTrait, table: &str, row: Row) -> Result<(), DbErr> {
    db.execute(&row.statement(table)).await.map(|_| ())
}

/// After rows were inserted with explicit ids: on PostgreSQL, moves the
/// identity sequence of `table.id` past the largest id, so the next row the
/// service creates gets a fresh one. (The migrations make `id` an identity
/// column, `GENERATED BY DEFAULT`, whose sequence explicit ids do not move.
/// SQLite's `AUTOINCREMENT` follows the largest id by itself.)
pub(super) async fn bump_sequence(db: &impl ConnectionTrait, table: &str) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    db.execute_unprepared(&format!(
        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), m) \
         FROM (SELECT MAX(id) AS m FROM {table}) AS t WHERE m IS NOT NULL"
    ))
    .await
    .map(|_| ())
}
