//! Password resets and the outbox, credentials, the audit log.

use chrono::{Duration, SubsecRound, Utc};
use sea_orm::EntityTrait;

use super::{new_user, on_each_backend, session};
use crate::store::{
    AuditFilter, NewAudit, NewCredential, NewMail, UsersStore, Verification, entity::mail_outbox,
};

#[tokio::test]
async fn a_reset_token_works_once() {
    on_each_backend(async |s| {
        let id = s
            .create_user(new_user("ada", "ada@example.org"))
            .await
            .unwrap()
            .id;
        session(s, id, "s1", "t1").await;
        let mail = || NewMail {
            recipient: "ada@example.org".into(),
            subject: "Reset".into(),
            body: "...".into(),
            dedupe_key: None,
        };
        let expires = Utc::now() + Duration::hours(1);
        s.create_reset(id, "old", expires, mail()).await.unwrap();
        s.create_reset(id, "new", expires, mail()).await.unwrap();
        // Both links work until one is used; then neither does.
        assert_eq!(s.reset_user("old").await.unwrap().unwrap().id, id);
        assert_eq!(s.reset_user("new").await.unwrap().unwrap().id, id);
        assert_eq!(s.consume_reset("new", "h2").await.unwrap(), Some(id));
        assert_eq!(s.consume_reset("new", "h3").await.unwrap(), None);
        assert_eq!(s.consume_reset("old", "h3").await.unwrap(), None);
        assert_eq!(s.user(id).await.unwrap().unwrap().password_hash, "h2");
        assert!(!s.session_live("s1").await.unwrap());

        // Both mails were queued; one fails for good, one is retried later.
        let due = s.due_mail(10, Duration::minutes(5)).await.unwrap();
        assert_eq!(due.len(), 2);
        // Claimed: another sender gets nothing until the lease ends.
        assert!(
            s.due_mail(10, Duration::minutes(5))
                .await
                .unwrap()
                .is_empty()
        );
        s.mail_failed(due[0].id, "refused", None).await.unwrap();
        // Whole seconds: PostgreSQL keeps microseconds.
        let retry = (Utc::now() + Duration::minutes(5)).trunc_subsecs(0);
        s.mail_failed(due[1].id, "timeout", Some(retry))
            .await
            .unwrap();
        assert!(
            s.due_mail(10, Duration::minutes(5))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.next_mail_due().await.unwrap(), Some(retry));
    })
    .await;
}

#[tokio::test]
async fn sent_mail_loses_its_body() {
    on_each_backend(async |s| {
        for subject in ["reset", "other"] {
            let mail = NewMail {
                recipient: "ada@example.org".into(),
                subject: subject.into(),
                body: "https://example.org/reset#secret".into(),
                dedupe_key: None,
            };
            s.enqueue_mail(mail).await.unwrap();
        }
        let due = s.due_mail(10, Duration::minutes(5)).await.unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(due[0].body, "https://example.org/reset#secret");
        s.mail_sent(due[0].id).await.unwrap();
        let row = |id| async move {
            mail_outbox::Entity::find_by_id(id)
                .one(&s.db)
                .await
                .unwrap()
                .unwrap()
        };
        let sent = row(due[0].id).await;
        assert!(sent.sent_at.is_some());
        assert_eq!((sent.body.as_str(), sent.attempts), ("", 1));
        // The other one keeps its body until it is sent.
        let unsent = row(due[1].id).await;
        assert!(unsent.sent_at.is_none());
        assert_eq!(unsent.body, "https://example.org/reset#secret");
    })
    .await;
}

