//! Logins: rehashing on login, and sessions only for the hash verified.

use super::{new_session, new_user, on_each_backend};
use crate::store::{Rehash, UserPatch, UsersStore};

#[tokio::test]
async fn a_rehash_applies_only_to_the_hash_verified() {
    on_each_backend(async |s| {
        let id = s
            .create_user(new_user("ada", "ada@example.org"))
            .await
            .unwrap()
            .id;
        let hash_of = async |id| s.user(id).await.unwrap().unwrap().password_hash;
        s.record_login(id, None).await.unwrap();
        let first = s.user(id).await.unwrap().unwrap();
        assert!(first.last_login.is_some());
        assert_eq!(first.password_hash, "hash");

        let rehash = Rehash {
            verified: "hash",
            new: "hash2",
        };
        s.record_login(id, Some(rehash)).await.unwrap();
        assert_eq!(hash_of(id).await, "hash2");
        // The password changed between verifying and recording: the change
        // wins, the login is still stamped.
        assert!(s.set_password(id, "changed", None).await.unwrap());
        let before = s.user(id).await.unwrap().unwrap().last_login;
        let stale = Rehash {
            verified: "hash2",
            new: "hash3",
        };
        s.record_login(id, Some(stale)).await.unwrap();
        let after = s.user(id).await.unwrap().unwrap();
        assert_eq!(after.password_hash, "changed");
        assert!(after.last_login >= before);
        // No user: nothing happens, no error.
        s.record_login(9999, Some(stale)).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_session_needs_an_active_user_with_the_hash_verified() {
    on_each_backend(async |s| {
        let id = s
            .create_user(new_user("ada", "ada@example.org"))
            .await
            .unwrap()
            .id;
        assert!(
            s.create_session(new_session(id, "s1", "t1"), "hash")
                .await
                .unwrap()
        );
        assert!(s.session_live("s1").await.unwrap());
        assert_eq!(
            s.session_of_token("t1").await.unwrap(),
            Some((id, "s1".to_owned()))
        );

        // The password changed after the hash was verified.
        assert!(s.set_password(id, "changed", None).await.unwrap());
        assert!(
            !s.create_session(new_session(id, "s2", "t2"), "hash")
                .await
                .unwrap()
        );
        assert!(!s.session_live("s2").await.unwrap());
        assert!(s.session_of_token("t2").await.unwrap().is_none());
        assert!(
            s.create_session(new_session(id, "s3", "t3"), "changed")
                .await
                .unwrap()
        );

        // Deactivated meanwhile.
        let deactivate = UserPatch {
            is_active: Some(false),
            ..UserPatch::default()
        };
        s.update_user(id, &deactivate).await.unwrap().unwrap();
        assert!(
            !s.create_session(new_session(id, "s4", "t4"), "changed")
                .await
                .unwrap()
        );
        assert!(!s.session_live("s4").await.unwrap());
        assert!(s.session_of_token("t4").await.unwrap().is_none());

        // No such user.
        assert!(
            !s.create_session(new_session(9999, "s5", "t5"), "hash")
                .await
                .unwrap()
        );
        assert!(s.session_of_token("t5").await.unwrap().is_none());
    })
    .await;
}
