//! Persistence of the registry: a trait (what the service needs) and its
//! sea-orm implementation, the same code on SQLite and PostgreSQL.

pub mod entity;
mod sea;

use chrono::{DateTime, Utc};

pub use entity::{
    health_checks::Model as HealthCheck, reference_panels::Model as Panel,
    services::Model as Service,
};
pub use sea::SeaOrmStore;

use crate::{
    domain::{HealthStatus, HistoryQuery, PanelQuery, PanelSpec, ServiceQuery, ServiceSpec, Slug},
    error::Result,
};

/// Sealed secrets and their names, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredSecrets {
    pub sealed: Option<String>,
    pub names: Vec<String>,
}

/// The outcome of one probe, after hysteresis, to record.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthUpdate {
    /// The recorded (hysteresis-applied) status of the service.
    pub status: HealthStatus,
    /// What the probe itself saw, for the history row.
    pub probe_status: HealthStatus,
    pub is_available: bool,
    pub consecutive_failures: i32,
    pub first_unhealthy_at: Option<DateTime<Utc>>,
    pub response_time_ms: Option<f64>,
    pub error_message: String,
    pub checked_at: DateTime<Utc>,
    pub next_check_at: DateTime<Utc>,
    pub queue_current: Option<i32>,
}

/// What became of a health update.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    Saved(Box<Service>),
    /// Another probe was recorded since the row was read: read again.
    Conflict,
    /// The service was deleted meanwhile.
    Gone,
}

/// The writes of one panel sync, applied together, and what they amount to.
#[derive(Clone, Debug, Default)]
pub struct PanelChanges {
    pub inserts: Vec<(PanelSpec, Slug)>,
    pub updates: Vec<(i64, PanelSpec, Option<DateTime<Utc>>)>,
    pub synced_at: Option<DateTime<Utc>>,
    pub updated: i32,
    pub unchanged: i32,
    pub marked_unavailable: i32,
    pub skipped: i32,
}

/// Plans a panel sync from the service's panels as they are.
pub type SyncPlan<'a> = dyn Fn(&[Panel]) -> Result<PanelChanges> + Send + Sync + 'a;

/// What the registry needs from its database.
#[tonic::async_trait]
pub trait RegistryStore: Send + Sync + std::fmt::Debug + 'static {
    async fn insert_service(
        &self,
        spec: &ServiceSpec,
        slug: &Slug,
        secrets: StoredSecrets,
    ) -> Result<Service>;
    /// `reactivated`: probe it at once.
    async fn update_service(
        &self,
        id: i64,
        spec: &ServiceSpec,
        secrets: StoredSecrets,
        reactivated: bool,
    ) -> Result<Service>;
    async fn get_service(&self, id: i64) -> Result<Option<Service>>;
    async fn get_service_by_slug(&self, slug: &str) -> Result<Option<Service>>;
    /// Ordered by id; with a page, at most `size + 1` rows after its token.
    async fn list_services(&self, query: &ServiceQuery) -> Result<Vec<Service>>;
    /// The deleted service and how many panels went with it.
    async fn delete_service(&self, id: i64) -> Result<Option<(Service, u64)>>;

    async fn insert_panel(&self, spec: &PanelSpec, slug: &Slug) -> Result<Panel>;
    async fn update_panel(&self, id: i64, spec: &PanelSpec) -> Result<Panel>;
    async fn get_panel(&self, id: i64) -> Result<Option<Panel>>;
    async fn panel_slug_taken(&self, service_id: i64, slug: &str) -> Result<bool>;
    /// Ordered by id, at most `size + 1` rows after the page token.
    async fn list_panels(&self, query: &PanelQuery) -> Result<Vec<Panel>>;
    async fn delete_panel(&self, id: i64) -> Result<bool>;
    /// Runs a panel sync in one transaction, the service's row locked: `plan`
    /// sees its panels as they are and returns the writes, which are applied
    /// (to every column but `api_config`, which only administrators write).
    async fn sync_panels(
        &self,
        service_id: i64,
        plan: &SyncPlan<'_>,
    ) -> Result<(PanelChanges, Vec<Panel>)>;

    /// Updates the service's health and appends the history row, atomically,
    /// if no other probe was recorded since `version` was read.
    async fn record_health(
        &self,
        service_id: i64,
        version: i64,
        update: &HealthUpdate,
    ) -> Result<Recorded>;
    /// Up to `limit` active services due for a probe, each claimed until
    /// `lease_until` so that another replica does not probe it too.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Service>>;
    /// History of one service, newest first, at most `size + 1` rows.
    async fn health_history(&self, query: &HistoryQuery) -> Result<Vec<HealthCheck>>;
    /// Deletes history rows older than `before`; returns how many.
    async fn prune_health_history(&self, before: DateTime<Utc>) -> Result<u64>;
    /// Active services unhealthy since before `since`.
    async fn unhealthy_since(&self, since: DateTime<Utc>) -> Result<Vec<Service>>;
}
