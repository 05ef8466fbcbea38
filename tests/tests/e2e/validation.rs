//! Bad input is refused with InvalidArgument naming every bad field.

use fedimpute_proto::registry::{self as pb};
use fedimpute_tests::{TestRegistry, backends, harness::auth::bearer};
use tonic::Code;

use crate::common::{create, service, violated_fields};

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
