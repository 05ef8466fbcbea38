//! Tests of the merge: the same records twice, colliding ids, conflicts.

use uuid::Uuid;

use super::*;
use crate::model::{Credential, Job, Origin, Panel, Service, User};

fn origin(source: &str, table: &str, key: i64) -> Origin {
    Origin {
        source: source.into(),
        table: table.into(),
        key: key.to_string(),
    }
}

fn service(source: &str, id: i64, url: &str, api_type: &str) -> Service {
    Service {
        origin: origin(source, "imputation_services", id),
        id,
        name: format!("service {id}"),
        api_type: api_type.into(),
        base_url: url.into(),
        is_active: true,
        ..Service::default()
    }
}

fn panel(source: &str, id: i64, service_id: i64, external_id: &str) -> Panel {
    Panel {
        origin: origin(source, "reference_panels", id),
        id,
        service_id,
        name: external_id.to_uppercase(),
        external_id: external_id.into(),
        build: "hg38".into(),
        ..Panel::default()
    }
}

fn user(source: &str, id: i64, username: &str) -> User {
    User {
        origin: origin(source, "users", id),
        id,
        username: username.into(),
        email: format!("{}@example.org", username.to_lowercase()),
        ..User::default()
    }
}

fn part(source: &str, family: Family, legacy: Legacy) -> Part {
    Part {
        source: source.into(),
        family,
        legacy,
    }
}

#[test]
fn the_same_records_twice_are_kept_once_and_colliding_ids_are_remapped() {
    // Django: MALI is service 3 with the WES suffix; test_user is user 2.
    let django = Legacy {
        services: vec![
            service(
                "django.sql",
                3,
                "http://elwazi-node.icermali.org:6000/ga4gh/wes/v1",
                "ga4gh",
            ),
            service("django.sql", 1, "https://impute.afrigen-d.org", "michigan"),
        ],
        panels: vec![panel("django.sql", 9, 3, "nfl-imputation-v1")],
        users: vec![user("django.sql", 2, "test_user")],
        ..Legacy::default()
    };
    // The registry: MALI again as id 1 (ids were not kept by the old
    // migration), plus a new service with id 3, which collides.
    let mut mali = service(
        "registry.sql",
        1,
        "HTTP://Elwazi-Node.icermali.org:6000/",
        "ga4gh",
    );
    mali.location_country = "Mali".into();
    mali.is_active = false;
    let registry = Legacy {
        services: vec![
            mali,
            service("registry.sql", 3, "https://other.example.org", "ga4gh"),
        ],
        panels: vec![
            panel("registry.sql", 1, 1, "nfl-imputation-v1"),
            panel("registry.sql", 9, 3, "x-panel"),
        ],
        ..Legacy::default()
    };
    // The users database: TEST_USER again as id 5; user 2 is someone else.
    let users = Legacy {
        users: vec![
            user("users.sql", 5, "TEST_USER"),
            user("users.sql", 2, "bob"),
        ],
        credentials: vec![Credential {
            origin: origin("users.sql", "user_service_credentials", 1),
            user_id: 2,
            service_id: 3,
            api_token: Some("bob-token".into()),
            ..Credential::default()
        }],
        ..Legacy::default()
    };
    // The job database names registry ids and user-service ids.
    let job_id = Uuid::new_v4();
    let jobs = Legacy {
        jobs: vec![Job {
            origin: origin("jobs.sql", "imputation_jobs", 0),
            id: job_id,
            user_id: 5,
            service_id: Some(1),
            panel_id: Some(1),
            status: "completed".into(),
            ..Job::default()
        }],
        ..Legacy::default()
    };
    let mut report = Report::default();
    let merged = merge(
        vec![
            part("django.sql", Family::Django, django),
            part("registry.sql", Family::Microservices, registry),
            part("users.sql", Family::Microservices, users),
            part("jobs.sql", Family::Microservices, jobs),
        ],
        &mut report,
    );

    // MALI once, with Django's id; the registry's location filled in; the
    // differing is_active reported, the first source's value kept.
    assert_eq!(merged.services.len(), 3);
    let mali = merged.services.iter().find(|s| s.id == 3).unwrap();
    assert!(
        mali.base_url.contains("/ga4gh/wes/v1"),
        "the first copy is kept as stored"
    );
    assert_eq!(mali.location_country, "Mali");
    assert!(mali.is_active);
    assert!(
        report
            .conflicts
            .iter()
            .any(|c| c.entity == "services" && c.field == "is_active")
    );
    // The registry's own service 3 collided: remapped above every id in use.
    let other = merged
        .services
        .iter()
        .find(|s| s.base_url.contains("other"))
        .unwrap();
    assert_eq!(other.id, 4);
    assert!(
        report
            .conflicts
            .iter()
            .any(|c| c.entity == "services" && c.field == "id" && c.kept == "4")
    );
    // Panels: nfl on MALI once; x-panel follows its service to id 4 and
    // its colliding id 9 is remapped.
    assert_eq!(merged.panels.len(), 2);
    let x = merged
        .panels
        .iter()
        .find(|p| p.external_id == "x-panel")
        .unwrap();
    assert_eq!((x.service_id, x.id), (4, 10));
    // Users: test_user once (case-insensitive), bob moved off id 2.
    assert_eq!(merged.users.len(), 2);
    let bob = merged.users.iter().find(|u| u.username == "bob").unwrap();
    assert_eq!(bob.id, 6, "above every user id in any source");
    // References follow: bob's credential names bob and service 4.
    assert_eq!(
        (
            merged.credentials[0].user_id,
            merged.credentials[0].service_id
        ),
        (6, 4)
    );
    // The job (another microservices database) names registry service 1
    // (MALI, now 3), registry panel 1 (now 9) and user-service user 5
    // (test_user, now 2).
    let job = &merged.jobs[0];
    assert_eq!(
        (job.user_id, job.service_id, job.panel_id),
        (2, Some(3), Some(9))
    );
    assert_eq!(report.entities["services"].merged, 1);
    assert_eq!(report.entities["panels"].merged, 1);
    assert_eq!(report.entities["users"].merged, 1);
}

#[test]
fn the_first_source_wins_and_secrets_stay_hidden() {
    let mut a = service("a.sql", 1, "https://h.example.org", "dnastack");
    a.api_key = Some("first-secret".into());
    a.description = "first".into();
    let mut b = service("b.sql", 1, "https://h.example.org/", "dnastack");
    b.api_key = Some("second-secret".into());
    b.description = "second".into();
    b.version = "2.0".into();
    let mut report = Report::default();
    let merged = merge(
        vec![
            part(
                "a.sql",
                Family::Django,
                Legacy {
                    services: vec![a],
                    ..Legacy::default()
                },
            ),
            part(
                "b.sql",
                Family::Django,
                Legacy {
                    services: vec![b],
                    ..Legacy::default()
                },
            ),
        ],
        &mut report,
    );
    let s = &merged.services[0];
    assert_eq!(s.description, "first");
    assert_eq!(s.version, "2.0", "an empty field is completed");
    assert_eq!(s.api_key.as_deref(), Some("first-secret"));
    let text = serde_json::to_string(&report.conflicts).unwrap();
    assert!(
        text.contains("description") && text.contains("api_key"),
        "{text}"
    );
    assert!(
        !text.contains("second-secret") && !text.contains("first-secret"),
        "{text}"
    );
}
