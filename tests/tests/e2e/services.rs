//! Services: create, get, list, update, delete, discovery and authorization,
//! on SQLite and PostgreSQL.

use fedimpute_proto::registry::{self as pb};
use fedimpute_tests::{TestRegistry, backends, harness::auth::bearer};
use prost_types::FieldMask;
use sea_orm::{ConnectionTrait, Database, Statement};
use tonic::{Code, Request};

use crate::common::{create, service, violated_fields};

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
        let updated = client
            .update_service(bearer(
                &admin,
                pb::UpdateServiceRequest {
                    id: created.id,
                    service: Some(patch),
                    update_mask: None,
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .service
            .unwrap();
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
async fn invalid_services_are_refused_naming_every_bad_field() {
    for db in backends().await {
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let mut bad = service("x", pb::ApiType::Unspecified, "ftp://host");
        bad.supported_builds = vec![9];
        bad.max_file_size_mb = Some(-1);
        bad.slug = "Not A Slug".into();
        bad.api_config = Some(prost_types::Struct {
            fields: [(
                "api_key".to_owned(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::StringValue("sk-123".into())),
                },
            )]
            .into(),
        });
        let err = client
            .create_service(bearer(
                &admin,
                pb::CreateServiceRequest { service: Some(bad) },
            ))
            .await
            .unwrap_err();
        let fields = violated_fields(&err);
        for field in [
            "name",
            "api_type",
            "base_url",
            "supported_builds[0]",
            "max_file_size_mb",
            "slug",
            "api_config.api_key",
        ] {
            assert!(
                fields.iter().any(|f| f == field),
                "{field} not in {fields:?}"
            );
        }
        assert!(
            err.message().contains("base_url"),
            "the message names the fields: {}",
            err.message()
        );

        let empty = client
            .create_service(bearer(&admin, pb::CreateServiceRequest { service: None }))
            .await
            .unwrap_err();
        assert_eq!(empty.code(), Code::InvalidArgument);

        // A duplicate explicit slug is AlreadyExists; a derived one gets a suffix.
        let mut first = service(
            "Michigan Imputation Server",
            pb::ApiType::Michigan,
            "https://imputationserver.sph.umich.edu",
        );
        first.slug = "michigan".into();
        create(&mut client, &admin, first.clone()).await;
        let dup = client
            .create_service(bearer(
                &admin,
                pb::CreateServiceRequest {
                    service: Some(first),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(dup.code(), Code::AlreadyExists);
        assert!(dup.message().contains("michigan"));
        let a = create(
            &mut client,
            &admin,
            service("Same Name", pb::ApiType::Michigan, "https://a.example.org"),
        )
        .await;
        let b = create(
            &mut client,
            &admin,
            service("Same Name", pb::ApiType::Michigan, "https://b.example.org"),
        )
        .await;
        assert_eq!(
            (a.slug.as_str(), b.slug.as_str()),
            ("same-name", "same-name-1")
        );
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
async fn service_secrets_are_sealed_at_rest_and_never_returned() {
    for db in backends().await {
        let url = db.url.clone();
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let mut input = service(
            "Afrigen",
            pb::ApiType::Michigan,
            "https://impute.afrigen-d.org",
        );
        input.secrets = [("api_token".to_owned(), "cg-secret-token-value".to_owned())].into();
        let created = create(&mut client, &admin, input).await;
        assert!(created.secrets.is_empty());
        assert_eq!(created.secret_names, vec!["api_token"]);

        let listed = client
            .list_services(pb::ListServicesRequest::default())
            .await
            .unwrap()
            .into_inner();
        let debug = format!("{listed:?}");
        assert!(!debug.contains("cg-secret-token-value"));

        // Adding a second secret keeps the first; an empty value removes one.
        let patch = pb::Service {
            secrets: [("client_secret".to_owned(), "other".to_owned())].into(),
            ..Default::default()
        };
        let updated = client
            .update_service(bearer(
                &admin,
                pb::UpdateServiceRequest {
                    id: created.id,
                    service: Some(patch),
                    update_mask: None,
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .service
            .unwrap();
        assert_eq!(updated.secret_names, vec!["api_token", "client_secret"]);
        let patch = pb::Service {
            secrets: [("client_secret".to_owned(), String::new())].into(),
            ..Default::default()
        };
        let updated = client
            .update_service(bearer(
                &admin,
                pb::UpdateServiceRequest {
                    id: created.id,
                    service: Some(patch),
                    update_mask: None,
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .service
            .unwrap();
        assert_eq!(updated.secret_names, vec!["api_token"]);

        // The stored column holds ciphertext only.
        let conn = Database::connect(&url).await.unwrap();
        let row = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT secrets FROM services",
            ))
            .await
            .unwrap()
            .unwrap();
        let sealed: String = row.try_get("", "secrets").unwrap();
        assert!(
            sealed.starts_with("v1.") && !sealed.contains("cg-secret-token-value"),
            "{sealed}"
        );
        conn.close().await.ok();
        registry.shutdown().await;
    }
}

#[tokio::test]
async fn writes_need_an_admin_or_a_service_admin_and_reads_are_public() {
    let registry = TestRegistry::spawn(fedimpute_tests::TestDb::sqlite()).await;
    let auth = &registry.auth;
    let mut client = registry.client().await;
    let own = create(
        &mut client,
        &auth.admin(),
        service(
            "Own Service",
            pb::ApiType::Michigan,
            "https://own.example.org",
        ),
    )
    .await;
    let other = create(
        &mut client,
        &auth.admin(),
        service(
            "Other Service",
            pb::ApiType::Michigan,
            "https://other.example.org",
        ),
    )
    .await;
    let update = |id: i64| pb::UpdateServiceRequest {
        id,
        service: Some(pb::Service {
            description: "changed".into(),
            ..Default::default()
        }),
        update_mask: None,
    };

    // Anonymous: reads work, writes are Unauthenticated.
    assert!(
        client
            .list_services(pb::ListServicesRequest::default())
            .await
            .is_ok()
    );
    let anonymous = client
        .update_service(Request::new(update(own.id)))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    // A token that is not ours, or garbage, is Unauthenticated too.
    let stranger = fedimpute_tests::TestAuth::new().admin();
    assert_eq!(
        client
            .update_service(bearer(&stranger, update(own.id)))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(
        client
            .update_service(bearer("not-a-jwt", update(own.id)))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    // A researcher is PermissionDenied.
    assert_eq!(
        client
            .update_service(bearer(&auth.researcher(), update(own.id)))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    // A service_admin manages their service only, and cannot create services.
    let scoped = auth.service_admin_of(own.id);
    assert!(
        client
            .update_service(bearer(&scoped, update(own.id)))
            .await
            .is_ok()
    );
    assert_eq!(
        client
            .update_service(bearer(&scoped, update(other.id)))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let create_denied = client
        .create_service(bearer(
            &scoped,
            pb::CreateServiceRequest {
                service: Some(service(
                    "New One",
                    pb::ApiType::Michigan,
                    "https://n.example.org",
                )),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(create_denied.code(), Code::PermissionDenied);
    assert_eq!(
        client
            .delete_service(bearer(&scoped, pb::DeleteServiceRequest { id: other.id }))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    // Health checks need an authenticated caller.
    assert_eq!(
        client
            .check_service_health(pb::CheckServiceHealthRequest { id: own.id })
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    // Panels follow the service's rule.
    let panel = pb::ReferencePanel {
        service_id: other.id,
        name: "P".into(),
        build: pb::GenomeBuild::Hg38 as i32,
        ..Default::default()
    };
    assert_eq!(
        client
            .create_reference_panel(bearer(
                &scoped,
                pb::CreateReferencePanelRequest {
                    panel: Some(panel.clone())
                }
            ))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        client
            .create_reference_panel(pb::CreateReferencePanelRequest { panel: Some(panel) })
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    registry.shutdown().await;
}

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

#[tokio::test]
async fn bad_tokens_are_refused_on_reads_too_and_only_access_tokens_pass() {
    let registry = TestRegistry::spawn(fedimpute_tests::TestDb::sqlite()).await;
    let mut client = registry.client().await;
    let refused = client
        .list_services(bearer("garbage", pb::ListServicesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    // A token of another kind, signed by the right key, is not an access token.
    let now = chrono::Utc::now().timestamp();
    let mut claims = fedimpute_common::auth::Claims {
        sub: "1".into(),
        username: "admin".into(),
        email: String::new(),
        roles: vec![fedimpute_common::auth::RoleGrant::global(
            fedimpute_common::auth::Role::Admin,
        )],
        iat: now,
        exp: now + 600,
        iss: "fedimpute".into(),
        aud: "fedimpute".into(),
        jti: "x".into(),
        token_use: "refresh".into(),
    };
    let refresh = registry.auth.sign(&claims);
    let create = |token: &str| {
        bearer(
            token,
            pb::CreateServiceRequest {
                service: Some(service(
                    "Token Kinds",
                    pb::ApiType::Michigan,
                    "https://kinds.example.org",
                )),
            },
        )
    };
    assert_eq!(
        client
            .create_service(create(&refresh))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    claims.token_use = "access".into();
    assert!(
        client
            .create_service(create(&registry.auth.sign(&claims)))
            .await
            .is_ok()
    );
    registry.shutdown().await;
}

#[tokio::test]
async fn slugs_that_read_as_ids_or_paths_and_non_finite_numbers_are_refused() {
    for db in backends().await {
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let mut numeric = service("2024", pb::ApiType::Michigan, "https://n.example.org");
        numeric.slug = "2024".into();
        numeric.memory_total_gb = Some(f64::NAN);
        numeric.location_coordinates = Some(pb::Coordinates {
            lat: f64::INFINITY,
            lon: 0.0,
        });
        let err = client
            .create_service(bearer(
                &admin,
                pb::CreateServiceRequest {
                    service: Some(numeric),
                },
            ))
            .await
            .unwrap_err();
        let fields = violated_fields(&err);
        for field in ["slug", "memory_total_gb", "location_coordinates.lat"] {
            assert!(
                fields.iter().any(|f| f == field),
                "{field} not in {fields:?}"
            );
        }
        // Derived slugs steer clear by themselves.
        let derived = create(
            &mut client,
            &admin,
            service("2024", pb::ApiType::Michigan, "https://n.example.org"),
        )
        .await;
        assert_eq!(derived.slug, "service-2024");
        let by_slug = client
            .get_service(pb::GetServiceRequest {
                id_or_slug: "service-2024".into(),
            })
            .await
            .unwrap();
        assert_eq!(by_slug.into_inner().service.unwrap().id, derived.id);
        let reserved = create(
            &mut client,
            &admin,
            service("Discover", pb::ApiType::Michigan, "https://d.example.org"),
        )
        .await;
        assert_eq!(reserved.slug, "service-discover");
        let empty = client
            .get_service(pb::GetServiceRequest {
                id_or_slug: " ".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&empty), vec!["id_or_slug"]);
        let bad_discover = client
            .discover_services(pb::DiscoverServicesRequest {
                min_memory_gb: Some(f64::NAN),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&bad_discover), vec!["min_memory_gb"]);
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

#[tokio::test]
async fn moving_a_service_drops_its_secrets_unless_they_are_sent_again() {
    for db in backends().await {
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let mut input = service("Moving", pb::ApiType::Michigan, "https://old.example.org");
        input.secrets = [("api_token".to_owned(), "secret-one".to_owned())].into();
        let created = create(&mut client, &admin, input).await;
        let update = |service: pb::Service| pb::UpdateServiceRequest {
            id: created.id,
            service: Some(service),
            update_mask: None,
        };
        let described = client
            .update_service(bearer(
                &admin,
                update(pb::Service {
                    description: "same place".into(),
                    ..Default::default()
                }),
            ))
            .await
            .unwrap()
            .into_inner()
            .service
            .unwrap();
        assert_eq!(
            described.secret_names,
            vec!["api_token"],
            "other edits keep them"
        );
        let moved = client
            .update_service(bearer(
                &admin,
                update(pb::Service {
                    base_url: "https://attacker.example.org".into(),
                    ..Default::default()
                }),
            ))
            .await
            .unwrap()
            .into_inner()
            .service
            .unwrap();
        assert!(
            moved.secret_names.is_empty(),
            "a new endpoint does not inherit the old one's secrets"
        );
        let resent = client
            .update_service(bearer(
                &admin,
                update(pb::Service {
                    base_url: "https://new.example.org".into(),
                    secrets: [("api_token".to_owned(), "secret-two".to_owned())].into(),
                    ..Default::default()
                }),
            ))
            .await
            .unwrap()
            .into_inner()
            .service
            .unwrap();
        assert_eq!(resent.secret_names, vec!["api_token"]);
        registry.shutdown().await;
    }
}
