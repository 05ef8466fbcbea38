//! Jobs on Cloudgene (the fake of external-apis.md A.10): the whole life of
//! a job, the exact submission, results copied and downloaded.

use std::time::Duration;

use fedimpute_proto::jobs as pb;
use fedimpute_tests::{backends, eventually, harness::auth::bearer};
use sha2::{Digest, Sha256};

use crate::jobs_common::{CG_TOKEN, H3A_PANEL, Michigan, TINY, download, history};

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
