//! Users service: the holes a review found, closed — stale tokens on the
//! token-free calls, one throttle count per account, no typed login names
//! kept, live admin rights, sealed and throttled reset mail, Jobs refused
//! for deactivated accounts.

use std::time::Duration;

use fedimpute_common::auth::Component;
use fedimpute_common::auth::{ACCESS, Claims};
use fedimpute_proto::users as pb;
use fedimpute_tests::{
    backends,
    fakes::smtp::{FakeSmtp, SmtpFault},
    harness::{
        auth::{AUDIENCE, ISSUER},
        db::query_texts,
        eventually,
        users::{TestUsers, as_component, password_of, smtp, with_token},
    },
};
use tonic::Code;

#[tokio::test]
async fn a_refresh_works_with_an_expired_access_token_attached() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        let (user, _) = users.researcher("stale-holder").await;
        let session = users
            .login("stale-holder", &password_of("stale-holder"))
            .await;
        // An access token of this user, signed by the right key, expired an hour ago.
        let now = chrono::Utc::now().timestamp();
        let expired = users.auth().sign(&Claims {
            sub: user.id.to_string(),
            username: user.username.clone(),
            email: user.email.clone(),
            roles: vec![],
            iat: now - 7200,
            exp: now - 3600,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            jti: "expired".into(),
            token_use: ACCESS.into(),
            sid: String::new(),
        });
        let current = users
            .client()
            .await
            .get_current_user(with_token(pb::GetCurrentUserRequest {}, &expired))
            .await;
        assert_eq!(
            current.unwrap_err().code(),
            Code::Unauthenticated,
            "an expired token is refused where a user is needed"
        );
        let refreshed = users
            .client()
            .await
            .refresh_token(with_token(
                pb::RefreshTokenRequest {
                    refresh_token: session.refresh_token,
                },
                &expired,
            ))
            .await
            .expect("an expired access token attached does not stop a refresh");
        assert!(!refreshed.into_inner().access_token.is_empty());
        users.shutdown().await;
    }
}

#[tokio::test]
async fn the_username_and_the_email_share_one_failure_count() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        let (user, _) = users.researcher("two-names").await;
        let mut client = users.client().await;
        for i in 0..5 {
            let login = if i % 2 == 0 {
                user.username.clone()
            } else {
                user.email.to_uppercase()
            };
            let refused = client
                .login(pb::LoginRequest {
                    username: login,
                    password: "Wrong-Passphrase-000".into(),
                })
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::Unauthenticated);
        }
        let locked = client
            .login(pb::LoginRequest {
                username: user.email.clone(),
                password: password_of("two-names"),
            })
            .await
            .unwrap_err();
        assert_eq!(
            locked.code(),
            Code::ResourceExhausted,
            "five failures across both names lock the account"
        );
        users.shutdown().await;
    }
}

#[tokio::test]
async fn a_password_typed_as_a_username_is_kept_nowhere() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        let typed = "Correct-Horse-Typed-In-The-Wrong-Box";
        let refused = users
            .client()
            .await
            .login(pb::LoginRequest {
                username: typed.into(),
                password: "whatever".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
        for sql in [
            "SELECT details FROM audit_logs",
            "SELECT resource_id FROM audit_logs",
            "SELECT key FROM login_throttle",
        ] {
            for value in query_texts(&users.db, sql).await {
                assert!(
                    !value.to_lowercase().contains(&typed.to_lowercase()),
                    "{sql}: {value}"
                );
            }
        }
        assert!(
            !query_texts(&users.db, "SELECT key FROM login_throttle")
                .await
                .is_empty(),
            "the attempt was counted"
        );
        users.shutdown().await;
    }
}

#[tokio::test]
async fn a_revoked_admin_loses_admin_rights_at_once() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        let admin = users.admin_token().await;
        let (deputy, _) = users.researcher("deputy").await;
        let mut client = users.client().await;
        let grant = |role: pb::Role| pb::SetUserRolesRequest {
            id: deputy.id,
            roles: vec![pb::RoleGrant {
                role: role as i32,
                ..Default::default()
            }],
        };
        client
            .set_user_roles(with_token(grant(pb::Role::Admin), &admin))
            .await
            .unwrap();
        let deputy_token = users
            .login("deputy", &password_of("deputy"))
            .await
            .access_token;
        client
            .list_users(with_token(pb::ListUsersRequest::default(), &deputy_token))
            .await
            .expect("an admin lists users");
        client
            .set_user_roles(with_token(grant(pb::Role::Researcher), &admin))
            .await
            .unwrap();
        // The token still says admin; the grants in force do not.
        let refused = client
            .list_users(with_token(pb::ListUsersRequest::default(), &deputy_token))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
        users.shutdown().await;
    }
}

