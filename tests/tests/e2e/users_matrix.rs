//! The authorization matrix of every UsersService RPC: anonymous, the owner
//! (a researcher), a service_admin of another service, an admin, and the
//! Jobs component. The RPC list comes from the descriptor set, so an RPC
//! added without a row here fails the test.

use fedimpute_common::auth::Component;
use fedimpute_proto::prost::Message;
use fedimpute_proto::users::{self as pb, users_service_client::UsersServiceClient};
use fedimpute_tests::{
    backends,
    harness::users::{TestUsers, as_component, password_of, with_token},
};
use tonic::{Code, Request, Status, transport::Channel};

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Owner,
    OtherServiceAdmin,
    Admin,
    Jobs,
}

/// What the matrix expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Past authorization: OK, or a domain answer (NotFound, InvalidArgument...).
    Allowed,
    Unauthenticated,
    Denied,
}

#[derive(Clone, Copy, Debug)]
enum Class {
    /// Anyone.
    Public,
    /// Any signed-in user, on their own account.
    SelfService,
    /// The user themself or an admin.
    OwnerOrAdmin,
    Admin,
    /// The Jobs component only.
    Internal,
}

fn class(rpc: &str) -> Class {
    match rpc {
        "Register"
        | "Login"
        | "RefreshToken"
        | "RequestPasswordReset"
        | "ConfirmPasswordReset"
        | "GetJwks" => Class::Public,
        "GetCurrentUser" | "ChangePassword" | "GetMyProfile" | "UpdateMyProfile" | "GetMyQuota"
        | "ListMyCredentials" | "PutMyCredential" | "GetMyCredential" | "DeleteMyCredential"
        | "VerifyMyCredential" | "Logout" => Class::SelfService,
        "ListUserRoles" => Class::OwnerOrAdmin,
        "ListUsers" | "CreateUser" | "GetUser" | "UpdateUser" | "DeactivateUser"
        | "ReactivateUser" | "DeleteUser" | "SetUserRoles" | "ListAuditLogs" => Class::Admin,
        "GetCredentialSecret" | "ReserveQuota" | "ReleaseQuota" | "NotifyUser" => Class::Internal,
        other => panic!("UsersService.{other} has no row in the authorization matrix"),
    }
}

fn expect(class: Class, who: Who) -> Expect {
    match (class, who) {
        (Class::Public, _) => Expect::Allowed,
        (Class::Internal, Who::Jobs) => Expect::Allowed,
        (Class::Internal, _) => Expect::Denied,
        (_, Who::Anonymous | Who::Jobs) => Expect::Unauthenticated,
        (Class::SelfService, _) => Expect::Allowed,
        (Class::OwnerOrAdmin, Who::Owner | Who::Admin) => Expect::Allowed,
        (Class::OwnerOrAdmin, Who::OtherServiceAdmin) => Expect::Denied,
        (Class::Admin, Who::Admin) => Expect::Allowed,
        (Class::Admin, Who::Owner | Who::OtherServiceAdmin) => Expect::Denied,
    }
}

fn outcome(result: &Result<(), Status>) -> Expect {
    match result {
        Err(s) if s.code() == Code::Unauthenticated => Expect::Unauthenticated,
        Err(s) if s.code() == Code::PermissionDenied => Expect::Denied,
        Ok(()) | Err(_) => Expect::Allowed,
    }
}

/// The RPC names of UsersService, from the descriptor set.
fn rpcs() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(fedimpute_proto::FILE_DESCRIPTOR_SET).unwrap();
    set.file
        .iter()
        .filter(|f| f.package() == "fedimpute.users.v1")
        .flat_map(|f| f.service.iter())
        .filter(|s| s.name() == "UsersService")
        .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
        .collect()
}

struct Caller {
    token: Option<String>,
    service_token: Option<String>,
}

impl Caller {
    fn request<T>(&self, message: T) -> Request<T> {
        match (&self.token, &self.service_token) {
            (token, Some(service)) => as_component(message, service, token.as_deref()),
            (Some(token), None) => with_token(message, token),
            (None, None) => Request::new(message),
        }
    }
}

/// Drops a reply: the matrix looks only at the status.
fn ok<T>(_: T) {}

