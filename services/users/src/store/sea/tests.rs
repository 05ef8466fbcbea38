//! The store on SQLite, in a temporary file.

use chrono::{Duration, Utc};
use fedimpute_common::auth::Role;
use fedimpute_users_migration::{Migrator, MigratorTrait};

use super::SeaOrmStore;
use crate::store::{
    AuditFilter, NewAudit, NewCredential, NewGrant, NewMail, NewSession, NewUser, ProfileFields,
    Reserved, Rotated, StoreError, UserFilter, UserPatch, UsersStore, Verification,
};

/// A migrated database in a directory of its own, removed on drop.
struct TempDb {
    dir: std::path::PathBuf,
    store: SeaOrmStore,
}

impl TempDb {
    async fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("fedimpute-users-{:x}", rand::random::<u64>()));
        let url = format!("sqlite://{}?mode=rwc", dir.join("users.db").display());
        let db = fedimpute_common::db::connect(&url, 4).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        Self {
            dir,
            store: SeaOrmStore::new(db),
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn new_user(username: &str, email: &str) -> NewUser {
    NewUser {
        username: username.into(),
        email: email.into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        password_hash: "hash".into(),
        is_active: true,
        profile: ProfileFields {
            institution: "Analytical Engines".into(),
            ..ProfileFields::default()
        },
        monthly_job_limit: 10,
        storage_limit_bytes: 1 << 30,
        grants: vec![NewGrant {
            role: Role::Researcher,
            service_id: None,
            expires_at: None,
            granted_by: None,
        }],
    }
}

fn conflict(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Conflict(name)) => name,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn session(store: &SeaOrmStore, user_id: i64, id: &str, token: &str) {
    let session = NewSession {
        id: id.into(),
        user_id,
        ip_address: "127.0.0.1".into(),
        user_agent: "test".into(),
        token_hash: token.into(),
        expires_at: Utc::now() + Duration::days(1),
    };
    store.create_session(session).await.unwrap();
}

#[tokio::test]
async fn users_are_unique_regardless_of_case() {
    let t = TempDb::new().await;
    let s = &t.store;
    let ada = s
        .create_user(new_user("Ada", "Ada@Example.org"))
        .await
        .unwrap();
    assert_eq!(ada.username, "Ada");
    let taken = s.create_user(new_user("ADA", "other@example.org")).await;
    assert_eq!(conflict(taken), "users_username_key");
    let taken = s.create_user(new_user("bob", "ada@EXAMPLE.org")).await;
    assert_eq!(conflict(taken), "users_email_key");
    let bob = s
        .create_user(new_user("bob", "bob@example.org"))
        .await
        .unwrap();

    assert_eq!(s.user_by_login("ada").await.unwrap().unwrap().id, ada.id);
    let by_email = s.user_by_login("ada@example.org").await.unwrap().unwrap();
    assert_eq!(by_email.id, ada.id);
    assert_eq!(
        s.user_by_email("bob@example.org")
            .await
            .unwrap()
            .unwrap()
            .id,
        bob.id
    );
    let patch = UserPatch {
        email: Some("ADA@example.org".into()),
        ..UserPatch::default()
    };
    assert_eq!(
        conflict(s.update_user(bob.id, &patch).await),
        "users_email_key"
    );

    // search_text follows the changes.
    let patch = UserPatch {
        last_name: Some("Byron_100%".into()),
        ..UserPatch::default()
    };
    s.update_user(ada.id, &patch).await.unwrap().unwrap();
    let search = |q: &str| UserFilter {
        q: Some(q.into()),
        limit: 10,
        ..UserFilter::default()
    };
    let found = s.list_users(&search("byron_100%")).await.unwrap();
    assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), [ada.id]);
    assert!(
        s.list_users(&search("byron_1000"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.list_users(&search("lovelace")).await.unwrap().len(), 1);
    assert!(s.update_user(9999, &patch).await.unwrap().is_none());

    // Roles, admins, deactivation.
    let admin = NewGrant {
        role: Role::Admin,
        service_id: None,
        expires_at: None,
        granted_by: Some(ada.id),
    };
    s.set_grants(bob.id, std::slice::from_ref(&admin))
        .await
        .unwrap();
    assert_eq!(s.active_admins(Utc::now()).await.unwrap(), [bob.id]);
    let admins = UserFilter {
        role: Some(Role::Admin),
        limit: 10,
        ..UserFilter::default()
    };
    assert_eq!(s.list_users(&admins).await.unwrap().len(), 1);
    session(s, bob.id, "s1", "t1").await;
    let patch = UserPatch {
        is_active: Some(false),
        ..UserPatch::default()
    };
    assert!(
        !s.update_user(bob.id, &patch)
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
    assert!(!s.session_live("s1").await.unwrap());
    assert!(s.active_admins(Utc::now()).await.unwrap().is_empty());
    assert!(s.delete_user(bob.id).await.unwrap());
    assert!(s.session_of_token("t1").await.unwrap().is_none());
    assert!(s.grants(bob.id).await.unwrap().is_empty());
    assert_eq!(s.count_users().await.unwrap(), 1);
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_session() {
    let t = TempDb::new().await;
    let s = &t.store;
    let user = s
        .create_user(new_user("ada", "ada@example.org"))
        .await
        .unwrap();
    session(s, user.id, "s1", "t1").await;
    let later = Utc::now() + Duration::days(2);
    let ok = Rotated::Ok {
        user_id: user.id,
        session_id: "s1".into(),
    };
    assert_eq!(s.rotate_refresh("t1", "t2", later).await.unwrap(), ok);
    assert_eq!(
        s.rotate_refresh("nope", "x", later).await.unwrap(),
        Rotated::Refused
    );
    let reused = Rotated::Reused {
        user_id: user.id,
        session_id: "s1".into(),
    };
    assert_eq!(s.rotate_refresh("t1", "t3", later).await.unwrap(), reused);
    assert!(!s.session_live("s1").await.unwrap());
    // The newer token dies with its session.
    assert_eq!(
        s.rotate_refresh("t2", "t4", later).await.unwrap(),
        Rotated::Refused
    );
    assert_eq!(
        s.session_of_token("t2").await.unwrap(),
        Some((user.id, "s1".to_owned()))
    );
    assert!(s.session_of_token("t3").await.unwrap().is_none());
}

#[tokio::test]
async fn reservations_respect_the_limit_once_per_id() {
    let t = TempDb::new().await;
    let s = &t.store;
    let id = s
        .create_user(new_user("ada", "ada@example.org"))
        .await
        .unwrap()
        .id;
    let reserve = |amount, id_: &'static str, period: &'static str| {
        s.reserve(id, "jobs", period, amount, 3, id_)
    };
    assert_eq!(
        reserve(2, "r1", "2026-11").await.unwrap(),
        Reserved::Created
    );
    let exceeded = Reserved::Exceeded { used: 2 };
    assert_eq!(reserve(2, "r2", "2026-11").await.unwrap(), exceeded);
    // The refused reservation was not kept.
    assert_eq!(
        reserve(1, "r2", "2026-11").await.unwrap(),
        Reserved::Created
    );
    assert_eq!(
        reserve(1, "r1", "2026-11").await.unwrap(),
        Reserved::Existing
    );
    assert_eq!(s.usage(id, "jobs", "2026-11").await.unwrap(), 3);
    assert!(s.release("r1").await.unwrap());
    assert!(!s.release("r1").await.unwrap());
    assert!(!s.release("unknown").await.unwrap());
    assert_eq!(s.usage(id, "jobs", "2026-11").await.unwrap(), 1);
    // A new period starts from zero.
    assert_eq!(s.usage(id, "jobs", "2026-12").await.unwrap(), 0);
    assert_eq!(
        reserve(3, "r3", "2026-12").await.unwrap(),
        Reserved::Created
    );
    assert_eq!(s.usage(id, "jobs", "2026-11").await.unwrap(), 1);
}

#[tokio::test]
async fn failures_lock_and_windows_restart() {
    let t = TempDb::new().await;
    let s = &t.store;
    let (hour, lockout) = (Duration::hours(1), Duration::minutes(10));
    for n in 1..=2 {
        let state = s
            .record_failure("account:ada", hour, 3, lockout)
            .await
            .unwrap();
        assert_eq!((state.failures, state.locked_until), (n, None));
    }
    let locked = s
        .record_failure("account:ada", hour, 3, lockout)
        .await
        .unwrap();
    assert_eq!(locked.failures, 3);
    assert!(locked.locked_until.is_some_and(|at| at > Utc::now()));
    // A window that has ended starts again at one; the lock stays.
    let state = s
        .record_failure("account:ada", Duration::zero(), 3, lockout)
        .await
        .unwrap();
    assert_eq!(state.failures, 1);
    assert_eq!(state.locked_until, locked.locked_until);
    s.record_failure("addr:::1", hour, 3, lockout)
        .await
        .unwrap();
    let keys = ["account:ada".to_owned(), "addr:::1".to_owned()];
    assert_eq!(s.throttle(&keys).await.unwrap().len(), 2);
    s.clear_failures("account:ada").await.unwrap();
    let left = s.throttle(&keys).await.unwrap();
    assert_eq!(
        left.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["addr:::1"]
    );
}

#[tokio::test]
async fn a_reset_token_works_once() {
    let t = TempDb::new().await;
    let s = &t.store;
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
    };
    let expires = Utc::now() + Duration::hours(1);
    s.create_reset(id, "old", expires, mail()).await.unwrap();
    s.create_reset(id, "new", expires, mail()).await.unwrap();
    assert!(s.reset_user("old").await.unwrap().is_none());
    assert_eq!(s.reset_user("new").await.unwrap().unwrap().id, id);
    assert_eq!(s.consume_reset("old", "h2").await.unwrap(), None);
    assert_eq!(s.consume_reset("new", "h2").await.unwrap(), Some(id));
    assert_eq!(s.consume_reset("new", "h3").await.unwrap(), None);
    assert_eq!(s.user(id).await.unwrap().unwrap().password_hash, "h2");
    assert!(!s.session_live("s1").await.unwrap());

    // Both mails were queued; one fails for good, one is retried later.
    let due = s.due_mail(10).await.unwrap();
    assert_eq!(due.len(), 2);
    s.mail_failed(due[0].id, "refused", None).await.unwrap();
    let retry = Utc::now() + Duration::minutes(5);
    s.mail_failed(due[1].id, "timeout", Some(retry))
        .await
        .unwrap();
    assert!(s.due_mail(10).await.unwrap().is_empty());
    assert_eq!(s.next_mail_due().await.unwrap(), Some(retry));
}

#[tokio::test]
async fn putting_a_credential_again_resets_its_verification() {
    let t = TempDb::new().await;
    let s = &t.store;
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
        expires_at: Some(Utc::now() + Duration::days(30)),
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
}

#[tokio::test]
async fn audit_is_newest_first_and_filtered() {
    let t = TempDb::new().await;
    let s = &t.store;
    let start = Utc::now();
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
}

#[tokio::test]
async fn concurrent_writers_never_overshoot() {
    let t = TempDb::new().await;
    let id = t
        .store
        .create_user(new_user("ada", "ada@example.org"))
        .await
        .unwrap()
        .id;
    session(&t.store, id, "s1", "t1").await;
    let mut tasks = Vec::new();
    for n in 0..12 {
        let s = t.store.clone();
        tasks.push(tokio::spawn(async move {
            let reserved = s
                .reserve(id, "jobs", "2026-11", 1, 5, &format!("r{n}"))
                .await;
            let later = Utc::now() + Duration::days(2);
            let rotated = s.rotate_refresh("t1", &format!("n{n}"), later).await;
            (reserved.unwrap(), rotated.unwrap())
        }));
    }
    let (mut created, mut ok, mut reused) = (0, 0, 0);
    for task in tasks {
        let (reserved, rotated) = task.await.unwrap();
        created += usize::from(reserved == Reserved::Created);
        match rotated {
            Rotated::Ok { .. } => ok += 1,
            Rotated::Reused { .. } => reused += 1,
            Rotated::Refused => {}
        }
    }
    assert_eq!((created, ok, reused), (5, 1, 11));
    assert_eq!(t.store.usage(id, "jobs", "2026-11").await.unwrap(), 5);
}
