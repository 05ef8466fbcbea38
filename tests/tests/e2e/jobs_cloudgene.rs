//! Jobs on Cloudgene (the fake of external-apis.md A.10): the whole life of
//! a job, the exact submission, results copied and downloaded.

use std::time::Duration;

use fedimpute_proto::jobs as pb;
use fedimpute_tests::{
    backends, eventually,
    fakes::{
        Fault,
        cloudgene::{self, CloudgeneConfig},
    },
    harness::auth::bearer,
};
use sha2::{Digest, Sha256};

use crate::jobs_common::{CG_TOKEN, H3A_PANEL, HG38, Michigan, TINY, download, history};

#[tokio::test]
async fn a_cloudgene_job_runs_to_completion_with_its_results_copied_once() {
    for db in backends().await {
        // Arrange
        let m = Michigan::start(db).await;
        let file = m.upload(TINY).await;
        let vcf = file.vcf.clone().expect("a VCF summary");
        assert_eq!((vcf.samples_count, vcf.records_count), (51, 100));

        // Act
        let job = m
            .create(m.request("chr20 tiny", &file))
            .await
            .expect("created");
        assert_eq!(job.status, pb::JobStatus::Queued as i32);
        let done = m
            .platform
            .until_status(&m.token, &job.id, pb::JobStatus::Completed)
            .await;

        // Assert: exactly one submission, with exactly Cloudgene's fields.
        assert_eq!(m.fake.submission_count(), 1);
        let sent = m.fake.submissions().remove(0);
        let field = |name: &str| {
            sent.fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(field("refpanel").as_deref(), Some(H3A_PANEL));
        assert_eq!(field("build").as_deref(), Some("hg19"));
        assert_eq!(field("phasing").as_deref(), Some("eagle"));
        assert_eq!(field("population").as_deref(), Some("mixed"));
        assert_eq!(field("mode").as_deref(), Some("imputation"));
        assert!(field("aesEncryption").is_none() && field("meta").is_none());
        let tag = format!("fedimpute-{}-a1", job.id);
        assert!(field("job-name").is_some_and(|n| n.contains(&tag)));
        let password = field("password").expect("a results password is sent");
        assert_eq!(password.len(), 24);
        assert_eq!(sent.files.len(), 1);
        assert!(sent.files[0].filename.ends_with(".vcf.gz"));
        assert_eq!(sent.files[0].sha256_hex, file.sha256);
        assert_eq!(
            m.fake
                .last_token(&format!("/api/v2/jobs/{}", done.external_job_id))
                .as_deref(),
            Some(CG_TOKEN)
        );

        assert_eq!(done.progress_percentage, 100);
        assert_eq!(
            done.results_password, password,
            "the owner sees the password"
        );
        assert!(done.external_job_id.starts_with("job-"));
        assert_eq!(done.remote_state, "4");
        assert!(done.service_response.is_some());
        assert!(done.execution_time_seconds.is_some());
        assert_eq!(
            history(&m.updates(&job.id).await),
            [
                pb::JobStatus::Queued,
                pb::JobStatus::Running,
                pb::JobStatus::Completed
            ],
            "one status update per transition, none per poll"
        );

        // Results: copied into the platform's store, each remote download spent once.
        let results = eventually("results copied", Duration::from_secs(30), || async {
            let results = m.results(&job.id).await;
            (!results.is_empty()
                && results
                    .iter()
                    .all(|r| r.state == pb::ResultState::Available as i32))
            .then_some(results)
        })
        .await;
        let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
        assert!(
            names.contains(&"chr_20.zip") && names.contains(&"statistics/lift-over.txt"),
            "{names:?}"
        );
        let mut client = m.client().await;
        for r in &results {
            let (head, bytes) = download(&mut client, &m.token, &job.id, &r.id)
                .await
                .expect("download");
            let remote = m
                .fake
                .file_bytes(&done.external_job_id, &r.name)
                .expect("the remote's file");
            assert_eq!(bytes, remote, "{} is copied byte for byte", r.name);
            assert_eq!(head.size_bytes, remote.len() as i64);
            assert_eq!(r.sha256, format!("{:x}", Sha256::digest(&remote)));
            assert_eq!(
                m.fake.downloads_left(&done.external_job_id, &r.name),
                Some(9),
                "{} was fetched from the remote exactly once",
                r.name
            );
            assert!(r.remote_hash.is_empty(), "download secrets are not shown");
        }

        // Logs: the remote's steps, synced without duplicates.
        let logs = client
            .list_job_logs(bearer(
                &m.token,
                pb::ListJobLogsRequest {
                    job_id: job.id.clone(),
                    attempt: None,
                },
            ))
            .await
            .expect("logs")
            .into_inner()
            .logs;
        let steps: std::collections::BTreeSet<&str> =
            logs.iter().map(|l| l.step_name.as_str()).collect();
        assert!(
            steps.contains("Input Validation") && steps.contains("Quality Control"),
            "{steps:?}"
        );
        let mut keys: Vec<(i32, &str)> = logs
            .iter()
            .map(|l| (l.step_index, l.message.as_str()))
            .collect();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before, "no log line twice");
        m.shutdown().await;
    }
}

