//! User management and the audit log, for admins.

use chrono::Utc;
use fedimpute_common::{
    auth::{Caller, Origin, Role},
    page::PageToken,
    status::Violations,
};
use fedimpute_proto::users as pb;

use super::{Users, accounts::NewAccount};
use crate::{
    convert,
    domain::{
        account::{self, Identity, grants, timestamp, user_filter},
        profile::{self, profile_patch},
    },
    error::{Error, Result},
    store::{AuditFilter, UserPatch, UserRecord},
};

impl Users {
    async fn target(&self, id: i64) -> Result<UserRecord> {
        self.store
            .user(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {id} does not exist")))
    }

    /// Refuses a change that would leave no active admin.
    async fn keep_an_admin(&self, target: i64) -> Result<()> {
        let admins = self.store.active_admins(Utc::now()).await?;
        if admins == [target] {
            return Err(Error::FailedPrecondition(
                "this is the last active admin: grant admin to someone else first".into(),
            ));
        }
        Ok(())
    }

    pub(crate) async fn list_users(
        &self,
        caller: &Caller,
        r: pb::ListUsersRequest,
    ) -> Result<pb::ListUsersResponse> {
        self.admin(caller).await?;
        let mut filter = user_filter(&r)?;
        let limit = filter.limit;
        filter.limit = limit + 1;
        let mut rows = self.store.list_users(&filter).await?;
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|u| PageToken(u.id).encode())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let ids: Vec<i64> = rows.iter().map(|u| u.id).collect();
        let all = self.store.grants_of(&ids).await?;
        let now = Utc::now();
        let users = rows
            .iter()
            .map(|u| {
                let mine: Vec<_> = all
                    .iter()
                    .filter(|(id, _)| *id == u.id)
                    .map(|(_, g)| g.clone())
                    .collect();
                convert::user(u, &mine, None, now)
            })
            .collect();
        Ok(pb::ListUsersResponse {
            users,
            next_page_token: next,
        })
    }

    pub(crate) async fn create_user(
        &self,
        caller: &Caller,
        origin: &Origin,
        r: pb::CreateUserRequest,
    ) -> Result<pb::User> {
        let (_, admin) = self.admin(caller).await?;
        let mut v = Violations::new();
        let identity = Identity::parse(&mut v, &r.username, &r.email, &r.first_name, &r.last_name);
        let new_grants = grants(&mut v, "roles", &r.roles, Some(admin.id));
        let patch = profile_patch(&mut v, &r.profile.unwrap_or_default(), &[], "profile.");
        v.finish()?;
        let mut profile = Self::default_profile();
        apply_profile(&mut profile, patch);
        let user = self
            .create_account(NewAccount {
                identity,
                password: r.password,
                profile,
                grants: new_grants,
                is_active: r.is_active.unwrap_or(true),
            })
            .await?;
        self.audit(
            origin,
            Some(admin.id),
            "user_created",
            ("user", user.id.to_string()),
            format!("username {}", user.username),
        )
        .await;
        self.user_pb(&user).await
    }

    pub(crate) async fn get_user(&self, caller: &Caller, id: i64) -> Result<pb::User> {
        self.admin(caller).await?;
        let user = self.target(id).await?;
        self.user_pb(&user).await
    }

    pub(crate) async fn update_user(
        &self,
        caller: &Caller,
        origin: &Origin,
        r: pb::UpdateUserRequest,
    ) -> Result<pb::User> {
        let (_, admin) = self.admin(caller).await?;
        let patch = profile::user_patch(&r)?;
        self.target(r.id).await?;
        if patch.is_active == Some(false) {
            self.check_deactivation(admin.id, r.id).await?;
        }
        let user = self
            .store
            .update_user(r.id, &patch)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {} does not exist", r.id)))?;
        self.audit(
            origin,
            Some(admin.id),
            "user_updated",
            ("user", r.id.to_string()),
            describe(&patch),
        )
        .await;
        self.user_pb(&user).await
    }

    async fn check_deactivation(&self, admin: i64, target: i64) -> Result<()> {
        if admin == target {
            return Err(Error::FailedPrecondition(
                "you cannot deactivate or delete your own account".into(),
            ));
        }
        self.keep_an_admin(target).await
    }

    pub(crate) async fn set_active(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: i64,
        active: bool,
    ) -> Result<pb::User> {
        let (_, admin) = self.admin(caller).await?;
        self.target(id).await?;
        if !active {
            self.check_deactivation(admin.id, id).await?;
        }
        let patch = UserPatch {
            is_active: Some(active),
            ..UserPatch::default()
        };
        let user = self
            .store
            .update_user(id, &patch)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {id} does not exist")))?;
        let action = if active {
            "user_reactivated"
        } else {
            "user_deactivated"
        };
        self.audit(
            origin,
            Some(admin.id),
            action,
            ("user", id.to_string()),
            String::new(),
        )
        .await;
        self.user_pb(&user).await
    }

