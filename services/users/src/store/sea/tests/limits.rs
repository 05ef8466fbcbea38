//! Quota reservations, login throttling, and concurrent writers.

use chrono::{Duration, Utc};

use super::{new_user, on_each_backend, session};
use crate::store::{Reserved, Rotated, UsersStore};

#[tokio::test]
async fn reservations_respect_the_limit_once_per_id() {
    on_each_backend(async |s| {
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
            reserve(2, "r1", "2026-11").await.unwrap(),
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
    })
    .await;
}

#[tokio::test]
async fn a_reservation_id_is_for_one_request() {
    on_each_backend(async |s| {
        let ada = s
            .create_user(new_user("ada", "ada@example.org"))
            .await
            .unwrap()
            .id;
        let bob = s
            .create_user(new_user("bob", "bob@example.org"))
            .await
            .unwrap()
            .id;
        let p = "2026-11";
        assert_eq!(
            s.reserve(ada, "jobs", p, 2, 3, "r1").await.unwrap(),
            Reserved::Created
        );
        // The same id for another amount, user or kind.
        for (user, kind, amount) in [(ada, "jobs", 1), (bob, "jobs", 2), (ada, "storage", 2)] {
            assert_eq!(
                s.reserve(user, kind, p, amount, 3, "r1").await.unwrap(),
                Reserved::Mismatch,
                "{user} {kind} {amount}"
            );
        }
        // A retry stays a retry when the limit has dropped since.
        assert_eq!(
            s.reserve(ada, "jobs", p, 2, 1, "r1").await.unwrap(),
            Reserved::Existing
        );
        assert_eq!(s.usage(ada, "jobs", p).await.unwrap(), 2);
        assert_eq!(s.usage(bob, "jobs", p).await.unwrap(), 0);
        assert_eq!(s.usage(ada, "storage", p).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn an_amount_over_the_limit_never_fits() {
    on_each_backend(async |s| {
        let id = s
            .create_user(new_user("ada", "ada@example.org"))
            .await
            .unwrap()
            .id;
        let p = "2026-11";
        // Nothing used yet, nothing written.
        assert_eq!(
            s.reserve(id, "jobs", p, 4, 3, "big").await.unwrap(),
            Reserved::Exceeded { used: 0 }
        );
        assert!(!s.release("big").await.unwrap());
        assert_eq!(
            s.reserve(id, "jobs", p, 1, 3, "big").await.unwrap(),
            Reserved::Created
        );
        assert_eq!(
            s.reserve(id, "jobs", p, i64::MAX, 3, "huge").await.unwrap(),
            Reserved::Exceeded { used: 1 }
        );
        assert!(!s.release("huge").await.unwrap());
        // Near the top of the range: `used + amount` would overflow.
        let max = i64::MAX;
        assert_eq!(
            s.reserve(id, "storage", p, max - 1, max, "s1")
                .await
                .unwrap(),
            Reserved::Created
        );
        for (amount, rid) in [(2, "s2"), (max, "s3")] {
            assert_eq!(
                s.reserve(id, "storage", p, amount, max, rid).await.unwrap(),
                Reserved::Exceeded { used: max - 1 }
            );
            assert!(!s.release(rid).await.unwrap());
        }
        assert_eq!(
            s.reserve(id, "storage", p, 1, max, "s4").await.unwrap(),
            Reserved::Created
        );
        assert_eq!(s.usage(id, "storage", p).await.unwrap(), max);
        assert_eq!(s.usage(id, "jobs", p).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn failures_lock_and_windows_restart() {
    on_each_backend(async |s| {
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
    })
    .await;
}

#[tokio::test]
async fn concurrent_writers_never_overshoot() {
    on_each_backend(async |s| {
        let id = s
            .create_user(new_user("ada", "ada@example.org"))
            .await
            .unwrap()
            .id;
        session(s, id, "s1", "t1").await;
        let mut tasks = Vec::new();
        for n in 0..12 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let reserved = s
                    .reserve(id, "jobs", "2026-11", 1, 5, &format!("r{n}"))
                    .await;
                let later = crate::store::RefreshLifetime {
                    ttl: Duration::days(2),
                    max_age: Duration::days(90),
                };
                let rotated = s.rotate_refresh("t1", &format!("n{n}"), later).await;
                let hour = Duration::hours(1);
                s.record_failure("addr:x", hour, 99, hour).await.unwrap();
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
        assert_eq!(s.usage(id, "jobs", "2026-11").await.unwrap(), 5);
        let counted = s.throttle(&["addr:x".to_owned()]).await.unwrap();
        assert_eq!(counted[0].1.failures, 12);
    })
    .await;
}