#[tokio::test]
async fn input_validation_and_qc_failures_fail_the_job_with_the_remote_reason() {
    for db in backends().await {
        let m = Michigan::start(db).await;
        // 7 samples: accepted here with a warning, refused by the server's validation.
        let few = m.upload(HG38).await;
        let job = m.create(m.request("too few", &few)).await.expect("created");
        assert!(
            job.warnings.iter().any(|w| w.contains("7 samples")),
            "{:?}",
            job.warnings
        );
        let failed = m
            .platform
            .until_status(&m.token, &job.id, pb::JobStatus::Failed)
            .await;
        assert!(
            failed
                .error_message
                .contains("At least 20 samples must be uploaded"),
            "{}",
            failed.error_message
        );
        assert_eq!(failed.remote_state, "5");

        let file = m.upload(TINY).await;
        let qc = m
            .create(m.request("fake:qc-fail run", &file))
            .await
            .expect("created");
        let qc = m
            .platform
            .until_status(&m.token, &qc.id, pb::JobStatus::Failed)
            .await;
        assert!(
            qc.error_message.contains("No chunks passed the QC step"),
            "{}",
            qc.error_message
        );
        assert_eq!(
            history(&m.updates(&qc.id).await),
            [
                pb::JobStatus::Queued,
                pb::JobStatus::Running,
                pb::JobStatus::Failed
            ]
        );
        assert_eq!(m.fake.submission_count(), 2);
        m.shutdown().await;
    }
}

#[tokio::test]
async fn server_errors_and_slow_replies_are_retried_and_a_lost_submission_is_sent_again_once() {
    for db in backends().await {
        let m = Michigan::start(db).await;
        // The first submission gets a 502 from the proxy before Cloudgene
        // sees it: ambiguous, so the remote is searched before sending again.
        m.fake
            .push_route_fault(cloudgene::ROUTE_SUBMIT, Fault::nginx_bad_gateway(), 1);
        m.fake.push_route_fault(
            cloudgene::ROUTE_STATUS,
            Fault::Status(500, "boom".into(), "text/plain"),
            3,
        );
        m.fake.set_route_fault(
            cloudgene::ROUTE_LIST,
            Fault::Delay(Duration::from_millis(300)),
        );
        let file = m.upload(TINY).await;
        let job = m.create(m.request("flaky", &file)).await.expect("created");
        let done = m
            .platform
            .until_status(&m.token, &job.id, pb::JobStatus::Completed)
            .await;
        assert_eq!(m.fake.submission_count(), 1, "sent once more, not twice");
        assert!(
            m.fake.hits("/api/v2/jobs") >= 1,
            "the remote was searched first"
        );
        assert!(done.error_message.is_empty());
        assert_eq!(
            history(&m.updates(&job.id).await),
            [
                pb::JobStatus::Queued,
                pb::JobStatus::Running,
                pb::JobStatus::Completed
            ]
        );
        m.shutdown().await;
    }
}

