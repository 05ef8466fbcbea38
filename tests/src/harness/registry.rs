//! A registry on `127.0.0.1:0`, built like the binary builds it.

use std::{net::SocketAddr, time::Duration};

use fedimpute_common::{crypto::Keyring, http::OutboundSettings};
use fedimpute_proto::registry::registry_service_client::RegistryServiceClient;
use fedimpute_registry::{Application, Settings, health::HealthSettings};
use tonic::transport::Channel;

use super::{Running, auth::TestAuth, db::TestDb};

/// A running registry; `shutdown()` stops it and checks it stopped cleanly.
#[derive(Debug)]
pub struct TestRegistry {
    pub addr: SocketAddr,
    pub auth: TestAuth,
    pub db: TestDb,
    running: Running,
}

impl TestRegistry {
    /// Settings for tests: loopback targets allowed, short timeouts, the
    /// background monitor off (tests turn it on when they need it).
    pub fn settings(db: &TestDb, auth: &TestAuth) -> Settings {
        Settings {
            addr: "127.0.0.1:0".parse().expect("valid address"),
            database_url: db.url.clone(),
            max_connections: 8,
            migrate: true,
            grace: Duration::from_secs(5),
            health: HealthSettings {
                interval: Duration::from_secs(1),
                failure_threshold: 2,
                enabled: false,
                ..HealthSettings::default()
            },
            outbound: OutboundSettings {
                allow_private_targets: true,
                connect_timeout: Duration::from_secs(2),
                timeout: Duration::from_millis(700),
                user_agent: "fedimpute-tests".into(),
            },
            min_check_interval: Duration::ZERO,
            verifier: auth.verifier(),
            services: auth.service_keys(fedimpute_common::auth::Component::Registry),
            keyring: Keyring::new(rand::random(), &[]),
        }
    }

    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: TestDb, tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_with_auth(db, TestAuth::new(), tweak).await
    }

    /// A registry that trusts `auth` (shared with a users service).
    pub async fn spawn_with_auth(
        db: TestDb,
        auth: TestAuth,
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut settings = Self::settings(&db, &auth);
        tweak(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("the registry starts");
        let addr = app.local_addr();
        Self {
            addr,
            auth,
            db,
            running: Running::start(|shutdown| app.run_until(shutdown)),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url())
            .expect("valid URL")
            .connect()
            .await
            .expect("connect to the registry")
    }

    pub async fn client(&self) -> RegistryServiceClient<Channel> {
        RegistryServiceClient::new(self.channel().await)
    }

    /// Signals shutdown (as SIGTERM would) without waiting for it.
    pub fn begin_shutdown(&mut self) {
        self.running.begin_shutdown();
    }

    /// Stops the registry and asserts that it stopped cleanly.
    pub async fn shutdown(self) {
        self.running.stop("registry").await;
    }
}
