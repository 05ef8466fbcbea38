//! Accounts, roles, sessions and refresh tokens.

use chrono::{Duration, Utc};
use fedimpute_common::auth::Role;

use super::{conflict, new_user, on_each_backend, session};
use crate::store::{NewGrant, Rotated, UserFilter, UserPatch, UsersStore};

#[tokio::test]
async fn users_are_unique_regardless_of_case() {
    on_each_backend(async |s| {
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
        // A second admin, so that bob may be deactivated.
        s.set_grants(ada.id, std::slice::from_ref(&admin))
            .await
            .unwrap();
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
        assert_eq!(s.active_admins(Utc::now()).await.unwrap(), [ada.id]);
        assert!(s.delete_user(bob.id).await.unwrap());
        assert!(s.session_of_token("t1").await.unwrap().is_none());
        assert!(s.grants(bob.id).await.unwrap().is_empty());
        assert_eq!(s.count_users().await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_session() {
    on_each_backend(async |s| {
        let user = s
            .create_user(new_user("ada", "ada@example.org"))
            .await
            .unwrap();
        session(s, user.id, "s1", "t1").await;
        let later = crate::store::RefreshLifetime {
            ttl: Duration::days(2),
            max_age: Duration::days(90),
        };
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
    })
    .await;
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one() {
    on_each_backend(async |s| {
        let admin = |name: &str| {
            let mut user = new_user(name, &format!("{name}@example.org"));
            user.grants = vec![NewGrant {
                role: Role::Admin,
                service_id: None,
                expires_at: None,
                granted_by: None,
            }];
            user
        };
        let a = s.create_user(admin("root-a")).await.unwrap().id;
        let b = s.create_user(admin("root-b")).await.unwrap().id;
        let researcher = [NewGrant {
            role: Role::Researcher,
            service_id: None,
            expires_at: None,
            granted_by: None,
        }];
        let deactivate = UserPatch {
            is_active: Some(false),
            ..UserPatch::default()
        };
        // Each admin removes the other by a different route, concurrently.
        let (demoted, deactivated) =
            tokio::join!(s.set_grants(a, &researcher), s.update_user(b, &deactivate));
        let refused = [demoted.is_err(), deactivated.is_err()];
        assert_eq!(refused.iter().filter(|r| **r).count(), 1, "{refused:?}");
        assert!(matches!(
            demoted.err().or(deactivated.err()),
            Some(crate::store::StoreError::LastAdmin)
        ));
        assert_eq!(s.active_admins(Utc::now()).await.unwrap().len(), 1);
        // And the last one cannot be deleted either.
        let last = s.active_admins(Utc::now()).await.unwrap()[0];
        assert!(matches!(
            s.delete_user(last).await,
            Err(crate::store::StoreError::LastAdmin)
        ));
        // Without admins to begin with, nothing is guarded.
        let plain = s
            .create_user(new_user("plain", "plain@example.org"))
            .await
            .unwrap()
            .id;
        s.set_grants(plain, &researcher).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_however_often_refreshed() {
    on_each_backend(async |s| {
        let id = s
            .create_user(new_user("long-lived", "long@example.org"))
            .await
            .unwrap()
            .id;
        session(s, id, "s-old", "a1").await;
        let lifetime = |max_age| crate::store::RefreshLifetime {
            ttl: Duration::days(30),
            max_age,
        };
        // Within its maximum age the session rotates...
        assert!(matches!(
            s.rotate_refresh("a1", "a2", lifetime(Duration::days(1)))
                .await
                .unwrap(),
            Rotated::Ok { .. }
        ));
        // ...past it (here: a maximum age already spent), it is refused.
        assert_eq!(
            s.rotate_refresh("a2", "a3", lifetime(Duration::zero()))
                .await
                .unwrap(),
            Rotated::Refused
        );
    })
    .await;
}