/// Calls `rpc` with a harmless request about `target` (never the caller).
async fn call(
    client: &mut UsersServiceClient<Channel>,
    rpc: &str,
    c: &Caller,
    target: i64,
    owner: i64,
) -> Result<(), Status> {
    match rpc {
        "Register" => client
            .register(c.request(pb::RegisterRequest::default()))
            .await
            .map(ok),
        "Login" => client
            .login(c.request(pb::LoginRequest {
                username: "nobody-here".into(),
                password: "not-a-password".into(),
            }))
            .await
            .map(ok)
            // A bad login is Unauthenticated for everyone: that is its
            // answer, not an authorization refusal.
            .or_else(|s| {
                if s.code() == Code::Unauthenticated {
                    Ok(())
                } else {
                    Err(s)
                }
            }),
        "RefreshToken" => client
            .refresh_token(c.request(pb::RefreshTokenRequest {
                refresh_token: "spent".into(),
            }))
            .await
            .map(ok)
            .or_else(|s| {
                if s.code() == Code::Unauthenticated {
                    Ok(())
                } else {
                    Err(s)
                }
            }),
        "RequestPasswordReset" => client
            .request_password_reset(c.request(pb::RequestPasswordResetRequest {
                email: "nobody@example.org".into(),
            }))
            .await
            .map(ok),
        "ConfirmPasswordReset" => client
            .confirm_password_reset(c.request(pb::ConfirmPasswordResetRequest::default()))
            .await
            .map(ok),
        "GetJwks" => client
            .get_jwks(c.request(pb::GetJwksRequest {}))
            .await
            .map(ok),
        "GetCurrentUser" => client
            .get_current_user(c.request(pb::GetCurrentUserRequest {}))
            .await
            .map(ok),
        "ChangePassword" => client
            .change_password(c.request(pb::ChangePasswordRequest {
                current_password: "wrong".into(),
                new_password: "Another-Long-Passphrase-42".into(),
            }))
            .await
            .map(ok),
        "GetMyProfile" => client
            .get_my_profile(c.request(pb::GetMyProfileRequest {}))
            .await
            .map(ok),
        "UpdateMyProfile" => client
            .update_my_profile(c.request(pb::UpdateMyProfileRequest {
                profile: Some(pb::Profile {
                    bio: "matrix".into(),
                    ..Default::default()
                }),
                update_mask: None,
            }))
            .await
            .map(ok),
        "GetMyQuota" => client
            .get_my_quota(c.request(pb::GetMyQuotaRequest {}))
            .await
            .map(ok),
        "ListMyCredentials" => client
            .list_my_credentials(c.request(pb::ListMyCredentialsRequest {}))
            .await
            .map(ok),
        "PutMyCredential" => client
            .put_my_credential(c.request(pb::PutMyCredentialRequest {
                service_id: 4242,
                api_token: "t".repeat(20),
                ..Default::default()
            }))
            .await
            .map(ok),
        "GetMyCredential" => client
            .get_my_credential(c.request(pb::GetMyCredentialRequest { service_id: 4242 }))
            .await
            .map(ok),
        "DeleteMyCredential" => client
            .delete_my_credential(c.request(pb::DeleteMyCredentialRequest { service_id: 4242 }))
            .await
            .map(ok),
        "VerifyMyCredential" => client
            .verify_my_credential(c.request(pb::VerifyMyCredentialRequest { service_id: 4242 }))
            .await
            .map(ok),
        // Logged out last (see the caller): it ends the session.
        "Logout" => client
            .logout(c.request(pb::LogoutRequest::default()))
            .await
            .map(ok),
        "ListUserRoles" => client
            .list_user_roles(c.request(pb::ListUserRolesRequest { id: owner }))
            .await
            .map(ok),
        "ListUsers" => client
            .list_users(c.request(pb::ListUsersRequest::default()))
            .await
            .map(ok),
        "CreateUser" => client
            .create_user(c.request(pb::CreateUserRequest::default()))
            .await
            .map(ok),
        "GetUser" => client
            .get_user(c.request(pb::GetUserRequest { id: target }))
            .await
            .map(ok),
        "UpdateUser" => client
            .update_user(c.request(pb::UpdateUserRequest {
                id: target,
                user: Some(pb::User {
                    first_name: "Renamed".into(),
                    ..Default::default()
                }),
                update_mask: None,
            }))
            .await
            .map(ok),
        "DeactivateUser" => client
            .deactivate_user(c.request(pb::DeactivateUserRequest { id: target }))
            .await
            .map(ok),
        "ReactivateUser" => client
            .reactivate_user(c.request(pb::ReactivateUserRequest { id: target }))
            .await
            .map(ok),
        "DeleteUser" => client
            .delete_user(c.request(pb::DeleteUserRequest { id: target }))
            .await
            .map(ok),
        "SetUserRoles" => client
            .set_user_roles(c.request(pb::SetUserRolesRequest {
                id: target,
                roles: vec![pb::RoleGrant {
                    role: pb::Role::Viewer as i32,
                    ..Default::default()
                }],
            }))
            .await
            .map(ok),
        "ListAuditLogs" => client
            .list_audit_logs(c.request(pb::ListAuditLogsRequest::default()))
            .await
            .map(ok),
        "GetCredentialSecret" => client
            .get_credential_secret(c.request(pb::GetCredentialSecretRequest {
                user_id: owner,
                service_id: 4242,
            }))
            .await
            .map(ok),
        "ReserveQuota" => client
            .reserve_quota(c.request(pb::ReserveQuotaRequest {
                user_id: owner,
                kind: pb::QuotaKind::Jobs as i32,
                amount: 1,
                reservation_id: "matrix".into(),
            }))
            .await
            .map(ok),
        "ReleaseQuota" => client
            .release_quota(c.request(pb::ReleaseQuotaRequest {
                reservation_id: "matrix".into(),
            }))
            .await
            .map(ok),
        "NotifyUser" => client
            .notify_user(c.request(pb::NotifyUserRequest {
                user_id: owner,
                dedupe_key: "matrix".into(),
                subject: "Matrix".into(),
                body: "A notification.".into(),
            }))
            .await
            .map(ok),
        other => panic!("no call for UsersService.{other}"),
    }
}

