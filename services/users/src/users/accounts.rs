//! A user's own account: registration, profile, quota.

use fedimpute_common::{
    auth::{Caller, Origin, Role},
    status::Violations,
};
use fedimpute_passwords::PolicyContext;
use fedimpute_proto::users as pb;

use super::Users;
use crate::{
    convert,
    domain::{account::Identity, profile::profile_patch},
    error::{Error, Result},
    store::{NewGrant, NewUser, ProfileFields, UserPatch, UserRecord},
};

/// A new account as parsed from a request.
#[derive(Debug)]
pub(crate) struct NewAccount {
    pub(crate) identity: Identity,
    pub(crate) password: String,
    pub(crate) profile: ProfileFields,
    pub(crate) grants: Vec<NewGrant>,
    pub(crate) is_active: bool,
}

impl Users {
    pub(crate) fn default_profile() -> ProfileFields {
        ProfileFields {
            preferred_language: "en".into(),
            time_zone: "UTC".into(),
            email_notifications: true,
            ..ProfileFields::default()
        }
    }

    /// Checks the password policy and stores the account.
    pub(crate) async fn create_account(&self, account: NewAccount) -> Result<UserRecord> {
        let id = &account.identity;
        self.check_password(
            "password",
            &account.password,
            PolicyContext {
                username: &id.username,
                email: &id.email,
                first_name: &id.first_name,
                last_name: &id.last_name,
            },
        )?;
        let hash = self.hasher().hash(&account.password).await?;
        let grants = if account.grants.is_empty() {
            vec![NewGrant {
                role: Role::Researcher,
                service_id: None,
                expires_at: None,
                granted_by: None,
            }]
        } else {
            account.grants
        };
        Ok(self
            .store
            .create_user(NewUser {
                username: account.identity.username,
                email: account.identity.email,
                first_name: account.identity.first_name,
                last_name: account.identity.last_name,
                password_hash: hash,
                is_active: account.is_active,
                profile: account.profile,
                monthly_job_limit: self.default_monthly_job_limit,
                storage_limit_bytes: self.default_storage_limit_bytes,
                grants,
            })
            .await?)
    }

    pub(crate) async fn register(
        &self,
        origin: &Origin,
        r: pb::RegisterRequest,
    ) -> Result<pb::User> {
        let mut v = Violations::new();
        let identity = Identity::parse(&mut v, &r.username, &r.email, &r.first_name, &r.last_name);
        let extra = pb::Profile {
            institution: r.institution,
            department: r.department,
            ..pb::Profile::default()
        };
        let patch = profile_patch(
            &mut v,
            &extra,
            &["institution".into(), "department".into()],
            "",
        );
        v.finish()?;
        let mut profile = Self::default_profile();
        profile.institution = patch.institution.unwrap_or_default();
        profile.department = patch.department.unwrap_or_default();
        let user = self
            .create_account(NewAccount {
                identity,
                password: r.password,
                profile,
                grants: Vec::new(),
                is_active: true,
            })
            .await?;
        self.audit(
            origin,
            Some(user.id),
            "user_registered",
            ("user", user.id.to_string()),
            format!("username {}", user.username),
        )
        .await;
        self.user_pb(&user).await
    }

    pub(crate) async fn current_user(&self, caller: &Caller) -> Result<pb::User> {
        let (_, user) = self.me(caller).await?;
        self.user_pb(&user).await
    }

    pub(crate) async fn my_profile(&self, caller: &Caller) -> Result<pb::Profile> {
        let (_, user) = self.me(caller).await?;
        Ok(convert::profile(&user.profile))
    }

    pub(crate) async fn update_my_profile(
        &self,
        caller: &Caller,
        origin: &Origin,
        r: pb::UpdateMyProfileRequest,
    ) -> Result<pb::Profile> {
        let (_, user) = self.me(caller).await?;
        let mut v = Violations::new();
        let paths = r.update_mask.map(|m| m.paths).unwrap_or_default();
        let profile = profile_patch(&mut v, &r.profile.unwrap_or_default(), &paths, "profile.");
        v.finish()?;
        let patch = UserPatch {
            profile,
            ..UserPatch::default()
        };
        if patch.is_empty() {
            return Err(Error::invalid("update_mask", "names no field to change"));
        }
        let updated = self
            .store
            .update_user(user.id, &patch)
            .await?
            .ok_or_else(|| Error::NotFound("the account no longer exists".into()))?;
        self.audit(
            origin,
            Some(user.id),
            "profile_updated",
            ("user", user.id.to_string()),
            String::new(),
        )
        .await;
        Ok(convert::profile(&updated.profile))
    }

    pub(crate) async fn my_quota(&self, caller: &Caller) -> Result<pb::Quota> {
        let (_, user) = self.me(caller).await?;
        self.quota_of(&user).await
    }
}
