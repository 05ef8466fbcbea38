//! The jobs API around a job's life: checks before anything is queued,
//! monthly quotas, listing, retry with its history, delete, statistics.

use fedimpute_proto::{jobs as pb, registry as rpb, users as upb};
use fedimpute_tests::{
    backends,
    fakes::cloudgene::CloudgeneConfig,
    harness::{auth::bearer, jobs::TestPlatform},
};
use serde_json::json;
use tonic::Code;

use crate::{
    common::violated_fields,
    jobs_common::{Michigan, TINY, history},
};

async fn used(m: &Michigan, token: &str) -> i32 {
    m.platform
        .users
        .client()
        .await
        .get_my_quota(bearer(token, upb::GetMyQuotaRequest {}))
        .await
        .expect("quota")
        .into_inner()
        .quota
        .expect("a quota")
        .monthly_jobs_used
}

#[tokio::test]
async fn requests_are_checked_before_anything_is_queued() {
    for db in backends().await {
        let m = Michigan::start(db).await;
        let file = m.upload(TINY).await;
        // A panel of another service.
        let other = m
            .platform
            .service(
                "Other",
                rpb::ApiType::Michigan,
                &m.fake.base_url(),
                true,
                json!({}),
            )
            .await;
        let foreign = m
            .platform
            .panel(other.id, "Foreign", "apps@foreign@1", &[], json!({}))
            .await;
        let cases = [
            (
                pb::CreateJobRequest {
                    reference_panel_id: foreign.id.to_string(),
                    ..m.request("x", &file)
                },
                vec!["reference_panel_id"],
            ),
            (
                pb::CreateJobRequest {
                    population: "eur".into(),
                    ..m.request("x", &file)
                },
                vec!["population"],
            ),
            (
                pb::CreateJobRequest {
                    service_id: "no-such-service".into(),
                    ..m.request("x", &file)
                },
                vec!["service_id"],
            ),
            (
                pb::CreateJobRequest {
                    name: String::new(),
                    r2_filter: Some(0.5),
                    input_format: "plink".into(),
                    ..m.request("x", &file)
                },
                vec!["name", "input_format", "r2_filter"],
            ),
        ];
        for (request, fields) in cases {
            let err = m.create(request).await.expect_err("refused");
            assert_eq!(violated_fields(&err), fields, "{}", err.message());
        }
        // An inactive service takes no jobs.
        let admin = m.platform.users.admin_token().await;
        m.platform
            .registry()
            .await
            .update_service(bearer(
                &admin,
                rpb::UpdateServiceRequest {
                    id: m.service.id,
                    service: Some(rpb::Service {
                        is_active: Some(false),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["is_active".into()],
                    }),
                },
            ))
            .await
            .expect("deactivate");
        let err = m.create(m.request("x", &file)).await.expect_err("inactive");
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(err.message().contains("inactive"));
        let listed = m
            .client()
            .await
            .list_jobs(bearer(&m.token, pb::ListJobsRequest::default()))
            .await
            .expect("list")
            .into_inner()
            .jobs;
        assert!(listed.is_empty(), "nothing was queued");
        assert_eq!(used(&m, &m.token).await, 0, "no quota spent");
        m.shutdown().await;
    }
}

#[tokio::test]
async fn the_monthly_quota_is_reserved_and_given_back_when_a_job_never_reaches_the_remote() {
    for db in backends().await {
        let platform =
            TestPlatform::spawn_with(db, |s| s.default_monthly_job_limit = 2, |_| {}).await;
        // The service names an app Cloudgene does not have: every submission is refused.
        let m = Michigan::on(
            platform,
            CloudgeneConfig::default(),
            json!({"app_id": "no-such-app"}),
        )
        .await;
        let file = m.upload(TINY).await;
        let job = m
            .create(m.request("refused", &file))
            .await
            .expect("created");
        assert_eq!(used(&m, &m.token).await, 1);
        let failed = m
            .platform
            .until_status(&m.token, &job.id, pb::JobStatus::Failed)
            .await;
        assert!(
            failed.error_message.contains("refused the job"),
            "{}",
            failed.error_message
        );
        assert!(failed.external_job_id.is_empty());
        fedimpute_tests::eventually(
            "the quota to come back",
            std::time::Duration::from_secs(10),
            || async { (used(&m, &m.token).await == 0).then_some(()) },
        )
        .await;

        // With the right app, two jobs reach the remote and fill the month;
        // a third is refused and not created.
        let admin = m.platform.users.admin_token().await;
        m.platform
            .registry()
            .await
            .update_service(bearer(
                &admin,
                rpb::UpdateServiceRequest {
                    id: m.service.id,
                    service: Some(rpb::Service::default()),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["api_config".into()],
                    }),
                },
            ))
            .await
            .expect("fix the app");
        m.create(m.request("one", &file)).await.expect("one");
        m.create(m.request("two", &file)).await.expect("two");
        let over = m
            .create(m.request("three", &file))
            .await
            .expect_err("over quota");
        assert_eq!(over.code(), Code::ResourceExhausted);
        assert!(
            over.message().contains("monthly job quota"),
            "{}",
            over.message()
        );
        m.shutdown().await;
    }
}

