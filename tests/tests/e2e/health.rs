//! Health: probes against loopback fakes of Cloudgene, WES and DNAstack
//! (healthy, maintenance, HTTP 500, non-JSON, slow, refused, recovery),
//! hysteresis, history, at-risk services and the background monitor.

use std::time::Duration;

use chrono::Utc;
use fedimpute_proto::registry as pb;
use fedimpute_tests::{
    TestRegistry, backends,
    fakes::{
        Fault,
        cloudgene::{CloudgeneConfig, FakeCloudgene},
        dnastack::{DnastackConfig, FakeDnastack},
        wes::{FakeWes, WesConfig, WesStyle},
    },
    harness::auth::bearer,
};
use tonic::Code;

use crate::common::{Client, create, history, service, sync, update};

pub(crate) async fn check(client: &mut Client, token: &str, id: i64) -> pb::ServiceHealth {
    client
        .check_service_health(bearer(token, pb::CheckServiceHealthRequest { id }))
        .await
        .expect("check health")
        .into_inner()
        .health
        .expect("health")
}

pub(crate) fn status(h: &pb::ServiceHealth) -> pb::HealthStatus {
    pb::HealthStatus::try_from(h.status).unwrap()
}

#[tokio::test]
async fn cloudgene_probes_follow_health_maintenance_failures_and_recovery() {
    for db in backends().await {
        let backend = db.backend;
        let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let svc = create(
            &mut client,
            &admin,
            service("Fake Afrigen", pb::ApiType::Michigan, &fake.base_url()),
        )
        .await;

        // Reading health probes nothing.
        let before = client
            .get_service_health(pb::GetServiceHealthRequest { id: svc.id })
            .await
            .unwrap()
            .into_inner()
            .health
            .unwrap();
        assert_eq!(status(&before), pb::HealthStatus::Unknown);
        assert_eq!(fake.hits("/api/v2/server"), 0);

        let healthy = check(&mut client, &admin, svc.id).await;
        assert_eq!(status(&healthy), pb::HealthStatus::Healthy, "{backend}");
        assert!(healthy.is_available && healthy.response_time_ms.is_some());
        assert_eq!(fake.hits("/api/v2/server"), 1);

        fake.set_maintenance(true);
        let maintenance = check(&mut client, &admin, svc.id).await;
        assert_eq!(status(&maintenance), pb::HealthStatus::Maintenance);
        assert!(!maintenance.is_available);
        fake.set_maintenance(false);
        check(&mut client, &admin, svc.id).await;

        // Hysteresis (threshold 2): one HTTP 500 keeps it healthy, two do not.
        fake.set_fault(Fault::Status(500, "boom".into(), "text/plain"));
        let once = check(&mut client, &admin, svc.id).await;
        assert_eq!(
            (status(&once), once.consecutive_failures),
            (pb::HealthStatus::Healthy, 1)
        );
        assert!(
            once.error_message.contains("HTTP 500"),
            "{}",
            once.error_message
        );
        let twice = check(&mut client, &admin, svc.id).await;
        assert_eq!(status(&twice), pb::HealthStatus::Unhealthy);
        assert!(!twice.is_available && twice.first_unhealthy_at.is_some());

        // An nginx page is unhealthy too, and not JSON.
        fake.set_fault(Fault::nginx_bad_gateway());
        let nginx = check(&mut client, &admin, svc.id).await;
        assert!(
            nginx.error_message.contains("HTTP 502"),
            "{}",
            nginx.error_message
        );
        fake.set_fault(Fault::NonJson);
        let html = check(&mut client, &admin, svc.id).await;
        assert!(
            html.error_message.contains("not JSON"),
            "{}",
            html.error_message
        );

        // Recovery.
        fake.set_fault(Fault::None);
        let back = check(&mut client, &admin, svc.id).await;
        assert_eq!(
            (
                status(&back),
                back.consecutive_failures,
                back.first_unhealthy_at
            ),
            (pb::HealthStatus::Healthy, 0, None)
        );

        // The service row reflects the last probe.
        let read = client
            .get_service(pb::GetServiceRequest {
                id_or_slug: svc.slug.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .service
            .unwrap();
        assert_eq!(read.health_status, pb::HealthStatus::Healthy as i32);
        assert!(read.is_available && read.last_health_check.is_some());

        // History: every probe as it happened, newest first, paginated.
        let checks = history(
            &mut client,
            pb::ListHealthHistoryRequest {
                id: svc.id,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .checks;
        let statuses: Vec<_> = checks
            .iter()
            .map(|c| pb::HealthStatus::try_from(c.status).unwrap())
            .collect();
        use pb::HealthStatus::{Healthy, Maintenance, Unhealthy};
        assert_eq!(
            statuses,
            vec![
                Healthy,
                Unhealthy,
                Unhealthy,
                Unhealthy,
                Unhealthy,
                Healthy,
                Maintenance,
                Healthy
            ],
            "{backend}"
        );
        let page = history(
            &mut client,
            pb::ListHealthHistoryRequest {
                id: svc.id,
                page_size: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let rest = history(
            &mut client,
            pb::ListHealthHistoryRequest {
                id: svc.id,
                page_size: 5,
                page_token: page.next_page_token,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!((page.checks.len(), rest.checks.len()), (5, 3));
        let future = prost_types::Timestamp {
            seconds: Utc::now().timestamp() + 3600,
            nanos: 0,
        };
        let none = history(
            &mut client,
            pb::ListHealthHistoryRequest {
                id: svc.id,
                start_time: Some(future),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(none.checks.is_empty());
        let missing = history(
            &mut client,
            pb::ListHealthHistoryRequest {
                id: 777_777,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);
        registry.shutdown().await;
        fake.stop().await;
    }
}

#[tokio::test]
async fn wes_probes_cover_both_server_styles_timeouts_refusals_and_auth() {
    for db in backends().await {
        let weskit = FakeWes::start(WesConfig::default()).await;
        let starter = FakeWes::start(WesConfig {
            style: WesStyle::StarterKit,
            require_token: None,
            ..WesConfig::default()
        })
        .await;
        let guarded = FakeWes::start(WesConfig {
            style: WesStyle::WesKit,
            require_token: Some("wes-node-token".into()),
            ..WesConfig::default()
        })
        .await;
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        // Registered with the suffix, as the legacy data has it.
        let a = create(
            &mut client,
            &admin,
            service(
                "WESkit node",
                pb::ApiType::Ga4gh,
                &format!("{}/ga4gh/wes/v1", weskit.base_url()),
            ),
        )
        .await;
        let b = create(
            &mut client,
            &admin,
            service("Starter Kit node", pb::ApiType::Ga4gh, &starter.base_url()),
        )
        .await;
        let c = create(
            &mut client,
            &admin,
            service("Guarded node", pb::ApiType::Ga4gh, &guarded.base_url()),
        )
        .await;

        let ok = check(&mut client, &admin, a.id).await;
        assert_eq!(status(&ok), pb::HealthStatus::Healthy);
        assert_eq!(weskit.hits("/ga4gh/wes/v1/service-info"), 1);
        let with_queue = client
            .get_service(pb::GetServiceRequest {
                id_or_slug: a.id.to_string(),
            })
            .await
            .unwrap()
            .into_inner()
            .service
            .unwrap();
        assert_eq!(
            with_queue.queue_current,
            Some(3),
            "QUEUED + RUNNING from system_state_counts"
        );
        assert_eq!(
            status(&check(&mut client, &admin, b.id).await),
            pb::HealthStatus::Healthy
        );

        // Slower than the probe timeout (700 ms in tests): timeout, straight
        // away for a service never seen healthy.
        starter.set_fault(Fault::Delay(Duration::from_secs(3)));
        let fresh = create(
            &mut client,
            &admin,
            service("Slow node", pb::ApiType::Ga4gh, &starter.base_url()),
        )
        .await;
        let slow = check(&mut client, &admin, fresh.id).await;
        assert_eq!(status(&slow), pb::HealthStatus::Timeout);
        assert!(slow.response_time_ms.is_none());

        // Authentication required and no token: unhealthy, saying why;
        // a stored service-level token fixes it.
        let denied = check(&mut client, &admin, c.id).await;
        assert_eq!(status(&denied), pb::HealthStatus::Unhealthy);
        assert!(
            denied.error_message.contains("401"),
            "{}",
            denied.error_message
        );
        let patch = pb::Service {
            secrets: [("api_token".to_owned(), "wes-node-token".to_owned())].into(),
            ..Default::default()
        };
        update(&mut client, &admin, c.id, patch).await;
        assert_eq!(
            status(&check(&mut client, &admin, c.id).await),
            pb::HealthStatus::Healthy
        );

        // Connection refused once the node is gone.
        weskit.stop().await;
        check(&mut client, &admin, a.id).await;
        let refused = check(&mut client, &admin, a.id).await;
        assert_eq!(status(&refused), pb::HealthStatus::Unhealthy);
        assert!(
            refused.error_message.contains("cannot connect"),
            "{}",
            refused.error_message
        );
        registry.shutdown().await;
        starter.stop().await;
        guarded.stop().await;
    }
}

#[tokio::test]
async fn dnastack_probes_read_the_service_registry() {
    let fake = FakeDnastack::start(DnastackConfig::default()).await;
    let registry = TestRegistry::spawn(fedimpute_tests::TestDb::sqlite()).await;
    let admin = registry.auth.admin();
    let mut client = registry.client().await;
    let svc = create(
        &mut client,
        &admin,
        service("Workbench", pb::ApiType::Dnastack, &fake.base_url()),
    )
    .await;
    assert_eq!(
        status(&check(&mut client, &admin, svc.id).await),
        pb::HealthStatus::Healthy
    );
    assert_eq!(fake.hits("/api/service-registry/services"), 1);
    fake.set_ewes_listed(false);
    let fresh = create(
        &mut client,
        &admin,
        service(
            "Workbench without eWES",
            pb::ApiType::Dnastack,
            &fake.base_url(),
        ),
    )
    .await;
    let unlisted = check(&mut client, &admin, fresh.id).await;
    assert_eq!(status(&unlisted), pb::HealthStatus::Unhealthy);
    assert!(
        unlisted.error_message.contains("eWES"),
        "{}",
        unlisted.error_message
    );
    registry.shutdown().await;
    fake.stop().await;
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let registry = TestRegistry::spawn_with(fedimpute_tests::TestDb::sqlite(), |s| {
        s.outbound.allow_private_targets = false
    })
    .await;
    let admin = registry.auth.admin();
    let mut client = registry.client().await;
    let svc = create(
        &mut client,
        &admin,
        service("Loopback", pb::ApiType::Michigan, &fake.base_url()),
    )
    .await;
    let refused = check(&mut client, &admin, svc.id).await;
    assert_eq!(status(&refused), pb::HealthStatus::Unhealthy);
    assert!(
        refused.error_message.contains("refused"),
        "{}",
        refused.error_message
    );
    assert_eq!(
        fake.hits("/api/v2/server"),
        0,
        "no request left the platform"
    );
    let sync = sync(&mut client, &admin, svc.id, "t").await.unwrap_err();
    assert_eq!(sync.code(), Code::FailedPrecondition);
    registry.shutdown().await;
    fake.stop().await;
}

#[tokio::test]
async fn manual_checks_soon_after_a_probe_return_it_instead_of_probing() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let registry = TestRegistry::spawn_with(fedimpute_tests::TestDb::sqlite(), |s| {
        s.min_check_interval = Duration::from_secs(3600)
    })
    .await;
    let admin = registry.auth.admin();
    let mut client = registry.client().await;
    let svc = create(
        &mut client,
        &admin,
        service("Throttled", pb::ApiType::Michigan, &fake.base_url()),
    )
    .await;
    let first = check(&mut client, &admin, svc.id).await;
    let second = check(&mut client, &admin, svc.id).await;
    assert_eq!(
        fake.hits("/api/v2/server"),
        1,
        "the second check did not go out"
    );
    assert_eq!(first.checked_at, second.checked_at);
    registry.shutdown().await;
    fake.stop().await;
}

#[tokio::test]
async fn history_end_time_is_exclusive() {
    for db in backends().await {
        let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let svc = create(
            &mut client,
            &admin,
            service("Ranged", pb::ApiType::Michigan, &fake.base_url()),
        )
        .await;
        check(&mut client, &admin, svc.id).await;
        let last = check(&mut client, &admin, svc.id).await.checked_at.unwrap();
        let before_last = history(
            &mut client,
            pb::ListHealthHistoryRequest {
                id: svc.id,
                end_time: Some(last),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .checks;
        assert_eq!(before_last.len(), 1);
        let from_last = history(
            &mut client,
            pb::ListHealthHistoryRequest {
                id: svc.id,
                start_time: Some(last),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .checks;
        assert_eq!(from_last.len(), 1);
        let backwards = history(
            &mut client,
            pb::ListHealthHistoryRequest {
                id: svc.id,
                start_time: Some(last),
                end_time: Some(last),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(backwards.code(), Code::InvalidArgument);
        registry.shutdown().await;
        fake.stop().await;
    }
}
