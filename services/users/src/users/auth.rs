//! Signing in and out: login with throttling, refresh-token rotation,
//! logout, password change and reset.

use std::time::Duration;

use chrono::Utc;
use fedimpute_common::auth::{AuthError, Caller, Origin, random_id};
use fedimpute_proto::users as pb;

use super::{Users, context};
use crate::{
    error::{Error, Result},
    store::{NewMail, NewSession, Revoke, Rotated, UserRecord},
    tokens::{random_token, token_hash},
};

/// What a successful login or refresh returns.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) expires_in: i64,
    pub(crate) refresh_expires_in: i64,
    pub(crate) user: pb::User,
}

const MAX_DELAY: Duration = Duration::from_secs(5);

impl Users {
    fn throttle_keys(login: &str, origin: &Origin) -> (String, Option<String>) {
        let account = format!("account:{}", login.trim().to_lowercase());
        let address =
            (!origin.client_addr.is_empty()).then(|| format!("addr:{}", origin.client_addr));
        (account, address)
    }

    /// `ResourceExhausted` when the account or the address is locked.
    async fn check_locks(&self, keys: &[String]) -> Result<()> {
        let now = Utc::now();
        let locked_until = self
            .store
            .throttle(keys)
            .await?
            .into_iter()
            .filter_map(|(_, state)| state.locked_until)
            .filter(|until| *until > now)
            .max();
        match locked_until {
            Some(until) => {
                let wait = (until - now).to_std().unwrap_or_default();
                Err(Error::Exhausted {
                    message: format!(
                        "too many failed logins: try again in {} s",
                        wait.as_secs().max(1)
                    ),
                    retry_after: Some(wait),
                })
            }
            None => Ok(()),
        }
    }

    /// Counts a failure against each key; slows the answer as failures add
    /// up. True when a key became locked.
    async fn record_failure(&self, keys: &[(String, u32)]) -> Result<bool> {
        let t = &self.throttle;
        let window = chrono::Duration::from_std(t.window).unwrap_or(chrono::Duration::minutes(15));
        let lockout =
            chrono::Duration::from_std(t.lockout).unwrap_or(chrono::Duration::minutes(15));
        let mut worst = 0;
        let mut locked = false;
        for (key, limit) in keys {
            let state = self
                .store
                .record_failure(key, window, *limit, lockout)
                .await?;
            worst = worst.max(state.failures);
            locked |= state.locked_until.is_some_and(|u| u > Utc::now());
        }
        if worst > 2 && !t.delay_step.is_zero() {
            let delay = t.delay_step.saturating_mul(worst - 2).min(MAX_DELAY);
            tokio::time::sleep(delay).await;
        }
        Ok(locked)
    }