#[tokio::test]
async fn every_users_rpc_enforces_its_authorization() {
    let mut names = rpcs();
    assert!(
        names.len() >= 30,
        "the descriptor set lists the RPCs: {names:?}"
    );
    // Logout ends the caller's session: last.
    names.sort_by_key(|n| n == "Logout");
    for db in backends().await {
        let backend = db.backend;
        let users = TestUsers::spawn(db).await;
        let mut client = users.client().await;
        let admin = users.admin_token().await;
        let (owner, owner_token) = users.researcher("matrix-owner").await;
        let (other, _) = users.researcher("matrix-other-admin").await;
        client
            .set_user_roles(with_token(
                pb::SetUserRolesRequest {
                    id: other.id,
                    roles: vec![pb::RoleGrant {
                        role: pb::Role::ServiceAdmin as i32,
                        service_id: Some(999),
                        ..Default::default()
                    }],
                },
                &admin,
            ))
            .await
            .unwrap();
        let other_token = users
            .login("matrix-other-admin", &password_of("matrix-other-admin"))
            .await
            .access_token;
        let jobs = users.auth().jobs.token(Component::Users);

        for who in [
            Who::Anonymous,
            Who::Owner,
            Who::OtherServiceAdmin,
            Who::Jobs,
            Who::Admin,
        ] {
            let caller = match who {
                Who::Anonymous => Caller {
                    token: None,
                    service_token: None,
                },
                Who::Owner => Caller {
                    token: Some(owner_token.clone()),
                    service_token: None,
                },
                Who::OtherServiceAdmin => Caller {
                    token: Some(other_token.clone()),
                    service_token: None,
                },
                Who::Admin => Caller {
                    token: Some(admin.clone()),
                    service_token: None,
                },
                Who::Jobs => Caller {
                    token: None,
                    service_token: Some(jobs.clone()),
                },
            };
            // A fresh target for each caller: admin calls deactivate and delete it.
            let (target, _) = users
                .researcher(&format!("matrix-target-{who:?}").to_lowercase())
                .await;
            for rpc in &names {
                let result = call(&mut client, rpc, &caller, target.id, owner.id).await;
                let wanted = expect(class(rpc), who);
                assert_eq!(
                    outcome(&result),
                    wanted,
                    "{backend}: {rpc} as {who:?}: {result:?}"
                );
            }
        }
        users.shutdown().await;
    }
}
