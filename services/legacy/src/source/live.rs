//! A live PostgreSQL database: every table of the `public` schema, each
//! column selected as `col::text` so values read exactly like COPY text,
//! all in one read-only repeatable-read transaction (one consistent
//! snapshot, even while the old platform is still running). Rows are
//! streamed, not collected by the driver.

use futures::TryStreamExt;
use sea_orm::sqlx::{self, Connection, Row, postgres::PgConnection};

use super::{Keep, SourceError, Table, Tables};

pub(super) async fn read(url: &str, origin: &str, keep: Keep<'_>) -> Result<Tables, SourceError> {
    let failed = |e: sqlx::Error| SourceError::Database {
        url: origin.to_owned(),
        reason: e.to_string(),
    };
    let mut conn = PgConnection::connect(url).await.map_err(failed)?;
    // Text forms that match pg_dump's: UTC timestamps in ISO style, floats
    // with every digit.
    for statement in [
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        "SET LOCAL TIME ZONE 'UTC'",
        "SET LOCAL DateStyle = 'ISO, YMD'",
        "SET LOCAL IntervalStyle = 'postgres'",
        "SET LOCAL extra_float_digits = 3",
        "SET LOCAL bytea_output = 'hex'",
    ] {
        sqlx::query(statement)
            .execute(&mut conn)
            .await
            .map_err(failed)?;
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(failed)?;
    let mut tables = Tables::new();
    for name in names {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&name)
        .fetch_all(&mut conn)
        .await
        .map_err(failed)?;
        let mut table = Table::new(columns);
        let from = format!("public.{}", quote(&name));
        if keep(&name) && !table.columns.is_empty() {
            let list = table
                .columns
                .iter()
                .map(|c| format!("{}::text", quote(c)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("SELECT {list} FROM {from}");
            // The identifiers are quoted and come from the catalogue.
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut conn);
            while let Some(row) = rows.try_next().await.map_err(failed)? {
                let values = (0..row.len())
                    .map(|i| row.try_get::<Option<String>, _>(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(failed)?;
                table.rows.push(values);
            }
            table.row_count = table.rows.len() as u64;
        } else {
            let count: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {from}")))
                    .fetch_one(&mut conn)
                    .await
                    .map_err(failed)?;
            table.row_count = u64::try_from(count).unwrap_or_default();
        }
        tables.insert(name, table);
    }
    sqlx::query("ROLLBACK")
        .execute(&mut conn)
        .await
        .map_err(failed)?;
    let _ = conn.close().await;
    Ok(tables)
}

/// A quoted identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
