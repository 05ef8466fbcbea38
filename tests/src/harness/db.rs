//! A fresh database per test: a SQLite file in a temporary directory, or a
//! new PostgreSQL database on the server named by `TEST_DATABASE_URL`
//! (dropped afterwards).

use std::fmt;

use rand::Rng;
use sea_orm::{ConnectionTrait, Database};

/// Which database engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

/// The first column of each row of `sql`, as text (NULL as "").
pub async fn query_texts(db: &TestDb, sql: &str) -> Vec<String> {
    let conn = Database::connect(&db.url).await.expect("connect to the db");
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            sql,
        ))
        .await
        .expect("the query runs");
    conn.close().await.ok();
    rows.iter()
        .map(|row| {
            row.try_get_by_index::<Option<String>>(0)
                .expect("a text column")
                .unwrap_or_default()
        })
        .collect()
}

/// Runs one SQL statement on the database.
pub async fn execute(db: &TestDb, sql: &str) {
    let conn = Database::connect(&db.url).await.expect("connect to the db");
    conn.execute_unprepared(sql)
        .await
        .expect("the statement runs");
    conn.close().await.ok();
}

/// The first column of the first row of `sql`, as an integer.
pub async fn query_i64(db: &TestDb, sql: &str) -> i64 {
    let conn = Database::connect(&db.url).await.expect("connect to the db");
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            sql,
        ))
        .await
        .expect("the query runs")
        .expect("a row");
    let value = row
        .try_get_by_index::<i64>(0)
        .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))
        .expect("an integer column");
    conn.close().await.ok();
    value
}

/// One test database.
#[derive(Debug)]
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        Self {
            backend: Backend::Sqlite,
            url,
            admin_url: None,
            name: String::new(),
            _dir: Some(dir),
        }
    }

    /// An existing database, by URL (one that another `TestDb` or a process
    /// under test owns): a component can be started on it. Dropping this
    /// handle leaves the database alone.
    pub fn at(url: &str) -> Self {
        Self {
            backend: if url.starts_with("postgres") {
                Backend::Postgres
            } else {
                Backend::Sqlite
            },
            url: url.to_owned(),
            admin_url: None,
            name: String::new(),
            _dir: None,
        }
    }

    /// `None` (and a note on stderr) when `TEST_DATABASE_URL` is unset.
    pub async fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("TEST_DATABASE_URL is not set: PostgreSQL case skipped");
            return None;
        };
        let name = format!("fedimpute_test_{:016x}", rand::thread_rng().r#gen::<u64>());
        let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        });
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create the test database");
        admin.close().await.ok();
        let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        Some(Self {
            backend: Backend::Postgres,
            url: url.to_string(),
            admin_url: Some(admin_url),
            name,
            _dir: None,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(admin_url) = self.admin_url.take() else {
            return;
        };
        let name = std::mem::take(&mut self.name);
        // Drop runs inside the test's runtime: clean up on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    admin.close().await.ok();
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// SQLite always, PostgreSQL when configured: run each store test on both.
pub async fn backends() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    dbs.extend(TestDb::postgres().await);
    dbs
}
