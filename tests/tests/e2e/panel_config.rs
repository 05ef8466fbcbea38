//! A panel's `api_config`: the settings a remote needs for one panel (a WES
//! workflow, a DNAstack workflow version), set by administrators and
//! returned by every read, on SQLite and PostgreSQL.

use fedimpute_proto::registry as pb;
use fedimpute_registry_migration::{Migrator, MigratorTrait};
use fedimpute_tests::{TestRegistry, backends, harness::auth::bearer};
use prost_types::FieldMask;
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;
use tonic::Status;

use crate::common::{Client, config, create, create_panel, service, violated_fields};

fn wes_panel(service_id: i64, name: &str) -> pb::ReferencePanel {
    pb::ReferencePanel {
        service_id,
        name: name.into(),
        build: pb::GenomeBuild::Hg38 as i32,
        ..Default::default()
    }
}

fn workflow() -> prost_types::Struct {
    config(json!({
        "workflow_url": "https://github.com/elwazi/imputation/raw/v1.2/impute.wdl",
        "workflow_type": "WDL",
        "workflow_type_version": "1.0",
        "workflow_params": {
            "impute.reference": "s3://panels/h3africa-v6",
            "impute.cpus": 8.0,
            "impute.chromosomes": ["chr20", "chr22"],
            "impute.phasing": true,
        },
        "workflow_engine_parameters": {"engine": "cromwell"},
    }))
}

async fn update(
    client: &mut Client,
    token: &str,
    id: i64,
    patch: pb::ReferencePanel,
    paths: &[&str],
) -> Result<pb::ReferencePanel, Status> {
    client
        .update_reference_panel(bearer(
            token,
            pb::UpdateReferencePanelRequest {
                id,
                panel: Some(patch),
                update_mask: (!paths.is_empty()).then(|| FieldMask {
                    paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                }),
            },
        ))
        .await
        .map(|r| r.into_inner().panel.expect("a panel"))
}

async fn get(client: &mut Client, id: i64) -> pb::ReferencePanel {
    client
        .get_reference_panel(pb::GetReferencePanelRequest { id })
        .await
        .expect("get the panel")
        .into_inner()
        .panel
        .expect("a panel")
}

#[tokio::test]
async fn a_panels_api_config_round_trips_through_create_update_get_and_list() {
    for db in backends().await {
        let backend = db.backend;
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let wes = create(
            &mut client,
            &admin,
            service("eLwazi WES", pb::ApiType::Ga4gh, "https://wes.elwazi.org"),
        )
        .await;

        // Create: returned as given, and by Get and both lists.
        let mut input = wes_panel(wes.id, "H3Africa v6 (WES)");
        input.api_config = Some(workflow());
        let created = create_panel(&mut client, &admin, input).await;
        assert_eq!(created.api_config, Some(workflow()), "{backend}");
        assert_eq!(get(&mut client, created.id).await, created, "{backend}");
        let plain = create_panel(&mut client, &admin, wes_panel(wes.id, "No settings")).await;
        assert_eq!(
            plain.api_config,
            Some(config(json!({}))),
            "{backend}: none given reads as an empty object"
        );
        for request in [
            pb::ListReferencePanelsRequest::default(),
            pb::ListReferencePanelsRequest {
                service_id: Some(wes.id),
                ..Default::default()
            },
        ] {
            let panels = client
                .list_reference_panels(request)
                .await
                .unwrap()
                .into_inner()
                .panels;
            assert_eq!(panels, vec![created.clone(), plain.clone()], "{backend}");
        }

        // Without a mask: another field leaves it alone; a non-empty one
        // replaces it whole; an empty one is "not given".
        let described = update(
            &mut client,
            &admin,
            created.id,
            pb::ReferencePanel {
                description: "phased with Eagle".into(),
                ..Default::default()
            },
            &[],
        )
        .await
        .unwrap();
        assert_eq!(described.api_config, Some(workflow()), "{backend}");
        let dnastack_like = config(json!({"workflow_id": "impute", "workflow_version_id": "7"}));
        let replaced = update(
            &mut client,
            &admin,
            created.id,
            pb::ReferencePanel {
                api_config: Some(dnastack_like.clone()),
                ..Default::default()
            },
            &[],
        )
        .await
        .unwrap();
        assert_eq!(
            replaced.api_config,
            Some(dnastack_like.clone()),
            "{backend}"
        );
        let untouched = update(
            &mut client,
            &admin,
            created.id,
            pb::ReferencePanel {
                api_config: Some(config(json!({}))),
                version: "2".into(),
                ..Default::default()
            },
            &[],
        )
        .await
        .unwrap();
        assert_eq!(untouched.api_config, Some(dnastack_like.clone()));

        // With a mask: only the named paths change; `api_config` named with
        // an empty value clears it.
        let masked_out = update(
            &mut client,
            &admin,
            created.id,
            pb::ReferencePanel {
                api_config: Some(workflow()),
                description: "masked".into(),
                ..Default::default()
            },
            &["description"],
        )
        .await
        .unwrap();
        assert_eq!(
            (masked_out.description.as_str(), masked_out.api_config),
            ("masked", Some(dnastack_like)),
            "{backend}"
        );
        let masked_in = update(
            &mut client,
            &admin,
            created.id,
            pb::ReferencePanel {
                api_config: Some(workflow()),
                description: "not named".into(),
                ..Default::default()
            },
            &["api_config"],
        )
        .await
        .unwrap();
        assert_eq!(
            (masked_in.description.as_str(), masked_in.api_config.clone()),
            ("masked", Some(workflow())),
            "{backend}"
        );
        assert_eq!(get(&mut client, created.id).await, masked_in);
        let cleared = update(
            &mut client,
            &admin,
            created.id,
            pb::ReferencePanel::default(),
            &["api_config"],
        )
        .await
        .unwrap();
        assert_eq!(cleared.api_config, Some(config(json!({}))), "{backend}");
        assert_eq!(get(&mut client, created.id).await, cleared);
        registry.shutdown().await;
    }
}