#[tokio::test]
async fn putting_a_credential_again_resets_its_verification() {
    on_each_backend(async |s| {
        let id = s
            .create_user(new_user("ada", "ada@example.org"))
            .await
            .unwrap()
            .id;
        let put = |sealed: &str| NewCredential {
            user_id: id,
            service_id: 7,
            credential_type: "api_token".into(),
            label: "main".into(),
            hint: "abcd…wxyz".into(),
            has_api_token: true,
            has_oauth_token: false,
            has_basic_auth: false,
            sealed: sealed.into(),
            expires_at: None,
        };
        let (first, created) = s.put_credential(put("v1")).await.unwrap();
        assert!(created && !first.is_verified);
        let ok = Verification {
            verified: true,
            error: String::new(),
            expires_at: Some((Utc::now() + Duration::days(30)).trunc_subsecs(0)),
        };
        let verified = s
            .record_verification(id, 7, "v1", &ok)
            .await
            .unwrap()
            .unwrap();
        assert!(verified.is_verified && verified.last_verified_at.is_some());
        assert_eq!(verified.expires_at, ok.expires_at);
        s.touch_credential(id, 7).await.unwrap();
        let (second, created) = s.put_credential(put("v2")).await.unwrap();
        assert!(!created);
        assert!(!second.is_verified && second.last_verified_at.is_none());
        assert_eq!((second.sealed.as_str(), second.expires_at), ("v2", None));
        assert_eq!(second.created_at, first.created_at);
        assert!(second.last_used_at.is_some());
        // An outcome for the replaced value is dropped.
        assert!(
            s.record_verification(id, 7, "v1", &ok)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(s.credentials(id).await.unwrap(), [second]);
        assert!(s.delete_credential(id, 7).await.unwrap());
        assert!(s.credential(id, 7).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn audit_is_newest_first_and_filtered() {
    on_each_backend(async |s| {
        let start = Utc::now() - Duration::seconds(1);
        for (user_id, action) in [(Some(1), "login_success"), (Some(2), "login_failed")]
            .into_iter()
            .cycle()
            .take(6)
        {
            let entry = NewAudit {
                user_id,
                action: action.into(),
                resource_type: "user".into(),
                resource_id: String::new(),
                details: "{}".into(),
                ip_address: String::new(),
                user_agent: String::new(),
            };
            s.audit(entry).await.unwrap();
        }
        let list = |f: AuditFilter| async move {
            let found = s.list_audit(&AuditFilter { limit: 10, ..f }).await.unwrap();
            found.into_iter().map(|a| a.id).collect::<Vec<_>>()
        };
        assert_eq!(list(AuditFilter::default()).await, [6, 5, 4, 3, 2, 1]);
        let of_one = AuditFilter {
            user_id: Some(1),
            ..AuditFilter::default()
        };
        assert_eq!(list(of_one).await, [5, 3, 1]);
        let failed = AuditFilter {
            action: Some("login_failed".into()),
            before_id: Some(6),
            ..AuditFilter::default()
        };
        assert_eq!(list(failed).await, [4, 2]);
        let page = AuditFilter {
            limit: 2,
            ..AuditFilter::default()
        };
        assert_eq!(s.list_audit(&page).await.unwrap().len(), 2);
        let window = AuditFilter {
            start: Some(start),
            end: Some(Utc::now() + Duration::seconds(1)),
            ..AuditFilter::default()
        };
        assert_eq!(list(window).await.len(), 6);
        let future = AuditFilter {
            start: Some(Utc::now() + Duration::seconds(1)),
            ..AuditFilter::default()
        };
        assert!(list(future).await.is_empty());
        assert_eq!(
            s.purge_audit(Utc::now() + Duration::seconds(1))
                .await
                .unwrap(),
            6
        );
    })
    .await;
}

#[tokio::test]
async fn a_dedupe_key_queues_one_mail_ever() {
    on_each_backend(async |s| {
        let mail = |key: Option<&str>| NewMail {
            recipient: "ada@example.org".into(),
            subject: "Job completed".into(),
            body: "sealed".into(),
            dedupe_key: key.map(str::to_owned),
        };
        assert!(s.enqueue_mail(mail(Some("job:1:completed"))).await.unwrap());
        assert!(!s.enqueue_mail(mail(Some("job:1:completed"))).await.unwrap());
        assert!(s.enqueue_mail(mail(Some("job:1:failed"))).await.unwrap());
        // Mail without a key is never refused.
        assert!(s.enqueue_mail(mail(None)).await.unwrap());
        assert!(s.enqueue_mail(mail(None)).await.unwrap());
        let due = s.due_mail(10, Duration::minutes(5)).await.unwrap();
        assert_eq!(due.len(), 4);
    })
    .await;
}
