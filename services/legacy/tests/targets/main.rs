//! The targets, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL: a
//! hand-built legacy data set imported into fresh databases, read back,
//! imported again (nothing twice), dry-run (nothing written), a failure
//! mid-import (rolled back), and ids after an import (fresh ones).

mod support;

use fedimpute_legacy::{report::Report, target};
use fedimpute_registry::store::{RegistryStore, SeaOrmStore, StoredSecrets};
use support::{Backend, Dbs, backends, legacy};

fn counts(report: &Report, entity: &str) -> (u64, u64, usize) {
    let e = report.entities.get(entity).cloned().unwrap_or_default();
    (e.imported, e.merged, e.skipped.len())
}

async fn run(dbs: &Dbs, dry_run: bool) -> Report {
    let mut report = Report::default();
    target::import(&legacy(), &dbs.targets, dry_run, &mut report)
        .await
        .expect("the import runs");
    report
}

#[tokio::test]
async fn imports_every_record_once_and_is_idempotent() {
    for backend in backends() {
        let dbs = Dbs::new(backend).await;
        let first = run(&dbs, false).await;
        for (entity, want) in [
            ("services", (3, 0, 1)),
            ("panels", (3, 0, 1)),
            ("users", (2, 0, 1)),
            ("profiles", (1, 0, 0)),
            ("roles", (1, 0, 0)),
            ("derived_roles", (1, 0, 0)),
            ("credentials", (1, 0, 0)),
            ("job_tokens", (1, 0, 0)),
            ("audit_logs", (1, 0, 0)),
            ("jobs", (5, 0, 1)),
            ("status_updates", (1, 0, 0)),
            ("job_logs", (1, 0, 0)),
            ("result_files", (1, 0, 0)),
            ("files", (0, 0, 1)),
        ] {
            assert_eq!(
                counts(&first, entity),
                want,
                "{backend:?} {entity}: {first:#?}"
            );
        }
        let skip = &first.entities["services"].skipped[0];
        assert_eq!(skip.key, "6");
        assert!(skip.reason.contains("api_type"), "{}", skip.reason);
        check_rows(&dbs).await;

        let second = run(&dbs, false).await;
        for (name, e) in &second.entities {
            assert_eq!(e.imported, 0, "{backend:?} {name} imported again: {e:?}");
            assert_eq!(
                e.merged + e.skipped.len() as u64,
                first.entities[name].imported
                    + first.entities[name].merged
                    + first.entities[name].skipped.len() as u64,
                "{backend:?} {name}"
            );
        }
        assert_eq!(counts(&second, "services"), (0, 3, 1));
        assert_eq!(counts(&second, "jobs"), (0, 5, 1));
        let t = &dbs.targets;
        assert_eq!(dbs.count(&t.registry_url, "services").await, 3);
        assert_eq!(dbs.count(&t.users_url, "credentials").await, 2);
        assert_eq!(dbs.count(&t.users_url, "role_grants").await, 2);
        assert_eq!(dbs.count(&t.jobs_url, "job_status_updates").await, 3);
        dbs.finish().await;
    }
}

