//! Users service: service credentials — stored sealed, shown as metadata, verified
//! against the remote, released only to the Jobs component.

use fedimpute_common::auth::{Component, ServiceIdentity, TokenSigner};
use fedimpute_proto::{registry as rpb, users as pb};
use fedimpute_tests::{
    Backend, backends,
    fakes::cloudgene::{CloudgeneConfig, FakeCloudgene},
    harness::users::{TestUsers, as_component, with_token},
};
use sea_orm::{ConnectionTrait, Database, Statement};
use tonic::{Code, Request, Status, transport::Channel};

use crate::common::{create, service};

type Client = pb::users_service_client::UsersServiceClient<Channel>;

pub(crate) const GOOD_TOKEN: &str = "cg-token-GOOD-abcdef123456";
const BAD_TOKEN: &str = "cg-token-BAD-zyxwvu987654";

/// A fake Cloudgene accepting [`GOOD_TOKEN`] and a Michigan service at it.
pub(crate) async fn michigan(users: &TestUsers, name: &str) -> (FakeCloudgene, i64) {
    let fake = FakeCloudgene::start(CloudgeneConfig {
        tokens: vec![GOOD_TOKEN.to_owned()],
        ..CloudgeneConfig::default()
    })
    .await;
    let admin = users.admin_token().await;
    let mut registry = users.registry.client().await;
    let svc = create(
        &mut registry,
        &admin,
        service(name, rpb::ApiType::Michigan, &fake.base_url()),
    )
    .await;
    (fake, svc.id)
}

