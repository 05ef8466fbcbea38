//! Password reset by mail: a single-use token, stored hashed, mailed
//! through the outbox.

use chrono::Utc;
use fedimpute_common::auth::Origin;

use super::{Users, context, throttle::account_key};
use crate::{
    error::{Error, Result},
    store::NewMail,
    tokens::{random_token, token_hash},
};

/// Reset mails per account within the login window.
const RESETS_PER_WINDOW: u32 = 3;

impl Users {
    /// Always answers the same, at once: the lookup and the mail happen
    /// after the reply, so neither the answer nor its timing tells whether
    /// an account has the address.
    pub(crate) async fn request_reset(&self, origin: &Origin, email: &str) -> Result<()> {
        let email = email.trim().to_lowercase();
        if email.is_empty() {
            return Err(Error::invalid("email", "is required"));
        }
        let (users, origin) = (self.clone(), origin.clone());
        tokio::spawn(async move {
            if let Err(e) = users.send_reset(&origin, &email).await {
                tracing::error!(error = %e, "a password reset could not be prepared");
            }
        });
        Ok(())
    }

    async fn send_reset(&self, origin: &Origin, email: &str) -> Result<()> {
        let user = self
            .store
            .user_by_email(email)
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
        // At most a few mails per account and window: no mail bombing.
        let window = chrono::Duration::from_std(self.throttle.window)
            .unwrap_or(chrono::Duration::minutes(15));
        let counted = self
            .store
            .record_failure(
                &format!("reset:{}", user.id),
                window,
                RESETS_PER_WINDOW + 1,
                window,
            )
            .await?;
        if counted.failures > RESETS_PER_WINDOW {
            self.audit(
                origin,
                Some(user.id),
                "password_reset_throttled",
                ("user", user.id.to_string()),
                "too many reset requests; no mail sent".into(),
            )
            .await;
            return Ok(());
        }
        let token = random_token();
        let ttl = self.tokens.settings().reset_ttl;
        let link = format!("{}/reset-password?token={token}", self.public_url);
        let minutes = ttl.as_secs() / 60;
        let body = format!(
            "Hello {name},\n\nSomeone (we hope you) asked to reset the password of the fedimpute account '{username}'.\n\
                 To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n\
                 The link works once. If you did not ask for this, ignore this message: your password stays as it is.\n",
            name = if user.first_name.is_empty() {
                &user.username
            } else {
                &user.first_name
            },
            username = user.username,
        );
        // Sealed at rest: the body holds a live reset link.
        let mail = NewMail {
            recipient: user.email.clone(),
            subject: "Reset your fedimpute password".into(),
            body: crate::mail::seal(&self.keyring, &body),
            dedupe_key: None,
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
        let Some(user) = self.store.reset_user(&hash).await? else {
            self.audit(
                origin,
                None,
                "password_reset_failed",
                ("user", String::new()),
                "wrong, expired or used reset token".into(),
            )
            .await;
            return Err(invalid());
        };
        self.check_password("new_password", new, context(&user))?;
        let password = self.hasher().hash(new).await?;
        let user_id = self
            .store
            .consume_reset(&hash, &password)
            .await?
            .ok_or_else(invalid)?;
        // Whoever holds the mailbox may sign in again at once.
        self.store.clear_failures(&account_key(user_id)).await?;
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
