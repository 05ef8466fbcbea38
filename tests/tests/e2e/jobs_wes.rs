//! Jobs on GA4GH WES (the fake of external-apis.md B.8): the multipart
//! submission with its workflow settings from the registry, the input as a
//! signed link the node fetches (or as an attachment), outputs copied,
//! failures, cancel on WESkit and on the Starter Kit.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    extract::{Path, State},
    response::IntoResponse,
    routing::get,
};
use fedimpute_proto::{jobs as pb, registry as rpb};
use fedimpute_tests::{
    backends, eventually,
    fakes::wes::{FakeWes, WesConfig, WesScenario, WesStyle},
    harness::{
        auth::bearer,
        jobs::{JobsClient, TestPlatform, fixture},
    },
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::jobs_common::{TINY, history};

const WES_TOKEN: &str = "wes-bearer-token-0123456789";

/// A stand-in for the gateway's signed-link route (the gateway comes
/// later): `GET /api/files/signed/{token}` streams OpenSignedInput.
async fn link_server(jobs_url: Arc<Mutex<String>>) -> String {
    async fn serve(
        State(jobs_url): State<Arc<Mutex<String>>>,
        Path(token): Path<String>,
    ) -> axum::response::Response {
        let url = jobs_url.lock().expect("lock").clone();
        let mut client = match JobsClient::connect(url).await {
            Ok(c) => c,
            Err(_) => return axum::http::StatusCode::BAD_GATEWAY.into_response(),
        };
        let mut stream = match client
            .open_signed_input(pb::OpenSignedInputRequest { token })
            .await
        {
            Ok(s) => s.into_inner(),
            Err(s) => {
                return (axum::http::StatusCode::FORBIDDEN, s.message().to_owned()).into_response();
            }
        };
        let mut bytes = Vec::new();
        while let Ok(Some(chunk)) = stream.message().await {
            bytes.extend(chunk.data);
        }
        bytes.into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = Router::new()
        .route("/api/files/signed/{token}", get(serve))
        .with_state(jobs_url);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

struct Wes {
    platform: TestPlatform,
    fake: FakeWes,
    service: rpb::Service,
    panel: rpb::ReferencePanel,
    token: String,
}

async fn wes(db: fedimpute_tests::TestDb, config: WesConfig, service_config: Value) -> Wes {
    let jobs_url = Arc::new(Mutex::new(String::new()));
    let public = link_server(jobs_url.clone()).await;
    let platform = TestPlatform::spawn_with(db, |_| {}, |s| s.public_url = public).await;
    *jobs_url.lock().expect("lock") = platform.jobs_url();
    let fake = FakeWes::start(WesConfig {
        require_token: Some(WES_TOKEN.into()),
        ..config
    })
    .await;
    let service = platform
        .service(
            "eLwazi ILIFU",
            rpb::ApiType::Ga4gh,
            &fake.base_url(),
            true,
            service_config,
        )
        .await;
    let panel = platform
        .panel(
            service.id,
            "1000G Phase 3 (ILIFU)",
            "1000g-phase3-v5",
            &[],
            json!({"workflow_params": {"panel_dir": "/refs/1000g"}}),
        )
        .await;
    let (_, token) = platform.users.researcher("ada").await;
    platform.credential(&token, service.id, WES_TOKEN).await;
    Wes {
        platform,
        fake,
        service,
        panel,
        token,
    }
}

impl Wes {
    async fn job(&self, name: &str) -> (pb::InputFile, pb::Job) {
        let file = self
            .platform
            .upload(&self.token, TINY, &fixture(TINY), 2048)
            .await
            .expect("upload");
        let job = self
            .platform
            .jobs()
            .await
            .create_job(bearer(
                &self.token,
                pb::CreateJobRequest {
                    name: name.into(),
                    service_id: self.service.id.to_string(),
                    reference_panel_id: self.panel.id.to_string(),
                    input_file_id: file.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .expect("created")
            .into_inner()
            .job
            .expect("a job");
        (file, job)
    }

    async fn shutdown(self) {
        self.platform.shutdown().await;
        self.fake.stop().await;
    }
}

fn nextflow() -> Value {
    json!({"workflow_url": "imputation/main.nf", "workflow_type": "NFL", "workflow_type_version": "22.10.0"})
}

#[tokio::test]
async fn a_wes_run_gets_its_workflow_settings_and_fetches_its_input_by_a_signed_link() {
    for db in backends().await {
        let w = wes(
            db,
            WesConfig {
                fetch_inputs: true,
                ..WesConfig::default()
            },
            nextflow(),
        )
        .await;
        let (file, job) = w.job("wes run").await;
        let done = w
            .platform
            .until_status(&w.token, &job.id, pb::JobStatus::Completed)
            .await;

        let sent = w.fake.submissions().remove(0);
        assert!(sent.content_type.starts_with("multipart/form-data"));
        assert_eq!(sent.bearer.as_deref(), Some(WES_TOKEN));
        assert_eq!(sent.field("workflow_type"), Some("NFL"));
        assert_eq!(sent.field("workflow_type_version"), Some("22.10.0"));
        assert_eq!(sent.field("workflow_url"), Some("imputation/main.nf"));
        let params: Value = serde_json::from_str(sent.field("workflow_params").expect("params"))
            .expect("JSON text");
        assert_eq!(params["reference_panel"], "1000g-phase3-v5");
        assert_eq!(params["build"], "hg19");
        assert_eq!(
            params["panel_dir"], "/refs/1000g",
            "the panel's own settings"
        );
        let tags: Value =
            serde_json::from_str(sent.field("tags").expect("tags")).expect("JSON text");
        assert_eq!(tags["fedimpute_job"], format!("fedimpute-{}-a1", job.id));

        // The node fetched the input through the signed link, byte for byte.
        let link = params["input"].as_str().expect("an input link").to_owned();
        assert!(link.contains("/api/files/signed/"), "{link}");
        let fetched = w.fake.fetched_inputs();
        assert_eq!(fetched.len(), 1, "{fetched:?}");
        assert_eq!(fetched[0].sha256_hex, file.sha256);
        // The link cannot be altered.
        let token = link.rsplit('/').next().expect("a token").to_owned();
        let mut tampered = token.clone().into_bytes();
        tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
        let refused = w
            .platform
            .jobs()
            .await
            .open_signed_input(pb::OpenSignedInputRequest {
                token: String::from_utf8(tampered).expect("ascii"),
            })
            .await
            .expect_err("tampered");
        assert_eq!(refused.code(), Code::PermissionDenied);

        // Outputs: the node's URLs, copied.
        let results = eventually("outputs copied", Duration::from_secs(30), || async {
            let results = w
                .platform
                .jobs()
                .await
                .list_results(bearer(
                    &w.token,
                    pb::ListResultsRequest {
                        job_id: job.id.clone(),
                    },
                ))
                .await
                .ok()?
                .into_inner()
                .results;
            (results.len() == 2
                && results
                    .iter()
                    .all(|r| r.state == pb::ResultState::Available as i32))
            .then_some(results)
        })
        .await;
        for r in results {
            let bytes = w
                .fake
                .output_bytes(&done.external_job_id, &r.name)
                .expect("served");
            assert_eq!(
                r.sha256,
                format!("{:x}", Sha256::digest(&bytes)),
                "{}",
                r.name
            );
        }
        w.shutdown().await;
    }
}

#[tokio::test]
async fn an_attached_input_and_the_wes_failure_states() {
    for db in backends().await {
        let mut config = nextflow();
        config["attach_input"] = json!(true);
        let w = wes(db, WesConfig::default(), config).await;
        // The input as a workflow attachment.
        let (file, job) = w.job("attached").await;
        w.platform
            .until_status(&w.token, &job.id, pb::JobStatus::Completed)
            .await;
        let sent = w.fake.submissions().remove(0);
        assert_eq!(sent.attachments.len(), 1);
        assert_eq!(sent.attachments[0].sha256_hex, file.sha256);
        let params: Value =
            serde_json::from_str(sent.field("workflow_params").expect("params")).expect("JSON");
        assert_eq!(params["input"], sent.attachments[0].filename.as_str());

        // A QC failure: the reason comes from the run's stderr.
        w.fake.push_scenario(WesScenario::QcFail);
        let (_, failing) = w.job("qc").await;
        let failed = w
            .platform
            .until_status(&w.token, &failing.id, pb::JobStatus::Failed)
            .await;
        assert!(
            failed.error_message.contains("QC failed"),
            "{}",
            failed.error_message
        );
        assert_eq!(failed.remote_state, "EXECUTOR_ERROR");

        w.fake.push_scenario(WesScenario::SystemError);
        let (_, system) = w.job("system").await;
        let failed = w
            .platform
            .until_status(&w.token, &system.id, pb::JobStatus::Failed)
            .await;
        assert_eq!(failed.remote_state, "SYSTEM_ERROR");
        w.shutdown().await;
    }
}

#[tokio::test]
async fn cancel_reaches_weskit_and_outlasts_the_starter_kits_no_op() {
    for style in [WesStyle::WesKit, WesStyle::StarterKit] {
        for db in backends().await {
            let mut config = nextflow();
            if style == WesStyle::StarterKit {
                config = json!({"workflow_url": "https://github.com/elwazi/fedimpute", "workflow_type": "NEXTFLOW", "workflow_type_version": "21.04.0"});
            }
            let w = wes(
                db,
                WesConfig {
                    style,
                    ticks_per_poll: 0,
                    ..WesConfig::default()
                },
                config,
            )
            .await;
            let (_, job) = w.job("to cancel").await;
            let external = eventually("the run to exist", Duration::from_secs(30), || async {
                let job = w.platform.job(&w.token, &job.id).await;
                (!job.external_job_id.is_empty()).then_some(job.external_job_id)
            })
            .await;
            w.platform
                .jobs()
                .await
                .cancel_job(bearer(
                    &w.token,
                    pb::CancelJobRequest { id: job.id.clone() },
                ))
                .await
                .expect("cancel");
            // WESkit moves CANCELING → CANCELED on its next tick; the
            // Starter Kit ignores the cancel and its run stays queued.
            let cancelled = eventually(
                "the job to be cancelled",
                Duration::from_secs(60),
                || async {
                    if style == WesStyle::WesKit {
                        w.fake.advance(&external, 1).await;
                    }
                    let job = w.platform.job(&w.token, &job.id).await;
                    (job.status == pb::JobStatus::Cancelled as i32).then_some(job)
                },
            )
            .await;
            assert_eq!(
                history(
                    &w.platform
                        .jobs()
                        .await
                        .list_status_updates(bearer(
                            &w.token,
                            pb::ListStatusUpdatesRequest {
                                job_id: job.id.clone()
                            }
                        ))
                        .await
                        .expect("updates")
                        .into_inner()
                        .updates
                ),
                [pb::JobStatus::Queued, pb::JobStatus::Cancelled]
            );
            let cancels = w
                .fake
                .hits(&format!("/ga4gh/wes/v1/runs/{external}/cancel"));
            match style {
                WesStyle::StarterKit => {
                    assert!(
                        cancels >= 2,
                        "asked again while the node ignored it: {cancels}"
                    );
                    assert_eq!(cancelled.remote_state, "QUEUED");
                }
                WesStyle::WesKit | WesStyle::Spec11 => {
                    assert_eq!(
                        w.fake.run(&external).map(|r| r.state),
                        Some("CANCELED".into())
                    );
                }
            }
            w.shutdown().await;
        }
    }
}