    pub(crate) async fn delete_user(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: i64,
    ) -> Result<()> {
        let (_, admin) = self.admin(caller).await?;
        let target = self.target(id).await?;
        self.check_deactivation(admin.id, id).await?;
        self.store.delete_user(id).await?;
        self.audit(
            origin,
            Some(admin.id),
            "user_deleted",
            ("user", id.to_string()),
            format!("username {}", target.username),
        )
        .await;
        Ok(())
    }

    pub(crate) async fn list_roles(&self, caller: &Caller, id: i64) -> Result<Vec<pb::RoleGrant>> {
        let (claims, me) = self.me(caller).await?;
        if me.id != id && !claims.is_admin() {
            return Err(Error::PermissionDenied(
                "only the user themself or an admin may read these roles".into(),
            ));
        }
        self.target(id).await?;
        let now = Utc::now();
        Ok(self
            .store
            .grants(id)
            .await?
            .iter()
            .filter(|g| g.in_force(now))
            .map(convert::grant)
            .collect())
    }

    pub(crate) async fn set_roles(
        &self,
        caller: &Caller,
        origin: &Origin,
        r: pb::SetUserRolesRequest,
    ) -> Result<Vec<pb::RoleGrant>> {
        let (_, admin) = self.admin(caller).await?;
        let mut v = Violations::new();
        let new = grants(&mut v, "roles", &r.roles, Some(admin.id));
        v.finish()?;
        let target = self.target(r.id).await?;
        let keeps_admin = new
            .iter()
            .any(|g| g.role == Role::Admin && g.service_id.is_none() && g.expires_at.is_none());
        if !keeps_admin && target.is_active {
            self.keep_an_admin(r.id).await?;
        }
        let stored = self.store.set_grants(r.id, &new).await?;
        let summary = stored
            .iter()
            .map(|g| match g.service_id {
                Some(s) => format!("{:?}@{s}", g.role),
                None => format!("{:?}", g.role),
            })
            .collect::<Vec<_>>()
            .join(", ");
        self.audit(
            origin,
            Some(admin.id),
            "roles_set",
            ("user", r.id.to_string()),
            summary,
        )
        .await;
        Ok(stored.iter().map(convert::grant).collect())
    }

    pub(crate) async fn list_audit(
        &self,
        caller: &Caller,
        r: pb::ListAuditLogsRequest,
    ) -> Result<pb::ListAuditLogsResponse> {
        self.admin(caller).await?;
        let mut v = Violations::new();
        let before = v
            .check("page_token", PageToken::parse(&r.page_token))
            .flatten();
        let limit = v
            .check("page_size", account::page_size(r.page_size))
            .unwrap_or(100);
        let mut time = |field: &str, t: &Option<prost_types::Timestamp>| {
            let parsed = t.as_ref().map(timestamp);
            if parsed == Some(None) {
                v.add(field, "is not a valid time");
            }
            parsed.flatten()
        };
        let start = time("start_time", &r.start_time);
        let end = time("end_time", &r.end_time);
        v.finish()?;
        let action = r.action.trim();
        let filter = AuditFilter {
            user_id: r.user_id,
            action: (!action.is_empty()).then(|| action.to_owned()),
            start,
            end,
            before_id: before.map(|t| t.0),
            limit: limit + 1,
        };
        let mut rows = self.store.list_audit(&filter).await?;
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|e| PageToken(e.id).encode())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListAuditLogsResponse {
            entries: rows.iter().map(convert::audit).collect(),
            next_page_token: next,
        })
    }
}

fn apply_profile(profile: &mut crate::store::ProfileFields, patch: crate::store::ProfilePatch) {
    let fields = [
        (&mut profile.institution, patch.institution),
        (&mut profile.department, patch.department),
        (&mut profile.position, patch.position),
        (&mut profile.country, patch.country),
        (&mut profile.research_interests, patch.research_interests),
        (&mut profile.phone, patch.phone),
        (&mut profile.bio, patch.bio),
        (&mut profile.preferred_language, patch.preferred_language),
        (&mut profile.time_zone, patch.time_zone),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            *field = value;
        }
    }
    if let Some(on) = patch.email_notifications {
        profile.email_notifications = on;
    }
}

/// Which fields an admin changed (never their values: an email is personal data).
fn describe(patch: &UserPatch) -> String {
    let mut changed = Vec::new();
    for (name, set) in [
        ("email", patch.email.is_some()),
        ("first_name", patch.first_name.is_some()),
        ("last_name", patch.last_name.is_some()),
        ("is_active", patch.is_active.is_some()),
        ("monthly_job_limit", patch.monthly_job_limit.is_some()),
        ("storage_limit_bytes", patch.storage_limit_bytes.is_some()),
    ] {
        if set {
            changed.push(name);
        }
    }
    format!("changed: {}", changed.join(", "))
}