    pub(crate) async fn login(
        &self,
        origin: &Origin,
        login: &str,
        password: &str,
    ) -> Result<Issued> {
        let (account_key, address_key) = Self::throttle_keys(login, origin);
        let mut keys = vec![account_key.clone()];
        keys.extend(address_key.clone());
        if let Err(locked) = self.check_locks(&keys).await {
            self.audit(
                origin,
                None,
                "login_locked",
                ("user", String::new()),
                format!("login attempt while locked for {}", clip(login)),
            )
            .await;
            return Err(locked);
        }
        let user = self
            .store
            .user_by_login(&login.trim().to_lowercase())
            .await?;
        let verified = self
            .hasher()
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        let user = match user {
            Some(user) if verified.matches => user,
            Some(_) | None => {
                let mut counted = vec![(account_key, self.throttle.account_limit)];
                counted.extend(address_key.map(|k| (k, self.throttle.address_limit)));
                let locked = self.record_failure(&counted).await?;
                self.audit(
                    origin,
                    None,
                    "login_failed",
                    ("user", String::new()),
                    format!(
                        "failed login for {}{}",
                        clip(login),
                        if locked { "; now locked" } else { "" }
                    ),
                )
                .await;
                return Err(Error::BadCredentials);
            }
        };
        if !user.is_active {
            self.audit(
                origin,
                Some(user.id),
                "login_refused",
                ("user", user.id.to_string()),
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
        self.store.record_login(user.id, rehash.as_deref()).await?;
        self.store.clear_failures(&account_key).await?;
        let issued = self.start_session(&user, origin).await?;
        let detail = if rehash.is_some() {
            "password hash upgraded to bcrypt"
        } else {
            ""
        };
        self.audit(
            origin,
            Some(user.id),
            "login_success",
            ("user", user.id.to_string()),
            detail.into(),
        )
        .await;
        Ok(issued)
    }

    async fn start_session(&self, user: &UserRecord, origin: &Origin) -> Result<Issued> {
        let session_id = random_id();
        let refresh = random_token();
        let refresh_ttl = self.tokens.settings().refresh_ttl;
        self.store
            .create_session(NewSession {
                id: session_id.clone(),
                user_id: user.id,
                ip_address: origin.client_addr.clone(),
                user_agent: origin.user_agent.clone(),
                token_hash: token_hash(&refresh),
                expires_at: Utc::now()
                    + chrono::Duration::from_std(refresh_ttl).unwrap_or_default(),
            })
            .await?;
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
        let ttl =
            chrono::Duration::from_std(self.tokens.settings().refresh_ttl).unwrap_or_default();
        match self
            .store
            .rotate_refresh(
                &token_hash(refresh_token.trim()),
                &token_hash(&next),
                Utc::now() + ttl,
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
            Rotated::Refused => Err(refused()),
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
        let verified = self
            .hasher()
            .verify(current, Some(&user.password_hash))
            .await?;
        if !verified.matches {
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

    /// Always succeeds the same way; mails a link only to an active account.
    pub(crate) async fn request_reset(&self, origin: &Origin, email: &str) -> Result<()> {
        let email = email.trim().to_lowercase();
        if email.is_empty() {
            return Err(Error::invalid("email", "is required"));
        }
        let user = self
            .store
            .user_by_email(&email)
            .await?
            .filter(|u| u.is_active);
        let Some(user) = user else {
            self.audit(
                origin,
                None,
                "password_reset_requested",
                ("user", String::new()),
                "no active account has this address".into(),
            )
            .await;
            return Ok(());
        };
        let token = random_token();
        let ttl = self.tokens.settings().reset_ttl;
        let link = format!("{}/reset-password?token={token}", self.public_url);
        let minutes = ttl.as_secs() / 60;
        let mail = NewMail {
            recipient: user.email.clone(),
            subject: "Reset your fedimpute password".into(),
            body: format!(
                "Hello {name},\n\nSomeone (we hope you) asked to reset the password of the fedimpute account '{username}'.\n\
                 To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n\
                 The link works once. If you did not ask for this, ignore this message: your password stays as it is.\n",
                name = if user.first_name.is_empty() {
                    &user.username
                } else {
                    &user.first_name
                },
                username = user.username,
            ),
        };
        self.store
            .create_reset(
                user.id,
                &token_hash(&token),
                Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default(),
                mail,
            )
            .await?;
        self.mail_wake.notify_one();
        self.audit(
            origin,
            Some(user.id),
            "password_reset_requested",
            ("user", user.id.to_string()),
            "reset link mailed".into(),
        )
        .await;
        Ok(())
    }

    pub(crate) async fn confirm_reset(
        &self,
        origin: &Origin,
        token: &str,
        new: &str,
    ) -> Result<()> {
        let invalid = || {
            Error::invalid(
                "token",
                "is not valid: it is wrong, expired or already used",
            )
        };
        let hash = token_hash(token.trim());
        let user = self.store.reset_user(&hash).await?.ok_or_else(invalid)?;
        self.check_password("new_password", new, context(&user))?;
        let password = self.hasher().hash(new).await?;
        let user_id = self
            .store
            .consume_reset(&hash, &password)
            .await?
            .ok_or_else(invalid)?;
        self.audit(
            origin,
            Some(user_id),
            "password_reset_completed",
            ("user", user_id.to_string()),
            "every session ended".into(),
        )
        .await;
        Ok(())
    }
}

/// A login name as written to the audit log: bounded, one line.
fn clip(login: &str) -> String {
    login
        .chars()
        .filter(|c| !c.is_control())
        .take(150)
        .collect()
}
