//! Reference panels: create, get, list, update, delete, on SQLite and PostgreSQL.

use fedimpute_proto::registry as pb;
use fedimpute_tests::{TestRegistry, backends, harness::auth::bearer};
use prost_types::FieldMask;
use tonic::Code;

use crate::common::{create, create_panel, service, violated_fields};

fn panel(
    service_id: i64,
    name: &str,
    external_id: &str,
    build: pb::GenomeBuild,
) -> pb::ReferencePanel {
    pb::ReferencePanel {
        service_id,
        name: name.into(),
        external_id: external_id.into(),
        build: build as i32,
        population: "African".into(),
        samples_count: Some(4447),
        variants_count: Some(130_028_596),
        ..Default::default()
    }
}

#[tokio::test]
async fn panels_round_trip_and_keep_their_external_ids() {
    for db in backends().await {
        let backend = db.backend;
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let h3 = create(
            &mut client,
            &admin,
            service(
                "H3Africa",
                pb::ApiType::Michigan,
                "https://impute.afrigen-d.org",
            ),
        )
        .await;
        let mi = create(
            &mut client,
            &admin,
            service(
                "Michigan",
                pb::ApiType::Michigan,
                "https://imputationserver.sph.umich.edu",
            ),
        )
        .await;

        let v6 = create_panel(
            &mut client,
            &admin,
            panel(
                h3.id,
                "H3AFRICA v6",
                "apps@h3africa-v6hc-s@1.0.0",
                pb::GenomeBuild::Hg38,
            ),
        )
        .await;
        assert_eq!(v6.external_id, "apps@h3africa-v6hc-s@1.0.0", "{backend}");
        assert_eq!(v6.slug, "h3africa-v6hc-s");
        assert_eq!(v6.display_name, "H3AFRICA v6");
        assert_eq!(v6.is_available, Some(true));
        // The same external id and slug on another service is fine.
        let kg_h3 = create_panel(
            &mut client,
            &admin,
            panel(
                h3.id,
                "1000G Phase 3 v5",
                "apps@1000g-phase-3-v5@2.0.0",
                pb::GenomeBuild::Hg19,
            ),
        )
        .await;
        let kg_mi = create_panel(
            &mut client,
            &admin,
            panel(
                mi.id,
                "1000G Phase 3 v5",
                "apps@1000g-phase-3-v5@2.0.0",
                pb::GenomeBuild::Hg19,
            ),
        )
        .await;
        assert_eq!(kg_h3.slug, kg_mi.slug);
        // But not twice on one service.
        let dup = client
            .create_reference_panel(bearer(
                &admin,
                pb::CreateReferencePanelRequest {
                    panel: Some(panel(
                        h3.id,
                        "Another name",
                        "apps@h3africa-v6hc-s@1.0.0",
                        pb::GenomeBuild::Hg38,
                    )),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(dup.code(), Code::AlreadyExists, "{backend}: {dup:?}");
        let mut explicit = panel(h3.id, "Explicit", "", pb::GenomeBuild::Hg38);
        explicit.slug = "h3africa-v6hc-s".into();
        let dup_slug = client
            .create_reference_panel(bearer(
                &admin,
                pb::CreateReferencePanelRequest {
                    panel: Some(explicit),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(dup_slug.code(), Code::AlreadyExists);
        // A derived slug that is taken gets a suffix.
        let named = create_panel(
            &mut client,
            &admin,
            panel(h3.id, "h3africa v6hc s", "", pb::GenomeBuild::Hg38),
        )
        .await;
        assert_eq!(named.slug, "h3africa-v6hc-s-1");

        // Invalid input and unknown service.
        let bad = client
            .create_reference_panel(bearer(
                &admin,
                pb::CreateReferencePanelRequest {
                    panel: Some(pb::ReferencePanel::default()),
                },
            ))
            .await
            .unwrap_err();
        let fields = violated_fields(&bad);
        assert!(
            ["service_id", "name", "build"]
                .iter()
                .all(|f| fields.iter().any(|x| x == f)),
            "{fields:?}"
        );
        let orphan = client
            .create_reference_panel(bearer(
                &admin,
                pb::CreateReferencePanelRequest {
                    panel: Some(panel(987_654, "X", "", pb::GenomeBuild::Hg38)),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(orphan.code(), Code::NotFound);

        // Get and list with filters.
        let got = client
            .get_reference_panel(pb::GetReferencePanelRequest { id: v6.id })
            .await
            .unwrap()
            .into_inner()
            .panel
            .unwrap();
        assert_eq!(got, v6);
        assert_eq!(
            client
                .get_reference_panel(pb::GetReferencePanelRequest { id: 424_242 })
                .await
                .unwrap_err()
                .code(),
            Code::NotFound
        );
        let lister = client.clone();
        let list = |req: pb::ListReferencePanelsRequest| {
            let mut client = lister.clone();
            async move {
                client
                    .list_reference_panels(req)
                    .await
                    .unwrap()
                    .into_inner()
                    .panels
            }
        };
        assert_eq!(list(Default::default()).await.len(), 4);
        assert_eq!(
            list(pb::ListReferencePanelsRequest {
                service_id: Some(h3.id),
                ..Default::default()
            })
            .await
            .len(),
            3
        );
        assert_eq!(
            list(pb::ListReferencePanelsRequest {
                service_id: Some(h3.id),
                build: pb::GenomeBuild::Hg19 as i32,
                ..Default::default()
            })
            .await,
            vec![kg_h3.clone()]
        );
        assert_eq!(
            list(pb::ListReferencePanelsRequest {
                population: "African".into(),
                ..Default::default()
            })
            .await
            .len(),
            4
        );
        assert_eq!(
            list(pb::ListReferencePanelsRequest {
                population: "african".into(),
                ..Default::default()
            })
            .await
            .len(),
            0
        );
        let first = client
            .list_reference_panels(pb::ListReferencePanelsRequest {
                page_size: 3,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first.panels.len(), 3);
        let rest = list(pb::ListReferencePanelsRequest {
            page_size: 3,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await;
        assert_eq!(rest.len(), 1);

        // Update: the mask decides; service and slug are fixed.
        let updated = client
            .update_reference_panel(bearer(
                &admin,
                pb::UpdateReferencePanelRequest {
                    id: v6.id,
                    panel: Some(pb::ReferencePanel {
                        is_available: Some(false),
                        description: "ignored".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["is_available".into()],
                    }),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .panel
            .unwrap();
        assert_eq!(
            (updated.is_available, updated.description.as_str()),
            (Some(false), "")
        );
        assert_eq!(
            list(pb::ListReferencePanelsRequest {
                is_available: Some(false),
                ..Default::default()
            })
            .await,
            vec![updated]
        );
        let moved = client
            .update_reference_panel(bearer(
                &admin,
                pb::UpdateReferencePanelRequest {
                    id: v6.id,
                    panel: Some(pb::ReferencePanel {
                        service_id: mi.id,
                        ..Default::default()
                    }),
                    update_mask: None,
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&moved), vec!["service_id"]);
        let clash = client
            .update_reference_panel(bearer(
                &admin,
                pb::UpdateReferencePanelRequest {
                    id: kg_h3.id,
                    panel: Some(pb::ReferencePanel {
                        external_id: "apps@h3africa-v6hc-s@1.0.0".into(),
                        ..Default::default()
                    }),
                    update_mask: None,
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(clash.code(), Code::AlreadyExists, "{backend}: {clash:?}");

        // Delete one panel; deleting the service takes the rest.
        client
            .delete_reference_panel(bearer(
                &admin,
                pb::DeleteReferencePanelRequest { id: named.id },
            ))
            .await
            .unwrap();
        assert_eq!(
            client
                .delete_reference_panel(bearer(
                    &admin,
                    pb::DeleteReferencePanelRequest { id: named.id }
                ))
                .await
                .unwrap_err()
                .code(),
            Code::NotFound
        );
        let deleted = client
            .delete_service(bearer(&admin, pb::DeleteServiceRequest { id: h3.id }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(deleted.deleted_panels, 2);
        assert_eq!(list(Default::default()).await, vec![kg_mi]);
        registry.shutdown().await;
    }
}
