//! Users service: accounts, login, tokens, throttling, password reset.

use std::time::Duration;

use fedimpute_common::auth::{PublicKey, Verifier};
use fedimpute_proto::registry as rpb;
use fedimpute_proto::users::{self as pb, users_service_client::UsersServiceClient};
use fedimpute_tests::{
    backends, eventually,
    fakes::smtp::{FakeSmtp, SmtpFault},
    harness::{
        auth::{AUDIENCE, ISSUER, bearer},
        db::{execute, query_i64, query_texts},
        users::{ADMIN, ADMIN_PASSWORD, TestUsers, password_of, smtp, with_token},
    },
};
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt;

use crate::common::{create, service, violated_fields};

/// The legacy platform's hash of `test_password` (user `test_user`).
const LEGACY_HASH: &str =
    "pbkdf2_sha256$600000$NgJBgULDh0tgNPb8sdZcmh$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg//4=";

fn register_request(username: &str, email: &str, password: &str) -> pb::RegisterRequest {
    pb::RegisterRequest {
        username: username.into(),
        email: email.into(),
        first_name: "Test".into(),
        last_name: "User".into(),
        password: password.into(),
        ..Default::default()
    }
}

async fn try_login(
    client: &mut UsersServiceClient<Channel>,
    username: &str,
    password: &str,
) -> Result<pb::LoginResponse, Status> {
    client
        .login(pb::LoginRequest {
            username: username.into(),
            password: password.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn try_refresh(
    client: &mut UsersServiceClient<Channel>,
    refresh_token: &str,
) -> Result<pb::RefreshTokenResponse, Status> {
    client
        .refresh_token(pb::RefreshTokenRequest {
            refresh_token: refresh_token.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn current_user(
    client: &mut UsersServiceClient<Channel>,
    token: &str,
) -> Result<pb::User, Status> {
    client
        .get_current_user(with_token(pb::GetCurrentUserRequest {}, token))
        .await
        .map(|r| r.into_inner().user.expect("a user"))
}

/// The reset token in a mail body.
fn reset_token(body: &str) -> String {
    let marker = "https://fedimpute.test/reset-password?token=";
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("a reset link in the mail: {body}"))
        + marker.len();
    body[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<' && *c != '>')
        .collect()
}

#[tokio::test]
async fn register_then_login_by_username_or_email_and_policy_is_enforced() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        let mut client = users.client().await;
        let password = password_of("alice");
        let registered = client
            .register(register_request("alice", "alice@example.org", &password))
            .await
            .expect("register alice")
            .into_inner()
            .user
            .expect("a user");
        assert_eq!(registered.username, "alice");
        assert!(registered.id > 0);

        let by_name = try_login(&mut client, "alice", &password)
            .await
            .expect("login by username");
        assert!(!by_name.access_token.is_empty());
        assert!(!by_name.refresh_token.is_empty());
        let by_email = try_login(&mut client, "ALICE@Example.ORG", &password)
            .await
            .expect("login by email, any case");
        assert_eq!(by_email.user.expect("a user").id, registered.id);

        let me = current_user(&mut client, &by_name.access_token)
            .await
            .expect("the current user");
        assert_eq!(me.id, registered.id);
        assert_eq!(me.username, "alice");
        assert!(
            me.roles
                .iter()
                .any(|g| g.role == pb::Role::Researcher as i32 && g.service_id.is_none()),
            "alice is a researcher: {:?}",
            me.roles
        );
        assert!(!me.is_staff && !me.is_superuser);

        // Usernames and emails are unique regardless of case.
        let same_name = client
            .register(register_request("ALICE", "other@example.org", &password))
            .await
            .unwrap_err();
        assert_eq!(same_name.code(), Code::AlreadyExists, "{same_name:?}");
        let same_email = client
            .register(register_request("alice2", "Alice@Example.org", &password))
            .await
            .unwrap_err();
        assert_eq!(same_email.code(), Code::AlreadyExists, "{same_email:?}");

        // Weak passwords are refused, naming `password`.
        for (username, weak) in [
            ("bob", "password1234"),
            ("carolinewashington", "carolinewashington"),
            ("dave", "Xq7#kp2!Z"),
        ] {
            let status = client
                .register(register_request(
                    username,
                    &format!("{username}@example.org"),
                    weak,
                ))
                .await
                .unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{weak}: {status:?}");
            assert!(
                violated_fields(&status).iter().any(|f| f == "password"),
                "{weak}: the violations name password: {status:?}"
            );
        }
        users.shutdown().await;
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        users.researcher("erin").await;
        let mut client = users.client().await;
        let wrong = try_login(&mut client, "erin", "Not-Erins-Passphrase-99")
            .await
            .unwrap_err();
        let unknown = try_login(&mut client, "nobody-here", "Not-Erins-Passphrase-99")
            .await
            .unwrap_err();
        assert_eq!(wrong.code(), Code::Unauthenticated);
        assert_eq!(unknown.code(), Code::Unauthenticated);
        assert_eq!(wrong.message(), unknown.message());
        users.shutdown().await;
    }
}

#[tokio::test]
async fn a_legacy_django_hash_logs_in_and_is_upgraded_to_bcrypt() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        users.researcher("test_user").await;
        execute(
            &users.db,
            &format!(
                "UPDATE users SET password_hash = '{LEGACY_HASH}' WHERE username = 'test_user'"
            ),
        )
        .await;
        let mut client = users.client().await;
        // The old password no longer works: the Django hash is in force.
        assert_eq!(
            try_login(&mut client, "test_user", &password_of("test_user"))
                .await
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
        try_login(&mut client, "test_user", "test_password")
            .await
            .expect("the legacy password logs in");
        let stored = query_texts(
            &users.db,
            "SELECT password_hash FROM users WHERE username = 'test_user'",
        )
        .await
        .into_iter()
        .next()
        .expect("the user row");
        assert!(stored.starts_with("$2"), "rehashed with bcrypt: {stored}");
        try_login(&mut client, "test_user", "test_password")
            .await
            .expect("the password still logs in after the rehash");
        users.shutdown().await;
    }
}

#[tokio::test]
async fn a_refresh_token_works_once_and_reuse_revokes_the_session() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        users.researcher("frank").await;
        let first = users.login("frank", &password_of("frank")).await;
        let mut client = users.client().await;
        let second = try_refresh(&mut client, &first.refresh_token)
            .await
            .expect("the refresh token is spent once");
        assert!(!second.access_token.is_empty());
        assert_ne!(second.refresh_token, first.refresh_token);
        current_user(&mut client, &second.access_token)
            .await
            .expect("the new access token works");

        let reuse = try_refresh(&mut client, &first.refresh_token)
            .await
            .unwrap_err();
        assert_eq!(reuse.code(), Code::Unauthenticated);
        let after = try_refresh(&mut client, &second.refresh_token)
            .await
            .unwrap_err();
        assert_eq!(
            after.code(),
            Code::Unauthenticated,
            "reuse revokes the whole family"
        );
        users.shutdown().await;
    }
}

#[tokio::test]
async fn logout_ends_the_session_and_its_access_token() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        users.researcher("grace").await;
        let session = users.login("grace", &password_of("grace")).await;
        let mut client = users.client().await;
        current_user(&mut client, &session.access_token)
            .await
            .expect("signed in");
        client
            .logout(pb::LogoutRequest {
                refresh_token: session.refresh_token.clone(),
                all_sessions: false,
            })
            .await
            .expect("logout");
        assert_eq!(
            try_refresh(&mut client, &session.refresh_token)
                .await
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
        assert_eq!(
            current_user(&mut client, &session.access_token)
                .await
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
        users.shutdown().await;
    }
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        users.researcher("heidi").await;
        let old = password_of("heidi");
        let new = "Meadow-Copper-Violin-2027?";
        let a = users.login("heidi", &old).await;
        let b = users.login("heidi", &old).await;
        let mut client = users.client().await;

        let wrong = client
            .change_password(with_token(
                pb::ChangePasswordRequest {
                    current_password: "Not-Heidis-Passphrase-1".into(),
                    new_password: new.into(),
                },
                &a.access_token,
            ))
            .await
            .unwrap_err();
        assert_eq!(wrong.code(), Code::InvalidArgument, "{wrong:?}");

        client
            .change_password(with_token(
                pb::ChangePasswordRequest {
                    current_password: old.clone(),
                    new_password: new.into(),
                },
                &a.access_token,
            ))
            .await
            .expect("change the password");

        try_refresh(&mut client, &a.refresh_token)
            .await
            .expect("session A survives");
        assert_eq!(
            try_refresh(&mut client, &b.refresh_token)
                .await
                .unwrap_err()
                .code(),
            Code::Unauthenticated,
            "session B ends"
        );
        assert_eq!(
            try_login(&mut client, "heidi", &old)
                .await
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
        try_login(&mut client, "heidi", new)
            .await
            .expect("the new password logs in");
        users.shutdown().await;
    }
}

#[tokio::test]
async fn five_failures_lock_the_account_even_for_the_right_password() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        users.researcher("ivan").await;
        let mut client = users.client().await;
        for attempt in 1..=5 {
            let status = try_login(&mut client, "ivan", "Wrong-Passphrase-For-Ivan")
                .await
                .unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "attempt {attempt}");
        }
        let locked = try_login(&mut client, "ivan", &password_of("ivan"))
            .await
            .unwrap_err();
        assert_eq!(locked.code(), Code::ResourceExhausted, "{locked:?}");
        let retry = locked
            .get_error_details()
            .retry_info()
            .cloned()
            .expect("a RetryInfo");
        assert!(retry.retry_delay.is_some(), "a retry delay: {retry:?}");

        let admin = users.admin_token().await;
        for action in ["login_failed", "login_locked"] {
            let entries = client
                .list_audit_logs(with_token(
                    pb::ListAuditLogsRequest {
                        action: action.into(),
                        ..Default::default()
                    },
                    &admin,
                ))
                .await
                .expect("list the audit log")
                .into_inner()
                .entries;
            assert!(!entries.is_empty(), "{action} is audited");
            assert!(entries.iter().all(|e| e.action == action));
        }
        users.shutdown().await;
    }
}

