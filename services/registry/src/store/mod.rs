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
    domain::{ApiType, Build, HealthStatus, PanelSpec, ServiceSpec, Slug},
    error::Result,
};

/// Filters of `list_services`.
#[derive(Clone, Debug, Default)]
pub struct ServiceFilter {
    pub api_type: Option<ApiType>,
    pub service_type: Option<String>,
    pub is_active: Option<bool>,
    pub is_available: Option<bool>,
    pub continent: Option<String>,
    pub country: Option<String>,
    pub build: Option<Build>,
    pub q: Option<String>,
    pub after_id: Option<i64>,
    pub limit: u64,
}

/// Filters of `list_panels`.
#[derive(Clone, Debug, Default)]
pub struct PanelFilter {
    pub service_id: Option<i64>,
    pub build: Option<Build>,
    pub population: Option<String>,
    pub is_available: Option<bool>,
    pub after_id: Option<i64>,
    pub limit: u64,
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

/// What the registry needs from its database.
#[tonic::async_trait]
pub trait RegistryStore: Send + Sync + std::fmt::Debug + 'static {
    async fn insert_service(
        &self,
        spec: &ServiceSpec,
        slug: &Slug,
        secrets: Option<String>,
    ) -> Result<Service>;
    async fn update_service(
        &self,
        id: i64,
        spec: &ServiceSpec,
        secrets: Option<String>,
    ) -> Result<Service>;
    async fn get_service(&self, id: i64) -> Result<Option<Service>>;
    async fn get_service_by_slug(&self, slug: &str) -> Result<Option<Service>>;
    async fn list_services(&self, filter: &ServiceFilter) -> Result<Vec<Service>>;
    /// The deleted service and how many panels went with it.
    async fn delete_service(&self, id: i64) -> Result<Option<(Service, u64)>>;

    async fn insert_panel(
        &self,
        spec: &PanelSpec,
        slug: &Slug,
        synced_at: Option<DateTime<Utc>>,
    ) -> Result<Panel>;
    async fn update_panel(
        &self,
        id: i64,
        spec: &PanelSpec,
        synced_at: Option<DateTime<Utc>>,
    ) -> Result<Panel>;
    async fn get_panel(&self, id: i64) -> Result<Option<Panel>>;
    async fn panel_slug_taken(&self, service_id: i64, slug: &str) -> Result<bool>;
    async fn list_panels(&self, filter: &PanelFilter) -> Result<Vec<Panel>>;
    async fn delete_panel(&self, id: i64) -> Result<bool>;

    /// Updates the service's health and appends the history row, atomically.
    async fn record_health(
        &self,
        service_id: i64,
        update: &HealthUpdate,
    ) -> Result<Option<Service>>;
    /// Active services due for a probe, each claimed until `lease_until` so
    /// that another replica does not probe it too.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Service>>;
    /// History of one service, newest first, in `[start, end)`, before `before_id`.
    async fn health_history(
        &self,
        service_id: i64,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<HealthCheck>>;
    /// Deletes history rows older than `before`; returns how many.
    async fn prune_health_history(&self, before: DateTime<Utc>) -> Result<u64>;
    /// Active services unhealthy since before `since`.
    async fn unhealthy_since(&self, since: DateTime<Utc>) -> Result<Vec<Service>>;
}
