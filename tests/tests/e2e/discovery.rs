//! Discovery: services ranked for a caller.

use fedimpute_proto::registry::{self as pb};
use fedimpute_tests::{TestRegistry, backends};

use crate::common::{create, service, violated_fields};

#[tokio::test]
async fn discovery_ranks_by_health_distance_and_resources() {
    for db in backends().await {
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let mut cape_town = service("Cape Town", pb::ApiType::Ga4gh, "https://ct.example.org");
        cape_town.location_coordinates = Some(pb::Coordinates {
            lat: -33.92,
            lon: 18.42,
        });
        cape_town.cpu_total = Some(64);
        let mut ann_arbor = service("Ann Arbor", pb::ApiType::Michigan, "https://aa.example.org");
        ann_arbor.location_coordinates = Some(pb::Coordinates {
            lat: 42.28,
            lon: -83.74,
        });
        ann_arbor.cpu_total = Some(4);
        let mut off = service(
            "Switched Off",
            pb::ApiType::Michigan,
            "https://off.example.org",
        );
        off.is_active = Some(false);
        for s in [cape_town, ann_arbor, off] {
            create(&mut client, &admin, s).await;
        }
        // From Johannesburg, needing 16 CPUs: Cape Town first.
        let found = client
            .discover_services(pb::DiscoverServicesRequest {
                latitude: Some(-26.2),
                longitude: Some(28.04),
                min_cpu: Some(16),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .results;
        let names: Vec<_> = found
            .iter()
            .map(|r| r.service.as_ref().unwrap().name.clone())
            .collect();
        assert_eq!(
            names,
            vec!["Cape Town", "Ann Arbor"],
            "inactive services are left out by default"
        );
        let meta = found[0].discovery_metadata.as_ref().unwrap();
        let km = meta.distance_km.unwrap();
        assert!((1200.0..1300.0).contains(&km), "{km}");
        let breakdown = meta.breakdown.as_ref().unwrap();
        assert_eq!(breakdown.health, 0.0, "never probed");
        assert!((breakdown.resources - 10.0).abs() < 1e-9);
        assert!(
            (found[1]
                .discovery_metadata
                .as_ref()
                .unwrap()
                .breakdown
                .as_ref()
                .unwrap()
                .resources
                - 7.7)
                .abs()
                < 1e-9
        );

        let near = client
            .discover_services(pb::DiscoverServicesRequest {
                latitude: Some(-26.2),
                longitude: Some(28.04),
                max_distance_km: Some(2000.0),
                only_active: Some(false),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .results;
        let names: Vec<_> = near
            .iter()
            .map(|r| r.service.as_ref().unwrap().name.clone())
            .collect();
        assert_eq!(
            names,
            vec!["Cape Town", "Switched Off"],
            "far services drop; unknown distances stay"
        );
        let healthy_only = client
            .discover_services(pb::DiscoverServicesRequest {
                only_healthy: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .results;
        assert!(healthy_only.is_empty());
        let bad = client
            .discover_services(pb::DiscoverServicesRequest {
                latitude: Some(100.0),
                limit: 99,
                ..Default::default()
            })
            .await
            .unwrap_err();
        let fields = violated_fields(&bad);
        assert!(
            fields.contains(&"latitude".to_owned()) && fields.contains(&"limit".to_owned()),
            "{fields:?}"
        );
        registry.shutdown().await;
    }
}
