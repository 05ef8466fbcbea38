//! Users service: monthly job and storage quotas, reserved and released by Jobs.

use fedimpute_common::auth::Component;
use fedimpute_proto::users as pb;
use fedimpute_tests::{
    backends,
    harness::users::{TestUsers, as_component, with_token},
};
use tonic::Code;

fn reserve(user_id: i64, kind: pb::QuotaKind, amount: i64, id: &str) -> pb::ReserveQuotaRequest {
    pb::ReserveQuotaRequest {
        user_id,
        kind: kind as i32,
        amount,
        reservation_id: id.into(),
    }
}

#[tokio::test]
async fn quotas_are_reserved_atomically_idempotently_and_released() {
    for db in backends().await {
        let backend = db.backend;
        let users = TestUsers::spawn(db).await;
        let jobs = users.auth().jobs.token(Component::Users);
        let (user, token) = users.researcher("quota-user").await;
        let mut client = users.client().await;
        let jobs_kind = pb::QuotaKind::Jobs;

        for i in 1..=10 {
            let reply = client
                .reserve_quota(as_component(
                    reserve(user.id, jobs_kind, 1, &format!("job-{i}")),
                    &jobs,
                    None,
                ))
                .await
                .unwrap_or_else(|e| panic!("{backend}: reserve job-{i}: {e:?}"))
                .into_inner();
            assert!(reply.created, "{backend}");
            assert_eq!(reply.quota.expect("a quota").monthly_jobs_used, i);
        }
        let over = client
            .reserve_quota(as_component(
                reserve(user.id, jobs_kind, 1, "job-11"),
                &jobs,
                None,
            ))
            .await
            .unwrap_err();
        assert_eq!(over.code(), Code::ResourceExhausted, "{backend}: {over:?}");

        let again = client
            .reserve_quota(as_component(
                reserve(user.id, jobs_kind, 1, "job-3"),
                &jobs,
                None,
            ))
            .await
            .expect("a retried reservation succeeds")
            .into_inner();
        assert!(!again.created, "{backend}");
        assert_eq!(again.quota.expect("a quota").monthly_jobs_used, 10);

        let release = |id: &str| {
            as_component(
                pb::ReleaseQuotaRequest {
                    reservation_id: id.into(),
                },
                &jobs,
                None,
            )
        };
        let released = client
            .release_quota(release("job-3"))
            .await
            .expect("release")
            .into_inner();
        assert!(released.released, "{backend}");
        let released = client
            .release_quota(release("job-3"))
            .await
            .expect("release again")
            .into_inner();
        assert!(!released.released, "{backend}");

        let reply = client
            .reserve_quota(as_component(
                reserve(user.id, jobs_kind, 1, "job-12"),
                &jobs,
                None,
            ))
            .await
            .expect("a freed slot is reserved")
            .into_inner();
        assert!(reply.created);

        let quota = client
            .get_my_quota(with_token(pb::GetMyQuotaRequest {}, &token))
            .await
            .expect("my quota")
            .into_inner()
            .quota
            .expect("a quota");
        assert_eq!(quota.monthly_jobs_used, 10, "{backend}: {quota:?}");
        assert_eq!(quota.monthly_job_limit, 10, "{backend}");
        assert_eq!(
            quota.period,
            chrono::Utc::now().format("%Y-%m").to_string(),
            "{backend}"
        );
        assert_eq!(quota.storage_limit_bytes, 1 << 30, "{backend}");

        // Storage: over the 1 GiB limit.
        let too_big = client
            .reserve_quota(as_component(
                reserve(user.id, pb::QuotaKind::Storage, 2 << 30, "file-1"),
                &jobs,
                None,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            too_big.code(),
            Code::ResourceExhausted,
            "{backend}: {too_big:?}"
        );
        let fits = client
            .reserve_quota(as_component(
                reserve(user.id, pb::QuotaKind::Storage, 1 << 20, "file-2"),
                &jobs,
                None,
            ))
            .await
            .expect("a small file fits")
            .into_inner();
        assert_eq!(
            fits.quota.expect("a quota").storage_used_bytes,
            1 << 20,
            "{backend}"
        );

        // Concurrency: 20 distinct reservations for a fresh user, limit 10.
        let (fresh, fresh_token) = users.researcher("quota-racer").await;
        let calls = (0..20).map(|i| {
            let mut client = client.clone();
            let jobs = jobs.clone();
            async move {
                client
                    .reserve_quota(as_component(
                        reserve(fresh.id, jobs_kind, 1, &format!("race-{i}")),
                        &jobs,
                        None,
                    ))
                    .await
            }
        });
        let results = futures::future::join_all(calls).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 10, "{backend}: {results:?}");
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(r.code(), Code::ResourceExhausted, "{backend}: {r:?}");
        }
        let quota = client
            .get_my_quota(with_token(pb::GetMyQuotaRequest {}, &fresh_token))
            .await
            .expect("my quota")
            .into_inner()
            .quota
            .expect("a quota");
        assert_eq!(quota.monthly_jobs_used, 10, "{backend}");
        users.shutdown().await;
    }
}

