//! Fresh target databases (SQLite files in a temporary directory, or one
//! new PostgreSQL database on the server `TEST_DATABASE_URL` names, shared
//! by the three targets as the services may share one), a small legacy
//! data set built by hand, and queries.

use chrono::{TimeZone, Utc};
use fedimpute_common::crypto::Keyring;
use fedimpute_legacy::{model::*, target::Targets};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// The backends to run on: SQLite always, PostgreSQL when configured.
pub(crate) fn backends() -> Vec<Backend> {
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        vec![Backend::Sqlite, Backend::Postgres]
    } else {
        eprintln!("TEST_DATABASE_URL is not set: the PostgreSQL cases are skipped");
        vec![Backend::Sqlite]
    }
}

pub(crate) struct Dbs {
    pub(crate) targets: Targets,
    _dir: tempfile::TempDir,
    drop_pg: Option<(String, String)>,
}

pub(crate) fn keyring() -> Keyring {
    Keyring::new([7; 32], &[])
}

impl Dbs {
    pub(crate) async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sqlite = |name: &str| {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join(format!("{name}.db")).display()
            )
        };
        let (urls, drop_pg) = match backend {
            Backend::Sqlite => ([sqlite("registry"), sqlite("users"), sqlite("jobs")], None),
            Backend::Postgres => {
                let admin = std::env::var("TEST_DATABASE_URL").expect("set");
                let name = format!("legacy_{}", Uuid::new_v4().simple());
                let conn = Database::connect(&admin)
                    .await
                    .expect("connect to postgres");
                conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create a database");
                conn.close().await.ok();
                let mut url = url::Url::parse(&admin).expect("a URL");
                url.set_path(&name);
                let url = url.to_string();
                ([url.clone(), url.clone(), url], Some((admin, name)))
            }
        };
        let [registry_url, users_url, jobs_url] = urls;
        Self {
            targets: Targets {
                registry_url,
                users_url,
                jobs_url,
                keyring: keyring(),
            },
            _dir: dir,
            drop_pg,
        }
    }

    pub(crate) async fn count(&self, url: &str, table: &str) -> i64 {
        self.int(url, &format!("SELECT COUNT(*) FROM {table}"))
            .await
    }

    pub(crate) async fn int(&self, url: &str, sql: &str) -> i64 {
        let row = self.rows(url, sql).await.into_iter().next().expect("a row");
        row.try_get_by_index::<i64>(0)
            .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))
            .expect("an integer")
    }

    pub(crate) async fn texts(&self, url: &str, sql: &str) -> Vec<String> {
        self.rows(url, sql)
            .await
            .iter()
            .map(|r| {
                r.try_get_by_index::<Option<String>>(0)
                    .expect("text")
                    .unwrap_or_default()
            })
            .collect()
    }

    pub(crate) async fn rows(&self, url: &str, sql: &str) -> Vec<sea_orm::QueryResult> {
        let conn = Database::connect(url).await.expect("connect");
        let rows = conn
            .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
            .await
            .expect("the query runs");
        conn.close().await.ok();
        rows
    }

    pub(crate) async fn execute(&self, url: &str, sql: &str) {
        let conn = Database::connect(url).await.expect("connect");
        conn.execute_unprepared(sql)
            .await
            .expect("the statement runs");
        conn.close().await.ok();
    }

    pub(crate) async fn finish(self) {
        if let Some((admin, name)) = &self.drop_pg {
            let conn = Database::connect(admin).await.expect("connect");
            let _ = conn
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
            conn.close().await.ok();
        }
    }
}

fn origin(table: &str, key: impl ToString) -> Origin {
    Origin {
        source: "test.sql".into(),
        table: table.into(),
        key: key.to_string(),
    }
}

pub(crate) const PARENT: Uuid = Uuid::from_u128(0x10);
pub(crate) const CHILD_A: Uuid = Uuid::from_u128(0x11);
pub(crate) const CHILD_B: Uuid = Uuid::from_u128(0x12);
pub(crate) const RUNNING: Uuid = Uuid::from_u128(0x20);
pub(crate) const DONE: Uuid = Uuid::from_u128(0x30);
pub(crate) const ORPHAN: Uuid = Uuid::from_u128(0x40);
pub(crate) const DJANGO_HASH: &str =
    "pbkdf2_sha256$600000$salt$kJ6Qz1r4bVxM2n3Q0yYtq2QJb9h0k1x5cVb6n7m8a9s=";

