//! A users service on `127.0.0.1:0` with the registry it talks to, built
//! like the binary builds them, sharing one signing key: tokens from the
//! users service are accepted by the registry.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use fedimpute_common::{crypto::Keyring, http::OutboundSettings, mail::SmtpSettings};
use fedimpute_proto::users::{self as pb, users_service_client::UsersServiceClient};
use fedimpute_users::{
    Application, Settings,
    config::{Bootstrap, MailSettings, ThrottleSettings, TokenSettings},
};
use tonic::{Request, metadata::MetadataValue, transport::Channel};

use super::{
    Running,
    auth::{AUDIENCE, ISSUER, TestAuth},
    db::TestDb,
    registry::TestRegistry,
};

/// The bootstrap admin's credentials in tests.
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "Adm1n-test-passphrase!";
/// bcrypt cost in tests (the minimum: tests are about behaviour).
pub const TEST_COST: u32 = 4;

/// A running users service and its registry.
#[derive(Debug)]
pub struct TestUsers {
    pub addr: SocketAddr,
    pub registry: TestRegistry,
    pub db: TestDb,
    pub data_dir: tempfile::TempDir,
    running: Running,
}

impl TestUsers {
    pub fn settings(
        db: &TestDb,
        auth: &TestAuth,
        registry_url: String,
        data_dir: PathBuf,
    ) -> Settings {
        Settings {
            addr: "127.0.0.1:0".parse().expect("valid address"),
            database_url: db.url.clone(),
            max_connections: 8,
            migrate: true,
            grace: Duration::from_secs(5),
            tokens: TokenSettings {
                signer: auth.signer(),
                previous_keys: Vec::new(),
                issuer: ISSUER.into(),
                audience: AUDIENCE.into(),
                access_ttl: Duration::from_secs(900),
                refresh_ttl: Duration::from_secs(30 * 24 * 3600),
                session_max_age: Duration::from_secs(90 * 24 * 3600),
                reset_ttl: Duration::from_secs(3600),
            },
            bcrypt_cost: TEST_COST,
            hashing_concurrency: 2,
            throttle: ThrottleSettings {
                delay_step: Duration::ZERO,
                ..ThrottleSettings::default()
            },
            mail: MailSettings {
                smtp: None,
                log_when_no_smtp: true,
                from: "fedimpute <noreply@fedimpute.test>".into(),
                public_url: "https://fedimpute.test".into(),
                poll_interval: Duration::from_secs(1),
                retry_base: Duration::from_millis(200),
            },
            services: auth.service_keys(fedimpute_common::auth::Component::Users),
            keyring: Keyring::new(rand::random(), &[]),
            registry_url,
            outbound: OutboundSettings {
                allow_private_targets: true,
                connect_timeout: Duration::from_secs(2),
                timeout: Duration::from_secs(5),
                user_agent: "fedimpute-tests".into(),
            },
            bootstrap: Bootstrap {
                admin_password: Some(ADMIN_PASSWORD.into()),
                admin_username: ADMIN.into(),
                admin_email: "admin@fedimpute.test".into(),
                password_file: data_dir.join("initial-admin-password"),
            },
            audit_retention: Duration::from_secs(365 * 24 * 3600),
            default_monthly_job_limit: 10,
            default_storage_limit_bytes: 1 << 30,
        }
    }

    /// Users on `db`, with a registry on its own SQLite database.
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: TestDb, tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_with_registry_db(db, TestDb::sqlite(), tweak).await
    }

    /// Users on `db`, with its registry on `registry_db` (an existing
    /// platform's databases, e.g. after an import).
    pub async fn spawn_with_registry_db(
        db: TestDb,
        registry_db: TestDb,
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let auth = TestAuth::new();
        let data_dir = tempfile::tempdir().expect("a temp dir");
        let mut settings = Self::settings(&db, &auth, String::new(), data_dir.path().to_path_buf());
        let registry = TestRegistry::spawn_with_auth(registry_db, auth, |_| {}).await;
        settings.registry_url = registry.url();
        tweak(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("the users service starts");
        let addr = app.local_addr();
        Self {
            addr,
            registry,
            db,
            data_dir,
            running: Running::start(|shutdown| app.run_until(shutdown)),
        }
    }

    pub fn auth(&self) -> &TestAuth {
        &self.registry.auth
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn client(&self) -> UsersServiceClient<Channel> {
        let channel = Channel::from_shared(self.url())
            .expect("valid URL")
            .connect()
            .await
            .expect("connect to the users service");
        UsersServiceClient::new(channel)
    }

    /// Logs in and returns the reply.
    pub async fn login(&self, username: &str, password: &str) -> pb::LoginResponse {
        self.client()
            .await
            .login(pb::LoginRequest {
                username: username.into(),
                password: password.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("{username} logs in: {e}"))
            .into_inner()
    }

    /// The bootstrap admin's access token.
    pub async fn admin_token(&self) -> String {
        self.login(ADMIN, ADMIN_PASSWORD).await.access_token
    }

    /// Registers `username` (password [`password_of`]) and
    /// returns the new user and an access token.
    pub async fn researcher(&self, username: &str) -> (pb::User, String) {
        let password = password_of(username);
        let user = self
            .client()
            .await
            .register(pb::RegisterRequest {
                username: username.into(),
                email: format!("{username}@example.org"),
                first_name: "Test".into(),
                last_name: "Researcher".into(),
                password: password.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("register {username}: {e}"))
            .into_inner()
            .user
            .expect("a user");
        let token = self.login(username, &password).await.access_token;
        (user, token)
    }

    /// Stops both services and asserts that they stopped cleanly.
    pub async fn shutdown(self) {
        self.running.stop("users service").await;
        self.registry.shutdown().await;
    }
}

/// The password [`TestUsers::researcher`] registers with (the policy
/// refuses passwords that contain the username).
pub fn password_of(username: &str) -> String {
    format!("Lantern-Orchard-Quiver-{}!", username.len() * 7 + 2026)
}

/// A request with a bearer token.
pub fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).expect("ascii token"),
    );
    request
}

/// A request carrying a component's service token (and optionally a user's).
pub fn as_component<T>(message: T, service_token: &str, user_token: Option<&str>) -> Request<T> {
    let mut request = match user_token {
        Some(token) => with_token(message, token),
        None => Request::new(message),
    };
    request.metadata_mut().insert(
        fedimpute_common::auth::SERVICE_TOKEN_HEADER,
        MetadataValue::try_from(service_token).expect("ascii token"),
    );
    request
}

/// SMTP settings for a fake relay.
pub fn smtp(url: &str) -> SmtpSettings {
    url.parse().expect("a valid SMTP URL")
}
