//! The whole back end on `127.0.0.1:0`: registry, users and jobs, built
//! like the binary builds them and talking gRPC to each other, with helpers
//! to register services and panels, upload files and follow jobs.

use std::{net::SocketAddr, time::Duration};

use fedimpute_common::{auth::Component, crypto::Keyring, http::OutboundSettings};
use fedimpute_jobs::{Application, SchedulerSettings, Settings};
use fedimpute_proto::{
    jobs::{self as pb, jobs_service_client::JobsServiceClient},
    registry::{self as rpb, registry_service_client::RegistryServiceClient},
    users::{self as upb},
};
use tonic::transport::Channel;

use super::{Running, auth::bearer, db::TestDb, eventually, users::TestUsers};

pub type JobsClient = JobsServiceClient<Channel>;

/// The directory of the VCF fixtures.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/vcf/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// A running platform (without the gateway).
#[derive(Debug)]
pub struct TestPlatform {
    pub users: TestUsers,
    pub jobs_addr: SocketAddr,
    pub jobs_db_url: String,
    pub files: tempfile::TempDir,
    jobs: Option<Running>,
    settings: Settings,
    starts: usize,
}

impl TestPlatform {
    /// The jobs service's settings for tests: fast polls, short leases.
    pub fn settings(users: &TestUsers, db: &TestDb, files: &std::path::Path) -> Settings {
        let auth = users.auth();
        let mut scheduler =
            SchedulerSettings::with_poll_interval(Duration::from_millis(150), "test-worker".into());
        scheduler.max_backoff = Duration::from_secs(1);
        scheduler.lease = Duration::from_secs(3);
        scheduler.reconcile_after = Duration::from_millis(600);
        scheduler.credential_recheck = Duration::from_millis(300);
        Settings {
            addr: "127.0.0.1:0".parse().expect("valid address"),
            database_url: db.url.clone(),
            max_connections: 8,
            migrate: true,
            grace: Duration::from_secs(5),
            verifier: auth.verifier(),
            services: auth.service_keys(Component::Jobs),
            identity: auth.jobs.clone(),
            keyring: Keyring::new(rand::random(), &[]),
            registry_url: users.registry.url(),
            users_url: users.url(),
            storage_url: format!("file://{}", files.display()),
            public_url: "http://127.0.0.1:8000".into(),
            max_upload_bytes: 256 * 1024 * 1024,
            signed_url_ttl: Duration::from_secs(3600),
            outbound: OutboundSettings {
                allow_private_targets: true,
                connect_timeout: Duration::from_secs(2),
                timeout: Duration::from_secs(5),
                user_agent: "fedimpute-tests".into(),
            },
            submit_timeout: Duration::from_secs(3),
            scheduler,
            notify_interval: Duration::from_millis(200),
            watch_interval: Duration::from_millis(200),
        }
    }