async fn check_rows(dbs: &Dbs) {
    let t = &dbs.targets;
    let services = dbs
        .texts(
            &t.registry_url,
            "SELECT id || ' ' || slug || ' ' || api_type || ' ' || base_url || ' ' || location_city FROM services ORDER BY id",
        )
        .await;
    assert_eq!(
        services,
        [
            "1 h3africa-imputation-service michigan https://impute.afrigen-d.org Cape Town",
            "3 elwazi-node ga4gh http://elwazi-node.icermali.org:6000 ",
            "4 elwazi-node-1 ga4gh http://ilifu.example.org ",
        ]
    );
    // The service token and the secret-looking api_config key are sealed
    // as the registry seals them, bound to the slug.
    let sealed = dbs
        .texts(&t.registry_url, "SELECT secrets FROM services WHERE id = 1")
        .await;
    let clear = t
        .keyring
        .open(
            &sealed[0],
            b"fedimpute/registry/service-secrets/v1/h3africa-imputation-service",
        )
        .expect("the registry can open it");
    let map: serde_json::Value = serde_json::from_slice(&clear).unwrap();
    assert_eq!(map["api_token"], "cloudgene-service-token");
    assert_eq!(map["access_token"], "moved");
    let panels = dbs
        .texts(
            &t.registry_url,
            "SELECT id || ' ' || service_id || ' ' || slug || ' ' || external_id FROM reference_panels ORDER BY id",
        )
        .await;
    assert_eq!(
        panels,
        [
            "11 1 h3africa-v6hc-s apps@h3africa-v6hc-s@1.0.0",
            "12 3 1000g-phase3 1000g-phase3",
            "13 4 1000g-phase3 1000g-phase3",
        ]
    );
    let hash = dbs
        .texts(&t.users_url, "SELECT password_hash FROM users WHERE id = 2")
        .await;
    assert_eq!(hash, [support::DJANGO_HASH]);
    let limit = dbs
        .int(
            &t.users_url,
            "SELECT monthly_job_limit FROM users WHERE id = 2",
        )
        .await;
    assert_eq!(limit, 7);
    let grants = dbs
        .texts(
            &t.users_url,
            "SELECT user_id || ' ' || role || ' ' || COALESCE(CAST(service_id AS TEXT), '-') FROM role_grants ORDER BY user_id",
        )
        .await;
    assert_eq!(grants, ["1 admin -", "2 service_user 1"]);
    let sealed = dbs
        .texts(
            &t.users_url,
            "SELECT sealed FROM credentials WHERE service_id = 1",
        )
        .await;
    let clear = t.keyring.open(&sealed[0], b"credential:2:1").unwrap();
    assert_eq!(
        String::from_utf8(clear).unwrap(),
        r#"{"api_token":"user-token-from-the-job-0123456789"}"#
    );
    let jobs = dbs
        .texts(
            &t.jobs_url,
            "SELECT id || ' ' || status || ' ' || phase || ' ' || CAST(is_parent AS TEXT) FROM jobs ORDER BY id",
        )
        .await;
    let parent_flag = |b: bool| match (b, jobs[0].ends_with("true") || jobs[0].ends_with("false")) {
        (true, true) => "true",
        (false, true) => "false",
        (true, false) => "1",
        (false, false) => "0",
    };
    let want: Vec<String> = [
        (support::PARENT, "failed", true),
        (support::CHILD_A, "failed", false),
        (support::CHILD_B, "failed", false),
        (support::RUNNING, "failed", false),
        (support::DONE, "completed", false),
    ]
    .iter()
    .map(|(id, s, p)| format!("{} {s} done {}", id.hyphenated(), parent_flag(*p)))
    .collect();
    assert_eq!(jobs, want);
    let message = dbs
        .texts(
            &t.jobs_url,
            &format!(
                "SELECT error_message || ' / ' || external_id FROM jobs WHERE id = '{}'",
                support::RUNNING.hyphenated()
            ),
        )
        .await;
    assert_eq!(
        message,
        [
            "imported from the legacy platform in state running; its remote state is unknown / job-32"
        ]
    );
    let results = dbs
        .texts(&t.jobs_url, "SELECT state || ' ' || name FROM result_files")
        .await;
    assert_eq!(results, ["remote chr20.zip"]);
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    for backend in backends() {
        let dbs = Dbs::new(backend).await;
        let report = run(&dbs, true).await;
        assert!(report.dry_run);
        assert_eq!(counts(&report, "services"), (3, 0, 1));
        assert_eq!(counts(&report, "jobs"), (5, 0, 1));
        if backend == Backend::Sqlite {
            for url in [&dbs.targets.registry_url, &dbs.targets.users_url] {
                let path = url
                    .trim_start_matches("sqlite://")
                    .split('?')
                    .next()
                    .unwrap();
                assert!(!std::path::Path::new(path).exists(), "{path} was created");
            }
        } else {
            let tables = dbs
                .int(
                    &dbs.targets.registry_url,
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
                )
                .await;
            assert_eq!(tables, 0, "a dry run made tables");
        }
        // After a real run, a dry run finds everything merged.
        run(&dbs, false).await;
        let again = run(&dbs, true).await;
        assert_eq!(counts(&again, "services"), (0, 3, 1));
        assert_eq!(counts(&again, "users"), (0, 2, 1));
        assert_eq!(counts(&again, "jobs"), (0, 5, 1));
        dbs.finish().await;
    }
}

#[tokio::test]
async fn a_failure_mid_import_leaves_the_target_as_it_was() {
    for backend in backends() {
        let dbs = Dbs::new(backend).await;
        let url = &dbs.targets.registry_url;
        let conn = fedimpute_common::db::connect(url, 1).await.unwrap();
        use fedimpute_registry_migration::MigratorTrait;
        fedimpute_registry_migration::Migrator::up(&conn, None)
            .await
            .unwrap();
        conn.close().await.ok();
        // The third panel's insert fails, after the services and two panels.
        let trigger = match backend {
            Backend::Sqlite => "CREATE TRIGGER boom BEFORE INSERT ON reference_panels \
                 WHEN NEW.id = 13 BEGIN SELECT RAISE(ABORT, 'boom'); END;"
                .to_owned(),
            Backend::Postgres => "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN \
                 IF NEW.id = 13 THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER boom BEFORE INSERT ON reference_panels FOR EACH ROW EXECUTE FUNCTION boom();"
                .to_owned(),
        };
        dbs.execute(url, &trigger).await;
        let mut report = Report::default();
        let err = target::import(&legacy(), &dbs.targets, false, &mut report)
            .await
            .expect_err("the import fails");
        assert!(
            matches!(
                err,
                target::TargetError::Write {
                    target: "registry",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(dbs.count(url, "services").await, 0);
        assert_eq!(dbs.count(url, "reference_panels").await, 0);
        assert!(report.entities.is_empty(), "{report:?}");
        dbs.finish().await;
    }
}

#[tokio::test]
async fn services_created_after_an_import_get_fresh_ids() {
    for backend in backends() {
        let dbs = Dbs::new(backend).await;
        run(&dbs, false).await;
        let conn = fedimpute_common::db::connect(&dbs.targets.registry_url, 1)
            .await
            .unwrap();
        let store = SeaOrmStore::new(conn);
        let spec =
            fedimpute_registry::domain::ServiceSpec::try_from(fedimpute_proto::registry::Service {
                name: "A new service".into(),
                api_type: fedimpute_proto::registry::ApiType::Michigan as i32,
                base_url: "https://new.example.org".into(),
                ..Default::default()
            })
            .unwrap();
        let slug = fedimpute_registry::domain::Slug::parse("a-new-service").unwrap();
        let created = store
            .insert_service(&spec, &slug, StoredSecrets::default())
            .await
            .expect("the normal path inserts");
        assert_eq!(created.id, 5, "{backend:?}: past the largest imported id");
        dbs.finish().await;
    }
}
