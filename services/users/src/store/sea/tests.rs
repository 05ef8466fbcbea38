//! The store on SQLite (a temporary file), and on PostgreSQL when
//! `TEST_DATABASE_URL` names a server where databases may be created.

use chrono::{Duration, Utc};
use fedimpute_common::auth::Role;
use fedimpute_users_migration::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;

mod accounts;
mod limits;
mod logins;
mod purge;
mod records;

use super::SeaOrmStore;
use crate::store::{NewGrant, NewSession, NewUser, ProfileFields, StoreError, UsersStore};

/// A migrated database of its own: a SQLite file in a temporary directory,
/// or a new PostgreSQL database on the server named by `TEST_DATABASE_URL`;
/// removed on drop.
struct TempDb {
    backend: &'static str,
    store: SeaOrmStore,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    Database { admin_url: String, name: String },
}

impl TempDb {
    async fn sqlite() -> Self {
        let dir =
            std::env::temp_dir().join(format!("fedimpute-users-{:016x}", rand::random::<u64>()));
        let url = format!("sqlite://{}?mode=rwc", dir.join("users.db").display());
        Self::migrated("sqlite", &url, Cleanup::Dir(dir)).await
    }

    async fn postgres() -> Option<Self> {
        let admin_url = std::env::var("TEST_DATABASE_URL").ok()?;
        let name = format!("fedimpute_test_{:016x}", rand::random::<u64>());
        let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        let cleanup = Cleanup::Database { admin_url, name };
        Some(Self::migrated("postgres", url.as_str(), cleanup).await)
    }

    async fn migrated(backend: &'static str, url: &str, cleanup: Cleanup) -> Self {
        let db = fedimpute_common::db::connect(url, 4).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        Self {
            backend,
            store: SeaOrmStore::new(db),
            cleanup,
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime: a thread of its own.
                let dropped = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async {
                        let admin = sea_orm::Database::connect(&admin_url).await?;
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        admin.execute_unprepared(&sql).await?;
                        admin.close().await
                    })
                    .map_err(std::io::Error::other)
                });
                let _ = dropped.join();
            }
        }
    }
}

/// Runs `case` on SQLite, and on PostgreSQL too when `TEST_DATABASE_URL`
/// is set.
async fn on_each_backend(case: impl AsyncFn(&SeaOrmStore)) {
    let mut dbs = vec![TempDb::sqlite().await];
    dbs.extend(TempDb::postgres().await);
    for db in dbs {
        eprintln!("on {}", db.backend);
        case(&db.store).await;
    }
}

fn new_user(username: &str, email: &str) -> NewUser {
    NewUser {
        username: username.into(),
        email: email.into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        password_hash: "hash".into(),
        is_active: true,
        profile: ProfileFields {
            institution: "Analytical Engines".into(),
            ..ProfileFields::default()
        },
        monthly_job_limit: 10,
        storage_limit_bytes: 1 << 30,
        grants: vec![NewGrant {
            role: Role::Researcher,
            service_id: None,
            expires_at: None,
            granted_by: None,
        }],
    }
}

fn conflict(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Conflict(name)) => name,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn new_session(user_id: i64, id: &str, token: &str) -> NewSession {
    NewSession {
        id: id.into(),
        user_id,
        ip_address: "127.0.0.1".into(),
        user_agent: "test".into(),
        token_hash: token.into(),
        expires_at: Utc::now() + Duration::days(1),
    }
}

/// A session for a user still holding `new_user`'s hash.
async fn session(store: &SeaOrmStore, user_id: i64, id: &str, token: &str) {
    let created = store
        .create_session(new_session(user_id, id, token), "hash")
        .await
        .unwrap();
    assert!(created, "session {id} refused");
}
