//! The users service's behaviour, behind the thin gRPC handlers: who may do
//! what, and what each call does to the store.

pub(crate) mod accounts;
mod admin;
mod auth;
mod credentials;
mod notify;
mod quotas;
mod reset;
mod throttle;

use std::sync::Arc;

use chrono::Utc;
use fedimpute_common::{
    auth::{AuthError, Caller, Claims, Component, Origin, Role},
    crypto::Keyring,
};
use fedimpute_passwords::{Policy, PolicyContext};
use fedimpute_proto::users as pb;
use tokio::sync::Notify;

use crate::{
    config::{Settings, ThrottleSettings},
    convert,
    error::{Error, Result},
    hashing::Hasher,
    remote::Registry,
    store::{NewAudit, UserRecord, UsersStore},
    tokens::Tokens,
};

#[derive(Clone, Debug)]
pub(crate) struct Users {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    store: Arc<dyn UsersStore>,
    hasher: Hasher,
    tokens: Tokens,
    keyring: Keyring,
    throttle: ThrottleSettings,
    registry: Registry,
    http: reqwest::Client,
    allow_private: bool,
    public_url: String,
    mail_wake: Arc<Notify>,
    default_monthly_job_limit: i32,
    default_storage_limit_bytes: i64,
    policy: Policy,
}

impl std::ops::Deref for Users {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Users {
    pub(crate) fn new(
        settings: &Settings,
        store: Arc<dyn UsersStore>,
        registry: Registry,
        http: reqwest::Client,
        mail_wake: Arc<Notify>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                hasher: Hasher::new(settings.bcrypt_cost, settings.hashing_concurrency),
                tokens: Tokens::new(settings.tokens.clone()),
                keyring: settings.keyring.clone(),
                throttle: settings.throttle.clone(),
                registry,
                http,
                allow_private: settings.outbound.allow_private_targets,
                public_url: settings.mail.public_url.trim_end_matches('/').to_owned(),
                mail_wake,
                default_monthly_job_limit: settings.default_monthly_job_limit,
                default_storage_limit_bytes: settings.default_storage_limit_bytes,
                policy: Policy::default(),
            }),
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn UsersStore> {
        &self.inner.store
    }

    pub(crate) fn hasher(&self) -> &Hasher {
        &self.inner.hasher
    }

    /// The published verification keys.
    pub(crate) fn jwks(&self) -> pb::GetJwksResponse {
        pb::GetJwksResponse {
            keys: self.tokens.public_keys().iter().map(convert::jwk).collect(),
        }
    }

    /// Records an audit entry; a failure to write one is logged, and does
    /// not undo what was done.
    pub(crate) async fn audit(
        &self,
        origin: &Origin,
        user_id: Option<i64>,
        action: &str,
        resource: (&str, String),
        details: String,
    ) {
        let entry = NewAudit {
            user_id,
            action: action.to_owned(),
            resource_type: resource.0.to_owned(),
            resource_id: resource.1,
            details,
            ip_address: origin.client_addr.clone(),
            user_agent: origin.user_agent.clone(),
        };
        if let Err(e) = self.store.audit(entry).await {
            tracing::error!(error = %e, action, "cannot write an audit entry");
        }
    }

    /// The signed-in caller's active account. A token of a deactivated or
    /// deleted account, or of a session that ended, is refused here at once
    /// (elsewhere it lives until it expires, at most the access-token TTL).
    pub(crate) async fn me(&self, caller: &Caller) -> Result<(Arc<Claims>, UserRecord)> {
        let claims = match caller {
            Caller::User(claims) => claims.clone(),
            Caller::Anonymous | Caller::Invalid(_) => {
                return Err(caller.user().err().unwrap_or(AuthError::Missing).into());
            }
        };
        let id: i64 = claims
            .sub
            .parse()
            .map_err(|_| Error::PermissionDenied("this token does not name a user".into()))?;
        let user = self.store.user(id).await?.filter(|u| u.is_active);
        let live = claims.sid.is_empty() || self.store.session_live(&claims.sid).await?;
        match user {
            Some(user) if live => Ok((claims, user)),
            Some(_) | None => Err(Error::Unauthenticated(
                fedimpute_common::auth::AuthError::Invalid(
                    "the session has ended or the account is deactivated".into(),
                ),
            )),
        }
    }

    /// An active admin.
    pub(crate) async fn admin(&self, caller: &Caller) -> Result<(Arc<Claims>, UserRecord)> {
        let (claims, user) = self.me(caller).await?;
        // The grants in force now, not those the token was issued with: a
        // revoked admin loses the rights at once here.
        let now = Utc::now();
        let admin = self
            .store
            .grants(user.id)
            .await?
            .iter()
            .any(|g| g.role == Role::Admin && g.service_id.is_none() && g.in_force(now));
        if !admin {
            return Err(Error::PermissionDenied("this needs the admin role".into()));
        }
        Ok((claims, user))
    }

    /// The policy check of a new password, reported against `field`.
    pub(crate) fn check_password(
        &self,
        field: &str,
        password: &str,
        who: PolicyContext<'_>,
    ) -> Result<()> {
        self.policy.check(password, &who).map_err(|problems| {
            Error::Invalid(
                problems
                    .into_iter()
                    .map(|p| fedimpute_common::status::FieldViolation::new(field, p))
                    .collect(),
            )
        })
    }

    /// The user as the API shows them (with roles and quota).
    pub(crate) async fn user_pb(&self, user: &UserRecord) -> Result<pb::User> {
        let grants = self.store.grants(user.id).await?;
        let quota = self.quota_of(user).await?;
        Ok(convert::user(user, &grants, Some(quota), Utc::now()))
    }
}

/// Internal RPCs answer only the named component.
pub(crate) fn require_component(origin: &Origin, component: Component) -> Result<()> {
    if origin.component == Some(component) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "this is an internal call, for the {component} component only"
        )))
    }
}

pub(crate) fn context(user: &UserRecord) -> PolicyContext<'_> {
    PolicyContext {
        username: &user.username,
        email: &user.email,
        first_name: &user.first_name,
        last_name: &user.last_name,
    }
}
