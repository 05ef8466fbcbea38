//! `fedimpute import-legacy` as an operator runs it: the real binary on the
//! real 2025-10-08 dump (from the file and from a PostgreSQL database loaded
//! with it) and on the awkward dumps in `tests/fixtures/legacy/` (see the
//! comment block at the top of each), then the services started on the
//! imported databases and checked through their APIs. Every case runs on
//! SQLite targets, and on PostgreSQL targets when `TEST_DATABASE_URL` is set.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    process::ExitStatus,
    sync::atomic::{AtomicUsize, Ordering},
};

use fedimpute_common::{auth::Component, crypto::Keyring};
use fedimpute_proto::{
    jobs::{self as jpb},
    registry::{self as rpb},
    users::{self as upb},
};
use fedimpute_tests::harness::{
    auth::bearer,
    db::{Backend, TestDb, query_i64, query_texts},
    jobs::TestPlatform,
    registry::TestRegistry,
    users::{TestUsers, as_component},
};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_fedimpute-e2e");
const REAL_DUMP: &str = "federated_imputation_2025-10-08.sql";
const DJANGO: &str = "django_with_jobs.sql";
const MICRO: &str = "microservices.sql";

/// The plaintext secrets in `django_with_jobs.sql` (see its header).
const DJANGO_SECRETS: &[&str] = &[
    "cg-h3a-7f3c9a1e5b2d4c6e8f0a1b2c3d4e5f60",
    "cg-h3a-0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0",
    "mis-umich-abebe-token-77aa88bb",
    "mis-umich-5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
    "ci-pasteur-svc-key-4b1d2e3f",
    "svccfg-h3a-key-9a8b7c6d",
    "svccfg-h3a-secret-1f2e3d4c",
];
/// The plaintext secrets in `microservices.sql` (see its header).
const MICRO_SECRETS: &[&str] = &[
    "cg-h3a-kwame-3c4d5e6f7a8b9c0d1e2f3a4b",
    "wes-aau-kwame-token-1a2b3c",
    "wes-ilifu-oauth-eyJhbGciOiJIUzI1NiJ9.amina",
    "cfg-h3a-api-key-5566778899",
];

