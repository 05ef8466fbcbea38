//! `Application::build` connects, migrates, opens the file store and binds;
//! `run_until` serves, runs the scheduler and sends notifications until
//! shutdown.

use std::{future::Future, net::SocketAddr, sync::Arc};

use fedimpute_common::{
    auth::Authenticated,
    grpc::{GrpcServer, ServeError},
};
use fedimpute_jobs_migration::{Migrator, MigratorTrait};
use fedimpute_proto::jobs::jobs_service_server::JobsServiceServer;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    adapters::{Clients, Remotes},
    config::Settings,
    files::storage::Storage,
    grpc::JobsApi,
    jobs::{CoreSettings, Inner, Jobs},
    peers::Peers,
    scheduler::{Notifier, Scheduler},
    store::{JobsStore, SeaOrmStore},
    watch::Hub,
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("jobs database {url}: {source}")]
    Database { url: String, source: sea_orm::DbErr },
    #[error("jobs migrations failed: {0}")]
    Migrate(sea_orm::DbErr),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Uploads are streamed in chunks; one message may carry up to this much.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// A built, bound jobs service.
#[derive(Debug)]
pub struct Application {
    server: GrpcServer,
    scheduler: Scheduler,
    notifier: Notifier,
    store: Arc<dyn JobsStore>,
    metrics_interval: std::time::Duration,
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
        let store: Arc<dyn JobsStore> = Arc::new(SeaOrmStore::new(db.clone()));
        let storage =
            Storage::open(&settings.storage_url).map_err(|e| StartError::Config(e.to_string()))?;
        let peers = Peers::new(
            &settings.registry_url,
            &settings.users_url,
            settings.identity.clone(),
        )
        .map_err(StartError::Config)?;
        let clients = Clients::new(&settings.outbound, settings.submit_timeout)
            .map_err(StartError::Config)?;
        let remotes = Remotes::new(clients);
        let wake = Arc::new(Notify::new());
        let core = Jobs::new(Inner {
            store: store.clone(),
            storage: storage.clone(),
            peers: peers.clone(),
            remotes: remotes.clone(),
            keyring: settings.keyring.clone(),
            settings: CoreSettings {
                max_upload_bytes: settings.max_upload_bytes,
                public_url: settings.public_url.clone(),
                signed_url_ttl: settings.signed_url_ttl,
            },
            wake,
            hub: Hub::new(store.clone(), settings.watch_interval),
        });
        let scheduler = Scheduler::new(core.clone(), remotes, settings.scheduler.clone());
        let notifier = Notifier {
            store: store.clone(),
            peers,
            public_url: settings.public_url.clone(),
            interval: settings.notify_interval,
            wake: Arc::new(Notify::new()),
        };
        let api = JobsServiceServer::new(JobsApi::new(core))
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let server = GrpcServer::bind(
            settings.addr,
            &[fedimpute_proto::FILE_DESCRIPTOR_SET],
            settings.grace,
        )
        .await?
        .add_service(Authenticated::new(
            api,
            settings.verifier.clone(),
            settings.services.clone(),
        ));
        tracing::info!(
            addr = %server.local_addr(),
            database = %redacted,
            storage = %storage.location(),
            "jobs bound"
        );
        Ok(Self {
            server,
            scheduler,
            notifier,
            store,
            metrics_interval: settings.scheduler.poll_interval,
            db,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The jobs database connection (for tests and benchmarks).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Serves until `shutdown` resolves, then drains.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let cancel = CancellationToken::new();
        // If this future is dropped, the background work goes with it.
        let mut background = AbortOnDrop(vec![
            tokio::spawn(self.scheduler.run(cancel.clone())),
            tokio::spawn(self.notifier.run(cancel.clone())),
            tokio::spawn(crate::metrics::run(
                self.store,
                self.metrics_interval,
                cancel.clone(),
            )),
        ]);
        let served = self.server.run_until(shutdown).await;
        cancel.cancel();
        for task in background.0.drain(..) {
            let _ = task.await;
        }
        self.db.clone().close().await.ok();
        served
    }
}

/// Tasks aborted when dropped.
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