#[tokio::test]
async fn a_panels_api_config_refuses_secret_looking_keys_and_oversized_values() {
    for db in backends().await {
        let backend = db.backend;
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let wes = create(
            &mut client,
            &admin,
            service("Guarded WES", pb::ApiType::Ga4gh, "https://wes.example.org"),
        )
        .await;

        let mut secretive = wes_panel(wes.id, "Secretive");
        secretive.api_config = Some(config(json!({
            "workflow_url": "https://example.org/impute.wdl",
            "Engine_Token": "wes-bearer-value",
        })));
        let refused = client
            .create_reference_panel(bearer(
                &admin,
                pb::CreateReferencePanelRequest {
                    panel: Some(secretive),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(
            violated_fields(&refused),
            vec!["api_config.Engine_Token"],
            "{backend}"
        );
        assert!(
            !refused.message().contains("wes-bearer-value"),
            "{}",
            refused.message()
        );

        let stored = create_panel(&mut client, &admin, wes_panel(wes.id, "Guarded")).await;
        let refused = update(
            &mut client,
            &admin,
            stored.id,
            pb::ReferencePanel {
                api_config: Some(config(json!({"client_secret": "x"}))),
                ..Default::default()
            },
            &["api_config"],
        )
        .await
        .unwrap_err();
        assert_eq!(violated_fields(&refused), vec!["api_config.client_secret"]);

        // Settings, not documents: the bound the service's api_config has.
        let huge = config(json!({"workflow_params": {"blob": "x".repeat(70 * 1024)}}));
        let refused = update(
            &mut client,
            &admin,
            stored.id,
            pb::ReferencePanel {
                api_config: Some(huge.clone()),
                ..Default::default()
            },
            &[],
        )
        .await
        .unwrap_err();
        assert_eq!(violated_fields(&refused), vec!["api_config"], "{backend}");
        let mut huge_service = service("Huge WES", pb::ApiType::Ga4gh, "https://huge.example.org");
        huge_service.api_config = Some(huge);
        let refused = client
            .create_service(bearer(
                &admin,
                pb::CreateServiceRequest {
                    service: Some(huge_service),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), vec!["api_config"]);

        // Nothing refused was stored.
        assert_eq!(get(&mut client, stored.id).await, stored, "{backend}");
        registry.shutdown().await;
    }
}

#[tokio::test]
async fn panels_stored_before_the_migration_read_an_empty_api_config() {
    for db in backends().await {
        let backend = db.backend;
        // The schema as first released, with a panel in it.
        let conn = Database::connect(&db.url).await.unwrap();
        Migrator::up(&conn, Some(1)).await.unwrap();
        let now = "'2026-11-30 00:00:00+00:00'";
        conn.execute_unprepared(&format!(
            "INSERT INTO services (name, slug, service_type, api_type, base_url, description, \
             version, requires_auth, auth_type, max_file_size_mb, supported_formats, \
             supports_hg19, supports_hg38, api_config, secret_names, is_active, \
             location_institution, location_city, location_country, location_datacenter, \
             continent, health_status, is_available, error_message, consecutive_failures, \
             health_version, search_text, continent_key, country_key, created_at, updated_at) \
             VALUES ('Old WES', 'old-wes', 'ga4gh', 'ga4gh', 'https://old.example.org', '', '', \
             true, '', 100, '[\"vcf\"]', true, true, '{{}}', '[]', true, '', '', '', '', '', \
             'unknown', false, '', 0, 0, 'old wes', '', '', {now}, {now})"
        ))
        .await
        .unwrap();
        conn.execute_unprepared(&format!(
            "INSERT INTO reference_panels (service_id, name, display_name, slug, description, \
             population, populations, build, is_available, is_public, requires_permission, \
             version, created_at, updated_at) \
             VALUES (1, 'Old panel', 'Old panel', 'old-panel', '', '', '[]', 'hg38', true, \
             true, false, '', {now}, {now})"
        ))
        .await
        .unwrap();
        conn.close().await.ok();

        // The registry applies the new migration at start.
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let old = get(&mut client, 1).await;
        assert_eq!(
            (old.name.as_str(), old.api_config),
            ("Old panel", Some(config(json!({})))),
            "{backend}"
        );
        let set = update(
            &mut client,
            &admin,
            1,
            pb::ReferencePanel {
                api_config: Some(workflow()),
                ..Default::default()
            },
            &[],
        )
        .await
        .unwrap();
        assert_eq!(set.api_config, Some(workflow()), "{backend}");

        // And it can be undone and done again.
        let conn = Database::connect(&registry.db.url).await.unwrap();
        Migrator::down(&conn, Some(1)).await.unwrap();
        Migrator::up(&conn, None).await.unwrap();
        conn.close().await.ok();
        registry.shutdown().await;
    }
}
