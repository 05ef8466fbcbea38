//! Reference-panel sync from a (fake) Cloudgene server.

use fedimpute_proto::registry as pb;
use fedimpute_tests::{
    TestRegistry, backends,
    fakes::cloudgene::{CloudgeneConfig, FakeCloudgene, FakePanel},
    harness::auth::bearer,
};
use serde_json::json;
use tonic::Code;

use crate::common::{config, create, create_panel, service, sync};

const TOKEN: &str = "cloudgene-test-token";

#[tokio::test]
async fn sync_upserts_panels_by_external_id() {
    for db in backends().await {
        let backend = db.backend;
        let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let svc = create(
            &mut client,
            &admin,
            service("H3Africa", pb::ApiType::Michigan, &fake.base_url()),
        )
        .await;

        let syncer = client.clone();
        let sync = |token: &str| {
            let mut client = syncer.clone();
            let request = bearer(
                &admin,
                pb::SyncReferencePanelsRequest {
                    id: svc.id,
                    api_token: token.into(),
                },
            );
            async move { client.sync_reference_panels(request).await }
        };
        let first = sync(TOKEN).await.unwrap().into_inner();
        assert_eq!(
            (first.created, first.updated, first.unchanged),
            (3, 0, 0),
            "{backend}"
        );
        assert_eq!(first.app_id, "imputationserver2@2.0.12");
        assert_eq!(
            fake.last_token("/api/v2/server/apps/imputationserver2")
                .as_deref(),
            Some(TOKEN)
        );
        let h3 = first
            .panels
            .iter()
            .find(|p| p.external_id == "apps@h3africa-v6hc-s@1.0.0")
            .expect("the H3Africa panel");
        assert_eq!(h3.slug, "h3africa-v6hc-s");
        assert_eq!(h3.populations, vec!["afr", "mixed", "off"]);
        assert!(h3.last_synced_at.is_some());
        // The token given with the request was used, not kept.
        let read = client
            .get_service(pb::GetServiceRequest {
                id_or_slug: svc.id.to_string(),
            })
            .await
            .unwrap()
            .into_inner()
            .service
            .unwrap();
        assert!(read.secret_names.is_empty());

        // Unchanged on a second run; the remote's changes are applied.
        let again = sync(TOKEN).await.unwrap().into_inner();
        assert_eq!(
            (
                again.created,
                again.updated,
                again.unchanged,
                again.marked_unavailable
            ),
            (0, 0, 3, 0)
        );
        fake.set_panels(vec![
            FakePanel::new(
                "apps@h3africa-v6hc-s@1.0.0",
                "H3Africa v6 high coverage",
                &["afr", "off"],
            ),
            FakePanel::new(
                "apps@topmed-r3@1.0.0",
                "TOPMed (Version R3)",
                &["all", "off"],
            ),
        ]);
        let changed = sync(TOKEN).await.unwrap().into_inner();
        assert_eq!(
            (
                changed.created,
                changed.updated,
                changed.unchanged,
                changed.marked_unavailable
            ),
            (0, 1, 1, 1)
        );
        let panels = client
            .list_reference_panels(pb::ListReferencePanelsRequest {
                service_id: Some(svc.id),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .panels;
        assert_eq!(
            panels.len(),
            3,
            "a panel the remote dropped is kept, unavailable"
        );
        let dropped = panels
            .iter()
            .find(|p| p.external_id == "apps@1000g-phase-3-v5@2.0.0")
            .unwrap();
        assert_eq!(dropped.is_available, Some(false));
        let renamed = panels
            .iter()
            .find(|p| p.external_id == "apps@h3africa-v6hc-s@1.0.0")
            .unwrap();
        assert_eq!(renamed.display_name, "H3Africa v6 high coverage");
        assert_eq!(renamed.populations, vec!["afr", "off"]);

        // A rejected token, and no token at all.
        let rejected = sync("expired-token").await.unwrap_err();
        assert_eq!(rejected.code(), Code::FailedPrecondition);
        assert!(
            rejected.message().contains("rejected the API token"),
            "{}",
            rejected.message()
        );
        let none = sync("").await.unwrap_err();
        assert_eq!(none.code(), Code::FailedPrecondition);
        assert!(none.message().contains("api_token"));
        registry.shutdown().await;
        fake.stop().await;
    }
}

#[tokio::test]
async fn sync_uses_the_stored_service_token_and_refuses_what_it_cannot_do() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let registry = TestRegistry::spawn(fedimpute_tests::TestDb::sqlite()).await;
    let admin = registry.auth.admin();
    let mut client = registry.client().await;
    let mut input = service("Michigan", pb::ApiType::Michigan, &fake.base_url());
    input.secrets = [("api_token".to_owned(), TOKEN.to_owned())].into();
    let svc = create(&mut client, &admin, input).await;
    let synced = sync(&mut client, &admin, svc.id, "").await.unwrap();
    assert_eq!(synced.created, 3);

    // Authorization: a researcher may not.
    let denied = client
        .sync_reference_panels(bearer(
            &registry.auth.researcher(),
            pb::SyncReferencePanelsRequest {
                id: svc.id,
                api_token: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    // WES services have no Cloudgene apps.
    let wes = create(
        &mut client,
        &admin,
        service("WES", pb::ApiType::Ga4gh, "https://wes.example.org"),
    )
    .await;
    let wrong = sync(&mut client, &admin, wes.id, TOKEN).await.unwrap_err();
    assert_eq!(wrong.code(), Code::FailedPrecondition);
    // Maintenance is Unavailable; a server that is gone too.
    fake.set_maintenance(true);
    let maintenance = sync(&mut client, &admin, svc.id, "").await.unwrap_err();
    assert_eq!(maintenance.code(), Code::Unavailable);
    fake.stop().await;
    let gone = sync(&mut client, &admin, svc.id, "").await.unwrap_err();
    assert_eq!(gone.code(), Code::Unavailable);
    assert_eq!(
        sync(&mut client, &admin, 999, "").await.unwrap_err().code(),
        Code::NotFound
    );
    registry.shutdown().await;
}

#[tokio::test]
async fn a_token_never_follows_a_redirect_to_another_host() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    // A server that redirects every request to the fake, on another host name.
    let target = fake.base_url().replace("127.0.0.1", "localhost");
    let redirector = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let location = format!("{target}{uri}");
        async move {
            (
                axum::http::StatusCode::FOUND,
                [(axum::http::header::LOCATION, location)],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, redirector).await });

    let registry = TestRegistry::spawn(fedimpute_tests::TestDb::sqlite()).await;
    let admin = registry.auth.admin();
    let mut client = registry.client().await;
    let svc = create(
        &mut client,
        &admin,
        service(
            "Redirecting",
            pb::ApiType::Michigan,
            &format!("http://{addr}"),
        ),
    )
    .await;
    let err = sync(&mut client, &admin, svc.id, TOKEN).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("302"), "{}", err.message());
    assert_eq!(
        fake.hits("/api/v2/server/apps/imputationserver2"),
        0,
        "the token went nowhere else"
    );
    registry.shutdown().await;
    server.abort();
    fake.stop().await;
}

#[tokio::test]
async fn invalid_or_repeated_remote_panels_are_skipped_not_stored() {
    let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
    let long_name = "x".repeat(300);
    fake.set_panels(vec![
        FakePanel::new("apps@h3africa-v6hc-s@1.0.0", "H3Africa v6", &["afr", "off"]),
        FakePanel::new("apps@h3africa-v6hc-s@1.0.0", "Listed twice", &["afr"]),
        FakePanel::new("apps@too-long@1.0.0", &long_name, &["off"]),
    ]);
    let registry = TestRegistry::spawn(fedimpute_tests::TestDb::sqlite()).await;
    let admin = registry.auth.admin();
    let mut client = registry.client().await;
    let svc = create(
        &mut client,
        &admin,
        service("Odd Remote", pb::ApiType::Michigan, &fake.base_url()),
    )
    .await;
    let synced = sync(&mut client, &admin, svc.id, TOKEN).await.unwrap();
    assert_eq!((synced.created, synced.skipped), (1, 1));
    assert_eq!(
        synced.panels[0].display_name, "H3Africa v6",
        "the first listing wins"
    );
    // The stored panel keeps syncing.
    let again = sync(&mut client, &admin, svc.id, TOKEN).await.unwrap();
    assert_eq!((again.unchanged, again.skipped), (1, 1));
    registry.shutdown().await;
    fake.stop().await;
}

#[tokio::test]
async fn sync_never_changes_a_panels_api_config() {
    for db in backends().await {
        let backend = db.backend;
        let fake = FakeCloudgene::start(CloudgeneConfig::default()).await;
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let svc = create(
            &mut client,
            &admin,
            service("Configured", pb::ApiType::Michigan, &fake.base_url()),
        )
        .await;
        // A panel an administrator added by hand, with settings, that the
        // remote lists too; and one the remote will stop listing.
        let settings = config(json!({"refpanel_version": "v6hc", "params": {"r2Filter": 0.3}}));
        let hand_made = pb::ReferencePanel {
            service_id: svc.id,
            name: "H3Africa by hand".into(),
            external_id: "apps@h3africa-v6hc-s@1.0.0".into(),
            build: pb::GenomeBuild::Hg38 as i32,
            api_config: Some(settings.clone()),
            ..Default::default()
        };
        let hand_made = create_panel(&mut client, &admin, hand_made).await;
        let first = sync(&mut client, &admin, svc.id, TOKEN).await.unwrap();
        assert_eq!((first.created, first.updated), (2, 1), "{backend}");
        let topmed = first
            .panels
            .iter()
            .find(|p| p.external_id == "apps@topmed-r3@1.0.0")
            .expect("TOPMed synced");
        let topmed_settings = config(json!({"mode": "imputation"}));
        client
            .update_reference_panel(bearer(
                &admin,
                pb::UpdateReferencePanelRequest {
                    id: topmed.id,
                    panel: Some(pb::ReferencePanel {
                        api_config: Some(topmed_settings.clone()),
                        ..Default::default()
                    }),
                    update_mask: None,
                },
            ))
            .await
            .unwrap();

        // The remote renames one and drops the others: the sync rewrites
        // the first and marks the others unavailable, settings untouched.
        fake.set_panels(vec![FakePanel::new(
            "apps@h3africa-v6hc-s@1.0.0",
            "H3Africa v6 renamed",
            &["afr"],
        )]);
        let again = sync(&mut client, &admin, svc.id, TOKEN).await.unwrap();
        assert_eq!(
            (again.updated, again.marked_unavailable),
            (1, 2),
            "{backend}"
        );
        let returned = |id: i64| {
            again
                .panels
                .iter()
                .find(|p| p.id == id)
                .and_then(|p| p.api_config.clone())
        };
        assert_eq!(returned(hand_made.id), Some(settings.clone()), "{backend}");
        assert_eq!(returned(topmed.id), Some(topmed_settings.clone()));
        let read = |id: i64| {
            let mut client = client.clone();
            async move {
                client
                    .get_reference_panel(pb::GetReferencePanelRequest { id })
                    .await
                    .unwrap()
                    .into_inner()
                    .panel
                    .unwrap()
            }
        };
        let renamed = read(hand_made.id).await;
        assert_eq!(renamed.display_name, "H3Africa v6 renamed");
        assert_eq!(renamed.api_config, Some(settings), "{backend}");
        let dropped = read(topmed.id).await;
        assert_eq!(dropped.is_available, Some(false));
        assert_eq!(dropped.api_config, Some(topmed_settings), "{backend}");
        registry.shutdown().await;
        fake.stop().await;
    }
}
