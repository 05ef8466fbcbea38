//! Mail to a user on behalf of the Jobs component (a job's outcome): queued
//! through the outbox, honouring the user's preference, once per key.

use fedimpute_common::{
    auth::{Component, Origin},
    status::Violations,
};
use fedimpute_proto::users as pb;

use super::{Users, require_component};
use crate::{
    error::{Error, Result},
    store::NewMail,
};

const MAX_SUBJECT: usize = 200;
const MAX_BODY: usize = 64 * 1024;
const MAX_KEY: usize = 200;

impl Users {
    pub(crate) async fn notify(
        &self,
        origin: &Origin,
        r: pb::NotifyUserRequest,
    ) -> Result<pb::NotifyUserResponse> {
        require_component(origin, Component::Jobs)?;
        let mut violations = Violations::new();
        let key = r.dedupe_key.trim();
        if key.is_empty() || key.chars().count() > MAX_KEY {
            violations.add("dedupe_key", format!("must be 1–{MAX_KEY} characters"));
        }
        let subject = r.subject.trim();
        if subject.is_empty()
            || subject.chars().count() > MAX_SUBJECT
            || subject.chars().any(char::is_control)
        {
            violations.add(
                "subject",
                format!("must be one line of 1–{MAX_SUBJECT} characters"),
            );
        }
        if r.body.is_empty() || r.body.len() > MAX_BODY {
            violations.add("body", format!("must be 1–{MAX_BODY} bytes"));
        }
        violations.finish()?;
        let user = self
            .store
            .user(r.user_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {} does not exist", r.user_id)))?;
        let skipped = |reason: &str| {
            Ok(pb::NotifyUserResponse {
                queued: false,
                reason: reason.to_owned(),
            })
        };
        if !user.is_active {
            return skipped("inactive");
        }
        if !user.profile.email_notifications {
            return skipped("notifications_off");
        }
        let queued = self
            .store
            .enqueue_mail(NewMail {
                recipient: user.email.clone(),
                subject: subject.to_owned(),
                // Sealed at rest like every queued mail.
                body: crate::mail::seal(&self.keyring, &r.body),
                dedupe_key: Some(key.to_owned()),
            })
            .await?;
        if !queued {
            return skipped("duplicate");
        }
        self.mail_wake.notify_one();
        Ok(pb::NotifyUserResponse {
            queued: true,
            reason: String::new(),
        })
    }
}
