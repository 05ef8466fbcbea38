//! Service-level secrets: sealed at rest, never returned, never moved to
//! another endpoint.

use fedimpute_proto::registry::{self as pb};
use fedimpute_tests::{TestRegistry, backends};
use sea_orm::{ConnectionTrait, Database, Statement};

use crate::common::{create, service, update};

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
        let updated = update(&mut client, &admin, created.id, patch).await;
        assert_eq!(updated.secret_names, vec!["api_token", "client_secret"]);
        let patch = pb::Service {
            secrets: [("client_secret".to_owned(), String::new())].into(),
            ..Default::default()
        };
        let updated = update(&mut client, &admin, created.id, patch).await;
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
async fn moving_a_service_drops_its_secrets_unless_they_are_sent_again() {
    for db in backends().await {
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let mut client = registry.client().await;
        let mut input = service("Moving", pb::ApiType::Michigan, "https://old.example.org");
        input.secrets = [("api_token".to_owned(), "secret-one".to_owned())].into();
        let created = create(&mut client, &admin, input).await;
        let described = update(
            &mut client,
            &admin,
            created.id,
            pb::Service {
                description: "same place".into(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            described.secret_names,
            vec!["api_token"],
            "other edits keep them"
        );
        let moved = update(
            &mut client,
            &admin,
            created.id,
            pb::Service {
                base_url: "https://attacker.example.org".into(),
                ..Default::default()
            },
        )
        .await;
        assert!(
            moved.secret_names.is_empty(),
            "a new endpoint does not inherit the old one's secrets"
        );
        let resent = update(
            &mut client,
            &admin,
            created.id,
            pb::Service {
                base_url: "https://new.example.org".into(),
                secrets: [("api_token".to_owned(), "secret-two".to_owned())].into(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(resent.secret_names, vec!["api_token"]);
        registry.shutdown().await;
    }
}
