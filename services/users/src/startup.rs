//! `Application::build` connects, migrates, creates the first admin and
//! binds; `run_until` serves, sends mail and prunes the audit log until
//! shutdown.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use chrono::Utc;
use fedimpute_common::{
    auth::{Authenticated, Verifier},
    grpc::{GrpcServer, ServeError},
    mail::{DEFAULT_SMTP_TIMEOUT, Mailbox, Mailer},
};
use fedimpute_proto::users::users_service_server::UsersServiceServer;
use fedimpute_users_migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    bootstrap,
    config::Settings,
    grpc::UsersApi,
    mail::{Delivery, Outbox},
    remote::Registry,
    store::{SeaOrmStore, UsersStore},
    users::Users,
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("users database {url}: {source}")]
    Database { url: String, source: sea_orm::DbErr },
    #[error("users migrations failed: {0}")]
    Migrate(sea_orm::DbErr),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot create the first admin: {0}")]
    Bootstrap(String),
}

/// A built, bound users service.
#[derive(Debug)]
pub struct Application {
    server: GrpcServer,
    outbox: Outbox,
    store: Arc<dyn UsersStore>,
    audit_retention: Duration,
    db: DatabaseConnection,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let redacted = fedimpute_common::db::redact_url(&settings.database_url);
        let db = fedimpute_common::db::connect(&settings.database_url, settings.max_connections)
            .await
            .map_err(|source| StartError::Database {
                url: redacted.clone(),
                source,
            })?;
        if settings.migrate {
            Migrator::up(&db, None).await.map_err(StartError::Migrate)?;
        }
        let store: Arc<dyn UsersStore> = Arc::new(SeaOrmStore::new(db.clone()));
        let registry = Registry::new(&settings.registry_url).map_err(StartError::Config)?;
        let http = fedimpute_common::http::client(&settings.outbound)
            .map_err(|e| StartError::Config(e.to_string()))?;
        let wake = Arc::new(Notify::new());
        let users = Users::new(&settings, store.clone(), registry, http, wake.clone());
        bootstrap::ensure_admin(&users, &settings.bootstrap)
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        users.hasher().warm_up().await;

        let delivery = match (&settings.mail.smtp, settings.mail.log_when_no_smtp) {
            (Some(smtp), _) => {
                let from: Mailbox = settings.mail.from.parse().map_err(|e| {
                    StartError::Config(format!("FEDIMPUTE_MAIL_FROM {:?}: {e}", settings.mail.from))
                })?;
                Delivery::Smtp(
                    Mailer::new(smtp, from, DEFAULT_SMTP_TIMEOUT)
                        .map_err(|e| StartError::Config(e.to_string()))?,
                )
            }
            (None, true) => Delivery::Log,
            (None, false) => Delivery::Hold,
        };
        let outbox = Outbox::new(
            store.clone(),
            settings.keyring.clone(),
            delivery,
            settings.mail.clone(),
            wake,
        );

        let tokens = &settings.tokens;
        let verifier = Verifier::new(&tokens.issuer, &tokens.audience, tokens.public_keys());
        let server = GrpcServer::bind(
            settings.addr,
            &[fedimpute_proto::FILE_DESCRIPTOR_SET],
            settings.grace,
        )
        .await?
        .add_service(
            Authenticated::new(
                UsersServiceServer::new(UsersApi::new(users)),
                verifier,
                settings.services.clone(),
            )
            .tolerate_bad_tokens_on(fedimpute_common::auth::TOKEN_FREE_METHODS),
        );
        tracing::info!(addr = %server.local_addr(), database = %redacted, "users bound");
        Ok(Self {
            server,
            outbox,
            store,
            audit_retention: settings.audit_retention,
            db,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The users database connection (for tests and benchmarks).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Serves until `shutdown` resolves, then drains.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let cancel = CancellationToken::new();
        let outbox = tokio::spawn(self.outbox.run(cancel.clone()));
        let pruner = tokio::spawn(prune_audit(
            self.store.clone(),
            self.audit_retention,
            cancel.clone(),
        ));
        let served = self.server.run_until(shutdown).await;
        cancel.cancel();
        let _ = outbox.await;
        let _ = pruner.await;
        self.db.clone().close().await.ok();
        served
    }
}

/// Deletes audit entries past retention, and sessions, tokens, throttle
/// rows and sent mail that ended more than a week ago; once at start and
/// then daily.
async fn prune_audit(store: Arc<dyn UsersStore>, retention: Duration, cancel: CancellationToken) {
    let day = Duration::from_secs(24 * 3600);
    loop {
        match store
            .purge_expired(Utc::now() - chrono::Duration::days(7))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "pruned ended sessions, tokens and sent mail"),
            Err(e) => tracing::error!(error = %e, "cannot prune expired rows"),
        }
        let cutoff = Utc::now()
            - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(365));
        match store.purge_audit(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "pruned audit entries past retention"),
            Err(e) => tracing::error!(error = %e, "cannot prune the audit log"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(day) => {}
        }
    }
}
