//! The gRPC face of the users service: thin handlers that take the caller
//! and origin recorded by the `Authenticated` wrapper (see `startup.rs`),
//! forward to [`Users`] and wrap the reply.

use fedimpute_common::auth::{caller_of, origin_of};
use fedimpute_proto::users::{self as pb, users_service_server::UsersService};
use tonic::{Request, Response, Status};

use crate::{convert, users::Users};

const BEARER: &str = "bearer";
const RESET_SENT: &str =
    "If an account uses this address, a link to reset its password has been sent to it.";

/// Implements `fedimpute.users.v1.UsersService`.
#[derive(Debug, Clone)]
pub(crate) struct UsersApi {
    core: Users,
}

impl UsersApi {
    pub(crate) fn new(core: Users) -> Self {
        Self { core }
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl UsersService for UsersApi {
    async fn register(&self, request: Request<pb::RegisterRequest>) -> Reply<pb::RegisterResponse> {
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .register(&origin, r)
            .await
            .map(|user| pb::RegisterResponse { user: Some(user) });
        result.map(Response::new).map_err(Status::from)
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Reply<pb::LoginResponse> {
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .login(&origin, &r.username, &r.password)
            .await
            .map(|i| pb::LoginResponse {
                access_token: i.access_token,
                refresh_token: i.refresh_token,
                token_type: BEARER.into(),
                expires_in: i.expires_in,
                refresh_expires_in: i.refresh_expires_in,
                user: Some(i.user),
            });
        result.map(Response::new).map_err(Status::from)
    }

    async fn refresh_token(
        &self,
        request: Request<pb::RefreshTokenRequest>,
    ) -> Reply<pb::RefreshTokenResponse> {
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result =
            self.core
                .refresh(&origin, &r.refresh_token)
                .await
                .map(|i| pb::RefreshTokenResponse {
                    access_token: i.access_token,
                    refresh_token: i.refresh_token,
                    token_type: BEARER.into(),
                    expires_in: i.expires_in,
                    refresh_expires_in: i.refresh_expires_in,
                    user: Some(i.user),
                });
        result.map(Response::new).map_err(Status::from)
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Reply<pb::LogoutResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .logout(&caller, &origin, r)
            .await
            .map(|()| pb::LogoutResponse {});
        result.map(Response::new).map_err(Status::from)
    }

    async fn get_current_user(
        &self,
        request: Request<pb::GetCurrentUserRequest>,
    ) -> Reply<pb::GetCurrentUserResponse> {
        let caller = caller_of(&request);
        let result = self
            .core
            .current_user(&caller)
            .await
            .map(|user| pb::GetCurrentUserResponse { user: Some(user) });
        result.map(Response::new).map_err(Status::from)
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Reply<pb::ChangePasswordResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .change_password(&caller, &origin, &r.current_password, &r.new_password)
            .await
            .map(|at| pb::ChangePasswordResponse {
                message: "Password changed successfully".into(),
                updated_at: Some(convert::ts(at)),
            });
        result.map(Response::new).map_err(Status::from)
    }

    async fn request_password_reset(
        &self,
        request: Request<pb::RequestPasswordResetRequest>,
    ) -> Reply<pb::RequestPasswordResetResponse> {
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self.core.request_reset(&origin, &r.email).await.map(|()| {
            pb::RequestPasswordResetResponse {
                message: RESET_SENT.into(),
            }
        });
        result.map(Response::new).map_err(Status::from)
    }

    async fn confirm_password_reset(
        &self,
        request: Request<pb::ConfirmPasswordResetRequest>,
    ) -> Reply<pb::ConfirmPasswordResetResponse> {
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .confirm_reset(&origin, &r.token, &r.new_password)
            .await
            .map(|()| pb::ConfirmPasswordResetResponse {
                message: "Your password has been reset; sign in with the new one".into(),
            });
        result.map(Response::new).map_err(Status::from)
    }

    async fn get_jwks(&self, _request: Request<pb::GetJwksRequest>) -> Reply<pb::GetJwksResponse> {
        Ok(Response::new(self.core.jwks()))
    }

    async fn get_my_profile(
        &self,
        request: Request<pb::GetMyProfileRequest>,
    ) -> Reply<pb::GetMyProfileResponse> {
        let caller = caller_of(&request);
        let result = self
            .core
            .my_profile(&caller)
            .await
            .map(|p| pb::GetMyProfileResponse { profile: Some(p) });
        result.map(Response::new).map_err(Status::from)
    }

    async fn update_my_profile(
        &self,
        request: Request<pb::UpdateMyProfileRequest>,
    ) -> Reply<pb::UpdateMyProfileResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .update_my_profile(&caller, &origin, r)
            .await
            .map(|p| pb::UpdateMyProfileResponse { profile: Some(p) });
        result.map(Response::new).map_err(Status::from)
    }

    async fn get_my_quota(
        &self,
        request: Request<pb::GetMyQuotaRequest>,
    ) -> Reply<pb::GetMyQuotaResponse> {
        let caller = caller_of(&request);
        let result = self
            .core
            .my_quota(&caller)
            .await
            .map(|q| pb::GetMyQuotaResponse { quota: Some(q) });
        result.map(Response::new).map_err(Status::from)
    }

    async fn list_my_credentials(
        &self,
        request: Request<pb::ListMyCredentialsRequest>,
    ) -> Reply<pb::ListMyCredentialsResponse> {
        let caller = caller_of(&request);
        let result = self
            .core
            .list_credentials(&caller)
            .await
            .map(|credentials| pb::ListMyCredentialsResponse { credentials });
        result.map(Response::new).map_err(Status::from)
    }

    async fn put_my_credential(
        &self,
        request: Request<pb::PutMyCredentialRequest>,
    ) -> Reply<pb::PutMyCredentialResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .put_credential(&caller, &origin, r)
            .await
            .map(|c| pb::PutMyCredentialResponse {
                credential: Some(c),
            });
        result.map(Response::new).map_err(Status::from)
    }

    async fn get_my_credential(
        &self,
        request: Request<pb::GetMyCredentialRequest>,
    ) -> Reply<pb::GetMyCredentialResponse> {
        let caller = caller_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .get_credential(&caller, r.service_id)
            .await
            .map(|c| pb::GetMyCredentialResponse {
                credential: Some(c),
            });
        result.map(Response::new).map_err(Status::from)
    }

    async fn delete_my_credential(
        &self,
        request: Request<pb::DeleteMyCredentialRequest>,
    ) -> Reply<pb::DeleteMyCredentialResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .delete_credential(&caller, &origin, r.service_id)
            .await
            .map(|()| pb::DeleteMyCredentialResponse {});
        result.map(Response::new).map_err(Status::from)
    }