fn fixture(name: &str) -> String {
    format!("{}/fixtures/legacy/{name}", env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------- targets

/// The three target databases of one import, the data directory the
/// command runs with, and the encryption key file it seals secrets with.
#[derive(Debug)]
struct Targets {
    registry: TestDb,
    users: TestDb,
    jobs: TestDb,
    data: tempfile::TempDir,
    key_file: PathBuf,
}

impl Targets {
    fn new(registry: TestDb, users: TestDb, jobs: TestDb) -> Self {
        let data = tempfile::tempdir().expect("a temp dir");
        let key_file = data.path().join("encryption.key");
        std::fs::write(&key_file, Keyring::generate_key_file_contents()).expect("write the key");
        Self {
            registry,
            users,
            jobs,
            data,
            key_file,
        }
    }

    /// SQLite targets always; PostgreSQL targets when configured.
    async fn all() -> Vec<Self> {
        let mut all = vec![Self::new(
            TestDb::sqlite(),
            TestDb::sqlite(),
            TestDb::sqlite(),
        )];
        if let Some(registry) = TestDb::postgres().await {
            let users = TestDb::postgres().await.expect("PostgreSQL is configured");
            let jobs = TestDb::postgres().await.expect("PostgreSQL is configured");
            all.push(Self::new(registry, users, jobs));
        }
        all
    }

    fn backend(&self) -> Backend {
        self.registry.backend
    }

    fn keyring(&self) -> Keyring {
        Keyring::load(&self.key_file, &[] as &[PathBuf]).expect("load the key")
    }

    fn dbs(&self) -> [(&'static str, &TestDb); 3] {
        [
            ("registry", &self.registry),
            ("users", &self.users),
            ("jobs", &self.jobs),
        ]
    }

    /// A registry on the imported registry database.
    async fn registry(&self) -> TestRegistry {
        TestRegistry::spawn(TestDb::at(&self.registry.url)).await
    }

    /// Users on the imported users database (with the import's key, so
    /// imported credentials open), its registry on the imported registry.
    async fn users(&self) -> TestUsers {
        let keyring = self.keyring();
        TestUsers::spawn_with_registry_db(
            TestDb::at(&self.users.url),
            TestDb::at(&self.registry.url),
            move |s| s.keyring = keyring,
        )
        .await
    }

    /// The whole platform on the imported databases.
    async fn platform(&self) -> TestPlatform {
        let users = self.users().await;
        TestPlatform::spawn_on(users, TestDb::at(&self.jobs.url), |_| {}).await
    }
}

// ---------------------------------------------------------------- the command

#[derive(Debug)]
struct Import {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    report: Value,
}

impl Import {
    fn context(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}\nreport:\n{:#}",
            self.status.code(),
            self.stdout,
            self.stderr,
            self.report
        )
    }

    fn assert_success(&self, what: &str) {
        assert!(
            self.status.success(),
            "{what}: import-legacy failed\n{}",
            self.context()
        );
    }

    /// Per-entity counts, by entity name.
    fn entities(&self) -> Vec<(String, Value)> {
        let entities = self
            .report
            .get("entities")
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("the report has per-entity counts\n{}", self.context()));
        entities
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn entity(&self, name: &str) -> Value {
        self.entities()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("the report has entity {name}\n{}", self.context()))
    }

    fn count(&self, entity: &str, field: &str) -> u64 {
        let value = self.entity(entity);
        match field {
            "skipped" => value["skipped"].as_array().map_or(0, |s| s.len() as u64),
            _ => value[field]
                .as_u64()
                .unwrap_or_else(|| panic!("{entity}.{field} is a count\n{}", self.context())),
        }
    }

    /// Every record found is imported, merged or skipped with a reason,
    /// and nothing is dropped.
    fn assert_accounted(&self, what: &str) {
        for (name, e) in self.entities() {
            let n = |f: &str| e[f].as_u64().unwrap_or(0);
            let skipped = e["skipped"].as_array().cloned().unwrap_or_default();
            assert_eq!(n("dropped"), 0, "{what}: {name} dropped records\n{e:#}");
            assert_eq!(
                n("found"),
                n("imported") + n("merged") + skipped.len() as u64,
                "{what}: {name}: found = imported + merged + skipped\n{e:#}"
            );
            for skip in skipped {
                for field in ["source", "table", "key", "reason"] {
                    assert!(
                        skip[field].as_str().is_some_and(|s| !s.is_empty()),
                        "{what}: {name}: every skip names its {field}: {skip}"
                    );
                }
            }
        }
    }

    /// A second run over the same sources: nothing new.
    fn assert_no_op(&self, what: &str) {
        self.assert_success(what);
        self.assert_accounted(what);
        for (name, e) in self.entities() {
            assert_eq!(
                e["imported"].as_u64(),
                Some(0),
                "{what}: {name}: a second run imports nothing\n{e:#}"
            );
            let skipped = e["skipped"].as_array().map_or(0, Vec::len) as u64;
            assert_eq!(
                e["merged"].as_u64().unwrap_or(0) + skipped,
                e["found"].as_u64().unwrap_or(0),
                "{what}: {name}: on a second run every record is merged (or skipped as before)\n{e:#}"
            );
        }
    }

    fn conflicts(&self) -> Vec<Value> {
        self.report["conflicts"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("the report lists conflicts\n{}", self.context()))
    }
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Runs `fedimpute --data-dir <dir> import-legacy --source ... --report
/// <file> <extra>` on the targets.
async fn import_legacy(targets: &Targets, sources: &[String], extra: &[&str]) -> Import {
    let report = targets.data.path().join(format!(
        "report-{}.json",
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let mut command = tokio::process::Command::new(BINARY);
    command
        .args([
            "--data-dir",
            targets.data.path().to_str().expect("a UTF-8 path"),
            "import-legacy",
        ])
        .args(sources.iter().flat_map(|s| ["--source", s.as_str()]))
        .args(["--report", report.to_str().expect("a UTF-8 path")])
        .args(extra)
        .env("FEDIMPUTE_REGISTRY_DATABASE_URL", &targets.registry.url)
        .env("FEDIMPUTE_USERS_DATABASE_URL", &targets.users.url)
        .env("FEDIMPUTE_JOBS_DATABASE_URL", &targets.jobs.url)
        .env("FEDIMPUTE_ENCRYPTION_KEY_FILE", &targets.key_file)
        .env("FEDIMPUTE_LOG", "warn");
    let output = command.output().await.expect("run import-legacy");
    let report = std::fs::read_to_string(&report)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    Import {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        report,
    }
}

// ---------------------------------------------------------------- a PostgreSQL source

/// A fresh database on `TEST_DATABASE_URL` loaded with `dump` by psql, as
/// an operator would restore a backup. `None` when PostgreSQL is not
/// configured.
async fn legacy_database(dump: &str) -> Option<TestDb> {
    let db = TestDb::postgres().await?;
    let output = tokio::process::Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-f", dump])
        .output()
        .await
        .expect("run psql (install the PostgreSQL client to run this test)");
    assert!(
        output.status.success(),
        "psql loads {dump}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(db)
}

// ---------------------------------------------------------------- storage checks

fn sqlite_path(url: &str) -> PathBuf {
    let rest = url.strip_prefix("sqlite://").expect("a SQLite URL");
    PathBuf::from(rest.split('?').next().expect("a path"))
}

/// The tables the database holds (0 when a SQLite file does not exist).
async fn table_count(db: &TestDb) -> i64 {
    match db.backend {
        Backend::Sqlite => {
            if !sqlite_path(&db.url).exists() {
                return 0;
            }
            query_i64(
                db,
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            )
            .await
        }
        Backend::Postgres => {
            query_i64(
                db,
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .await
        }
    }
}

/// Everything the database stores, as text: the SQLite file (and its WAL)
/// byte for byte, or every row of every PostgreSQL table.
async fn stored_text(db: &TestDb) -> String {
    match db.backend {
        Backend::Sqlite => {
            let path = sqlite_path(&db.url);
            let mut text = String::new();
            for suffix in ["", "-wal", "-journal"] {
                let file = PathBuf::from(format!("{}{suffix}", path.display()));
                if let Ok(bytes) = std::fs::read(&file) {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            text
        }
        Backend::Postgres => {
            let tables = query_texts(
                db,
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public'",
            )
            .await;
            let mut text = String::new();
            for table in tables {
                for row in query_texts(db, &format!("SELECT t::text FROM \"{table}\" t")).await {
                    text.push_str(&row);
                    text.push('\n');
                }
            }
            text
        }
    }
}

async fn assert_no_plaintext(targets: &Targets, secrets: &[&str], what: &str) {
    for (name, db) in targets.dbs() {
        let stored = stored_text(db).await;
        for secret in secrets {
            assert!(
                !stored.contains(secret),
                "{what}: the {name} database holds the legacy secret {secret:?} in plaintext"
            );
        }
    }
}

async fn password_hash(users: &TestDb, username: &str) -> String {
    query_texts(
        users,
        &format!("SELECT password_hash FROM users WHERE username = '{username}'"),
    )
    .await
    .into_iter()
    .next()
    .unwrap_or_else(|| panic!("{username} is in the users database"))
}

// ---------------------------------------------------------------- API helpers

async fn services(registry: &TestRegistry) -> Vec<rpb::Service> {
    registry
        .client()
        .await
        .list_services(rpb::ListServicesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list the services")
        .into_inner()
        .services
}

async fn panels(registry: &TestRegistry) -> Vec<rpb::ReferencePanel> {
    registry
        .client()
        .await
        .list_reference_panels(rpb::ListReferencePanelsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list the panels")
        .into_inner()
        .panels
}

fn by_name<'a>(services: &'a [rpb::Service], name: &str) -> &'a rpb::Service {
    services
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("a service named {name:?} in {services:#?}"))
}

async fn try_login(
    users: &TestUsers,
    username: &str,
    password: &str,
) -> Result<upb::LoginResponse, tonic::Status> {
    users
        .client()
        .await
        .login(upb::LoginRequest {
            username: username.into(),
            password: password.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn roles(login: &upb::LoginResponse) -> Vec<(i32, Option<i64>)> {
    login
        .user
        .as_ref()
        .expect("a user")
        .roles
        .iter()
        .map(|g| (g.role, g.service_id))
        .collect()
}

/// The secret the Jobs component would be given for (user, service).
async fn secret(
    users: &TestUsers,
    user_id: i64,
    service_id: i64,
) -> Result<upb::GetCredentialSecretResponse, tonic::Status> {
    users
        .client()
        .await
        .get_credential_secret(as_component(
            upb::GetCredentialSecretRequest {
                user_id,
                service_id,
            },
            &users.auth().jobs.token(Component::Users),
            None,
        ))
        .await
        .map(tonic::Response::into_inner)
}

fn secret_parts(s: &upb::GetCredentialSecretResponse) -> [&str; 5] {
    [
        &s.api_token,
        &s.client_id,
        &s.client_secret,
        &s.username,
        &s.password,
    ]
}

async fn jobs_of(platform: &TestPlatform, token: &str) -> Vec<jpb::Job> {
    platform
        .jobs()
        .await
        .list_jobs(bearer(
            token,
            jpb::ListJobsRequest {
                limit: 1000,
                ..Default::default()
            },
        ))
        .await
        .expect("list the jobs")
        .into_inner()
        .jobs
}

fn job<'a>(jobs: &'a [jpb::Job], name: &str) -> &'a jpb::Job {
    jobs.iter()
        .find(|j| j.name == name)
        .unwrap_or_else(|| panic!("a job named {name:?} among {:?}", names(jobs)))
}

fn names(jobs: &[jpb::Job]) -> Vec<&str> {
    jobs.iter().map(|j| j.name.as_str()).collect()
}

fn status(job: &jpb::Job) -> jpb::JobStatus {
    jpb::JobStatus::try_from(job.status).unwrap_or(jpb::JobStatus::Unspecified)
}

// ---------------------------------------------------------------- the real dump

/// What the real 2025-10-08 dump must become, checked through the APIs.
async fn assert_real_platform(targets: &Targets, what: &str) {
    let registry = targets.registry().await;
    let mut found = services(&registry).await;
    found.sort_by_key(|s| s.id);
    let expected = [
        (
            1,
            rpb::ApiType::Michigan,
            "https://impute.afrigen-d.org",
            "Africa",
        ),
        (
            2,
            rpb::ApiType::Michigan,
            "https://imputationserver.sph.umich.edu",
            "North America",
        ),
        (
            3,
            rpb::ApiType::Ga4gh,
            "http://elwazi-node.icermali.org:6000",
            "Africa",
        ),
        (
            4,
            rpb::ApiType::Ga4gh,
            "http://ga4gh-starter-kit.ilifu.ac.za:6000",
            "Africa",
        ),
        (
            5,
            rpb::ApiType::Dnastack,
            "https://platform.elwazi.org",
            "Africa",
        ),
    ];
    let got: Vec<_> = found
        .iter()
        .map(|s| (s.id, s.api_type, s.base_url.as_str(), s.continent.as_str()))
        .collect();
    let want: Vec<_> = expected
        .iter()
        .map(|(id, t, url, c)| (*id, *t as i32, *url, *c))
        .collect();
    assert_eq!(
        got, want,
        "{what}: ids, api types, normalised URLs, continents"
    );
    let mali = &found[2];
    let location = format!(
        "{} | {} | {}",
        mali.location_institution, mali.location_city, mali.location_country
    );
    assert!(
        location.contains("Bamako") && location.contains("Mali"),
        "{what}: the Mali node keeps its location: {location}"
    );
    let slugs: BTreeSet<_> = found.iter().map(|s| s.slug.clone()).collect();
    assert_eq!(slugs.len(), 5, "{what}: unique service slugs");

    let mut panels = panels(&registry).await;
    panels.sort_by_key(|p| p.id);
    let got: Vec<_> = panels
        .iter()
        .map(|p| (p.id, p.service_id, p.external_id.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (6, 2, "michigan_panel_1", "HRC r1.1 2016"),
            (7, 2, "michigan_panel_2", "1000G Phase 3 v5"),
            (8, 2, "michigan_panel_3", "CAAPA African American"),
            (9, 3, "nfl-imputation-v1", "Nextflow Imputation Pipeline"),
            (10, 3, "smk-imputation-v1", "Snakemake Imputation Pipeline"),
            (11, 4, "nfl-imputation-v1", "Nextflow Imputation Pipeline"),
            (12, 4, "smk-imputation-v1", "Snakemake Imputation Pipeline"),
            (13, 5, "elwazi_african_v1", "African Genomics Panel"),
            (
                14,
                5,
                "elwazi_pan_african_v2",
                "Pan-African Diversity Panel"
            ),
            (15, 1, "apps@h3africa-v6hc-s@1.0.0", "H3AFRICA v6"),
            (16, 1, "1000g_phase3_v5", "1000 Genomes Phase 3 Version 5"),
        ],
        "{what}: panel ids, services, external ids (the legacy panel_id) and names"
    );
    let h3africa = &panels[9];
    assert_eq!(
        (h3africa.samples_count, h3africa.variants_count),
        (Some(4447), Some(130_028_596)),
        "{what}"
    );
    registry.shutdown().await;

    // test_user signs in with the old password, and the stored Django
    // hash is replaced by a bcrypt one.
    let before = password_hash(&targets.users, "test_user").await;
    assert!(
        before.starts_with("pbkdf2_sha256$600000$"),
        "{what}: the Django hash is kept as is: {before}"
    );
    let users = targets.users().await;
    assert!(
        try_login(&users, "test_user", "wrong-password")
            .await
            .is_err(),
        "{what}: a wrong password is refused"
    );
    let session = try_login(&users, "test_user", "test_password")
        .await
        .unwrap_or_else(|e| panic!("{what}: test_user logs in with the old password: {e}"));
    assert_eq!(
        roles(&session),
        [(upb::Role::Researcher as i32, None)],
        "{what}: the legacy profile's role"
    );
    let after = password_hash(&targets.users, "test_user").await;
    assert!(
        after.starts_with("$2"),
        "{what}: the hash is bcrypt after the login: {after}"
    );
    try_login(&users, "test_user", "test_password")
        .await
        .unwrap_or_else(|e| panic!("{what}: test_user logs in after the rehash: {e}"));
    let admin = try_login(&users, "admin", "admin_password")
        .await
        .unwrap_or_else(|e| panic!("{what}: admin logs in with the old password: {e}"));
    assert!(
        roles(&admin).contains(&(upb::Role::Admin as i32, None)),
        "{what}: the superuser is an admin: {:?}",
        roles(&admin)
    );
    users.shutdown().await;
}

fn assert_real_counts(run: &Import, what: &str) {
    for (entity, n) in [("services", 5), ("panels", 11), ("users", 2)] {
        assert_eq!(run.count(entity, "found"), n, "{what}: {entity} found");
        assert_eq!(
            run.count(entity, "imported"),
            n,
            "{what}: {entity} imported"
        );
    }
}

#[tokio::test]
async fn the_real_dump_imports_from_the_file_and_a_second_run_is_a_no_op() {
    for targets in Targets::all().await {
        let what = format!("file source, {} targets", targets.backend());
        let sources = [fixture(REAL_DUMP)];
        let first = import_legacy(&targets, &sources, &[]).await;
        first.assert_success(&what);
        first.assert_accounted(&what);
        assert_real_counts(&first, &what);
        assert_real_platform(&targets, &what).await;

        let second = import_legacy(&targets, &sources, &[]).await;
        second.assert_no_op(&format!("{what}, second run"));
        // Still the same platform (test_user now holds a bcrypt hash: the
        // second run did not put the Django one back).
        assert!(
            password_hash(&targets.users, "test_user")
                .await
                .starts_with("$2")
        );
        let registry = targets.registry().await;
        assert_eq!(services(&registry).await.len(), 5, "{what}");
        assert_eq!(panels(&registry).await.len(), 11, "{what}");
        registry.shutdown().await;
    }
}

#[tokio::test]
async fn the_real_dump_imports_from_a_postgresql_database_loaded_with_it() {
    let Some(legacy) = legacy_database(&fixture(REAL_DUMP)).await else {
        eprintln!("TEST_DATABASE_URL is not set: the PostgreSQL source case is skipped");
        return;
    };
    for targets in Targets::all().await {
        let what = format!("PostgreSQL source, {} targets", targets.backend());
        let sources = [legacy.url.clone()];
        let first = import_legacy(&targets, &sources, &[]).await;
        first.assert_success(&what);
        first.assert_accounted(&what);
        assert_real_counts(&first, &what);
        assert_real_platform(&targets, &what).await;
        import_legacy(&targets, &sources, &[])
            .await
            .assert_no_op(&format!("{what}, second run"));
    }
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    for targets in Targets::all().await {
        let what = format!("dry run, {} targets", targets.backend());
        let sources = [fixture(REAL_DUMP), fixture(DJANGO), fixture(MICRO)];
        let run = import_legacy(&targets, &sources, &["--dry-run"]).await;
        run.assert_success(&what);
        run.assert_accounted(&what);
        assert_eq!(
            run.report["dry_run"],
            Value::Bool(true),
            "{what}: {}",
            run.context()
        );
        assert!(
            run.count("services", "found") >= 5,
            "{what}: {}",
            run.context()
        );
        assert!(
            !run.stdout.trim().is_empty(),
            "{what}: a dry run prints what would happen"
        );
        for (name, db) in targets.dbs() {
            assert_eq!(
                table_count(db).await,
                0,
                "{what}: the {name} database stays empty (no tables, no migrations)"
            );
        }
        assert_no_plaintext(&targets, DJANGO_SECRETS, &what).await;
    }
}

// ---------------------------------------------------------------- the awkward dumps

#[tokio::test]
async fn the_awkward_django_dump_imports_with_every_record_accounted_for() {
    for targets in Targets::all().await {
        let what = format!("{DJANGO}, {} targets", targets.backend());
        let run = import_legacy(&targets, &[fixture(DJANGO)], &[]).await;
        run.assert_success(&what);
        run.assert_accounted(&what);
        assert_eq!(run.count("services", "imported"), 6, "{what}");
        assert_eq!(run.count("panels", "imported"), 13, "{what}");
        assert_eq!(run.count("jobs", "found"), 5, "{what}");
        assert_no_plaintext(&targets, DJANGO_SECRETS, &what).await;

        let registry = targets.registry().await;
        let all = services(&registry).await;
        let pasteur = by_name(&all, "Plateforme d’imputation – Côte d’Ivoire");
        assert_eq!(
            (pasteur.id, pasteur.base_url.as_str(), pasteur.is_active),
            (6, "https://imputation.pasteur.ci", Some(false)),
            "{what}: unicode name, normalised URL, inactive"
        );
        assert_eq!(
            pasteur.description,
            "Serveur Cloudgene de l’Institut Pasteur\td’Abidjan\nligne 2 \\ fin",
            "{what}: tabs, newlines and backslashes survive"
        );
        assert!(
            !pasteur.secret_names.is_empty(),
            "{what}: the service api_key is kept (encrypted) as a service secret"
        );
        let h3africa = by_name(&all, "H3Africa Imputation Service");
        assert!(
            !h3africa.secret_names.is_empty(),
            "{what}: the service configuration's api_key/api_secret are kept (encrypted)"
        );
        let shared: Vec<_> = panels(&registry)
            .await
            .into_iter()
            .filter(|p| p.external_id == "apps@1000g-phase-3-v5@2.0.0")
            .map(|p| (p.id, p.service_id))
            .collect();
        assert_eq!(
            shared,
            [(17, 1), (18, 6)],
            "{what}: the same remote panel id under two services"
        );
        registry.shutdown().await;

        let platform = targets.platform().await;
        let users = &platform.users;
        let abebe = try_login(users, "abebe", "Abebe-Addis-1960!")
            .await
            .unwrap_or_else(|e| panic!("{what}: abebe logs in: {e}"));
        let user = abebe.user.clone().expect("a user");
        assert_eq!(
            (user.first_name.as_str(), user.last_name.as_str()),
            ("አበበ", "ቢቂላ"),
            "{what}"
        );
        assert!(
            try_login(users, "adebayo", "Adebayo-Ibadan-77")
                .await
                .is_err(),
            "{what}: an inactive legacy user stays inactive"
        );

        // Plaintext tokens became credentials that open with the key.
        let token = secret(users, 2, 1)
            .await
            .unwrap_or_else(|e| panic!("{what}: test_user's H3Africa credential: {e}"));
        assert!(
            [
                "cg-h3a-7f3c9a1e5b2d4c6e8f0a1b2c3d4e5f60",
                "cg-h3a-0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0"
            ]
            .contains(&token.api_token.as_str()),
            "{what}: {token:?}"
        );
        for (user_id, service_id, expected) in [
            (3, 2, "mis-umich-5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"),
            (4, 2, "mis-umich-abebe-token-77aa88bb"),
        ] {
            let got = secret(users, user_id, service_id)
                .await
                .unwrap_or_else(|e| {
                    panic!("{what}: credential of {user_id} for {service_id}: {e}")
                });
            assert_eq!(got.api_token, expected, "{what}");
        }

        // Jobs, with their history, unicode and NULLs.
        let test_user = try_login(users, "test_user", "test_password")
            .await
            .expect("test_user logs in")
            .access_token;
        let mine = jobs_of(&platform, &test_user).await;
        let etude = job(&mine, "Étude génomique – Côte d’Ivoire");
        assert_eq!(status(etude), jpb::JobStatus::Completed, "{what}");
        assert_eq!(
            etude.description, "Cohorte d’Abidjan\tchr20\nfichier: C:\\data\\chr20.vcf.gz",
            "{what}"
        );
        assert_eq!(
            (etude.service_id, etude.reference_panel_id),
            (Some(1), Some(15)),
            "{what}"
        );
        assert_eq!(etude.external_job_id, "job-20251009-025241-973", "{what}");
        assert_eq!(etude.execution_time_seconds, Some(383), "{what}");
        let mut jobs = platform.jobs().await;
        let updates = jobs
            .list_status_updates(bearer(
                &test_user,
                jpb::ListStatusUpdatesRequest {
                    job_id: etude.id.clone(),
                },
            ))
            .await
            .expect("the status history")
            .into_inner()
            .updates;
        assert!(
            updates
                .iter()
                .any(|u| u.message == "Terminé ✓\nrésultats prêts"),
            "{what}: {updates:#?}"
        );
        let results = jobs
            .list_results(bearer(
                &test_user,
                jpb::ListResultsRequest {
                    job_id: etude.id.clone(),
                },
            ))
            .await
            .expect("the results")
            .into_inner()
            .results;
        let result_names: BTreeSet<_> = results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            result_names,
            BTreeSet::from(["chr_20.zip", "qc_report.txt", "statistics/lift-over.txt"]),
            "{what}"
        );
        let abebes = jobs_of(&platform, &abebe.access_token).await;
        let failed = job(&abebes, "ሰሜን ኢትዮጵያ – ክሮሞሶም 22");
        assert_eq!(status(failed), jpb::JobStatus::Failed, "{what}");
        assert_eq!(
            failed.error_message,
            "Job failed: Error: too few samples (7 < 20)\n\tat step \"Quality Control\"\npath=\\\\fileserver\\share",
            "{what}"
        );
        assert_eq!(
            failed.input_file_size, 0,
            "{what}: a NULL size reads as unknown"
        );
        drop(jobs);
        platform.shutdown().await;
    }
}

#[tokio::test]
async fn the_microservices_dump_imports_and_the_stuck_parent_ends_failed() {
    for targets in Targets::all().await {
        let what = format!("{MICRO}, {} targets", targets.backend());
        let run = import_legacy(&targets, &[fixture(MICRO)], &[]).await;
        run.assert_success(&what);
        run.assert_accounted(&what);
        assert_eq!(run.count("services", "imported"), 6, "{what}");
        assert_eq!(run.count("users", "imported"), 4, "{what}");
        assert_eq!(run.count("jobs", "found"), 6, "{what}");
        assert_no_plaintext(&targets, MICRO_SECRETS, &what).await;
        let credentials = run.entity("credentials");
        assert!(
            credentials["skipped"]
                .as_array()
                .is_some_and(|s| s.iter().any(|k| k["table"] == "user_service_credentials")),
            "{what}: the bcrypt-hashed basic-auth password cannot be used and is skipped with a reason\n{credentials:#}"
        );

        let registry = targets.registry().await;
        let mut all = services(&registry).await;
        all.sort_by_key(|s| s.id);
        let got: Vec<_> = all
            .iter()
            .map(|s| (s.id, s.api_type, s.base_url.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    1,
                    rpb::ApiType::Michigan as i32,
                    "https://impute.afrigen-d.org"
                ),
                (
                    2,
                    rpb::ApiType::Michigan as i32,
                    "https://imputationserver.sph.umich.edu"
                ),
                (
                    3,
                    rpb::ApiType::Ga4gh as i32,
                    "http://elwazi-node.icermali.org:6000"
                ),
                (
                    4,
                    rpb::ApiType::Ga4gh as i32,
                    "http://ga4gh-starter-kit.ilifu.ac.za:6000"
                ),
                (
                    5,
                    rpb::ApiType::Dnastack as i32,
                    "https://platform.elwazi.org"
                ),
                (6, rpb::ApiType::Ga4gh as i32, "https://wes.aau.edu.et"),
            ],
            "{what}: ids, api types and normalised URLs"
        );
        assert_eq!(
            all[1].is_active,
            Some(false),
            "{what}: Michigan stays inactive"
        );
        let panels = panels(&registry).await;
        let h3a = panels
            .iter()
            .find(|p| p.name == "H3AFRICA v6")
            .expect("the H3AFRICA v6 panel");
        assert_eq!(
            (h3a.service_id, h3a.external_id.as_str()),
            (1, "apps@h3africa-v6hc-s@1.0.0"),
            "{what}: the Cloudgene id the slug held is the external id"
        );
        let ethiopian = panels.iter().find(|p| p.id == 15).expect("panel 15");
        assert_eq!(
            (
                ethiopian.service_id,
                ethiopian.name.as_str(),
                ethiopian.samples_count
            ),
            (6, "Ethiopian Genome Panel – ኢትዮጵያ", None),
            "{what}"
        );
        registry.shutdown().await;

        let platform = targets.platform().await;
        let users = &platform.users;
        let kwame = try_login(users, "kwame", "Kwame-Accra-Imputes-42")
            .await
            .unwrap_or_else(|e| panic!("{what}: kwame logs in with his bcrypt password: {e}"));
        assert_eq!(
            roles(&kwame),
            [(upb::Role::Researcher as i32, None)],
            "{what}"
        );
        let amina = try_login(users, "amina", "Amina-Bamako-2025!")
            .await
            .unwrap_or_else(|e| panic!("{what}: amina logs in: {e}"));
        assert_eq!(
            roles(&amina),
            [(upb::Role::ServiceAdmin as i32, Some(3))],
            "{what}: a role scoped to one service"
        );
        assert!(
            try_login(users, "zanele", "Zanele-Durban-88")
                .await
                .is_err(),
            "{what}: an inactive user stays inactive"
        );
        let token = secret(users, 3, 1)
            .await
            .unwrap_or_else(|e| panic!("{what}: kwame's H3Africa credential: {e}"));
        assert_eq!(
            token.api_token, "cg-h3a-kwame-3c4d5e6f7a8b9c0d1e2f3a4b",
            "{what}"
        );
        let oauth = secret(users, 2, 4)
            .await
            .unwrap_or_else(|e| panic!("{what}: amina's ILIFU OAuth credential: {e}"));
        assert!(
            secret_parts(&oauth).contains(&"wes-ilifu-oauth-eyJhbGciOiJIUzI1NiJ9.amina"),
            "{what}: {oauth:?}"
        );
        if let Ok(basic) = secret(users, 2, 3).await {
            assert!(
                !basic.password.starts_with("$2b$"),
                "{what}: a bcrypt hash is never released as a password"
            );
        }

        let amina_jobs = jobs_of(&platform, &amina.access_token).await;
        let parent = job(&amina_jobs, "Federated chr20 – Bamako & Cape Town [PARENT]");
        assert_eq!(
            status(parent),
            jpb::JobStatus::Failed,
            "{what}: a parent whose children all failed is failed, not queued: {parent:#?}"
        );
        assert_eq!(parent.service_id, None, "{what}");
        let children: Vec<_> = amina_jobs
            .iter()
            .filter(|j| j.parent_job_id == parent.id)
            .collect();
        assert_eq!(children.len(), 2, "{what}: {:?}", names(&amina_jobs));
        assert!(
            children.iter().all(|c| status(c) == jpb::JobStatus::Failed),
            "{what}"
        );
        let mut child_ids: Vec<_> = children.iter().map(|c| c.id.clone()).collect();
        let mut listed = parent.child_job_ids.clone();
        child_ids.sort();
        listed.sort();
        assert_eq!(listed, child_ids, "{what}: the parent lists its children");

        let kwame_jobs = jobs_of(&platform, &kwame.access_token).await;
        let ghana = job(&kwame_jobs, "Ghana cohort chr20 – H3Africa v6");
        assert_eq!(status(ghana), jpb::JobStatus::Completed, "{what}");
        assert_eq!(
            ghana.description, "first run\twith tabs\nand a \\ backslash",
            "{what}"
        );
        assert_eq!(
            ghana.reference_panel_external_id, "apps@h3africa-v6hc-s@1.0.0",
            "{what}"
        );
        let mut jobs = platform.jobs().await;
        let logs = jobs
            .list_job_logs(bearer(
                &kwame.access_token,
                jpb::ListJobLogsRequest {
                    job_id: ghana.id.clone(),
                    attempt: None,
                },
            ))
            .await
            .expect("the job's logs")
            .into_inner()
            .logs;
        assert!(
            logs.iter()
                .any(|l| l.message == "51 samples\t100 SNPs\n1 chromosome (20)"),
            "{what}: {logs:#?}"
        );
        let results = jobs
            .list_results(bearer(
                &kwame.access_token,
                jpb::ListResultsRequest {
                    job_id: ghana.id.clone(),
                },
            ))
            .await
            .expect("the results")
            .into_inner()
            .results;
        assert!(
            results.iter().any(|r| r.name == "chr_20.zip"),
            "{what}: the external result link is kept: {results:#?}"
        );
        let error = job(&kwame_jobs, "Michigan HRC check");
        assert_ne!(
            status(error),
            jpb::JobStatus::Unspecified,
            "{what}: the legacy non-state `error` maps to a real state"
        );
        let addis = job(&kwame_jobs, "Addis pilot (ኢትዮጵያ)");
        assert_eq!(
            (
                addis.service_id,
                addis.reference_panel_id,
                addis.description.as_str()
            ),
            (Some(6), Some(15), ""),
            "{what}: NULLs read as empty"
        );
        drop(jobs);
        platform.shutdown().await;
    }
}

#[tokio::test]
async fn merging_the_django_and_microservices_dumps_imports_shared_records_once() {
    for targets in Targets::all().await {
        let what = format!("{DJANGO} + {MICRO}, {} targets", targets.backend());
        let sources = [fixture(DJANGO), fixture(MICRO)];
        let run = import_legacy(&targets, &sources, &[]).await;
        run.assert_success(&what);
        run.assert_accounted(&what);
        assert_eq!(run.count("services", "found"), 12, "{what}");
        assert_eq!(
            run.count("services", "imported"),
            7,
            "{what}: 6 + 6 found, the 5 shared ones once"
        );
        assert_eq!(run.count("services", "merged"), 5, "{what}");
        let conflicts = run.conflicts();
        assert!(
            conflicts.iter().any(|c| {
                let text = c.to_string();
                text.contains("amina.diallo@icermali.org")
                    && text.contains("amina.diallo@h3africa.org")
            }),
            "{what}: amina's two emails are a reported conflict: {conflicts:#?}"
        );
        let mut secrets = DJANGO_SECRETS.to_vec();
        secrets.extend_from_slice(MICRO_SECRETS);
        assert_no_plaintext(&targets, &secrets, &what).await;

        let registry = targets.registry().await;
        let all = services(&registry).await;
        assert_eq!(all.len(), 7, "{what}: {all:#?}");
        assert_eq!(
            all.iter()
                .filter(|s| s.base_url == "https://impute.afrigen-d.org")
                .count(),
            1,
            "{what}: H3Africa once"
        );
        let pasteur = by_name(&all, "Plateforme d’imputation – Côte d’Ivoire").id;
        let addis = by_name(&all, "Addis Ababa WES Node (አዲስ አበባ)").id;
        assert_ne!(pasteur, addis, "{what}: colliding ids, two services");
        let panels = panels(&registry).await;
        let ethiopian = panels
            .iter()
            .find(|p| p.name == "Ethiopian Genome Panel – ኢትዮጵያ")
            .expect("the Ethiopian panel");
        assert_eq!(
            ethiopian.service_id, addis,
            "{what}: the panel follows its service"
        );
        assert_eq!(
            panels
                .iter()
                .filter(|p| p.external_id == "apps@h3africa-v6hc-s@1.0.0")
                .count(),
            1,
            "{what}: H3AFRICA v6 (in both dumps) once"
        );
        registry.shutdown().await;

        let platform = targets.platform().await;
        let users = &platform.users;
        let admin = try_login(users, "admin", "admin_password")
            .await
            .unwrap_or_else(|e| panic!("{what}: admin logs in: {e}"))
            .access_token;
        let listed = users
            .client()
            .await
            .list_users(bearer(
                &admin,
                upb::ListUsersRequest {
                    page_size: 1000,
                    ..Default::default()
                },
            ))
            .await
            .expect("list the users")
            .into_inner()
            .users;
        let usernames: Vec<_> = listed.iter().map(|u| u.username.as_str()).collect();
        for name in ["admin", "amina", "test_user", "kwame", "abebe"] {
            assert_eq!(
                usernames.iter().filter(|u| **u == name).count(),
                1,
                "{what}: {name} once among {usernames:?}"
            );
        }
        let amina = try_login(users, "amina", "Amina-Bamako-2025!")
            .await
            .unwrap_or_else(|e| panic!("{what}: amina logs in: {e}"));
        let test_user = try_login(users, "test_user", "test_password")
            .await
            .unwrap_or_else(|e| panic!("{what}: test_user logs in: {e}"));
        let kwame = try_login(users, "kwame", "Kwame-Accra-Imputes-42")
            .await
            .unwrap_or_else(|e| panic!("{what}: kwame logs in: {e}"));

        // References follow the records, not the colliding numbers.
        let amina_jobs = jobs_of(&platform, &amina.access_token).await;
        let test_user_jobs = jobs_of(&platform, &test_user.access_token).await;
        let kwame_jobs = jobs_of(&platform, &kwame.access_token).await;
        job(&amina_jobs, "Federated chr20 – Bamako & Cape Town [PARENT]");
        job(&amina_jobs, "Cancelled by amina");
        job(&test_user_jobs, "Étude génomique – Côte d’Ivoire");
        assert!(
            !test_user_jobs
                .iter()
                .any(|j| j.name.starts_with("Federated chr20")),
            "{what}: amina's microservices jobs (user 2 there) are not test_user's (user 2 in Django): {:?}",
            names(&test_user_jobs)
        );
        assert!(
            !amina_jobs
                .iter()
                .any(|j| j.name.starts_with("Ghana cohort")),
            "{what}: kwame's jobs (user 3 there) are not amina's (user 3 in Django): {:?}",
            names(&amina_jobs)
        );
        let pilot = job(&kwame_jobs, "Addis pilot (ኢትዮጵያ)");
        assert_eq!(
            (pilot.service_id, pilot.reference_panel_id),
            (Some(addis), Some(ethiopian.id)),
            "{what}: the job points at the Addis node and its panel"
        );
        let amina_id = amina.user.as_ref().expect("a user").id;
        let oauth = secret(users, amina_id, 4)
            .await
            .unwrap_or_else(|e| panic!("{what}: amina's ILIFU credential: {e}"));
        assert!(
            secret_parts(&oauth).contains(&"wes-ilifu-oauth-eyJhbGciOiJIUzI1NiJ9.amina"),
            "{what}: {oauth:?}"
        );
        let kwame_id = kwame.user.as_ref().expect("a user").id;
        let addis_token = secret(users, kwame_id, addis).await;
        if let Ok(token) = addis_token {
            assert_eq!(token.api_token, "wes-aau-kwame-token-1a2b3c", "{what}");
        }
        platform.shutdown().await;

        import_legacy(&targets, &sources, &[])
            .await
            .assert_no_op(&format!("{what}, second run"));
    }
}
