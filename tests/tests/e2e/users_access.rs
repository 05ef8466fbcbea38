//! Users service: credentials, quotas, service identity, the authorization matrix.

use fedimpute_common::auth::{Component, ServiceIdentity, TokenSigner};
use fedimpute_proto::{registry as rpb, users as pb};
use fedimpute_tests::{
    Backend, backends,
    fakes::cloudgene::{CloudgeneConfig, FakeCloudgene},
    harness::users::{ADMIN, ADMIN_PASSWORD, TestUsers, as_component, password_of, with_token},
};
use sea_orm::{ConnectionTrait, Database, Statement};
use tonic::{Code, Request, Status, transport::Channel};

use crate::common::{create, service};

type Client = pb::users_service_client::UsersServiceClient<Channel>;

const GOOD_TOKEN: &str = "cg-token-GOOD-abcdef123456";
const BAD_TOKEN: &str = "cg-token-BAD-zyxwvu987654";

/// A fake Cloudgene accepting [`GOOD_TOKEN`] and a Michigan service at it.
async fn michigan(users: &TestUsers, name: &str) -> (FakeCloudgene, i64) {
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

async fn put(
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
            .get_credential_secret(as_component(req(), &users.auth().jobs.token(), None))
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
                as_component(req(), &users.auth().gateway.token(), None),
            ),
            (
                "gateway token with admin",
                as_component(req(), &users.auth().gateway.token(), Some(&admin)),
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

        let forged = ServiceIdentity::new(Component::Jobs, TokenSigner::generate()).token();
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

fn reserve(user_id: i64, kind: pb::QuotaKind, amount: i64, id: &str) -> pb::ReserveQuotaRequest {
    pb::ReserveQuotaRequest {
        user_id,
        kind: kind as i32,
        amount,
        reservation_id: id.into(),
    }
}

#[tokio::test]
async fn quotas_are_reserved_atomically_idempotently_and_released() {
    for db in backends().await {
        let backend = db.backend;
        let users = TestUsers::spawn(db).await;
        let jobs = users.auth().jobs.token();
        let (user, token) = users.researcher("quota-user").await;
        let mut client = users.client().await;
        let jobs_kind = pb::QuotaKind::Jobs;

        for i in 1..=10 {
            let reply = client
                .reserve_quota(as_component(
                    reserve(user.id, jobs_kind, 1, &format!("job-{i}")),
                    &jobs,
                    None,
                ))
                .await
                .unwrap_or_else(|e| panic!("{backend}: reserve job-{i}: {e:?}"))
                .into_inner();
            assert!(reply.created, "{backend}");
            assert_eq!(reply.quota.expect("a quota").monthly_jobs_used, i);
        }
        let over = client
            .reserve_quota(as_component(
                reserve(user.id, jobs_kind, 1, "job-11"),
                &jobs,
                None,
            ))
            .await
            .unwrap_err();
        assert_eq!(over.code(), Code::ResourceExhausted, "{backend}: {over:?}");

        let again = client
            .reserve_quota(as_component(
                reserve(user.id, jobs_kind, 1, "job-3"),
                &jobs,
                None,
            ))
            .await
            .expect("a retried reservation succeeds")
            .into_inner();
        assert!(!again.created, "{backend}");
        assert_eq!(again.quota.expect("a quota").monthly_jobs_used, 10);

        let release = |id: &str| {
            as_component(
                pb::ReleaseQuotaRequest {
                    reservation_id: id.into(),
                },
                &jobs,
                None,
            )
        };
        let released = client
            .release_quota(release("job-3"))
            .await
            .expect("release")
            .into_inner();
        assert!(released.released, "{backend}");
        let released = client
            .release_quota(release("job-3"))
            .await
            .expect("release again")
            .into_inner();
        assert!(!released.released, "{backend}");

        let reply = client
            .reserve_quota(as_component(
                reserve(user.id, jobs_kind, 1, "job-12"),
                &jobs,
                None,
            ))
            .await
            .expect("a freed slot is reserved")
            .into_inner();
        assert!(reply.created);

        let quota = client
            .get_my_quota(with_token(pb::GetMyQuotaRequest {}, &token))
            .await
            .expect("my quota")
            .into_inner()
            .quota
            .expect("a quota");
        assert_eq!(quota.monthly_jobs_used, 10, "{backend}: {quota:?}");
        assert_eq!(quota.monthly_job_limit, 10, "{backend}");
        assert_eq!(
            quota.period,
            chrono::Utc::now().format("%Y-%m").to_string(),
            "{backend}"
        );
        assert_eq!(quota.storage_limit_bytes, 1 << 30, "{backend}");

        // Storage: over the 1 GiB limit.
        let too_big = client
            .reserve_quota(as_component(
                reserve(user.id, pb::QuotaKind::Storage, 2 << 30, "file-1"),
                &jobs,
                None,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            too_big.code(),
            Code::ResourceExhausted,
            "{backend}: {too_big:?}"
        );
        let fits = client
            .reserve_quota(as_component(
                reserve(user.id, pb::QuotaKind::Storage, 1 << 20, "file-2"),
                &jobs,
                None,
            ))
            .await
            .expect("a small file fits")
            .into_inner();
        assert_eq!(
            fits.quota.expect("a quota").storage_used_bytes,
            1 << 20,
            "{backend}"
        );

        // Concurrency: 20 distinct reservations for a fresh user, limit 10.
        let (fresh, fresh_token) = users.researcher("quota-racer").await;
        let calls = (0..20).map(|i| {
            let mut client = client.clone();
            let jobs = jobs.clone();
            async move {
                client
                    .reserve_quota(as_component(
                        reserve(fresh.id, jobs_kind, 1, &format!("race-{i}")),
                        &jobs,
                        None,
                    ))
                    .await
            }
        });
        let results = futures::future::join_all(calls).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 10, "{backend}: {results:?}");
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(r.code(), Code::ResourceExhausted, "{backend}: {r:?}");
        }
        let quota = client
            .get_my_quota(with_token(pb::GetMyQuotaRequest {}, &fresh_token))
            .await
            .expect("my quota")
            .into_inner()
            .quota
            .expect("a quota");
        assert_eq!(quota.monthly_jobs_used, 10, "{backend}");
        users.shutdown().await;
    }
}

const ADMIN_RPCS: [&str; 8] = [
    "ListUsers",
    "GetUser",
    "UpdateUser",
    "ListAuditLogs",
    "SetUserRoles",
    "CreateUser",
    "DeactivateUser",
    "DeleteUser",
];

fn authed<T>(message: T, token: Option<&str>) -> Request<T> {
    match token {
        Some(token) => with_token(message, token),
        None => Request::new(message),
    }
}

/// Calls one admin RPC on `target`.
async fn admin_rpc(
    client: &mut Client,
    rpc: &str,
    target: i64,
    token: Option<&str>,
    n: usize,
) -> Result<(), Status> {
    let id = target;
    match rpc {
        "ListUsers" => client
            .list_users(authed(pb::ListUsersRequest::default(), token))
            .await
            .map(drop),
        "GetUser" => client
            .get_user(authed(pb::GetUserRequest { id }, token))
            .await
            .map(drop),
        "UpdateUser" => client
            .update_user(authed(
                pb::UpdateUserRequest {
                    id,
                    user: Some(pb::User {
                        first_name: "Changed".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["first_name".into()],
                    }),
                },
                token,
            ))
            .await
            .map(drop),
        "ListAuditLogs" => client
            .list_audit_logs(authed(pb::ListAuditLogsRequest::default(), token))
            .await
            .map(drop),
        "SetUserRoles" => client
            .set_user_roles(authed(
                pb::SetUserRolesRequest {
                    id,
                    roles: vec![pb::RoleGrant {
                        role: pb::Role::Researcher as i32,
                        ..Default::default()
                    }],
                },
                token,
            ))
            .await
            .map(drop),
        "CreateUser" => {
            let username = format!("created-user-{n}");
            client
                .create_user(authed(
                    pb::CreateUserRequest {
                        email: format!("{username}@example.org"),
                        password: password_of(&username),
                        username,
                        ..Default::default()
                    },
                    token,
                ))
                .await
                .map(drop)
        }
        "DeactivateUser" => client
            .deactivate_user(authed(pb::DeactivateUserRequest { id }, token))
            .await
            .map(drop),
        "DeleteUser" => client
            .delete_user(authed(pb::DeleteUserRequest { id }, token))
            .await
            .map(drop),
        other => panic!("unknown rpc {other}"),
    }
}

#[tokio::test]
async fn the_authorization_matrix_of_the_admin_rpcs() {
    for db in backends().await {
        let backend = db.backend;
        let users = TestUsers::spawn(db).await;
        let admin = users.admin_token().await;
        let mut client = users.client().await;
        let (target, _) = users.researcher("matrix-target").await;
        let (plain, researcher_token) = users.researcher("matrix-researcher").await;
        let (scoped, _) = users.researcher("matrix-scoped").await;
        client
            .set_user_roles(with_token(
                pb::SetUserRolesRequest {
                    id: scoped.id,
                    roles: vec![pb::RoleGrant {
                        role: pb::Role::ServiceAdmin as i32,
                        service_id: Some(999),
                        ..Default::default()
                    }],
                },
                &admin,
            ))
            .await
            .expect("grant a scoped service_admin");
        let scoped_login = users
            .login("matrix-scoped", &password_of("matrix-scoped"))
            .await;
        let scoped_token = scoped_login.access_token;
        let roles: Vec<i32> = scoped_login
            .user
            .expect("a user")
            .roles
            .iter()
            .map(|g| g.role)
            .collect();
        assert_eq!(roles, vec![pb::Role::ServiceAdmin as i32], "{backend}");

        let mut n = 0;
        for rpc in ADMIN_RPCS {
            for (who, token, expected) in [
                ("anonymous", None, Code::Unauthenticated),
                (
                    "researcher",
                    Some(researcher_token.as_str()),
                    Code::PermissionDenied,
                ),
                (
                    "scoped service_admin",
                    Some(scoped_token.as_str()),
                    Code::PermissionDenied,
                ),
            ] {
                n += 1;
                let status = admin_rpc(&mut client, rpc, target.id, token, n)
                    .await
                    .unwrap_err();
                assert_eq!(
                    status.code(),
                    expected,
                    "{backend}: {rpc} as {who}: {status:?}"
                );
            }
        }
        // The admin: in this order, the target is deactivated then deleted last.
        for rpc in ADMIN_RPCS {
            n += 1;
            admin_rpc(&mut client, rpc, target.id, Some(&admin), n)
                .await
                .unwrap_or_else(|e| panic!("{backend}: {rpc} as admin: {e:?}"));
        }
        let gone = client
            .get_user(with_token(pb::GetUserRequest { id: target.id }, &admin))
            .await
            .unwrap_err();
        assert_eq!(gone.code(), Code::NotFound, "{backend}");

        // ListUserRoles: the owner and an admin.
        let (other, other_token) = users.researcher("matrix-other").await;
        let roles = |token: &str, id: i64| with_token(pb::ListUserRolesRequest { id }, token);
        let own = client
            .list_user_roles(roles(&researcher_token, plain.id))
            .await
            .expect("the owner reads their roles")
            .into_inner();
        assert_eq!(own.roles.len(), 1, "{backend}");
        assert_eq!(own.roles[0].role, pb::Role::Researcher as i32);
        let denied = client
            .list_user_roles(roles(&other_token, plain.id))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{backend}");
        client
            .list_user_roles(roles(&admin, other.id))
            .await
            .expect("an admin reads anyone's roles");
        let anonymous = client
            .list_user_roles(pb::ListUserRolesRequest { id: other.id })
            .await
            .unwrap_err();
        assert_eq!(anonymous.code(), Code::Unauthenticated, "{backend}");

        // Self-service RPCs need a signed-in user.
        let status = client
            .get_my_profile(pb::GetMyProfileRequest {})
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{backend}");
        let status = client
            .list_my_credentials(pb::ListMyCredentialsRequest {})
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{backend}");
        users.shutdown().await;
    }
}

#[tokio::test]
async fn deactivation_takes_effect_at_once_and_the_last_admin_stays() {
    for db in backends().await {
        let backend = db.backend;
        let users = TestUsers::spawn(db).await;
        let admin_login = users.login(ADMIN, ADMIN_PASSWORD).await;
        let admin = admin_login.access_token.clone();
        let admin_id = admin_login.user.expect("a user").id;
        let mut client = users.client().await;
        let password = password_of("soon-gone");
        users.researcher("soon-gone").await;
        let session = users.login("soon-gone", &password).await;
        let user_id = session.user.as_ref().expect("a user").id;

        let reply = client
            .deactivate_user(with_token(
                pb::DeactivateUserRequest { id: user_id },
                &admin,
            ))
            .await
            .expect("deactivate")
            .into_inner();
        assert!(!reply.user.expect("a user").is_active, "{backend}");

        let refresh = client
            .refresh_token(pb::RefreshTokenRequest {
                refresh_token: session.refresh_token.clone(),
            })
            .await
            .unwrap_err();
        assert!(
            matches!(
                refresh.code(),
                Code::Unauthenticated | Code::PermissionDenied
            ),
            "{backend}: {refresh:?}"
        );
        let login = client
            .login(pb::LoginRequest {
                username: "soon-gone".into(),
                password: password.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(login.code(), Code::PermissionDenied, "{backend}: {login:?}");
        let current = client
            .get_current_user(with_token(
                pb::GetCurrentUserRequest {},
                &session.access_token,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            current.code(),
            Code::Unauthenticated,
            "{backend}: {current:?}"
        );

        client
            .reactivate_user(with_token(
                pb::ReactivateUserRequest { id: user_id },
                &admin,
            ))
            .await
            .expect("reactivate");
        let again = users.login("soon-gone", &password).await;
        assert!(again.user.expect("a user").is_active, "{backend}");
        // The refresh token revoked by the deactivation stays revoked.
        assert!(
            client
                .refresh_token(pb::RefreshTokenRequest {
                    refresh_token: session.refresh_token,
                })
                .await
                .is_err(),
            "{backend}"
        );

        // The last admin: not deactivated (not by themself), not demoted.
        let status = client
            .deactivate_user(with_token(
                pb::DeactivateUserRequest { id: admin_id },
                &admin,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::FailedPrecondition,
            "{backend}: {status:?}"
        );
        let status = client
            .set_user_roles(with_token(
                pb::SetUserRolesRequest {
                    id: admin_id,
                    roles: vec![pb::RoleGrant {
                        role: pb::Role::Researcher as i32,
                        ..Default::default()
                    }],
                },
                &admin,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::FailedPrecondition,
            "{backend}: {status:?}"
        );
        let status = client
            .delete_user(with_token(pb::DeleteUserRequest { id: admin_id }, &admin))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::FailedPrecondition,
            "{backend}: {status:?}"
        );
        // Still an admin.
        let me = client
            .get_current_user(with_token(pb::GetCurrentUserRequest {}, &admin))
            .await
            .expect("the admin is still signed in")
            .into_inner()
            .user
            .expect("a user");
        assert!(me.is_active && me.is_superuser, "{backend}: {me:?}");

        // With a second admin, the first cannot deactivate themself either.
        let (second, _) = users.researcher("second-admin").await;
        client
            .set_user_roles(with_token(
                pb::SetUserRolesRequest {
                    id: second.id,
                    roles: vec![pb::RoleGrant {
                        role: pb::Role::Admin as i32,
                        ..Default::default()
                    }],
                },
                &admin,
            ))
            .await
            .expect("grant admin");
        let status = client
            .deactivate_user(with_token(
                pb::DeactivateUserRequest { id: admin_id },
                &admin,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::FailedPrecondition,
            "{backend}: {status:?}"
        );
        users.shutdown().await;
    }
}

async fn audit(
    client: &mut Client,
    admin: &str,
    user_id: i64,
    action: &str,
) -> Vec<pb::AuditEntry> {
    client
        .list_audit_logs(with_token(
            pb::ListAuditLogsRequest {
                user_id: Some(user_id),
                action: action.into(),
                ..Default::default()
            },
            admin,
        ))
        .await
        .expect("list the audit log")
        .into_inner()
        .entries
}

#[tokio::test]
async fn the_audit_log_records_actions_and_trusts_client_metadata_only_from_the_gateway() {
    for db in backends().await {
        let backend = db.backend;
        let users = TestUsers::spawn(db).await;
        let (_fake, service_id) = michigan(&users, "Michigan Fake").await;
        let admin = users.admin_token().await;
        let (user, token) = users.researcher("audited").await;
        let mut client = users.client().await;
        put(&mut client, &token, service_id, GOOD_TOKEN)
            .await
            .expect("put the credential");

        let entries = audit(&mut client, &admin, user.id, "").await;
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        for expected in ["user_registered", "login_success", "credential_created"] {
            assert!(actions.contains(&expected), "{backend}: {actions:?}");
        }
        let position = |a: &str| actions.iter().position(|x| *x == a).expect("present");
        assert!(
            position("credential_created") < position("login_success")
                && position("login_success") < position("user_registered"),
            "{backend}: newest first: {actions:?}"
        );
        for pair in entries.windows(2) {
            let (a, b) = (
                pair[0].timestamp.expect("a timestamp"),
                pair[1].timestamp.expect("a timestamp"),
            );
            assert!(
                (a.seconds, a.nanos) >= (b.seconds, b.nanos),
                "{backend}: newest first"
            );
        }
        for e in &entries {
            assert_eq!(e.user_id, Some(user.id), "{backend}");
            assert_eq!(e.ip_address, "127.0.0.1", "{backend}: {e:?}");
            assert!(!e.details.contains(GOOD_TOKEN), "{backend}: {e:?}");
        }

        let login = || pb::LoginRequest {
            username: "audited".into(),
            password: password_of("audited"),
        };
        let with_client_headers = |mut request: Request<pb::LoginRequest>| {
            request.metadata_mut().insert(
                "x-fedimpute-client-addr",
                "203.0.113.9".parse().expect("ascii"),
            );
            request.metadata_mut().insert(
                "x-fedimpute-client-agent",
                "ua-test".parse().expect("ascii"),
            );
            request
        };
        client
            .login(with_client_headers(as_component(
                login(),
                &users.auth().gateway.token(),
                None,
            )))
            .await
            .expect("login through the gateway");
        let newest = audit(&mut client, &admin, user.id, "login_success").await;
        assert_eq!(newest[0].ip_address, "203.0.113.9", "{backend}: {newest:?}");
        assert_eq!(newest[0].user_agent, "ua-test", "{backend}");

        client
            .login(with_client_headers(Request::new(login())))
            .await
            .expect("login directly");
        let newest = audit(&mut client, &admin, user.id, "login_success").await;
        assert_eq!(newest.len(), 3, "{backend}: {newest:?}");
        assert_eq!(newest[0].ip_address, "127.0.0.1", "{backend}: {newest:?}");
        assert_ne!(newest[0].user_agent, "ua-test", "{backend}");
        users.shutdown().await;
    }
}

#[tokio::test]
async fn the_profile_is_updated_by_mask_and_validated() {
    for db in backends().await {
        let backend = db.backend;
        let users = TestUsers::spawn(db).await;
        let (_, token) = users.researcher("profiled").await;
        let mut client = users.client().await;
        let before = client
            .get_my_profile(with_token(pb::GetMyProfileRequest {}, &token))
            .await
            .expect("my profile")
            .into_inner()
            .profile
            .expect("a profile");
        assert_eq!(before.time_zone, "UTC", "{backend}");

        let updated = client
            .update_my_profile(with_token(
                pb::UpdateMyProfileRequest {
                    profile: Some(pb::Profile {
                        time_zone: "Africa/Johannesburg".into(),
                        preferred_language: "pt-BR".into(),
                        bio: "not in the mask".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["time_zone".into(), "preferred_language".into()],
                    }),
                },
                &token,
            ))
            .await
            .expect("update my profile")
            .into_inner()
            .profile
            .expect("a profile");
        assert_eq!(updated.time_zone, "Africa/Johannesburg", "{backend}");
        assert_eq!(updated.preferred_language, "pt-BR", "{backend}");
        assert_eq!(updated.bio, before.bio, "{backend}");
        let stored = client
            .get_my_profile(with_token(pb::GetMyProfileRequest {}, &token))
            .await
            .expect("my profile")
            .into_inner()
            .profile
            .expect("a profile");
        assert_eq!(stored, updated, "{backend}");

        let status = client
            .update_my_profile(with_token(
                pb::UpdateMyProfileRequest {
                    profile: Some(pb::Profile {
                        // Not a zone name at all. (A well-formed but unknown name such as
                        // "Mars/Olympus_Mons" is accepted today: the service checks the
                        // shape of the name, not the IANA database.)
                        time_zone: "Mars/Olympus Mons".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["time_zone".into()],
                    }),
                },
                &token,
            ))
            .await
            .unwrap_err();
        let fields = crate::common::violated_fields(&status);
        assert!(
            fields.iter().any(|f| f == "profile.time_zone"),
            "{backend}: {fields:?}"
        );
        users.shutdown().await;
    }
}
