//! Tests of the readers: schema detection, the real Django dump, and a
//! microservices dump with awkward rows.

use std::path::Path;

use super::*;
use crate::source::parse_dump;

fn fixture() -> Tables {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/legacy/federated_imputation_2025-10-08.sql");
    let text = std::fs::read_to_string(path).unwrap();
    parse_dump(&text, "fixture.sql").unwrap()
}

const MICRO: &str = "\
COPY public.imputation_services (id, name, slug, service_type, api_type, base_url, description, version, requires_auth, max_file_size_mb, supported_formats, supported_builds, api_config, is_active, location_country, location_city, location_datacenter, location_latitude, location_longitude, created_at, updated_at) FROM stdin;
3\teLwazi MALI Node\telwazi-mali-node---imputation-service\twes\tga4gh\thttp://elwazi-node.icermali.org:6000\t\\N\t1.0\tf\t500\t[\"vcf\"]\t[\"hg38\"]\t{\"api_token\": \"svc-secret\", \"timeout_seconds\": 30}\tt\tMali\tBamako\tUSTTB\t12.6\t-8.0\t2025-10-09 06:43:41.1+00\t2025-10-09 06:43:41.1+00
\\.
COPY public.reference_panels (id, service_id, name, slug, display_name, description, population, build, samples_count, variants_count, is_available, is_public, requires_permission, created_at, updated_at) FROM stdin;
39\t3\tH3AFRICA v6\tapps@h3africa-v6hc-s@1.0.0\tH3AFRICA v6\t\\N\tAfrican\thg38\t4447\t130028596\tt\tt\tf\t2025-10-09 06:43:41+00\t\\N
\\.
COPY public.users (id, uuid, username, email, first_name, last_name, hashed_password, is_active, is_staff, is_superuser, date_joined, last_login) FROM stdin;
1\t4f0c6a52-8d4e-4c59-9d65-2b7d8d0b7b1e\tAdmin\tadmin@example.com\t\t\t$2b$12$abcdefghijklmnopqrstuu\ttrue\tfalse\ttrue\t2025-10-08 10:00:00\t\\N
7\t5f0c6a52-8d4e-4c59-9d65-2b7d8d0b7b1e\tnaïve_ünïcode\tu@example.org\tAmélie\t李\t$2b$12$zyx\tt\tf\tf\t2025-10-08 10:00:00\t\\N
\\.
COPY public.user_roles (id, user_id, role, service_id, granted_by_id, granted_at, expires_at, is_active) FROM stdin;
1\t7\tresearcher\t3\t1\t2025-10-08 10:00:00\t\\N\tt
2\t7\tviewer\t\\N\t1\t2025-10-08 10:00:00\t2020-01-01 00:00:00\tt
3\t1\tadmin\t\\N\t1\t2025-10-08 10:00:00\t\\N\tt
\\.
COPY public.user_service_credentials (id, user_id, service_id, credential_type, api_token, oauth_token, oauth_refresh_token, username, password, label, is_active, is_verified, created_at) FROM stdin;
1\t7\t3\tapi_token\tplain-token\t\\N\t\\N\t\\N\t\\N\tmine\tt\tf\t2025-10-08 10:00:00
2\t1\t3\tbasic_auth\t\\N\t\\N\t\\N\tbob\t$2b$12$hash\t\tt\tf\t2025-10-08 10:00:00
\\.
COPY public.imputation_jobs (id, user_id, name, description, service_id, reference_panel_id, parent_job_id, input_format, build, phasing, population, status, progress_percentage, external_job_id, input_file_id, input_file_name, input_file_size, created_at, updated_at, started_at, completed_at, execution_time_seconds, error_message, service_response) FROM stdin;
0e0b7d8e-8f43-4f4e-a0b4-4c1fb0c8a001\t7\tparent\t\\N\t\\N\t\\N\t\\N\tvcf\thg38\tt\t\\N\tqueued\t0\t\\N\t\\N\tchr20.vcf.gz\t1024\t2025-10-09 06:00:00\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N
0e0b7d8e-8f43-4f4e-a0b4-4c1fb0c8a002\t7\tchild\t\\N\t3\t39\t0e0b7d8e-8f43-4f4e-a0b4-4c1fb0c8a001\tvcf\thg38\tt\t\\N\terror\t250\tjob-20251009\t\\N\tchr20.vcf.gz\t1024\t2025-10-09 06:00:00\t\\N\t\\N\t\\N\t\\N\tboom\t{\"state\": \"EXECUTOR_ERROR\"}
42\t7\tnot a uuid\t\\N\t3\t39\t\\N\tvcf\thg38\tt\t\\N\tqueued\t0\t\\N\t\\N\tx.vcf\t1\t2025-10-09 06:00:00\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N
\\.
COPY public.notifications (id, user_id) FROM stdin;
1\t123
\\.
";

#[test]
fn schemas_are_recognised_by_their_tables() {
    assert_eq!(detect(&fixture()), BTreeSet::from([Family::Django]));
    let micro = parse_dump(MICRO, "m.sql").unwrap();
    assert_eq!(detect(&micro), BTreeSet::from([Family::Microservices]));
    let mut both = fixture();
    both.extend(micro);
    assert_eq!(
        detect(&both),
        BTreeSet::from([Family::Django, Family::Microservices])
    );
    let jobs_only = parse_dump(
        "COPY public.imputation_jobs (id) FROM stdin;\n\\.\n",
        "job_processing_db.sql",
    )
    .unwrap();
    assert_eq!(detect(&jobs_only), BTreeSet::from([Family::Microservices]));
    let other = parse_dump(
        "COPY public.django_session (session_key) FROM stdin;\n\\.\n",
        "x.sql",
    )
    .unwrap();
    let err = read("x.sql", &other, &mut Report::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x.sql") && err.contains("django_session"),
        "{err}"
    );
}

#[test]
fn the_real_django_dump_maps_without_loss() {
    let mut report = Report::default();
    let parts = read("fixture.sql", &fixture(), &mut report).unwrap();
    assert_eq!(parts.len(), 1);
    let l = &parts[0].legacy;
    let mut services: Vec<_> = l
        .services
        .iter()
        .map(|s| (s.id, s.api_type.as_str(), s.base_url.as_str()))
        .collect();
    services.sort_unstable();
    assert_eq!(
        services,
        [
            (1, "michigan", "https://impute.afrigen-d.org"),
            (2, "michigan", "https://imputationserver.sph.umich.edu"),
            (
                3,
                "ga4gh",
                "http://elwazi-node.icermali.org:6000/ga4gh/wes/v1"
            ),
            (
                4,
                "ga4gh",
                "http://ga4gh-starter-kit.ilifu.ac.za:6000/ga4gh/wes/v1"
            ),
            (5, "dnastack", "https://platform.elwazi.org"),
        ]
    );
    let mali = l.services.iter().find(|s| s.id == 3).unwrap();
    assert!(mali.location.contains("Bamako"), "{}", mali.location);
    assert_eq!(mali.continent, "Africa");
    assert_eq!(mali.api_key, None, "an empty api_key is no key");
    let mut panels: Vec<_> = l
        .panels
        .iter()
        .map(|p| (p.id, p.service_id, p.external_id.as_str()))
        .collect();
    panels.sort_unstable();
    assert_eq!(panels.len(), 11);
    assert!(panels.contains(&(15, 1, "apps@h3africa-v6hc-s@1.0.0")));
    assert!(panels.contains(&(6, 2, "michigan_panel_1")));
    assert!(panels.contains(&(9, 3, "nfl-imputation-v1")));
    assert!(panels.contains(&(11, 4, "nfl-imputation-v1")));
    assert!(panels.contains(&(16, 1, "1000g_phase3_v5")));
    let mut users: Vec<_> = l
        .users
        .iter()
        .map(|u| (u.id, u.username.as_str()))
        .collect();
    users.sort_unstable();
    assert_eq!(users, [(1, "admin"), (2, "test_user")]);
    assert!(
        l.users
            .iter()
            .all(|u| u.password_hash.starts_with("pbkdf2_sha256$600000$"))
    );
    let test = l.profiles.iter().find(|p| p.user_id == 2).unwrap();
    assert_eq!(test.monthly_job_limit, Some(50));
    assert_eq!(test.storage_limit_bytes, Some(1 << 30));
    assert_eq!(test.institution, "Demo University");
    let mut roles: Vec<_> = l
        .roles
        .iter()
        .map(|r| (r.user_id, r.role.as_str(), r.service_id))
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, [(1, "admin", None), (2, "researcher", None)]);
    // Every row is accounted for: nothing skipped but whole tables that
    // are not platform data (sessions, Django bookkeeping).
    for (name, entity) in &report.entities {
        if name != "other_tables" {
            assert!(entity.skipped.is_empty(), "{name}: {:?}", entity.skipped);
        }
    }
    assert_eq!(report.entities["services"].found, 5);
    assert_eq!(report.entities["panels"].found, 11);
    assert_eq!(report.entities["roles"].found, 3);
    assert_eq!(
        report.entities["roles"].merged, 1,
        "admin from is_superuser and from the profile"
    );
    let other: Vec<_> = report.entities["other_tables"]
        .skipped
        .iter()
        .map(|s| s.table.as_str())
        .collect();
    assert!(other.contains(&"django_session"), "{other:?}");
    assert!(!other.contains(&"imputation_userrole"), "{other:?}");
}

