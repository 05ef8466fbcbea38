//! Helpers of the jobs tests: a platform with a fake Cloudgene registered,
//! its panel and a researcher holding a token for it.

use fedimpute_proto::{jobs as pb, registry as rpb};
use fedimpute_tests::{
    TestDb,
    fakes::cloudgene::{CloudgeneConfig, FakeCloudgene},
    harness::{
        auth::bearer,
        jobs::{JobsClient, TestPlatform, fixture},
    },
};
use serde_json::json;

pub(crate) const CG_TOKEN: &str = "cg-token-ada-0123456789abcdef";
pub(crate) const TINY: &str = "chr20.tiny.100snps.vcf.gz";
pub(crate) const HG38: &str = "chr22.hg38.7samples.phased.vcf.gz";
pub(crate) const H3A_PANEL: &str = "apps@h3africa-v6hc-s@1.0.0";

/// A platform, a fake Cloudgene behind a registered service with one panel,
/// and a researcher whose Cloudgene token is stored.
pub(crate) struct Michigan {
    pub(crate) platform: TestPlatform,
    pub(crate) fake: FakeCloudgene,
    pub(crate) service: rpb::Service,
    pub(crate) panel: rpb::ReferencePanel,
    pub(crate) user_id: i64,
    pub(crate) token: String,
}

impl Michigan {
    pub(crate) async fn start(db: TestDb) -> Self {
        Self::start_with(db, CloudgeneConfig::default(), json!({})).await
    }

    pub(crate) async fn start_with(
        db: TestDb,
        config: CloudgeneConfig,
        service_config: serde_json::Value,
    ) -> Self {
        let platform = TestPlatform::spawn(db).await;
        Self::on(platform, config, service_config).await
    }

    pub(crate) async fn on(
        platform: TestPlatform,
        config: CloudgeneConfig,
        service_config: serde_json::Value,
    ) -> Self {
        let fake = FakeCloudgene::start(CloudgeneConfig {
            tokens: vec![CG_TOKEN.to_owned()],
            ..config
        })
        .await;
        let service = platform
            .service(
                "H3Africa Imputation Service",
                rpb::ApiType::Michigan,
                &fake.base_url(),
                true,
                service_config,
            )
            .await;
        let panel = platform
            .panel(
                service.id,
                "H3AFRICA v6",
                H3A_PANEL,
                &["afr", "mixed", "off"],
                json!({}),
            )
            .await;
        let (user, token) = platform.users.researcher("ada").await;
        platform.credential(&token, service.id, CG_TOKEN).await;
        Self {
            platform,
            fake,
            service,
            panel,
            user_id: user.id,
            token,
        }
    }

    pub(crate) async fn client(&self) -> JobsClient {
        self.platform.jobs().await
    }

    /// Uploads a fixture as the researcher.
    pub(crate) async fn upload(&self, name: &str) -> pb::InputFile {
        self.platform
            .upload(&self.token, name, &fixture(name), 4096)
            .await
            .unwrap_or_else(|e| panic!("upload {name}: {e}"))
    }

    /// A job request on the registered service and panel.
    pub(crate) fn request(&self, name: &str, file: &pb::InputFile) -> pb::CreateJobRequest {
        pb::CreateJobRequest {
            name: name.into(),
            service_id: self.service.id.to_string(),
            reference_panel_id: self.panel.id.to_string(),
            input_file_id: file.id.clone(),
            ..Default::default()
        }
    }

    pub(crate) async fn create(
        &self,
        request: pb::CreateJobRequest,
    ) -> Result<pb::Job, tonic::Status> {
        self.client()
            .await
            .create_job(bearer(&self.token, request))
            .await
            .map(|r| r.into_inner().job.expect("a job"))
    }

    pub(crate) async fn updates(&self, id: &str) -> Vec<pb::StatusUpdate> {
        self.client()
            .await
            .list_status_updates(bearer(
                &self.token,
                pb::ListStatusUpdatesRequest { job_id: id.into() },
            ))
            .await
            .expect("status updates")
            .into_inner()
            .updates
    }

    pub(crate) async fn results(&self, id: &str) -> Vec<pb::ResultFile> {
        self.client()
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

    pub(crate) async fn shutdown(self) {
        self.platform.shutdown().await;
        self.fake.stop().await;
    }
}

/// The statuses of a job's updates, oldest first.
pub(crate) fn history(updates: &[pb::StatusUpdate]) -> Vec<pb::JobStatus> {
    updates
        .iter()
        .rev()
        .map(|u| pb::JobStatus::try_from(u.status).expect("a status"))
        .collect()
}

/// Downloads a result through the server-streaming RPC.
pub(crate) async fn download(
    client: &mut JobsClient,
    token: &str,
    job_id: &str,
    file_id: &str,
) -> Result<(pb::FileChunk, Vec<u8>), tonic::Status> {
    let mut stream = client
        .download_result(bearer(
            token,
            pb::DownloadResultRequest {
                job_id: job_id.into(),
                file_id: file_id.into(),
            },
        ))
        .await?
        .into_inner();
    let head = stream.message().await?.expect("a metadata message");
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await? {
        bytes.extend(chunk.data);
    }
    Ok((head, bytes))
}
