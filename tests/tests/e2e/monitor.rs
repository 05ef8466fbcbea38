//! The background monitor: schedules, at-risk services, retention, and
//! replicas sharing one database.

use std::time::Duration;

use chrono::Utc;
use fedimpute_proto::registry as pb;
use fedimpute_registry::store::{HealthUpdate, RegistryStore, SeaOrmStore};
use fedimpute_tests::{
    TestRegistry, backends, eventually,
    fakes::{
        Fault,
        cloudgene::{CloudgeneConfig, FakeCloudgene},
    },
};

use crate::{
    common::{Client, create, service},
    health::status,
};

/// A healthy probe checked at `checked_at`, due again at `next`.
fn healthy_probe(checked_at: chrono::DateTime<Utc>, next: chrono::DateTime<Utc>) -> HealthUpdate {
    HealthUpdate {
        status: fedimpute_registry::domain::HealthStatus::Healthy,
        probe_status: fedimpute_registry::domain::HealthStatus::Healthy,
        is_available: true,
        consecutive_failures: 0,
        first_unhealthy_at: None,
        response_time_ms: Some(5.0),
        error_message: String::new(),
        checked_at,
        next_check_at: next,
        queue_current: None,
    }
}

#[tokio::test]
async fn the_monitor_probes_in_the_background_and_sees_recovery() {
    for db in backends().await {
        let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
        let registry = TestRegistry::spawn_with(db, |s| {
            s.health.enabled = true;
            s.health.interval = Duration::from_millis(300);
            s.health.at_risk_after = Duration::ZERO;
            s.health.at_risk_interval = Duration::from_millis(300);
        })
        .await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let svc = create(
            &mut client,
            &admin,
            service("Watched", pb::ApiType::Michigan, &fake.base_url()),
        )
        .await;
        let mut inactive = service("Inactive", pb::ApiType::Michigan, &fake.base_url());
        inactive.is_active = Some(false);
        let inactive = create(&mut client, &admin, inactive).await;

        let health = |client: &Client, id: i64| {
            let mut client = client.clone();
            async move {
                client
                    .get_service_health(pb::GetServiceHealthRequest { id })
                    .await
                    .unwrap()
                    .into_inner()
                    .health
                    .unwrap()
            }
        };
        eventually(
            "the monitor marks the service healthy",
            Duration::from_secs(20),
            || async {
                (status(&health(&client, svc.id).await) == pb::HealthStatus::Healthy).then_some(())
            },
        )
        .await;
        fake.set_fault(Fault::Status(503, "down".into(), "text/plain"));
        eventually(
            "two failed probes mark it unhealthy",
            Duration::from_secs(20),
            || async {
                (status(&health(&client, svc.id).await) == pb::HealthStatus::Unhealthy)
                    .then_some(())
            },
        )
        .await;
        // Long unhealthy (the threshold is 0 here): at risk, still probed.
        let at_risk = client
            .list_services_at_risk(pb::ListServicesAtRiskRequest {})
            .await
            .unwrap()
            .into_inner()
            .services;
        assert_eq!(
            at_risk
                .iter()
                .map(|s| s.service.as_ref().unwrap().id)
                .collect::<Vec<_>>(),
            vec![svc.id]
        );
        fake.set_fault(Fault::None);
        eventually(
            "it comes back by itself",
            Duration::from_secs(20),
            || async {
                (status(&health(&client, svc.id).await) == pb::HealthStatus::Healthy).then_some(())
            },
        )
        .await;
        assert!(
            client
                .list_services_at_risk(pb::ListServicesAtRiskRequest {})
                .await
                .unwrap()
                .into_inner()
                .services
                .is_empty()
        );
        assert_eq!(
            status(&health(&client, inactive.id).await),
            pb::HealthStatus::Unknown,
            "inactive services are not probed"
        );
        registry.shutdown().await;
        fake.stop().await;
    }
}

