//! Signing in and out: login with throttling, refresh-token rotation,
//! logout, password change and reset.

use chrono::Utc;
use fedimpute_common::auth::{AuthError, Caller, Origin, random_id};
use fedimpute_proto::users as pb;

use super::{
    Users, context,
    throttle::{Keys, account_key},
};
use crate::{
    error::{Error, Result},
    store::{NewSession, RefreshLifetime, Rehash, Revoke, Rotated, UserRecord},
    tokens::{random_token, token_hash},
};

/// What a successful login or refresh returns.
pub(crate) struct Issued {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) expires_in: i64,
    pub(crate) refresh_expires_in: i64,
    pub(crate) user: pb::User,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("user", &self.user.id)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl Users {
    pub(crate) async fn login(
        &self,
        origin: &Origin,
        login: &str,
        password: &str,
    ) -> Result<Issued> {
        let login_key = login.trim().to_lowercase();
        let user = self.store.user_by_login(&login_key).await?;
        let keys = Keys::of(user.as_ref(), &login_key, origin);
        let user_id = user.as_ref().map(|u| u.id);
        let resource = ("user", user_id.map(|id| id.to_string()).unwrap_or_default());
        if let Err(locked) = self.check_locks(&keys).await {
            self.audit(
                origin,
                user_id,
                "login_locked",
                resource,
                "attempt while locked".into(),
            )
            .await;
            return Err(locked);
        }
        let verified = self
            .hasher()
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        let user = match user {
            Some(user) if verified.matches => user,
            Some(_) | None => {
                let locked = self.record_failure(&keys).await?;
                let why = if user_id.is_some() {
                    "wrong password"
                } else {
                    "no such account"
                };
                let details = if locked {
                    format!("{why}; now locked")
                } else {
                    why.to_owned()
                };
                self.audit(origin, user_id, "login_failed", resource, details)
                    .await;
                return Err(Error::BadCredentials);
            }
        };
        // Failures of concurrent attempts may have locked the account while
        // this one was verified: a burst of guesses gets no success past the lock.
        if let Err(locked) = self.check_locks(&keys).await {
            self.audit(
                origin,
                user_id,
                "login_locked",
                resource,
                "right password, but locked by concurrent failures".into(),
            )
            .await;
            return Err(locked);
        }
        if !user.is_active {
            self.audit(
                origin,
                Some(user.id),
                "login_refused",
                resource,
                "the account is deactivated".into(),
            )
            .await;
            return Err(Error::PermissionDenied(
                "this account is deactivated".into(),
            ));
        }
        let rehash = if verified.needs_rehash {
            Some(self.hasher().hash(password).await?)
        } else {
            None
        };
        self.store
            .record_login(
                user.id,
                rehash.as_deref().map(|new| Rehash {
                    verified: &user.password_hash,
                    new,
                }),
            )
            .await?;
        self.store.clear_failures(&keys.account).await?;
        let current_hash = rehash.as_deref().unwrap_or(&user.password_hash);
        let issued = self.start_session(&user, origin, current_hash).await?;
        let detail = if rehash.is_some() {
            "password hash upgraded to bcrypt"
        } else {
            ""
        };
        self.audit(
            origin,
            Some(user.id),
            "login_success",
            resource,
            detail.into(),
        )
        .await;
        Ok(issued)
    }

    /// A new session, unless the account was deactivated or its password
    /// changed since it was verified.
    async fn start_session(
        &self,
        user: &UserRecord,
        origin: &Origin,
        verified_hash: &str,
    ) -> Result<Issued> {
        let session_id = random_id();
        let refresh = random_token();
        let refresh_ttl = self.tokens.settings().refresh_ttl;
        let created = self
            .store
            .create_session(
                NewSession {
                    id: session_id.clone(),
                    user_id: user.id,
                    ip_address: origin.client_addr.clone(),
                    user_agent: origin.user_agent.clone(),
                    token_hash: token_hash(&refresh),
                    expires_at: Utc::now()
                        + chrono::Duration::from_std(refresh_ttl).unwrap_or_default(),
                },
                verified_hash,
            )
            .await?;
        if !created {
            return Err(Error::Unauthenticated(AuthError::Invalid(
                "the account changed while signing in; sign in again".into(),
            )));
        }
        self.issue(user, &session_id, refresh).await
    }

    async fn issue(&self, user: &UserRecord, session_id: &str, refresh: String) -> Result<Issued> {
        let grants = self.store.grants(user.id).await?;
        let access = self.tokens.access(user, &grants, session_id);
        Ok(Issued {
            access_token: access.token,
            refresh_token: refresh,
            expires_in: access.expires_in,
            refresh_expires_in: i64::try_from(self.tokens.settings().refresh_ttl.as_secs())
                .unwrap_or(i64::MAX),
            user: self.user_pb(user).await?,
        })
    }

    pub(crate) async fn refresh(&self, origin: &Origin, refresh_token: &str) -> Result<Issued> {
        let refused =
            || Error::Unauthenticated(AuthError::Invalid("the refresh token is not valid".into()));
        if refresh_token.trim().is_empty() {
            return Err(Error::invalid("refresh_token", "is required"));
        }
        let next = random_token();
        let settings = self.tokens.settings();
        let lifetime = RefreshLifetime {
            ttl: chrono::Duration::from_std(settings.refresh_ttl).unwrap_or_default(),
            max_age: chrono::Duration::from_std(settings.session_max_age)
                .unwrap_or(chrono::Duration::days(90)),
        };
        match self
            .store
            .rotate_refresh(
                &token_hash(refresh_token.trim()),
                &token_hash(&next),
                lifetime,
            )
            .await?
        {
            Rotated::Ok {
                user_id,
                session_id,
            } => {
                let user = self.store.user(user_id).await?.ok_or_else(refused)?;
                self.issue(&user, &session_id, next).await
            }
            Rotated::Reused {
                user_id,
                session_id,
            } => {
                tracing::warn!(
                    user_id,
                    "a spent refresh token was presented again: session revoked"
                );
                self.audit(
                    origin,
                    Some(user_id),
                    "refresh_token_reused",
                    ("session", session_id),
                    "a spent refresh token was used again; the session is revoked".into(),
                )
                .await;
                Err(refused())
            }
            Rotated::Refused => {
                self.audit(
                    origin,
                    None,
                    "refresh_refused",
                    ("session", String::new()),
                    "unknown, expired or revoked refresh token".into(),
                )
                .await;
                Err(refused())
            }
        }
    }

    pub(crate) async fn logout(
        &self,
        caller: &Caller,
        origin: &Origin,
        r: pb::LogoutRequest,
    ) -> Result<()> {
        let token = r.refresh_token.trim();
        let (user_id, session) = if !token.is_empty() {
            // The refresh token itself is proof enough to end its session.
            match self.store.session_of_token(&token_hash(token)).await? {
                Some(found) => found,
                None => return Ok(()),
            }
        } else {
            let (claims, user) = self.me(caller).await?;
            (user.id, claims.sid.clone())
        };
        if r.all_sessions {
            self.store
                .revoke_sessions(user_id, Revoke::All, "logout")
                .await?;
        } else if !session.is_empty() {
            self.store
                .revoke_session(user_id, &session, "logout")
                .await?;
        }
        self.audit(
            origin,
            Some(user_id),
            "logout",
            ("session", session),
            if r.all_sessions {
                "every session".into()
            } else {
                String::new()
            },
        )
        .await;
        Ok(())
    }

    pub(crate) async fn change_password(
        &self,
        caller: &Caller,
        origin: &Origin,
        current: &str,
        new: &str,
    ) -> Result<chrono::DateTime<Utc>> {
        let (claims, user) = self.me(caller).await?;
        // Guessing the current password with a stolen access token is
        // throttled like a login.
        let keys = Keys {
            account: account_key(user.id),
            address: None,
        };
        self.check_locks(&keys).await?;
        let verified = self
            .hasher()
            .verify(current, Some(&user.password_hash))
            .await?;
        if !verified.matches {
            self.record_failure(&keys).await?;
            self.audit(
                origin,
                Some(user.id),
                "password_change_failed",
                ("user", user.id.to_string()),
                "wrong current password".into(),
            )
            .await;
            return Err(Error::invalid(
                "current_password",
                "is not the current password",
            ));
        }
        if current == new {
            return Err(Error::invalid(
                "new_password",
                "must differ from the current password",
            ));
        }
        self.check_password("new_password", new, context(&user))?;
        let hash = self.hasher().hash(new).await?;
        let revoke = if claims.sid.is_empty() {
            Revoke::All
        } else {
            Revoke::AllExcept(&claims.sid)
        };
        self.store
            .set_password(user.id, &hash, Some(revoke))
            .await?;
        self.audit(
            origin,
            Some(user.id),
            "password_changed",
            ("user", user.id.to_string()),
            "other sessions ended".into(),
        )
        .await;
        Ok(Utc::now())
    }
}
