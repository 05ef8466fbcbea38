//! Services: create, get, list and update, on SQLite and PostgreSQL.

use fedimpute_proto::registry::{self as pb};
use fedimpute_tests::{TestRegistry, backends, harness::auth::bearer};
use prost_types::FieldMask;
use tonic::Code;

use crate::common::{create, service, update, violated_fields};

#[tokio::test]
async fn services_round_trip_through_create_get_update_and_delete() {
    for db in backends().await {
        let backend = db.backend;
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;

        // Create: slug derived, base URL normalised, defaults applied.
        let mut input = service(
            "eLwazi MALI Node - Imputation Service",
            pb::ApiType::Ga4gh,
            "http://elwazi-node.icermali.org:6000/ga4gh/wes/v1/",
        );
        input.location_country = "Mali".into();
        input.continent = "Africa".into();
        input.location_coordinates = Some(pb::Coordinates {
            lat: 12.64,
            lon: -8.0,
        });
        let created = create(&mut client, &admin, input).await;
        assert_eq!(
            created.slug, "elwazi-mali-node-imputation-service",
            "{backend}"
        );
        assert_eq!(
            created.base_url, "http://elwazi-node.icermali.org:6000",
            "{backend}"
        );
        assert_eq!(created.service_type, "ga4gh");
        assert_eq!(created.max_file_size_mb, Some(100));
        assert_eq!(created.is_active, Some(true));
        assert_eq!(created.health_status, pb::HealthStatus::Unknown as i32);
        assert_eq!(
            created.supported_builds,
            vec![pb::GenomeBuild::Hg19 as i32, pb::GenomeBuild::Hg38 as i32]
        );

        // Get by id and by slug.
        for key in [created.id.to_string(), created.slug.clone()] {
            let got = client
                .get_service(pb::GetServiceRequest { id_or_slug: key })
                .await
                .unwrap()
                .into_inner()
                .service
                .unwrap();
            assert_eq!(got.id, created.id);
            assert_eq!(
                got.location_coordinates,
                Some(pb::Coordinates {
                    lat: 12.64,
                    lon: -8.0
                })
            );
        }

        // Update with a mask: only the named field changes.
        let patch = pb::Service {
            description: "GA4GH WES node".into(),
            name: "not applied".into(),
            ..Default::default()
        };
        let updated = client
            .update_service(bearer(
                &admin,
                pb::UpdateServiceRequest {
                    id: created.id,
                    service: Some(patch),
                    update_mask: Some(FieldMask {
                        paths: vec!["description".into()],
                    }),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .service
            .unwrap();
        assert_eq!(updated.description, "GA4GH WES node");
        assert_eq!(updated.name, created.name);

        // Without a mask, the set fields change; invalid values are refused.
        let patch = pb::Service {
            max_file_size_mb: Some(500),
            is_active: Some(false),
            ..Default::default()
        };
        let updated = update(&mut client, &admin, created.id, patch).await;
        assert_eq!(
            (updated.max_file_size_mb, updated.is_active),
            (Some(500), Some(false))
        );
        assert_eq!(updated.description, "GA4GH WES node");
        let bad = client
            .update_service(bearer(
                &admin,
                pb::UpdateServiceRequest {
                    id: created.id,
                    service: Some(pb::Service {
                        base_url: "ftp://nope".into(),
                        slug: "renamed".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["base_url".into(), "slug".into(), "health_status".into()],
                    }),
                },
            ))
            .await
            .unwrap_err();
        let fields = violated_fields(&bad);
        assert!(
            fields.contains(&"slug".to_owned()) && fields.contains(&"update_mask".to_owned()),
            "{fields:?}"
        );
        let missing = client
            .update_service(bearer(
                &admin,
                pb::UpdateServiceRequest {
                    id: 999_999,
                    service: None,
                    update_mask: None,
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);

        // Delete, then it is gone.
        let deleted = client
            .delete_service(bearer(&admin, pb::DeleteServiceRequest { id: created.id }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(deleted.deleted_service_id, created.id);
        let gone = client
            .get_service(pb::GetServiceRequest {
                id_or_slug: created.slug.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(gone.code(), Code::NotFound, "{backend}");
        let again = client
            .delete_service(bearer(&admin, pb::DeleteServiceRequest { id: created.id }))
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::NotFound);
        registry.shutdown().await;
    }
}

#[tokio::test]
async fn lists_filter_search_and_paginate() {
    for db in backends().await {
        let backend = db.backend;
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let mut h3 = service(
            "H3Africa Imputation Service",
            pb::ApiType::Michigan,
            "https://impute.afrigen-d.org",
        );
        h3.service_type = "h3africa".into();
        h3.continent = "Africa".into();
        h3.location_country = "South Africa".into();
        h3.location_institution = "H3Africa Consortium".into();
        h3.supported_builds = vec![pb::GenomeBuild::Hg38 as i32];
        let mut michigan = service(
            "Michigan Imputation Server",
            pb::ApiType::Michigan,
            "https://imputationserver.sph.umich.edu",
        );
        michigan.continent = "North America".into();
        michigan.location_country = "USA".into();
        michigan.supported_builds = vec![pb::GenomeBuild::Hg19 as i32];
        let mut ilifu = service(
            "eLwazi ILIFU Node",
            pb::ApiType::Ga4gh,
            "http://ga4gh-starter-kit.ilifu.ac.za:6000",
        );
        ilifu.continent = "Africa".into();
        ilifu.description = "WES starter kit at 100% capacity_test".into();
        let mut omics = service(
            "eLwazi Omics Platform",
            pb::ApiType::Dnastack,
            "https://platform.elwazi.org",
        );
        omics.is_active = Some(false);
        for s in [h3, michigan, ilifu, omics] {
            create(&mut client, &admin, s).await;
        }
        let names = |r: pb::ListServicesResponse| {
            r.services.into_iter().map(|s| s.name).collect::<Vec<_>>()
        };
        let list = |req: pb::ListServicesRequest| {
            let mut client = client.clone();
            async move { client.list_services(req).await.unwrap().into_inner() }
        };

        assert_eq!(
            list(Default::default()).await.services.len(),
            4,
            "{backend}"
        );
        let michigan_type = list(pb::ListServicesRequest {
            api_type: pb::ApiType::Michigan as i32,
            ..Default::default()
        })
        .await;
        assert_eq!(names(michigan_type).len(), 2);
        assert_eq!(
            names(
                list(pb::ListServicesRequest {
                    service_type: "H3Africa".into(),
                    ..Default::default()
                })
                .await
            ),
            vec!["H3Africa Imputation Service"]
        );
        assert_eq!(
            names(
                list(pb::ListServicesRequest {
                    is_active: Some(false),
                    ..Default::default()
                })
                .await
            ),
            vec!["eLwazi Omics Platform"]
        );
        assert_eq!(
            names(
                list(pb::ListServicesRequest {
                    continent: "africa".into(),
                    ..Default::default()
                })
                .await
            )
            .len(),
            2
        );
        assert_eq!(
            names(
                list(pb::ListServicesRequest {
                    country: "usa".into(),
                    ..Default::default()
                })
                .await
            ),
            vec!["Michigan Imputation Server"]
        );
        let hg19 = names(
            list(pb::ListServicesRequest {
                build: pb::GenomeBuild::Hg19 as i32,
                ..Default::default()
            })
            .await,
        );
        assert!(
            !hg19.contains(&"H3Africa Imputation Service".to_owned())
                && hg19.contains(&"Michigan Imputation Server".to_owned())
        );
        // Free text: name, description and location, case-insensitive; LIKE wildcards are literal.
        assert_eq!(
            names(
                list(pb::ListServicesRequest {
                    q: "CONSORTIUM".into(),
                    ..Default::default()
                })
                .await
            ),
            vec!["H3Africa Imputation Service"]
        );
        assert_eq!(
            names(
                list(pb::ListServicesRequest {
                    q: "100%".into(),
                    ..Default::default()
                })
                .await
            ),
            vec!["eLwazi ILIFU Node"]
        );
        assert_eq!(
            list(pb::ListServicesRequest {
                q: "_".into(),
                ..Default::default()
            })
            .await
            .services
            .len(),
            1
        );
        assert!(
            list(pb::ListServicesRequest {
                q: "%".into(),
                ..Default::default()
            })
            .await
            .services
            .len()
                == 1
        );

        // Pagination visits every service once.
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = list(pb::ListServicesRequest {
                page_size: 3,
                page_token: token,
                ..Default::default()
            })
            .await;
            assert!(page.services.len() <= 3);
            seen.extend(page.services.iter().map(|s| s.id));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        seen.dedup();
        assert_eq!(seen.len(), 4);

        let bad = client
            .list_services(pb::ListServicesRequest {
                page_size: 5000,
                page_token: "???".into(),
                api_type: 42,
                ..Default::default()
            })
            .await
            .unwrap_err();
        let fields = violated_fields(&bad);
        assert!(
            ["page_size", "page_token", "api_type"]
                .iter()
                .all(|f| fields.iter().any(|x| x == f)),
            "{fields:?}"
        );
        registry.shutdown().await;
    }
}

#[tokio::test]
async fn an_exactly_full_last_page_has_no_next_token() {
    for db in backends().await {
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        for i in 0..4 {
            create(
                &mut client,
                &admin,
                service(
                    &format!("Node {i}"),
                    pb::ApiType::Ga4gh,
                    &format!("https://n{i}.example.org"),
                ),
            )
            .await;
        }
        let page = |size: i32, token: String| {
            let mut client = client.clone();
            async move {
                client
                    .list_services(pb::ListServicesRequest {
                        page_size: size,
                        page_token: token,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner()
            }
        };
        let all = page(4, String::new()).await;
        assert_eq!((all.services.len(), all.next_page_token.as_str()), (4, ""));
        let first = page(2, String::new()).await;
        assert!(!first.next_page_token.is_empty());
        let second = page(2, first.next_page_token).await;
        assert_eq!(
            (second.services.len(), second.next_page_token.as_str()),
            (2, "")
        );
        registry.shutdown().await;
    }
}