#[tokio::test]
async fn a_reply_lost_after_the_upload_is_found_on_the_remote_not_sent_again() {
    for db in backends().await {
        let m = Michigan::start(db).await;
        m.fake
            .push_route_fault(cloudgene::ROUTE_SUBMIT, Fault::CloseAfterAccept, 1);
        let file = m.upload(TINY).await;
        let job = m.create(m.request("reset", &file)).await.expect("created");
        let done = m
            .platform
            .until_status(&m.token, &job.id, pb::JobStatus::Completed)
            .await;
        assert_eq!(m.fake.submission_count(), 1);
        assert_eq!(done.external_job_id, m.fake.jobs()[0].id);
        m.shutdown().await;
    }
}

#[tokio::test]
async fn a_worker_killed_between_the_upload_and_the_reply_leaves_exactly_one_remote_job() {
    for db in backends().await {
        let mut m = Michigan::start(db).await;
        // Cloudgene takes the upload and creates the job; its reply never comes.
        m.fake
            .push_route_fault(cloudgene::ROUTE_SUBMIT, Fault::HangAfterAccept, 1);
        let file = m.upload(TINY).await;
        let job = m.create(m.request("crash", &file)).await.expect("created");
        eventually(
            "the remote to hold the job",
            Duration::from_secs(30),
            || async { (m.fake.submission_count() == 1).then_some(()) },
        )
        .await;

        // The worker dies mid-submission, its lease still held.
        m.platform.kill_jobs();
        m.platform.start_jobs().await;

        let done = m
            .platform
            .until_status(&m.token, &job.id, pb::JobStatus::Completed)
            .await;
        assert_eq!(
            m.fake.submission_count(),
            1,
            "exactly one remote submission"
        );
        assert_eq!(done.external_job_id, m.fake.jobs()[0].id);
        m.shutdown().await;
    }
}

#[tokio::test]
async fn cancel_reaches_the_remote() {
    for db in backends().await {
        let m = Michigan::start_with(
            db,
            CloudgeneConfig {
                ticks_per_poll: 0,
                ..CloudgeneConfig::default()
            },
            serde_json::json!({}),
        )
        .await;
        let file = m.upload(TINY).await;
        let job = m
            .create(m.request("to cancel", &file))
            .await
            .expect("created");
        let submitted = eventually(
            "the job to reach the remote",
            Duration::from_secs(30),
            || async {
                let job = m.platform.job(&m.token, &job.id).await;
                (!job.external_job_id.is_empty()).then_some(job)
            },
        )
        .await;
        let reply = m
            .client()
            .await
            .cancel_job(bearer(
                &m.token,
                pb::CancelJobRequest { id: job.id.clone() },
            ))
            .await
            .expect("cancel")
            .into_inner();
        assert_eq!(reply.message, "Job cancellation initiated");
        let cancelled = m
            .platform
            .until_status(&m.token, &job.id, pb::JobStatus::Cancelled)
            .await;
        assert_eq!(
            m.fake.job(&submitted.external_job_id).map(|j| j.state),
            Some(6),
            "Cloudgene cancelled it"
        );
        assert!(
            m.fake.hits(&format!(
                "/api/v2/jobs/{}/cancel",
                submitted.external_job_id
            )) >= 1
        );
        assert!(cancelled.cancel_requested);
        assert_eq!(
            history(&m.updates(&job.id).await),
            [pb::JobStatus::Queued, pb::JobStatus::Cancelled]
        );
        // Ended: a second cancel is refused.
        let again = m
            .client()
            .await
            .cancel_job(bearer(
                &m.token,
                pb::CancelJobRequest { id: job.id.clone() },
            ))
            .await
            .expect_err("already ended");
        assert_eq!(again.code(), tonic::Code::FailedPrecondition);
        m.shutdown().await;
    }
}