pub(crate) async fn put(
    client: &mut Client,
    token: &str,
    service_id: i64,
    api_token: &str,
) -> Result<pb::Credential, Status> {
    client
        .put_my_credential(with_token(
            pb::PutMyCredentialRequest {
                service_id,
                credential_type: pb::CredentialType::ApiToken as i32,
                api_token: api_token.into(),
                label: "my token".into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().credential.expect("a credential"))
}

async fn verify(client: &mut Client, token: &str, service_id: i64) -> pb::Credential {
    client
        .verify_my_credential(with_token(
            pb::VerifyMyCredentialRequest { service_id },
            token,
        ))
        .await
        .expect("verify the credential")
        .into_inner()
        .credential
        .expect("a credential")
}

#[tokio::test]
async fn credentials_are_stored_listed_verified_and_deleted_without_their_secret() {
    for db in backends().await {
        let backend = db.backend;
        let users = TestUsers::spawn(db).await;
        let (_fake, service_id) = michigan(&users, "Michigan Fake").await;
        let (user, token) = users.researcher("cred-owner").await;
        let mut client = users.client().await;

        let reply = client
            .put_my_credential(with_token(
                pb::PutMyCredentialRequest {
                    service_id,
                    api_token: GOOD_TOKEN.into(),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .expect("put the credential")
            .into_inner();
        let printed = format!("{reply:?}");
        assert!(!printed.contains(GOOD_TOKEN), "{backend}: {printed}");
        let cred = reply.credential.expect("a credential");
        assert!(cred.has_api_token, "{backend}");
        assert!(!cred.has_oauth_token && !cred.has_basic_auth, "{backend}");
        assert!(!cred.hint.is_empty(), "{backend}");
        assert_ne!(cred.hint, GOOD_TOKEN, "{backend}");
        assert!(cred.hint.contains('…'), "{backend}: hint {}", cred.hint);
        assert_eq!(cred.service_id, service_id);
        assert_eq!(cred.user_id, user.id);
        assert_eq!(cred.credential_type, pb::CredentialType::ApiToken as i32);

        let list = client
            .list_my_credentials(with_token(pb::ListMyCredentialsRequest {}, &token))
            .await
            .expect("list credentials")
            .into_inner();
        assert!(!format!("{list:?}").contains(GOOD_TOKEN), "{backend}");
        assert_eq!(list.credentials.len(), 1, "{backend}");
        assert_eq!(list.credentials[0].service_id, service_id);
        assert!(list.credentials[0].has_api_token);

        let missing = put(&mut client, &token, service_id + 1000, GOOD_TOKEN)
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound, "{backend}: {missing:?}");

        let good = verify(&mut client, &token, service_id).await;
        assert!(good.is_verified, "{backend}: {good:?}");
        assert!(good.verification_error.is_empty(), "{backend}: {good:?}");
        assert!(good.last_verified_at.is_some(), "{backend}");

        put(&mut client, &token, service_id, BAD_TOKEN)
            .await
            .expect("replace the credential");
        let bad = verify(&mut client, &token, service_id).await;
        assert!(!bad.is_verified, "{backend}: {bad:?}");
        assert!(!bad.verification_error.is_empty(), "{backend}: {bad:?}");
        assert!(!format!("{bad:?}").contains(BAD_TOKEN), "{backend}");

        client
            .delete_my_credential(with_token(
                pb::DeleteMyCredentialRequest { service_id },
                &token,
            ))
            .await
            .expect("delete the credential");
        let gone = client
            .get_my_credential(with_token(
                pb::GetMyCredentialRequest { service_id },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(gone.code(), Code::NotFound, "{backend}: {gone:?}");
        users.shutdown().await;
    }
}

#[tokio::test]
async fn the_database_never_holds_a_secret_in_clear() {
    const SECRET: &str = "cg-token-SECRET-1234567890";
    for db in backends().await {
        let backend = db.backend;
        let users = TestUsers::spawn(db).await;
        let (_fake, service_id) = michigan(&users, "Michigan Fake").await;
        let (_, token) = users.researcher("secret-keeper").await;
        let mut client = users.client().await;
        let cred = put(&mut client, &token, service_id, SECRET)
            .await
            .expect("put the credential");
        assert!(cred.has_api_token);

        let conn = Database::connect(&users.db.url)
            .await
            .expect("connect to the users database");
        let rows = conn
            .query_all_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT credential_type, label, hint, sealed, verification_error FROM credentials",
            ))
            .await
            .expect("read the credentials");
        assert_eq!(rows.len(), 1, "{backend}");
        for row in &rows {
            for column in [
                "credential_type",
                "label",
                "hint",
                "sealed",
                "verification_error",
            ] {
                let value: String = row.try_get("", column).expect("a text column");
                assert!(
                    !value.contains(SECRET),
                    "{backend}: column {column} holds the secret: {value}"
                );
            }
            let sealed: String = row.try_get("", "sealed").expect("sealed");
            assert!(!sealed.is_empty(), "{backend}");
        }
        conn.close().await.ok();

        if backend == Backend::Sqlite {
            let path = users
                .db
                .url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .expect("a path")
                .to_owned();
            let needle = SECRET.as_bytes();
            for file in [path.clone(), format!("{path}-wal")] {
                let Ok(bytes) = std::fs::read(&file) else {
                    assert_ne!(file, path, "the database file exists");
                    continue;
                };
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{file} holds the secret in clear"
                );
            }
        }
        users.shutdown().await;
    }
}

#[tokio::test]
async fn only_the_jobs_component_reads_a_credential_secret() {
    for db in backends().await {
        let backend = db.backend;
        let users = TestUsers::spawn(db).await;
        let (_fake, service_id) = michigan(&users, "Michigan Fake").await;
        let (user, token) = users.researcher("jobs-owner").await;
        let admin = users.admin_token().await;
        let mut client = users.client().await;
        put(&mut client, &token, service_id, GOOD_TOKEN)
            .await
            .expect("put the credential");
        let req = || pb::GetCredentialSecretRequest {
            user_id: user.id,
            service_id,
        };

        let secret = client
            .get_credential_secret(as_component(
                req(),
                &users.auth().jobs.token(Component::Users),
                None,
            ))
            .await
            .expect("the jobs component reads the secret")
            .into_inner();
        assert_eq!(secret.api_token, GOOD_TOKEN, "{backend}");
        assert_eq!(
            secret.credential_type,
            pb::CredentialType::ApiToken as i32,
            "{backend}"
        );

        let denied = [
            ("own user token", with_token(req(), &token)),
            ("admin token", with_token(req(), &admin)),
            ("anonymous", Request::new(req())),
            (
                "gateway token",
                as_component(req(), &users.auth().gateway.token(Component::Users), None),
            ),
            (
                "gateway token with admin",
                as_component(
                    req(),
                    &users.auth().gateway.token(Component::Users),
                    Some(&admin),
                ),
            ),
        ];
        for (who, request) in denied {
            let status = client.get_credential_secret(request).await.unwrap_err();
            assert_eq!(
                status.code(),
                Code::PermissionDenied,
                "{backend}: {who}: {status:?}"
            );
            assert!(!format!("{status:?}").contains(GOOD_TOKEN));
        }

        let forged =
            ServiceIdentity::new(Component::Jobs, TokenSigner::generate()).token(Component::Users);
        let status = client
            .get_credential_secret(as_component(req(), &forged, None))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{backend}: {status:?}"
        );
        users.shutdown().await;
    }
}
