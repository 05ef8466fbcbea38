//! Several jobs replicas on one database: work is claimed with leases, so
//! each job is submitted once and followed to its end whoever holds it.

use std::collections::HashSet;

use fedimpute_proto::jobs as pb;
use fedimpute_tests::{backends, fakes::cloudgene::CloudgeneConfig, harness::jobs::TestPlatform};
use serde_json::json;

use crate::jobs_common::{Michigan, TINY};

#[tokio::test]
async fn replicas_share_the_work_and_submit_each_job_once() {
    for db in backends().await {
        let mut platform =
            TestPlatform::spawn_with(db, |s| s.default_monthly_job_limit = 100, |_| {}).await;
        let second = platform.replica().await;
        let third = platform.replica().await;
        let m = Michigan::on(
            platform,
            CloudgeneConfig {
                max_running_jobs_per_user: 100,
                ..CloudgeneConfig::default()
            },
            json!({"max_running_jobs_per_user": 100}),
        )
        .await;
        let file = m.upload(TINY).await;
        let mut ids = Vec::new();
        for i in 0..12 {
            ids.push(
                m.create(m.request(&format!("replicated {i}"), &file))
                    .await
                    .expect("created")
                    .id,
            );
        }
        for id in &ids {
            m.platform
                .until_status(&m.token, id, pb::JobStatus::Completed)
                .await;
        }
        assert_eq!(
            m.fake.submission_count(),
            12,
            "each job submitted exactly once"
        );
        let names: HashSet<String> = m.fake.jobs().into_iter().map(|j| j.name).collect();
        for id in &ids {
            assert!(
                names
                    .iter()
                    .any(|n| n.contains(&format!("fedimpute-{id}-a1"))),
                "{id} is on the remote"
            );
        }
        second.stop("second replica").await;
        third.stop("third replica").await;
        m.shutdown().await;
    }
}