/// A small legacy platform with the awkward cases.
pub(crate) fn legacy() -> Legacy {
    let at = |d: u32| Some(Utc.with_ymd_and_hms(2025, 10, d, 12, 0, 0).unwrap());
    let service = |id: i64, name: &str, api: &str, url: &str| Service {
        origin: origin("imputation_imputationservice", id),
        id,
        name: name.into(),
        service_type: api.into(),
        api_type: api.into(),
        base_url: url.into(),
        is_active: true,
        requires_auth: true,
        created_at: at(1),
        ..Default::default()
    };
    let panel = |id: i64, service_id: i64, name: &str, external: &str| Panel {
        origin: origin("imputation_referencepanel", id),
        id,
        service_id,
        name: name.into(),
        external_id: external.into(),
        build: "hg19".into(),
        population: "AFR".into(),
        is_active: true,
        ..Default::default()
    };
    let user = |id: i64, name: &str, email: &str| User {
        origin: origin("auth_user", id),
        id,
        username: name.into(),
        email: email.into(),
        password_hash: DJANGO_HASH.into(),
        is_active: true,
        date_joined: at(1),
        ..Default::default()
    };
    let job = |id: Uuid, user_id: i64, status: &str, parent: Option<Uuid>| Job {
        origin: origin("imputation_imputationjob", id),
        id,
        user_id,
        service_id: Some(1),
        panel_id: Some(11),
        parent_id: parent,
        name: "chr20 – ñandú".into(),
        build: "hg19".into(),
        status: status.into(),
        external_job_id: format!("job-{}", id.as_u128()),
        input_file_name: "uploads/2025/chr20.vcf.gz".into(),
        created_at: at(5),
        ..Default::default()
    };
    let mut h3africa = service(
        1,
        "H3Africa Imputation Service",
        "michigan",
        "https://impute.afrigen-d.org/",
    );
    h3africa.api_key = Some("cloudgene-service-token".into());
    h3africa.location = "Cape Town, South Africa".into();
    h3africa.api_config = json!({"workflow": "x", "access_token": "moved"});
    let mut parent = job(PARENT, 2, "queued", None);
    parent.service_id = None;
    parent.panel_id = None;
    let mut done = job(DONE, 2, "completed", None);
    done.user_token = Some("user-token-from-the-job-0123456789".into());
    done.completed_at = at(6);
    Legacy {
        services: vec![
            h3africa,
            service(
                3,
                "eLwazi Node",
                "ga4gh",
                "http://elwazi-node.icermali.org:6000/ga4gh/wes/v1",
            ),
            service(
                4,
                "eLwazi Node",
                "ga4gh",
                "http://ilifu.example.org/ga4gh/wes/v1/",
            ),
            service(6, "Bad", "cloudgene", "https://x.example.org"),
        ],
        panels: vec![
            panel(11, 1, "H3AFRICA v6", "apps@h3africa-v6hc-s@1.0.0"),
            panel(12, 3, "1000G", "1000g-phase3"),
            panel(13, 4, "1000G", "1000g-phase3"),
            panel(14, 99, "Orphan panel", "x"),
        ],
        users: vec![
            user(1, "admin", "admin@example.org"),
            user(2, "test_user", "test@example.org"),
            user(3, "Test_User", "other@example.org"),
        ]
        .into_iter()
        .map(|mut u| {
            u.is_superuser = u.id == 1;
            u
        })
        .collect(),
        profiles: vec![Profile {
            origin: origin("imputation_userprofile", 2),
            user_id: 2,
            institution: "UCT".into(),
            monthly_job_limit: Some(7),
            ..Default::default()
        }],
        roles: vec![RoleAssignment {
            origin: origin("user_roles", 1),
            user_id: 2,
            role: "service_user".into(),
            service_id: Some(1),
        }],
        credentials: vec![Credential {
            origin: origin("user_service_credentials", 1),
            user_id: 2,
            service_id: 3,
            credential_type: "api_token".into(),
            api_token: Some("wes-token".into()),
            ..Default::default()
        }],
        audit_logs: vec![AuditEntry {
            origin: origin("audit_logs", 1),
            user_id: Some(2),
            action: "login".into(),
            details: json!({"ok": true}),
            at: at(2),
            ..Default::default()
        }],
        jobs: vec![
            parent,
            job(CHILD_A, 2, "failed", Some(PARENT)),
            job(CHILD_B, 2, "failed", Some(PARENT)),
            job(RUNNING, 2, "running", None),
            done,
            job(ORPHAN, 42, "completed", None),
        ],
        status_updates: vec![StatusUpdate {
            origin: origin("imputation_jobstatusupdate", 1),
            job_id: DONE,
            status: "completed".into(),
            progress: 100,
            message: "done".into(),
            at: at(6),
            ..Default::default()
        }],
        job_logs: vec![JobLog {
            origin: origin("job_logs", 1),
            job_id: DONE,
            step: "qc".into(),
            message: "ok".into(),
            at: at(6),
            ..Default::default()
        }],
        result_files: vec![ResultFile {
            origin: origin("imputation_resultfile", 1),
            job_id: DONE,
            name: "chr20.zip".into(),
            location: "https://impute.afrigen-d.org/share/results/abc/chr20.zip".into(),
            is_available: true,
            ..Default::default()
        }],
        files: vec![FileRecord {
            origin: origin("file_records", 1),
            user_id: 2,
            job_id: Some(DONE),
            original_filename: "chr20.vcf.gz".into(),
            path: "/uploads/chr20.vcf.gz".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}
