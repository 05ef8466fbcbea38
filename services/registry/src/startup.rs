//! `Application::build` connects, migrates and binds; `run_until` serves
//! and runs the health monitor until shutdown.

use std::{future::Future, net::SocketAddr, sync::Arc};

use fedimpute_common::{
    auth::Authenticated,
    grpc::{GrpcServer, ServeError},
};
use fedimpute_proto::registry::registry_service_server::RegistryServiceServer;
use fedimpute_registry_migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Settings,
    grpc::RegistryApi,
    health::HealthMonitor,
    registry::Registry,
    secrets::ServiceSecrets,
    store::{RegistryStore, SeaOrmStore},
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("registry database {url}: {source}")]
    Database { url: String, source: sea_orm::DbErr },
    #[error("registry migrations failed: {0}")]
    Migrate(sea_orm::DbErr),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("outbound HTTP client: {0}")]
    Http(#[from] fedimpute_common::http::OutboundError),
}

/// A built, bound registry.
#[derive(Debug)]
pub struct Application {
    server: GrpcServer,
    monitor: Arc<HealthMonitor>,
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
        let store: Arc<dyn RegistryStore> = Arc::new(SeaOrmStore::new(db.clone()));
        let client = fedimpute_common::http::client(&settings.outbound)?;
        let secrets = ServiceSecrets::new(settings.keyring.clone());
        let monitor = Arc::new(HealthMonitor::new(
            store.clone(),
            client.clone(),
            secrets.clone(),
            settings.health.clone(),
            settings.outbound.allow_private_targets,
            settings.outbound.timeout,
        ));
        let core = Registry::new(
            store,
            secrets,
            monitor.clone(),
            client,
            settings.min_check_interval,
            settings.outbound.allow_private_targets,
        );
        let api = RegistryApi::new(core);
        let server = GrpcServer::bind(
            settings.addr,
            &[fedimpute_proto::FILE_DESCRIPTOR_SET],
            settings.grace,
        )
        .await?
        .add_service(Authenticated::new(
            RegistryServiceServer::new(api),
            settings.verifier.clone(),
            settings.services.clone(),
        ));
        tracing::info!(addr = %server.local_addr(), database = %redacted, "registry bound");
        Ok(Self {
            server,
            monitor,
            db,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The registry's database connection (for tests and benchmarks).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Serves until `shutdown` resolves, then drains.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let cancel = CancellationToken::new();
        let monitor = self
            .monitor
            .settings()
            .enabled
            .then(|| tokio::spawn(self.monitor.clone().run(cancel.clone())));
        let served = self.server.run_until(shutdown).await;
        cancel.cancel();
        if let Some(task) = monitor {
            let _ = task.await;
        }
        self.db.clone().close().await.ok();
        served
    }
}