    /// Registry and users on SQLite, jobs on `db`.
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, |_| {}, |_| {}).await
    }

    pub async fn spawn_with(
        db: TestDb,
        users_tweak: impl FnOnce(&mut fedimpute_users::Settings),
        jobs_tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let users = TestUsers::spawn_with(TestDb::sqlite(), users_tweak).await;
        Self::spawn_on(users, db, jobs_tweak).await
    }

    /// Jobs on `db` next to an already running users service (and its
    /// registry): a whole platform on existing databases.
    pub async fn spawn_on(
        users: TestUsers,
        db: TestDb,
        jobs_tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let files = tempfile::tempdir().expect("a temp dir");
        let mut settings = Self::settings(&users, &db, files.path());
        jobs_tweak(&mut settings);
        let mut platform = Self {
            users,
            jobs_addr: "127.0.0.1:0".parse().expect("valid address"),
            jobs_db_url: db.url.clone(),
            files,
            jobs: None,
            settings,
            starts: 0,
        };
        platform.start_jobs().await;
        // The database lives as long as the platform.
        std::mem::forget(db);
        platform
    }

    /// (Re)starts the jobs component on the same database and files.
    pub async fn start_jobs(&mut self) {
        self.starts += 1;
        let mut settings = self.settings.clone();
        // Each start is a new worker, as a restarted process would be.
        settings.scheduler.worker_id = format!("test-worker-{}", self.starts);
        let app = Application::build(settings)
            .await
            .expect("the jobs service starts");
        self.jobs_addr = app.local_addr();
        self.jobs = Some(Running::start(|shutdown| app.run_until(shutdown)));
    }

    /// Another jobs replica on the same database and file store (its own
    /// worker id and port): stop it with [`Running::stop`].
    pub async fn replica(&mut self) -> Running {
        self.starts += 1;
        let mut settings = self.settings.clone();
        settings.scheduler.worker_id = format!("test-worker-{}", self.starts);
        let app = Application::build(settings)
            .await
            .expect("a jobs replica starts");
        Running::start(|shutdown| app.run_until(shutdown))
    }

    /// Stops the jobs component cleanly (as SIGTERM would).
    pub async fn stop_jobs(&mut self) {
        if let Some(jobs) = self.jobs.take() {
            jobs.stop("jobs service").await;
        }
    }

    /// Kills the jobs component mid-flight: its task is dropped where it
    /// stands, as a crashed process would be; its leases stay behind.
    pub fn kill_jobs(&mut self) {
        if let Some(jobs) = self.jobs.take() {
            jobs.abort();
        }
    }

    pub fn jobs_url(&self) -> String {
        format!("http://{}", self.jobs_addr)
    }

    pub async fn jobs(&self) -> JobsClient {
        let channel = Channel::from_shared(self.jobs_url())
            .expect("valid URL")
            .connect()
            .await
            .expect("connect to the jobs service");
        JobsServiceClient::new(channel)
            .max_decoding_message_size(16 * 1024 * 1024)
            .max_encoding_message_size(16 * 1024 * 1024)
    }

    pub async fn registry(&self) -> RegistryServiceClient<Channel> {
        self.users.registry.client().await
    }

    /// Registers a service as admin.
    pub async fn service(
        &self,
        name: &str,
        api_type: rpb::ApiType,
        base_url: &str,
        requires_auth: bool,
        config: serde_json::Value,
    ) -> rpb::Service {
        let admin = self.users.admin_token().await;
        let service = rpb::Service {
            name: name.into(),
            api_type: api_type as i32,
            base_url: base_url.into(),
            requires_auth: Some(requires_auth),
            api_config: struct_of(config),
            ..Default::default()
        };
        self.registry()
            .await
            .create_service(bearer(
                &admin,
                rpb::CreateServiceRequest {
                    service: Some(service),
                },
            ))
            .await
            .expect("create the service")
            .into_inner()
            .service
            .expect("a service")
    }

    /// Adds a panel to a service as admin.
    pub async fn panel(
        &self,
        service_id: i64,
        name: &str,
        external_id: &str,
        populations: &[&str],
        config: serde_json::Value,
    ) -> rpb::ReferencePanel {
        let admin = self.users.admin_token().await;
        let panel = rpb::ReferencePanel {
            service_id,
            name: name.into(),
            external_id: external_id.into(),
            populations: populations.iter().map(|p| (*p).to_owned()).collect(),
            build: rpb::GenomeBuild::Hg19 as i32,
            api_config: struct_of(config),
            ..Default::default()
        };
        self.registry()
            .await
            .create_reference_panel(bearer(
                &admin,
                rpb::CreateReferencePanelRequest { panel: Some(panel) },
            ))
            .await
            .expect("create the panel")
            .into_inner()
            .panel
            .expect("a panel")
    }

    /// Stores `token` as the user's API token for the service.
    pub async fn credential(&self, user_token: &str, service_id: i64, api_token: &str) {
        self.users
            .client()
            .await
            .put_my_credential(bearer(
                user_token,
                upb::PutMyCredentialRequest {
                    service_id,
                    credential_type: upb::CredentialType::ApiToken as i32,
                    api_token: api_token.into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("store the credential");
    }

    /// Uploads `bytes` as `filename` in chunks of `chunk` bytes.
    pub async fn upload(
        &self,
        token: &str,
        filename: &str,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<pb::InputFile, tonic::Status> {
        upload(&mut self.jobs().await, token, filename, bytes, chunk, None).await
    }

    /// Reads a job.
    pub async fn job(&self, token: &str, id: &str) -> pb::Job {
        self.jobs()
            .await
            .get_job(bearer(token, pb::GetJobRequest { id: id.into() }))
            .await
            .expect("get the job")
            .into_inner()
            .job
            .expect("a job")
    }

    /// Waits until the job is in `status` (at most 60 s).
    pub async fn until_status(&self, token: &str, id: &str, status: pb::JobStatus) -> pb::Job {
        let mut client = self.jobs().await;
        eventually(
            &format!("job {id} to be {}", status.as_str_name()),
            Duration::from_secs(60),
            || {
                let mut client = client.clone();
                async move {
                    let job = client
                        .get_job(bearer(token, pb::GetJobRequest { id: id.into() }))
                        .await
                        .ok()?
                        .into_inner()
                        .job?;
                    (job.status == status as i32).then_some(job)
                }
            },
        )
        .await;
        client
            .get_job(bearer(token, pb::GetJobRequest { id: id.into() }))
            .await
            .expect("get the job")
            .into_inner()
            .job
            .expect("a job")
    }

    pub async fn shutdown(mut self) {
        self.stop_jobs().await;
        self.users.shutdown().await;
    }
}

/// A JSON object as a `google.protobuf.Struct` (`None` for anything else).
pub fn struct_of(value: serde_json::Value) -> Option<prost_types::Struct> {
    value
        .as_object()
        .map(|map| fedimpute_common::wire::json_to_struct(map.clone()))
}

/// Uploads through the client-streaming RPC: metadata first, then chunks.
pub async fn upload(
    client: &mut JobsClient,
    token: &str,
    filename: &str,
    bytes: &[u8],
    chunk: usize,
    size: Option<i64>,
) -> Result<pb::InputFile, tonic::Status> {
    let mut messages = vec![pb::UploadFileRequest {
        part: Some(pb::upload_file_request::Part::Metadata(
            pb::UploadMetadata {
                filename: filename.into(),
                size_bytes: size,
                sha256: String::new(),
            },
        )),
    }];
    messages.extend(bytes.chunks(chunk.max(1)).map(|c| pb::UploadFileRequest {
        part: Some(pb::upload_file_request::Part::Chunk(c.to_vec())),
    }));
    let request = bearer(token, futures::stream::iter(messages));
    client
        .upload_file(request)
        .await
        .map(|r| r.into_inner().file.expect("a file"))
}
