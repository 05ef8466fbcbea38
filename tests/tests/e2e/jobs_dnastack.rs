//! Jobs on DNAstack Workbench eWES (the fake of external-apis.md C.7):
//! client-credentials tokens cached and refreshed on a 401, the JSON
//! submission, its extra states, outputs.

use std::time::Duration;

use fedimpute_proto::{jobs as pb, registry as rpb, users as upb};
use fedimpute_tests::{
    backends, eventually,
    fakes::dnastack::{DnastackConfig, EwesScenario, FakeDnastack},
    harness::{
        auth::bearer,
        jobs::{TestPlatform, fixture},
    },
};
use serde_json::json;

use crate::jobs_common::TINY;

struct Dnastack {
    platform: TestPlatform,
    fake: FakeDnastack,
    service: rpb::Service,
    panel: rpb::ReferencePanel,
    token: String,
}

async fn dnastack(db: fedimpute_tests::TestDb, config: DnastackConfig) -> Dnastack {
    let platform = TestPlatform::spawn(db).await;
    let fake = FakeDnastack::start(config.clone()).await;
    let service = platform
        .service(
            "eLwazi Omics",
            rpb::ApiType::Dnastack,
            &fake.base_url(),
            true,
            json!({
                "namespace": config.namespace,
                "workflow_id": "fedimpute-imputation",
                "workflow_version_id": "v1",
                "engine_id": "engine-1",
                "param_prefix": "fedimpute.",
            }),
        )
        .await;
    let panel = platform
        .panel(service.id, "1000G", "1000g-phase3", &[], json!({}))
        .await;
    let (_, token) = platform.users.researcher("ada").await;
    platform
        .users
        .client()
        .await
        .put_my_credential(bearer(
            &token,
            upb::PutMyCredentialRequest {
                service_id: service.id,
                credential_type: upb::CredentialType::Oauth2 as i32,
                client_id: config.client_id.clone(),
                client_secret: config.client_secret.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("client credentials stored");
    Dnastack {
        platform,
        fake,
        service,
        panel,
        token,
    }
}

impl Dnastack {
    async fn job(&self, name: &str) -> pb::Job {
        let file = self
            .platform
            .upload(&self.token, TINY, &fixture(TINY), 4096)
            .await
            .expect("upload");
        self.platform
            .jobs()
            .await
            .create_job(bearer(
                &self.token,
                pb::CreateJobRequest {
                    name: name.into(),
                    service_id: self.service.id.to_string(),
                    reference_panel_id: self.panel.id.to_string(),
                    input_file_id: file.id,
                    ..Default::default()
                },
            ))
            .await
            .expect("created")
            .into_inner()
            .job
            .expect("a job")
    }

    async fn results(&self, id: &str) -> Vec<pb::ResultFile> {
        self.platform
            .jobs()
            .await
            .list_results(bearer(
                &self.token,
                pb::ListResultsRequest { job_id: id.into() },
            ))
            .await
            .expect("results")
            .into_inner()
            .results
    }
}

#[tokio::test]
async fn a_workbench_run_completes_with_one_token_and_refreshes_it_on_a_401() {
    for db in backends().await {
        let d = dnastack(db, DnastackConfig::default()).await;
        let job = d.job("workbench").await;
        let done = d
            .platform
            .until_status(&d.token, &job.id, pb::JobStatus::Completed)
            .await;
        assert_eq!(
            d.fake.token_requests(),
            1,
            "the token is cached across calls"
        );
        let sent = d.fake.submissions().remove(0);
        assert_eq!(sent.namespace, "fake-namespace");
        assert_eq!(sent.body["workflow_url"], "fedimpute-imputation/v1");
        assert_eq!(sent.body["engine_id"], "engine-1");
        assert_eq!(
            sent.body["workflow_params"]["fedimpute.reference_panel"],
            "1000g-phase3"
        );
        assert!(
            sent.body["workflow_params"]["fedimpute.input"]
                .as_str()
                .is_some_and(|u| u.contains("/api/files/signed/"))
        );
        assert_eq!(
            sent.body["tags"]["fedimpute_job"],
            format!("fedimpute-{}-a1", job.id)
        );

        // HTTP outputs are copied; a gs:// output stays a reference.
        let results = eventually("outputs settled", Duration::from_secs(30), || async {
            let results = d.results(&job.id).await;
            results
                .iter()
                .all(|r| r.state != pb::ResultState::Pending as i32)
                .then_some(results)
        })
        .await;
        let copied: Vec<&str> = results
            .iter()
            .filter(|r| r.state == pb::ResultState::Available as i32)
            .map(|r| r.name.as_str())
            .collect();
        assert!(copied.contains(&"qc_report.txt"), "{results:?}");
        let remote: Vec<&pb::ResultFile> = results
            .iter()
            .filter(|r| r.state == pb::ResultState::Remote as i32)
            .collect();
        assert!(
            remote.iter().any(|r| r.remote_url.starts_with("gs://")),
            "{results:?}"
        );
        assert_eq!(done.remote_state, "COMPLETE");

        // Tokens expire mid-run: one 401, a new token, and the run goes on.
        let second = d.job("second").await;
        eventually(
            "the second run to exist",
            Duration::from_secs(30),
            || async {
                let job = d.platform.job(&d.token, &second.id).await;
                (!job.external_job_id.is_empty()).then_some(())
            },
        )
        .await;
        d.fake.expire_tokens();
        d.platform
            .until_status(&d.token, &second.id, pb::JobStatus::Completed)
            .await;
        assert_eq!(d.fake.token_requests(), 2, "one refresh after the 401");
        d.platform.shutdown().await;
        d.fake.stop().await;
    }
}

#[tokio::test]
async fn the_workbench_error_states_fail_the_job_and_partial_outputs_are_kept() {
    for db in backends().await {
        let d = dnastack(db, DnastackConfig::default()).await;
        d.fake.push_scenario(EwesScenario::PreprocessingError);
        let pre = d.job("preprocessing").await;
        let failed = d
            .platform
            .until_status(&d.token, &pre.id, pb::JobStatus::Failed)
            .await;
        assert_eq!(failed.remote_state, "PREPROCESSING_ERROR");
        assert!(
            failed.error_message.contains("PREPROCESSING_ERROR"),
            "{}",
            failed.error_message
        );

        d.fake.push_scenario(EwesScenario::Partial);
        let partial = d.job("partial").await;
        let failed = d
            .platform
            .until_status(&d.token, &partial.id, pb::JobStatus::Failed)
            .await;
        assert_eq!(failed.remote_state, "COMPLETE_WITH_ERRORS");
        let kept = eventually(
            "partial outputs copied",
            Duration::from_secs(30),
            || async {
                let results = d.results(&partial.id).await;
                results
                    .iter()
                    .any(|r| r.state == pb::ResultState::Available as i32)
                    .then_some(results)
            },
        )
        .await;
        assert!(!kept.is_empty());
        d.platform.shutdown().await;
        d.fake.stop().await;
    }
}