fn notice(user_id: i64, key: &str) -> pb::NotifyUserRequest {
    pb::NotifyUserRequest {
        user_id,
        dedupe_key: key.into(),
        subject: "Your imputation job has completed".into(),
        body: "Job 'chr20' completed on H3Africa.".into(),
    }
}

#[tokio::test]
async fn notifications_are_mailed_once_per_key_and_honour_the_preference() {
    for db in backends().await {
        let relay = fedimpute_tests::fakes::smtp::FakeSmtp::start().await;
        let url = relay.url();
        let users = TestUsers::spawn_with(db, |s| {
            s.mail.smtp = Some(fedimpute_tests::harness::users::smtp(&url));
        })
        .await;
        let (user, token) = users.researcher("notified").await;
        let jobs = users.auth().jobs.token(Component::Users);
        let mut client = users.client().await;

        // Arrange / Act: the same key twice, then another key.
        let first = client
            .notify_user(as_component(
                notice(user.id, "job:a:1:completed"),
                &jobs,
                None,
            ))
            .await
            .expect("queued")
            .into_inner();
        let again = client
            .notify_user(as_component(
                notice(user.id, "job:a:1:completed"),
                &jobs,
                None,
            ))
            .await
            .expect("answered")
            .into_inner();
        assert!(first.queued);
        assert_eq!((again.queued, again.reason.as_str()), (false, "duplicate"));
        let mails = relay
            .wait_for_messages(1, std::time::Duration::from_secs(15))
            .await;
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert_eq!(mails[0].to, vec![user.email.clone()]);
        assert_eq!(mails[0].subject(), "Your imputation job has completed");
        assert!(mails[0].body().contains("Job 'chr20' completed"));

        // The user turns notifications off: nothing more is queued.
        client
            .update_my_profile(with_token(
                pb::UpdateMyProfileRequest {
                    profile: Some(pb::Profile {
                        email_notifications: Some(false),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["email_notifications".into()],
                    }),
                },
                &token,
            ))
            .await
            .expect("profile updated");
        let off = client
            .notify_user(as_component(notice(user.id, "job:a:1:failed"), &jobs, None))
            .await
            .expect("answered")
            .into_inner();
        assert_eq!(
            (off.queued, off.reason.as_str()),
            (false, "notifications_off")
        );

        // Only the Jobs component may ask; a bad request names its fields.
        let denied = client
            .notify_user(with_token(notice(user.id, "job:b"), &token))
            .await
            .expect_err("an end user cannot send mail");
        assert_eq!(denied.code(), Code::PermissionDenied);
        let bad = client
            .notify_user(as_component(
                pb::NotifyUserRequest {
                    user_id: user.id,
                    ..Default::default()
                },
                &jobs,
                None,
            ))
            .await
            .expect_err("empty fields refused");
        assert_eq!(bad.code(), Code::InvalidArgument);
        for field in ["dedupe_key", "subject", "body"] {
            assert!(bad.message().contains(field), "{}", bad.message());
        }
        assert_eq!(relay.messages().len(), 1);
        users.shutdown().await;
        relay.stop().await;
    }
}