#[tokio::test]
async fn history_is_pruned_after_its_retention() {
    for db in backends().await {
        let url = db.url.clone();
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let svc = create(
            &mut client,
            &admin,
            service(
                "Pruned",
                pb::ApiType::Michigan,
                "https://pruned.example.org",
            ),
        )
        .await;
        let conn = fedimpute_common::db::connect(&url, 2).await.unwrap();
        let store = SeaOrmStore::new(conn);
        let now = Utc::now();
        for (version, age_days) in [40, 31, 2].into_iter().enumerate() {
            let at = now - chrono::Duration::days(age_days);
            let update = healthy_probe(at, now);
            store
                .record_health(svc.id, version as i64, &update)
                .await
                .unwrap();
        }
        let deleted = store
            .prune_health_history(now - chrono::Duration::days(30))
            .await
            .unwrap();
        assert_eq!(deleted, 2);
        let all = pb::ListHealthHistoryRequest {
            id: svc.id,
            ..Default::default()
        };
        let left = store
            .health_history(&all.try_into().unwrap())
            .await
            .unwrap();
        assert_eq!(left.len(), 1);
        registry.shutdown().await;
    }
}

#[tokio::test]
async fn at_risk_services_are_probed_on_the_slower_schedule() {
    let down = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let up = FakeCloudgene::start(CloudgeneConfig::default()).await;
    down.set_fault(Fault::Status(500, "down".into(), "text/plain"));
    let registry = TestRegistry::spawn_with(fedimpute_tests::TestDb::sqlite(), |s| {
        s.health.enabled = true;
        s.health.interval = Duration::from_millis(200);
        s.health.failure_threshold = 1;
        s.health.at_risk_after = Duration::ZERO;
        s.health.at_risk_interval = Duration::from_secs(3600);
    })
    .await;
    let admin = registry.auth.admin();
    let mut client = registry.client().await;
    create(
        &mut client,
        &admin,
        service("Down", pb::ApiType::Michigan, &down.base_url()),
    )
    .await;
    create(
        &mut client,
        &admin,
        service("Upright", pb::ApiType::Michigan, &up.base_url()),
    )
    .await;
    eventually(
        "the failing service is listed at risk",
        Duration::from_secs(20),
        || {
            let mut client = client.clone();
            async move {
                let at_risk = client
                    .list_services_at_risk(pb::ListServicesAtRiskRequest {})
                    .await
                    .unwrap()
                    .into_inner();
                (!at_risk.services.is_empty()).then_some(())
            }
        },
    )
    .await;
    let probes_when_at_risk = down.hits("/api/v2/server");
    let up_then = up.hits("/api/v2/server");
    // The healthy one keeps its 200 ms rhythm meanwhile...
    eventually(
        "the healthy service is probed five more times",
        Duration::from_secs(20),
        || async { (up.hits("/api/v2/server") >= up_then + 5).then_some(()) },
    )
    .await;
    // ...and the at-risk one waits for its hour (one probe may have been in flight).
    assert!(down.hits("/api/v2/server") <= probes_when_at_risk + 1);
    registry.shutdown().await;
    down.stop().await;
    up.stop().await;
}

#[tokio::test]
async fn replicas_claim_each_due_service_once_and_stale_records_conflict() {
    for db in backends().await {
        let url = db.url.clone();
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let mut ids = Vec::new();
        for i in 0..10 {
            ids.push(
                create(
                    &mut client,
                    &admin,
                    service(
                        &format!("Claimed {i}"),
                        pb::ApiType::Michigan,
                        &format!("https://c{i}.example.org"),
                    ),
                )
                .await
                .id,
            );
        }
        let a = SeaOrmStore::new(fedimpute_common::db::connect(&url, 4).await.unwrap());
        let b = SeaOrmStore::new(fedimpute_common::db::connect(&url, 4).await.unwrap());
        let now = Utc::now();
        let lease = now + chrono::Duration::minutes(1);
        let (got_a, got_b) = tokio::join!(a.claim_due(now, lease, 10), b.claim_due(now, lease, 10));
        let mut claimed: Vec<i64> = got_a
            .unwrap()
            .into_iter()
            .chain(got_b.unwrap())
            .map(|s| s.id)
            .collect();
        claimed.sort();
        assert_eq!(claimed, ids, "every due service once, none twice");
        assert!(
            a.claim_due(now, lease, 10).await.unwrap().is_empty(),
            "leased services are not due"
        );

        // A record made from a stale read is refused, not applied.
        let service = a.get_service(ids[0]).await.unwrap().unwrap();
        let update = healthy_probe(now, lease);
        let first = a
            .record_health(service.id, service.health_version, &update)
            .await
            .unwrap();
        assert!(matches!(
            first,
            fedimpute_registry::store::Recorded::Saved(_)
        ));
        let stale = b
            .record_health(service.id, service.health_version, &update)
            .await
            .unwrap();
        assert_eq!(stale, fedimpute_registry::store::Recorded::Conflict);
        registry.shutdown().await;
    }
}