    async fn verify_my_credential(
        &self,
        request: Request<pb::VerifyMyCredentialRequest>,
    ) -> Reply<pb::VerifyMyCredentialResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .verify_credential(&caller, &origin, r.service_id)
            .await
            .map(|c| pb::VerifyMyCredentialResponse {
                credential: Some(c),
            });
        result.map(Response::new).map_err(Status::from)
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Reply<pb::ListUsersResponse> {
        let caller = caller_of(&request);
        let r = request.into_inner();
        let result = self.core.list_users(&caller, r).await;
        result.map(Response::new).map_err(Status::from)
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Reply<pb::CreateUserResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .create_user(&caller, &origin, r)
            .await
            .map(|user| pb::CreateUserResponse { user: Some(user) });
        result.map(Response::new).map_err(Status::from)
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Reply<pb::GetUserResponse> {
        let caller = caller_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .get_user(&caller, r.id)
            .await
            .map(|user| pb::GetUserResponse { user: Some(user) });
        result.map(Response::new).map_err(Status::from)
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Reply<pb::UpdateUserResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .update_user(&caller, &origin, r)
            .await
            .map(|user| pb::UpdateUserResponse { user: Some(user) });
        result.map(Response::new).map_err(Status::from)
    }

    async fn deactivate_user(
        &self,
        request: Request<pb::DeactivateUserRequest>,
    ) -> Reply<pb::DeactivateUserResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .set_active(&caller, &origin, r.id, false)
            .await
            .map(|user| pb::DeactivateUserResponse { user: Some(user) });
        result.map(Response::new).map_err(Status::from)
    }

    async fn reactivate_user(
        &self,
        request: Request<pb::ReactivateUserRequest>,
    ) -> Reply<pb::ReactivateUserResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .set_active(&caller, &origin, r.id, true)
            .await
            .map(|user| pb::ReactivateUserResponse { user: Some(user) });
        result.map(Response::new).map_err(Status::from)
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Reply<pb::DeleteUserResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .delete_user(&caller, &origin, r.id)
            .await
            .map(|()| pb::DeleteUserResponse {});
        result.map(Response::new).map_err(Status::from)
    }

    async fn list_user_roles(
        &self,
        request: Request<pb::ListUserRolesRequest>,
    ) -> Reply<pb::ListUserRolesResponse> {
        let caller = caller_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .list_roles(&caller, r.id)
            .await
            .map(|roles| pb::ListUserRolesResponse { roles });
        result.map(Response::new).map_err(Status::from)
    }

    async fn set_user_roles(
        &self,
        request: Request<pb::SetUserRolesRequest>,
    ) -> Reply<pb::SetUserRolesResponse> {
        let caller = caller_of(&request);
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self
            .core
            .set_roles(&caller, &origin, r)
            .await
            .map(|roles| pb::SetUserRolesResponse { roles });
        result.map(Response::new).map_err(Status::from)
    }

    async fn list_audit_logs(
        &self,
        request: Request<pb::ListAuditLogsRequest>,
    ) -> Reply<pb::ListAuditLogsResponse> {
        let caller = caller_of(&request);
        let r = request.into_inner();
        let result = self.core.list_audit(&caller, r).await;
        result.map(Response::new).map_err(Status::from)
    }

    async fn get_credential_secret(
        &self,
        request: Request<pb::GetCredentialSecretRequest>,
    ) -> Reply<pb::GetCredentialSecretResponse> {
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self.core.credential_secret(&origin, r).await;
        result.map(Response::new).map_err(Status::from)
    }

    async fn reserve_quota(
        &self,
        request: Request<pb::ReserveQuotaRequest>,
    ) -> Reply<pb::ReserveQuotaResponse> {
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self.core.reserve(&origin, r).await;
        result.map(Response::new).map_err(Status::from)
    }

    async fn release_quota(
        &self,
        request: Request<pb::ReleaseQuotaRequest>,
    ) -> Reply<pb::ReleaseQuotaResponse> {
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self.core.release(&origin, r).await;
        result.map(Response::new).map_err(Status::from)
    }

    async fn notify_user(
        &self,
        request: Request<pb::NotifyUserRequest>,
    ) -> Reply<pb::NotifyUserResponse> {
        let origin = origin_of(&request);
        let r = request.into_inner();
        let result = self.core.notify(&origin, r).await;
        result.map(Response::new).map_err(Status::from)
    }
}
