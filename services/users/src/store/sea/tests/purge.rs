//! Purging what has outlived its use.

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::{new_session, new_user, on_each_backend, session};
use crate::store::{NewMail, NewSession, UsersStore, entity::refresh_tokens};

#[tokio::test]
async fn purging_removes_old_rows_and_keeps_live_ones() {
    on_each_backend(async |s| {
        let id = s
            .create_user(new_user("ada", "ada@example.org"))
            .await
            .unwrap()
            .id;
        let now = Utc::now();
        let (hour, day) = (Duration::hours(1), Duration::days(1));

        // Sessions: one live (with an expired token of its own), one
        // expired, one revoked.
        session(s, id, "live", "t-live").await;
        refresh_tokens::ActiveModel {
            token_hash: Set("t-spent".into()),
            session_id: Set("live".into()),
            user_id: Set(id),
            issued_at: Set(now - day),
            expires_at: Set(now - hour),
            used_at: Set(Some(now - day)),
        }
        .insert(&s.db)
        .await
        .unwrap();
        let expired = NewSession {
            expires_at: now - hour,
            ..new_session(id, "expired", "t-expired")
        };
        assert!(s.create_session(expired, "hash").await.unwrap());
        session(s, id, "revoked", "t-revoked").await;
        assert!(s.revoke_session(id, "revoked", "logout").await.unwrap());

        // Reset tokens: one expired, one not (each queues a mail).
        let mail = |subject: &str| NewMail {
            recipient: "ada@example.org".into(),
            subject: subject.into(),
            body: "https://example.org/reset#token".into(),
            dedupe_key: None,
        };
        s.create_reset(id, "r-old", now - hour, mail("reset"))
            .await
            .unwrap();
        s.create_reset(id, "r-new", now + hour, mail("reset"))
            .await
            .unwrap();

        // Throttling: one row unlocked, one locked for a while yet.
        let lockout = Duration::minutes(10);
        s.record_failure("addr:x", hour, 99, lockout).await.unwrap();
        s.record_failure("account:ada", hour, 1, lockout)
            .await
            .unwrap();

        // Mail: sent, failed for good, to retry (the resets' stay pending).
        for subject in ["sent", "failed", "retry"] {
            s.enqueue_mail(mail(subject)).await.unwrap();
        }
        for m in s.due_mail(10, Duration::zero()).await.unwrap() {
            match m.subject.as_str() {
                "sent" => s.mail_sent(m.id).await.unwrap(),
                "failed" => s.mail_failed(m.id, "refused", None).await.unwrap(),
                "retry" => s
                    .mail_failed(m.id, "timeout", Some(now + hour))
                    .await
                    .unwrap(),
                _ => {}
            }
        }

        // Everything above happened before this.
        let before = Utc::now() + Duration::seconds(1);
        // Tokens: t-spent, t-expired, t-revoked; sessions: expired,
        // revoked; a reset; a throttle row; two mails.
        assert_eq!(s.purge_expired(before).await.unwrap(), 3 + 2 + 1 + 1 + 2);

        assert!(s.session_live("live").await.unwrap());
        assert_eq!(
            s.session_of_token("t-live").await.unwrap(),
            Some((id, "live".to_owned()))
        );
        for gone in ["t-spent", "t-expired", "t-revoked"] {
            assert!(s.session_of_token(gone).await.unwrap().is_none(), "{gone}");
        }
        assert!(!s.session_live("expired").await.unwrap());
        assert!(!s.session_live("revoked").await.unwrap());
        assert_eq!(s.reset_user("r-new").await.unwrap().unwrap().id, id);
        let keys = ["addr:x".to_owned(), "account:ada".to_owned()];
        let left = s.throttle(&keys).await.unwrap();
        assert_eq!(
            left.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["account:ada"]
        );
        // The pending mail is all there, due as before.
        let pending = s.due_mail(10, Duration::zero()).await.unwrap();
        assert_eq!(
            pending
                .iter()
                .map(|m| m.subject.as_str())
                .collect::<Vec<_>>(),
            ["reset", "reset"]
        );
        assert!(s.next_mail_due().await.unwrap().is_some());

        // Nothing more to purge.
        assert_eq!(s.purge_expired(before).await.unwrap(), 0);
    })
    .await;
}