#[tokio::test]
async fn jobs_are_listed_filtered_paginated_and_admins_see_everyones() {
    for db in backends().await {
        let m = Michigan::start(db).await;
        let file = m.upload(TINY).await;
        let mut ids = Vec::new();
        for name in ["alpha one", "beta two", "alpha three"] {
            ids.push(m.create(m.request(name, &file)).await.expect("created").id);
        }
        let (_, eve) = m.platform.users.researcher("eve").await;
        let mut client = m.client().await;
        let lister = client.clone();
        let list = |token: &str, r: pb::ListJobsRequest| {
            let mut client = lister.clone();
            let token = token.to_owned();
            async move {
                client
                    .list_jobs(bearer(&token, r))
                    .await
                    .expect("list")
                    .into_inner()
            }
        };
        let all = list(&m.token, pb::ListJobsRequest::default()).await.jobs;
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].id, ids[2], "newest first");
        let alpha = list(
            &m.token,
            pb::ListJobsRequest {
                search: "ALPHA".into(),
                ..Default::default()
            },
        )
        .await
        .jobs;
        assert_eq!(alpha.len(), 2);
        let by_service = list(
            &m.token,
            pb::ListJobsRequest {
                service_id: m.service.id,
                ..Default::default()
            },
        )
        .await
        .jobs;
        assert_eq!(by_service.len(), 3);
        // Keyset pages.
        let first = list(
            &m.token,
            pb::ListJobsRequest {
                limit: 2,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(first.jobs.len(), 2);
        assert!(!first.next_page_token.is_empty());
        let second = list(
            &m.token,
            pb::ListJobsRequest {
                limit: 2,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(second.jobs.len(), 1);
        assert!(second.next_page_token.is_empty());
        assert_eq!(second.jobs[0].id, ids[0]);
        // Offsets, as the original API took them.
        let skipped = list(
            &m.token,
            pb::ListJobsRequest {
                skip: 1,
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .jobs;
        assert_eq!(skipped[0].id, ids[1]);

        // Someone else sees none; an admin sees them all, without passwords.
        assert!(
            list(&eve, pb::ListJobsRequest::default())
                .await
                .jobs
                .is_empty()
        );
        let not_yours = client
            .list_jobs(bearer(
                &eve,
                pb::ListJobsRequest {
                    user_id: Some(m.user_id),
                    ..Default::default()
                },
            ))
            .await
            .expect_err("not an admin");
        assert_eq!(not_yours.code(), Code::PermissionDenied);
        let admin = m.platform.users.admin_token().await;
        let seen = list(&admin, pb::ListJobsRequest::default()).await.jobs;
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|j| j.results_password.is_empty()));
        let bad = client
            .list_jobs(bearer(
                &m.token,
                pb::ListJobsRequest {
                    page_token: "garbage".into(),
                    ..Default::default()
                },
            ))
            .await
            .expect_err("bad token");
        assert_eq!(violated_fields(&bad), ["page_token"]);
        m.shutdown().await;
    }
}

#[tokio::test]
async fn a_failed_job_is_retried_as_a_new_attempt_and_deleted_with_its_files() {
    for db in backends().await {
        let m = Michigan::start(db).await;
        let file = m.upload(TINY).await;
        let job = m
            .create(m.request("fake:qc-fail first try", &file))
            .await
            .expect("created");
        let failed = m
            .platform
            .until_status(&m.token, &job.id, pb::JobStatus::Failed)
            .await;
        let mut client = m.client().await;
        let retried = client
            .retry_job(bearer(&m.token, pb::RetryJobRequest { id: job.id.clone() }))
            .await
            .expect("retry")
            .into_inner()
            .job
            .expect("a job");
        assert_eq!(
            (retried.attempt, retried.status),
            (2, pb::JobStatus::Queued as i32)
        );
        assert!(retried.external_job_id.is_empty() && retried.error_message.is_empty());
        // The second attempt is a new remote job (it fails the same way:
        // its name still asks the fake for a QC failure).
        let done = m
            .platform
            .until_status(&m.token, &job.id, pb::JobStatus::Failed)
            .await;
        assert_eq!(done.attempt, 2);
        assert_eq!(done.previous_attempts.len(), 1);
        assert_eq!(
            done.previous_attempts[0].external_job_id,
            failed.external_job_id
        );
        assert_ne!(
            done.external_job_id, failed.external_job_id,
            "a new remote job"
        );
        let updates = m.updates(&job.id).await;
        assert_eq!(
            history(&updates),
            [
                pb::JobStatus::Queued,
                pb::JobStatus::Running,
                pb::JobStatus::Failed,
                pb::JobStatus::Queued,
                pb::JobStatus::Running,
                pb::JobStatus::Failed
            ]
        );
        assert!(updates.iter().any(|u| u.attempt == 1) && updates.iter().any(|u| u.attempt == 2));
        assert_eq!(m.fake.submission_count(), 2);

        // A completed job, deleted: it and its input are gone.
        let ok = m
            .create(m.request("to delete", &file))
            .await
            .expect("created");
        m.platform
            .until_status(&m.token, &ok.id, pb::JobStatus::Completed)
            .await;
        let deleted = client
            .delete_job(bearer(
                &m.token,
                pb::DeleteJobRequest { id: job.id.clone() },
            ))
            .await
            .expect("an ended job is deleted");
        assert_eq!(
            deleted.into_inner().deleted_job_ids,
            std::slice::from_ref(&job.id)
        );
        fedimpute_tests::eventually(
            "results copied",
            std::time::Duration::from_secs(30),
            || async {
                m.platform.job(&m.token, &ok.id).await;
                let results = m.results(&ok.id).await;
                results
                    .iter()
                    .all(|r| r.state == pb::ResultState::Available as i32)
                    .then_some(())
            },
        )
        .await;
        client
            .delete_job(bearer(&m.token, pb::DeleteJobRequest { id: ok.id.clone() }))
            .await
            .expect("deleted");
        let gone = client
            .get_job(bearer(&m.token, pb::GetJobRequest { id: ok.id.clone() }))
            .await
            .expect_err("gone");
        assert_eq!(gone.code(), Code::NotFound);
        let file_gone = client
            .get_file(bearer(
                &m.token,
                pb::GetFileRequest {
                    id: file.id.clone(),
                },
            ))
            .await
            .expect_err("the input went with the last job using it");
        assert_eq!(file_gone.code(), Code::NotFound);
        m.shutdown().await;
    }
}

#[tokio::test]
async fn statistics_count_the_callers_jobs_and_admins_can_see_everyones() {
    for db in backends().await {
        let m = Michigan::start(db).await;
        let file = m.upload(TINY).await;
        let a = m.create(m.request("ok", &file)).await.expect("created");
        let b = m
            .create(m.request("fake:qc-fail", &file))
            .await
            .expect("created");
        m.platform
            .until_status(&m.token, &a.id, pb::JobStatus::Completed)
            .await;
        m.platform
            .until_status(&m.token, &b.id, pb::JobStatus::Failed)
            .await;
        let mut client = m.client().await;
        let stats = client
            .get_job_stats(bearer(&m.token, pb::GetJobStatsRequest::default()))
            .await
            .expect("stats")
            .into_inner()
            .stats
            .expect("stats");
        assert_eq!((stats.total, stats.completed, stats.failed), (2, 1, 1));
        assert!((stats.success_rate - 50.0).abs() < 1e-9);
        assert_eq!(stats.by_service.len(), 1);
        assert_eq!(stats.by_service[0].service_id, m.service.id);
        let denied = client
            .get_job_stats(bearer(&m.token, pb::GetJobStatsRequest { all_users: true }))
            .await
            .expect_err("not an admin");
        assert_eq!(denied.code(), Code::PermissionDenied);
        let admin = m.platform.users.admin_token().await;
        let everyone = client
            .get_job_stats(bearer(&admin, pb::GetJobStatsRequest { all_users: true }))
            .await
            .expect("admin stats")
            .into_inner()
            .stats
            .expect("stats");
        assert_eq!(everyone.total, 2);
        let dashboard = client
            .get_dashboard_stats(bearer(&m.token, pb::GetDashboardStatsRequest {}))
            .await
            .expect("dashboard")
            .into_inner();
        assert_eq!(dashboard.recent_jobs.len(), 2);
        assert_eq!(dashboard.service_stats.expect("services").total_services, 1);
        m.shutdown().await;
    }
}