#[test]
fn microservices_rows_map_and_unmappable_rows_are_skipped_with_reasons() {
    let mut report = Report::default();
    let parts = read("m.sql", &parse_dump(MICRO, "m.sql").unwrap(), &mut report).unwrap();
    let l = &parts[0].legacy;
    let s = &l.services[0];
    assert_eq!((s.id, s.api_type.as_str()), (3, "ga4gh"));
    assert_eq!(
        s.api_key.as_deref(),
        Some("svc-secret"),
        "moved out of api_config"
    );
    assert!(s.api_config.get("api_token").is_none());
    assert_eq!(s.location_latitude, Some(12.6));
    assert_eq!(s.location_institution, "USTTB");
    let p = &l.panels[0];
    assert_eq!(p.external_id, "apps@h3africa-v6hc-s@1.0.0");
    assert_eq!(p.slug, None, "a Cloudgene app id is not a URL slug");
    assert!(
        l.users
            .iter()
            .any(|u| u.username == "naïve_ünïcode" && u.last_name == "李")
    );
    let mut roles: Vec<_> = l
        .roles
        .iter()
        .map(|r| (r.user_id, r.role.as_str(), r.service_id))
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, [(1, "admin", None), (7, "researcher", Some(3))]);
    let reasons: Vec<_> = report
        .entities
        .values()
        .flat_map(|e| e.skipped.iter())
        .map(|s| format!("{} {}: {}", s.table, s.key, s.reason))
        .collect();
    let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
    assert!(has("user_roles 2: the role expired"), "{reasons:?}");
    assert!(
        has("user_service_credentials 2: its password is a bcrypt hash"),
        "{reasons:?}"
    );
    assert!(
        has("imputation_jobs 42: id '42' is not a UUID"),
        "{reasons:?}"
    );
    assert!(has("notifications 1 rows"), "{reasons:?}");
    assert_eq!(l.credentials.len(), 1);
    assert_eq!(l.credentials[0].api_token.as_deref(), Some("plain-token"));
    let child = l.jobs.iter().find(|j| j.name == "child").unwrap();
    assert_eq!(child.status, "failed");
    assert_eq!(child.progress, 100);
    assert_eq!(
        child.parent_id,
        l.jobs.iter().find(|j| j.name == "parent").map(|j| j.id)
    );
    assert_eq!(report.entities["jobs"].found, 3);
    assert_eq!(
        report.entities["roles"].merged, 1,
        "admin by flag and by row"
    );
}