#[tokio::test]
async fn a_password_reset_by_mail_sets_a_new_password_and_ends_every_session() {
    for db in backends().await {
        let fake = FakeSmtp::start().await;
        let url = fake.url();
        let users = TestUsers::spawn_with(db, |s| {
            s.mail.smtp = Some(smtp(&url));
        })
        .await;
        let (user, _) = users.researcher("judy").await;
        let old = password_of("judy");
        let session = users.login("judy", &old).await;
        let mut client = users.client().await;

        let unknown = client
            .request_password_reset(pb::RequestPasswordResetRequest {
                email: "nobody@example.org".into(),
            })
            .await
            .expect("a reply for an unknown address")
            .into_inner();
        let known = client
            .request_password_reset(pb::RequestPasswordResetRequest {
                email: user.email.clone(),
            })
            .await
            .expect("a reply for a known address")
            .into_inner();
        assert_eq!(known, unknown, "the same reply either way");

        let mails = fake.wait_for_messages(1, Duration::from_secs(15)).await;
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert_eq!(mails[0].to, vec![user.email.clone()]);
        let token = reset_token(&mails[0].body());
        assert!(!token.is_empty());

        let new = "Harbor-Thistle-Comet-2027#";
        client
            .confirm_password_reset(pb::ConfirmPasswordResetRequest {
                token: token.clone(),
                new_password: new.into(),
            })
            .await
            .expect("confirm the reset");
        let again = client
            .confirm_password_reset(pb::ConfirmPasswordResetRequest {
                token,
                new_password: "Walnut-Glacier-Ember-2028%".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::InvalidArgument, "{again:?}");

        try_login(&mut client, "judy", new)
            .await
            .expect("the new password logs in");
        assert_eq!(
            try_login(&mut client, "judy", &old)
                .await
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
        assert_eq!(
            try_refresh(&mut client, &session.refresh_token)
                .await
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
        assert_eq!(fake.messages().len(), 1, "no mail for the unknown address");
        users.shutdown().await;
        fake.stop().await;
    }
}

#[tokio::test]
async fn a_mail_outage_loses_nothing() {
    for db in backends().await {
        let fake = FakeSmtp::start().await;
        fake.set_fault(SmtpFault::TempFail);
        let url = fake.url();
        let users = TestUsers::spawn_with(db, |s| {
            s.mail.smtp = Some(smtp(&url));
        })
        .await;
        let (user, _) = users.researcher("karl").await;
        let mut client = users.client().await;
        client
            .request_password_reset(pb::RequestPasswordResetRequest {
                email: user.email.clone(),
            })
            .await
            .expect("request a reset");
        // Wait until a send has failed, then end the outage.
        eventually("a failed send attempt", Duration::from_secs(20), || async {
            let attempts = query_i64(
                &users.db,
                "SELECT COALESCE(MAX(attempts), 0) FROM mail_outbox",
            )
            .await;
            (attempts >= 1).then_some(())
        })
        .await;
        assert!(fake.messages().is_empty());
        fake.set_fault(SmtpFault::None);
        let mails = fake.wait_for_messages(1, Duration::from_secs(30)).await;
        assert_eq!(mails[0].to, vec![user.email.clone()]);
        assert!(!reset_token(&mails[0].body()).is_empty());
        users.shutdown().await;
        fake.stop().await;
    }
}

#[tokio::test]
async fn the_jwks_publishes_the_key_that_signs_access_tokens() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        let token = users.admin_token().await;
        let keys = users
            .client()
            .await
            .get_jwks(pb::GetJwksRequest {})
            .await
            .expect("the JWKS")
            .into_inner()
            .keys;
        assert!(!keys.is_empty());
        let mut public = Vec::new();
        for jwk in &keys {
            assert_eq!(jwk.kty, "OKP");
            assert_eq!(jwk.crv, "Ed25519");
            let key = PublicKey::from_x(&jwk.x).expect("a valid x");
            assert_eq!(key.kid(), jwk.kid, "the kid is derived from the key");
            public.push(key);
        }
        // The verifier picks the key by the token's `kid`: success means
        // the token's kid is one the JWKS publishes.
        let claims = Verifier::new(ISSUER, AUDIENCE, public)
            .verify(&token)
            .expect("the access token verifies with the published key");
        assert_eq!(claims.username, ADMIN);
        users.shutdown().await;
    }
}

#[tokio::test]
async fn users_service_tokens_are_accepted_by_the_registry() {
    for db in backends().await {
        let users = TestUsers::spawn(db).await;
        let admin = users.login(ADMIN, ADMIN_PASSWORD).await.access_token;
        let (_, researcher) = users.researcher("laura").await;
        let mut registry = users.registry.client().await;
        let created = create(
            &mut registry,
            &admin,
            service(
                "Users Token Service",
                rpb::ApiType::Michigan,
                "https://users-token.example.org",
            ),
        )
        .await;
        assert!(created.id > 0);
        let denied = registry
            .create_service(bearer(
                &researcher,
                rpb::CreateServiceRequest {
                    service: Some(service(
                        "Researcher Service",
                        rpb::ApiType::Michigan,
                        "https://researcher.example.org",
                    )),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
        users.shutdown().await;
    }
}
