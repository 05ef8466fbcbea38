//! The whole platform behind the gateway on `127.0.0.1:0`: registry, users
//! and jobs (a [`TestPlatform`]) and the gateway, built as the binary
//! builds it, with a plain HTTP client for REST.

use std::{net::SocketAddr, time::Duration};

use fedimpute_gateway::{Application, RateSettings, Settings};

use super::{Running, db::TestDb, jobs::TestPlatform};

/// A running platform with its gateway.
#[derive(Debug)]
pub struct TestGateway {
    pub platform: TestPlatform,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    settings: Settings,
    running: Option<Running>,
}

impl TestGateway {
    /// The gateway's settings for tests: generous limits unless tweaked.
    pub fn settings(platform: &TestPlatform) -> Settings {
        let auth = platform.users.auth();
        Settings {
            addr: "127.0.0.1:0".parse().expect("valid address"),
            registry_url: platform.users.registry.url(),
            users_url: platform.users.url(),
            jobs_url: platform.jobs_url(),
            verifier: auth.verifier(),
            identity: auth.gateway.clone(),
            cors_origins: vec!["https://app.fedimpute.test".into()],
            trusted_proxies: vec!["127.0.0.1/32".parse().expect("a CIDR block")],
            rate: RateSettings {
                per_client: 100_000,
                per_user: 100_000,
                credentials: 1_000,
            },
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(20),
            upload_timeout: Duration::from_secs(600),
            grace: Duration::from_secs(5),
        }
    }

    /// Registry and users on SQLite, jobs on `db`, and the gateway.
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: TestDb, tweak: impl FnOnce(&mut Settings)) -> Self {
        let platform = TestPlatform::spawn(db).await;
        Self::in_front_of(platform, tweak).await
    }

    /// A gateway in front of a running platform.
    pub async fn in_front_of(platform: TestPlatform, tweak: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Self::settings(&platform);
        tweak(&mut settings);
        let app = Application::build(settings.clone())
            .await
            .expect("the gateway starts");
        let addr = app.local_addr();
        settings.addr = addr;
        Self {
            platform,
            addr,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(4)
                .build()
                .expect("an HTTP client"),
            settings,
            running: Some(Running::start(|shutdown| app.run_until(shutdown))),
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The admin's access token, from a login through the gateway.
    pub async fn admin_token(&self) -> String {
        self.login(super::users::ADMIN, super::users::ADMIN_PASSWORD)
            .await
    }

    /// Logs in over REST and returns the access token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let reply: serde_json::Value = self
            .http
            .post(self.url("/api/auth/login/"))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .expect("the gateway answers")
            .json()
            .await
            .expect("a JSON reply");
        reply["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token in {reply}"))
            .to_owned()
    }

    /// The settings the gateway runs with.
    pub fn gateway_settings(&self) -> &Settings {
        &self.settings
    }

    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.stop("gateway").await;
        }
        self.platform.shutdown().await;
    }
}
