//! Federated jobs: one parent and one child per (service, panel) pair,
//! created together, the parent following every child transition (mixed
//! outcomes, cancel), watched as it goes, announced once.

use std::time::Duration;

use fedimpute_proto::{jobs as pb, registry as rpb};
use fedimpute_tests::{
    backends,
    fakes::{
        cloudgene::{CloudgeneConfig, FakeCloudgene, Scenario},
        smtp::FakeSmtp,
        wes::{FakeWes, WesConfig},
    },
    harness::{auth::bearer, jobs::TestPlatform, users::smtp},
};
use serde_json::json;
use tonic::Code;

use crate::jobs_common::{CG_TOKEN, Michigan, TINY, history};

/// The Michigan setup plus a second Cloudgene service and an open WES node.
struct Federation {
    m: Michigan,
    second: FakeCloudgene,
    wes: FakeWes,
    targets: Vec<(rpb::Service, rpb::ReferencePanel)>,
}

async fn federation(platform: TestPlatform, config: CloudgeneConfig, wes: WesConfig) -> Federation {
    let m = Michigan::on(platform, config.clone(), json!({})).await;
    let second = FakeCloudgene::start(CloudgeneConfig {
        tokens: vec![CG_TOKEN.into()],
        ..config
    })
    .await;
    let michigan = m
        .platform
        .service(
            "Michigan Imputation Server",
            rpb::ApiType::Michigan,
            &second.base_url(),
            true,
            json!({}),
        )
        .await;
    let michigan_panel = m
        .platform
        .panel(
            michigan.id,
            "1000G Phase 3 v5",
            "apps@1000g-phase-3-v5@2.0.0",
            &["afr", "mixed"],
            json!({}),
        )
        .await;
    m.platform.credential(&m.token, michigan.id, CG_TOKEN).await;
    let wes = FakeWes::start(wes).await;
    let node = m
        .platform
        .service(
            "eLwazi Mali",
            rpb::ApiType::Ga4gh,
            &wes.base_url(),
            false,
            json!({"workflow_url": "imputation/main.nf", "workflow_type": "NFL", "workflow_type_version": "22.10.0"}),
        )
        .await;
    let node_panel = m
        .platform
        .panel(node.id, "1000G (Mali)", "1000g-mali", &[], json!({}))
        .await;
    let targets = vec![
        (m.service.clone(), m.panel.clone()),
        (michigan, michigan_panel),
        (node, node_panel),
    ];
    Federation {
        m,
        second,
        wes,
        targets,
    }
}

impl Federation {
    fn request(&self, file: &pb::InputFile) -> pb::CreateFederatedJobRequest {
        // The original's clients send comma lists.
        let join = |f: &dyn Fn(&(rpb::Service, rpb::ReferencePanel)) -> String| {
            self.targets.iter().map(f).collect::<Vec<_>>().join(",")
        };
        pb::CreateFederatedJobRequest {
            name: "federated chr20".into(),
            service_ids: vec![join(&|(s, _)| s.id.to_string())],
            reference_panel_ids: vec![join(&|(_, p)| p.id.to_string())],
            input_file_id: file.id.clone(),
            ..Default::default()
        }
    }

    async fn shutdown(self) {
        self.m.shutdown().await;
        self.second.stop().await;
        self.wes.stop().await;
    }
}