#[tokio::test]
async fn a_job_lost_in_a_cloudgene_restart_is_restarted_and_completes() {
    for db in backends().await {
        let m = Michigan::start_with(
            db,
            CloudgeneConfig {
                ticks_per_poll: 0,
                ..CloudgeneConfig::default()
            },
            serde_json::json!({}),
        )
        .await;
        let file = m.upload(TINY).await;
        let job = m
            .create(m.request("restart", &file))
            .await
            .expect("created");
        let external = eventually(
            "the job to reach the remote",
            Duration::from_secs(30),
            || async {
                let job = m.platform.job(&m.token, &job.id).await;
                (!job.external_job_id.is_empty()).then_some(job.external_job_id)
            },
        )
        .await;
        m.fake.advance(&external, 2);
        m.platform
            .until_status(&m.token, &job.id, pb::JobStatus::Running)
            .await;
        m.fake.restart_server();
        eventually(
            "the job to be restarted",
            Duration::from_secs(30),
            || async {
                (m.fake.hits(&format!("/api/v2/jobs/{external}/restart")) == 1).then_some(())
            },
        )
        .await;
        m.fake.advance(&external, 20);
        let done = m
            .platform
            .until_status(&m.token, &job.id, pb::JobStatus::Completed)
            .await;
        assert_eq!(done.external_job_id, external, "the same remote job");
        assert_eq!(m.fake.submission_count(), 1);
        m.shutdown().await;
    }
}

#[tokio::test]
async fn watching_a_job_streams_each_change_until_it_settles() {
    for db in backends().await {
        let m = Michigan::start(db).await;
        let file = m.upload(TINY).await;
        let job = m
            .create(m.request("watched", &file))
            .await
            .expect("created");
        let mut client = m.client().await;
        let mut events = client
            .watch_job(bearer(&m.token, pb::WatchJobRequest { id: job.id.clone() }))
            .await
            .expect("watch")
            .into_inner();
        // A second watcher of the same job sees the same end.
        let mut other = client
            .watch_job(bearer(&m.token, pb::WatchJobRequest { id: job.id.clone() }))
            .await
            .expect("watch")
            .into_inner();
        let mut seen = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(event) = events.message().await.expect("an event") {
                seen.push(event);
            }
        })
        .await
        .expect("the watch ends once the job has settled");
        let statuses: Vec<i32> = seen
            .iter()
            .filter_map(|e| e.job.as_ref().map(|j| j.status))
            .collect();
        assert_eq!(seen[0].r#type, pb::JobEventType::Snapshot as i32);
        assert!(
            statuses.contains(&(pb::JobStatus::Running as i32)),
            "{statuses:?}"
        );
        assert_eq!(statuses.last(), Some(&(pb::JobStatus::Completed as i32)));
        let versions: Vec<i64> = seen
            .iter()
            .filter_map(|e| e.job.as_ref().map(|j| j.version))
            .collect();
        assert!(
            versions.windows(2).all(|w| w[0] < w[1]),
            "each event is a newer version: {versions:?}"
        );
        let mut last = None;
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(event) = other.message().await.expect("an event") {
                last = event.job;
            }
        })
        .await
        .expect("the second watch ends too");
        assert_eq!(
            last.map(|j| j.status),
            Some(pb::JobStatus::Completed as i32)
        );
        // Someone else cannot watch it.
        let (_, eve) = m.platform.users.researcher("eve").await;
        let denied = client
            .watch_job(bearer(&eve, pb::WatchJobRequest { id: job.id.clone() }))
            .await
            .expect_err("not eve's");
        assert_eq!(denied.code(), tonic::Code::NotFound);
        m.shutdown().await;
    }
}
