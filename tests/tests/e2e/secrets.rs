//! Service-level secrets: sealed at rest, never returned to a client,
//! never moved to another endpoint, released only to the Jobs component.

use std::collections::HashMap;

use fedimpute_common::auth::Component;
use fedimpute_proto::registry::{self as pb};
use fedimpute_tests::{
    TestRegistry, backends,
    harness::{auth::bearer, db::execute, users::as_component},
};
use sea_orm::{ConnectionTrait, Database, Statement};
use tonic::{Code, Request, Status};

use crate::common::{Client, create, service, update};

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

async fn released(
    client: &mut Client,
    request: Request<pb::GetServiceSecretsRequest>,
) -> Result<pb::GetServiceSecretsResponse, Status> {
    client
        .get_service_secrets(request)
        .await
        .map(tonic::Response::into_inner)
}

fn secrets(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn service_secrets_are_released_to_the_jobs_component_and_nobody_else() {
    for db in backends().await {
        let backend = db.backend;
        let registry = TestRegistry::spawn(db).await;
        let auth = &registry.auth;
        let admin = auth.admin();
        let jobs = auth.jobs.token(Component::Registry);
        let as_jobs = |id: i64| as_component(pb::GetServiceSecretsRequest { id }, &jobs, None);
        let mut client = registry.client().await;
        let mut dnastack = service(
            "DNAstack Workbench",
            pb::ApiType::Dnastack,
            "https://workbench.dnastack.com/",
        );
        dnastack.slug = "workbench".into();
        dnastack.secrets = secrets(&[
            ("client_id", "fedimpute"),
            ("client_secret", "s3cr3t-value"),
        ]);
        let dnastack = create(&mut client, &admin, dnastack).await;
        let bare = create(
            &mut client,
            &admin,
            service("Open WES", pb::ApiType::Ga4gh, "https://wes.example.org"),
        )
        .await;

        // The Jobs component gets them opened, with their endpoint.
        let got = released(&mut client, as_jobs(dnastack.id)).await.unwrap();
        assert_eq!(
            got,
            pb::GetServiceSecretsResponse {
                secrets: secrets(&[
                    ("client_id", "fedimpute"),
                    ("client_secret", "s3cr3t-value")
                ]),
                api_type: pb::ApiType::Dnastack as i32,
                base_url: "https://workbench.dnastack.com".into(),
                slug: "workbench".into(),
            },
            "{backend}"
        );
        // Also when it forwards a user's token.
        let forwarded = as_component(
            pb::GetServiceSecretsRequest { id: dnastack.id },
            &jobs,
            Some(&auth.researcher()),
        );
        assert_eq!(
            released(&mut client, forwarded).await.unwrap().secrets,
            got.secrets
        );
        // None stored: an empty map. Unknown id: NotFound.
        let none = released(&mut client, as_jobs(bare.id)).await.unwrap();
        assert!(none.secrets.is_empty(), "{backend}: {none:?}");
        assert_eq!(none.api_type, pb::ApiType::Ga4gh as i32);
        assert_eq!(
            released(&mut client, as_jobs(987_654))
                .await
                .unwrap_err()
                .code(),
            Code::NotFound
        );

        // Anybody else, an admin or the service's own admin included, or the
        // gateway carrying an admin: PermissionDenied, for unknown ids too
        // (nothing is learnt about which ids exist).
        let gateway = auth.gateway.token(Component::Registry);
        for id in [dnastack.id, 987_654] {
            let message = || pb::GetServiceSecretsRequest { id };
            let refused = [
                ("anonymous", Request::new(message())),
                ("researcher", bearer(&auth.researcher(), message())),
                (
                    "service admin",
                    bearer(&auth.service_admin_of(dnastack.id), message()),
                ),
                ("admin", bearer(&admin, message())),
                ("gateway", as_component(message(), &gateway, None)),
                (
                    "gateway with admin",
                    as_component(message(), &gateway, Some(&admin)),
                ),
            ];
            for (who, request) in refused {
                let err = released(&mut client, request).await.unwrap_err();
                assert_eq!(
                    err.code(),
                    Code::PermissionDenied,
                    "{backend}: {who} on {id}: {err:?}"
                );
                assert!(!err.message().contains("s3cr3t"), "{}", err.message());
            }
        }
        // A service token that is not the Jobs component's is refused as such.
        let stranger = fedimpute_tests::TestAuth::new()
            .jobs
            .token(Component::Registry);
        let err = released(
            &mut client,
            as_component(
                pb::GetServiceSecretsRequest { id: dnastack.id },
                &stranger,
                None,
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{backend}: {err:?}");

        // Secrets given for one endpoint are not released for another.
        update(
            &mut client,
            &admin,
            dnastack.id,
            pb::Service {
                base_url: "https://elsewhere.example.org".into(),
                ..Default::default()
            },
        )
        .await;
        let moved = released(&mut client, as_jobs(dnastack.id)).await.unwrap();
        assert!(moved.secrets.is_empty(), "{backend}: {moved:?}");
        assert_eq!(moved.base_url, "https://elsewhere.example.org");
        registry.shutdown().await;
    }
}

#[tokio::test]
async fn secrets_that_cannot_be_opened_are_an_internal_error_not_an_empty_map() {
    for db in backends().await {
        let backend = db.backend;
        let registry = TestRegistry::spawn(db).await;
        let admin = registry.auth.admin();
        let jobs = registry.auth.jobs.token(Component::Registry);
        let mut client = registry.client().await;
        let mut sealed = service("Sealed WES", pb::ApiType::Ga4gh, "https://a.example.org");
        sealed.secrets = secrets(&[("api_token", "wes-token-value")]);
        let sealed = create(&mut client, &admin, sealed).await;
        let other = create(
            &mut client,
            &admin,
            service("Other WES", pb::ApiType::Ga4gh, "https://b.example.org"),
        )
        .await;
        // A sealed value copied onto another row is bound to the first
        // service's slug: it does not open there.
        execute(
            &registry.db,
            &format!(
                "UPDATE services SET secrets = (SELECT secrets FROM services WHERE id = {}), \
                 secret_names = (SELECT secret_names FROM services WHERE id = {}) WHERE id = {}",
                sealed.id, sealed.id, other.id
            ),
        )
        .await;
        let err = released(
            &mut client,
            as_component(pb::GetServiceSecretsRequest { id: other.id }, &jobs, None),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::Internal, "{backend}: {err:?}");
        assert_eq!(err.message(), "internal error");
        // The original still opens.
        let ok = released(
            &mut client,
            as_component(pb::GetServiceSecretsRequest { id: sealed.id }, &jobs, None),
        )
        .await
        .unwrap();
        assert_eq!(ok.secrets, secrets(&[("api_token", "wes-token-value")]));
        registry.shutdown().await;
    }
}
