//! Users service: deactivation, the last admin, the audit log, profiles.

use fedimpute_common::auth::Component;
use fedimpute_proto::users as pb;
use fedimpute_tests::{
    backends,
    harness::users::{ADMIN, ADMIN_PASSWORD, TestUsers, as_component, password_of, with_token},
};
use tonic::{Code, Request, transport::Channel};

use crate::users_credentials::{GOOD_TOKEN, michigan, put};

type Client = pb::users_service_client::UsersServiceClient<Channel>;

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
                &users.auth().gateway.token(Component::Users),
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
