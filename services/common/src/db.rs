//! Database connection (SQLite or PostgreSQL through sea-orm) and the
//! mapping of constraint violations.

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, SqlErr};

/// Connects, creating the SQLite file's directory when needed.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let sqlite = url.starts_with("sqlite:");
    if sqlite
        && let Some(path) = sqlite_path(url)
        && let Some(dir) = std::path::Path::new(&path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if sqlite {
            max_connections.min(8)
        } else {
            max_connections
        })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    if sqlite {
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
        });
    }
    Database::connect(options).await
}

/// The file of a `sqlite:` URL (`None` for memory databases and other URLs).
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

/// The unique constraint a write violated, when it did. PostgreSQL names
/// the constraint; SQLite names the columns (`table.col, table.col`), so
/// callers match on either.
pub fn unique_violation(err: &DbErr) -> Option<String> {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => Some(message),
        Some(_) | None => None,
    }
}

/// What a client is told when its text cannot be stored.
pub const UNSTORABLE_TEXT: &str = "invalid request: text must not contain NUL characters (U+0000)";

/// Whether a statement failed on text the database cannot hold: PostgreSQL
/// refuses NUL in text (SQLSTATE 22021) and characters its encoding lacks
/// (22P05); SQLite stores any text. The text came from the request, so
/// this is the caller's error (InvalidArgument), not the service's.
pub fn unstorable_text(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    if let DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) = err
        && let sqlx::Error::Database(db) = e.as_ref()
    {
        return db.code().is_some_and(|c| c == "22021" || c == "22P05");
    }
    false
}

/// Redacts the password of a database URL for logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(_) | Err(_) => url.to_owned(),
    }
}

/// A transaction that will write. On SQLite it takes the write lock at
/// `BEGIN IMMEDIATE`, waiting out the busy timeout: a deferred transaction
/// that reads and then writes after another connection wrote fails at once
/// with `database is locked`, whatever the timeout. PostgreSQL ignores it.
pub async fn begin_write(
    db: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::TransactionTrait;
    db.begin_with_options(sea_orm::TransactionOptions {
        isolation_level: None,
        access_mode: None,
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
    })
    .await
}