#[tokio::test]
async fn reset_mail_is_sealed_at_rest_blanked_once_sent_and_throttled() {
    for db in backends().await {
        let fake = FakeSmtp::start().await;
        fake.set_fault(SmtpFault::TempFail);
        let url = fake.url();
        let users = TestUsers::spawn_with(db, |s| s.mail.smtp = Some(smtp(&url))).await;
        let (user, _) = users.researcher("sealed-mail").await;
        let mut client = users.client().await;
        for _ in 0..4 {
            client
                .request_password_reset(pb::RequestPasswordResetRequest {
                    email: user.email.clone(),
                })
                .await
                .unwrap();
        }
        // The requests are handled after the reply: wait for the queue.
        let bodies = eventually("three queued mails", Duration::from_secs(20), || async {
            let bodies = query_texts(&users.db, "SELECT body FROM mail_outbox").await;
            (bodies.len() >= 3).then_some(bodies)
        })
        .await;
        for body in &bodies {
            assert!(
                !body.contains("reset-password"),
                "the queued body is sealed: {body}"
            );
        }
        fake.set_fault(SmtpFault::None);
        let mails = fake.wait_for_messages(3, Duration::from_secs(30)).await;
        assert!(
            mails
                .iter()
                .all(|m| m.body().contains("reset-password?token="))
        );
        eventually("sent bodies blanked", Duration::from_secs(20), || async {
            let bodies = query_texts(
                &users.db,
                "SELECT body FROM mail_outbox WHERE sent_at IS NOT NULL",
            )
            .await;
            (bodies.len() == 3 && bodies.iter().all(String::is_empty)).then_some(())
        })
        .await;
        // The fourth request was throttled: three mails in all.
        let audit = query_texts(&users.db, "SELECT action FROM audit_logs").await;
        assert!(
            audit.iter().any(|a| a == "password_reset_throttled"),
            "{audit:?}"
        );
        assert_eq!(
            query_texts(&users.db, "SELECT recipient FROM mail_outbox")
                .await
                .len(),
            3
        );
        users.shutdown().await;
        fake.stop().await;
    }
}

#[tokio::test]
async fn jobs_gets_nothing_for_a_deactivated_account() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        let admin = users.admin_token().await;
        let (user, _) = users.researcher("gone-away").await;
        let mut client = users.client().await;
        client
            .deactivate_user(with_token(
                pb::DeactivateUserRequest { id: user.id },
                &admin,
            ))
            .await
            .unwrap();
        let jobs = users.auth().jobs.token(Component::Users);
        let secret = client
            .get_credential_secret(as_component(
                pb::GetCredentialSecretRequest {
                    user_id: user.id,
                    service_id: 1,
                },
                &jobs,
                None,
            ))
            .await
            .unwrap_err();
        assert_eq!(secret.code(), Code::FailedPrecondition);
        let reserve = client
            .reserve_quota(as_component(
                pb::ReserveQuotaRequest {
                    user_id: user.id,
                    kind: pb::QuotaKind::Jobs as i32,
                    amount: 1,
                    reservation_id: "job-after-deactivation".into(),
                },
                &jobs,
                None,
            ))
            .await
            .unwrap_err();
        assert_eq!(reserve.code(), Code::FailedPrecondition);
        users.shutdown().await;
    }
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        let (_, token) = users.researcher("stolen-token").await;
        let mut client = users.client().await;
        let change = |current: &str| {
            with_token(
                pb::ChangePasswordRequest {
                    current_password: current.into(),
                    new_password: "Brand-New-Passphrase-77".into(),
                },
                &token,
            )
        };
        for i in 0..5 {
            let refused = client
                .change_password(change(&format!("guess-{i}")))
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::InvalidArgument);
        }
        let locked = client
            .change_password(change(&password_of("stolen-token")))
            .await
            .unwrap_err();
        assert_eq!(locked.code(), Code::ResourceExhausted);
        users.shutdown().await;
    }
}