#[tokio::test]
async fn a_federated_job_follows_its_children_to_a_mixed_outcome_announced_once() {
    for db in backends().await {
        let relay = FakeSmtp::start().await;
        let url = relay.url();
        let platform =
            TestPlatform::spawn_with(db, |s| s.mail.smtp = Some(smtp(&url)), |_| {}).await;
        let f = federation(platform, CloudgeneConfig::default(), WesConfig::default()).await;
        let file = f.m.upload(TINY).await;
        // The Michigan child fails QC; the others complete.
        f.second.push_scenario(Scenario::QcFailure);
        let mut client = f.m.client().await;
        let created = client
            .create_federated_job(bearer(&f.m.token, f.request(&file)))
            .await
            .expect("created")
            .into_inner();
        assert_eq!(created.total_services, 3);
        assert_eq!(created.child_jobs.len(), 3);
        let parent = created.parent.expect("the parent");
        assert_eq!(parent.aggregate.expect("aggregate").total, 3);

        // Watch the parent from the start: every child change, to the end.
        let mut events = client
            .watch_job(bearer(
                &f.m.token,
                pb::WatchJobRequest {
                    id: parent.id.clone(),
                },
            ))
            .await
            .expect("watch")
            .into_inner();
        let mut seen = Vec::new();
        let watched = tokio::time::timeout(Duration::from_secs(90), async {
            while let Some(event) = events.message().await.expect("an event") {
                seen.push(event);
            }
        })
        .await;
        assert!(
            watched.is_ok(),
            "the watch ends when everything has settled"
        );
        assert_eq!(seen[0].r#type, pb::JobEventType::Snapshot as i32);
        let children_seen: std::collections::BTreeSet<String> = seen
            .iter()
            .filter(|e| e.r#type == pb::JobEventType::ChildUpdated as i32)
            .filter_map(|e| e.child.as_ref().map(|c| c.id.clone()))
            .collect();
        assert_eq!(
            children_seen.len(),
            3,
            "every child's changes were streamed: {:?}",
            seen.iter()
                .map(|e| (e.r#type, e.job.as_ref().map(|j| (j.status, j.version))))
                .collect::<Vec<_>>()
        );
        let last = seen.last().and_then(|e| e.job.clone()).expect("a job");
        assert_eq!(last.status, pb::JobStatus::Failed as i32);

        let parent = f.m.platform.job(&f.m.token, &parent.id).await;
        let aggregate = parent.aggregate.expect("aggregate");
        assert_eq!((aggregate.completed, aggregate.failed), (2, 1));
        assert_eq!(
            parent.error_message,
            "2 of 3 completed, 1 failed, 0 cancelled"
        );
        assert_eq!(
            history(&f.m.updates(&parent.id).await),
            [
                pb::JobStatus::Queued,
                pb::JobStatus::Running,
                pb::JobStatus::Failed
            ],
            "the parent moved on every child transition and never stayed queued"
        );
        assert_eq!(
            f.m.fake.submission_count() + f.second.submission_count() + f.wes.submission_count(),
            3
        );

        // One mail: the federated job's outcome, not one per child.
        let mails = relay.wait_for_messages(1, Duration::from_secs(15)).await;
        assert_eq!(
            mails.len(),
            1,
            "{:?}",
            mails.iter().map(|m| m.subject()).collect::<Vec<_>>()
        );
        assert!(
            mails[0].body().contains("2 of 3 completed"),
            "{}",
            mails[0].body()
        );
        f.shutdown().await;
        relay.stop().await;
    }
}

#[tokio::test]
async fn a_federated_job_is_created_whole_or_not_at_all_and_cancelled_whole() {
    for db in backends().await {
        let platform = TestPlatform::spawn(db).await;
        let f = federation(
            platform,
            CloudgeneConfig {
                ticks_per_poll: 0,
                ..CloudgeneConfig::default()
            },
            WesConfig {
                ticks_per_poll: 0,
                ..WesConfig::default()
            },
        )
        .await;
        let file = f.m.upload(TINY).await;
        let mut client = f.m.client().await;
        // The third pair names a panel of another service: nothing is created.
        let mut bad = f.request(&file);
        bad.reference_panel_ids = vec![format!(
            "{},{},{}",
            f.targets[0].1.id, f.targets[1].1.id, f.targets[0].1.id
        )];
        let err = client
            .create_federated_job(bearer(&f.m.token, bad))
            .await
            .expect_err("a bad pair");
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(
            err.message().contains("reference_panel_ids[2]"),
            "{}",
            err.message()
        );
        let none = client
            .list_jobs(bearer(&f.m.token, pb::ListJobsRequest::default()))
            .await
            .expect("list")
            .into_inner()
            .jobs;
        assert!(none.is_empty());

        let created = client
            .create_federated_job(bearer(&f.m.token, f.request(&file)))
            .await
            .expect("created")
            .into_inner();
        for child in &created.child_jobs {
            fedimpute_tests::eventually(
                "each child to reach its remote",
                Duration::from_secs(30),
                || async {
                    let job = f.m.platform.job(&f.m.token, &child.id).await;
                    (!job.external_job_id.is_empty()).then_some(())
                },
            )
            .await;
        }
        let reply = client
            .cancel_job(bearer(
                &f.m.token,
                pb::CancelJobRequest {
                    id: created.parent_job_id.clone(),
                },
            ))
            .await
            .expect("cancel")
            .into_inner();
        assert_eq!(reply.job_id, created.parent_job_id);
        // The WES child needs the node's next tick to be CANCELED.
        let parent = fedimpute_tests::eventually(
            "everything cancelled",
            Duration::from_secs(60),
            || async {
                for run in f.wes.runs() {
                    f.wes.advance(&run.run_id, 1).await;
                }
                let parent = f.m.platform.job(&f.m.token, &created.parent_job_id).await;
                (parent.status == pb::JobStatus::Cancelled as i32).then_some(parent)
            },
        )
        .await;
        assert_eq!(parent.aggregate.expect("aggregate").cancelled, 3);
        for job in f.m.fake.jobs().iter().chain(f.second.jobs().iter()) {
            assert_eq!(job.state, 6, "cancelled on Cloudgene");
        }
        assert_eq!(f.wes.runs()[0].state, "CANCELED");
        f.shutdown().await;
    }
}
