//! The sea-orm implementation of [`RegistryStore`].

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use serde_json::json;

use super::{
    HealthCheck, HealthUpdate, Panel, PanelFilter, RegistryStore, Service, ServiceFilter,
    entity::{health_checks, reference_panels, services},
};
use crate::{
    domain::{Build, HealthStatus, PanelSpec, ServiceSpec, Slug},
    error::{Error, Result},
};

/// The registry store on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
}

impl SeaOrmStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// Maps a named unique constraint (PostgreSQL) or its columns (SQLite) to
/// `AlreadyExists`.
fn on_unique(err: DbErr, what: impl FnOnce(&str) -> Option<String>) -> Error {
    match fedimpute_common::db::unique_violation(&err)
        .as_deref()
        .and_then(what)
    {
        Some(message) => Error::AlreadyExists(message),
        None => Error::Db(err),
    }
}

fn service_conflict(slug: &str) -> impl FnOnce(&str) -> Option<String> + '_ {
    move |m| {
        (m.contains("services_slug_key") || m.contains("services.slug"))
            .then(|| format!("a service with slug '{slug}' already exists"))
    }
}

fn panel_conflict<'a>(
    slug: &'a str,
    external_id: Option<&'a str>,
) -> impl FnOnce(&str) -> Option<String> + 'a {
    move |m| {
        if m.contains("reference_panels_service_slug_key") || m.contains("reference_panels.slug") {
            Some(format!(
                "this service already has a panel with slug '{slug}'"
            ))
        } else if m.contains("reference_panels_service_external_id_key")
            || m.contains("reference_panels.external_id")
        {
            Some(format!(
                "this service already has a panel with external_id '{}'",
                external_id.unwrap_or_default()
            ))
        } else {
            None
        }
    }
}

fn service_model(
    spec: &ServiceSpec,
    secrets: Option<String>,
    now: DateTime<Utc>,
) -> services::ActiveModel {
    let (latitude, longitude) = spec
        .coordinates
        .map_or((None, None), |(a, b)| (Some(a), Some(b)));
    services::ActiveModel {
        name: Set(spec.name.clone()),
        service_type: Set(spec.service_type.clone()),
        api_type: Set(spec.api_type.as_str().to_owned()),
        base_url: Set(spec.base_url.as_str().to_owned()),
        description: Set(spec.description.clone()),
        version: Set(spec.version.clone()),
        requires_auth: Set(spec.requires_auth),
        auth_type: Set(spec.auth_type.clone()),
        max_file_size_mb: Set(spec.max_file_size_mb),
        supported_formats: Set(json!(spec.supported_formats)),
        supports_hg19: Set(spec.supported_builds.contains(&Build::Hg19)),
        supports_hg38: Set(spec.supported_builds.contains(&Build::Hg38)),
        api_config: Set(serde_json::Value::Object(spec.api_config.clone())),
        secrets: Set(secrets),
        is_active: Set(spec.is_active),
        location_institution: Set(spec.location_institution.clone()),
        location_city: Set(spec.location_city.clone()),
        location_country: Set(spec.location_country.clone()),
        location_datacenter: Set(spec.location_datacenter.clone()),
        continent: Set(spec.continent.clone()),
        latitude: Set(latitude),
        longitude: Set(longitude),
        cpu_total: Set(spec.cpu_total),
        cpu_available: Set(spec.cpu_available),
        memory_total_gb: Set(spec.memory_total_gb),
        memory_available_gb: Set(spec.memory_available_gb),
        storage_total_gb: Set(spec.storage_total_gb),
        storage_available_gb: Set(spec.storage_available_gb),
        queue_capacity: Set(spec.queue_capacity),
        queue_current: Set(spec.queue_current),
        updated_at: Set(now),
        ..Default::default()
    }
}

fn panel_model(
    spec: &PanelSpec,
    synced_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> reference_panels::ActiveModel {
    let mut model = reference_panels::ActiveModel {
        name: Set(spec.name.clone()),
        display_name: Set(spec.display_name.clone()),
        external_id: Set(spec.external_id.clone()),
        description: Set(spec.description.clone()),
        population: Set(spec.population.clone()),
        populations: Set(json!(spec.populations)),
        build: Set(spec.build.as_str().to_owned()),
        samples_count: Set(spec.samples_count),
        variants_count: Set(spec.variants_count),
        is_available: Set(spec.is_available),
        is_public: Set(spec.is_public),
        requires_permission: Set(spec.requires_permission),
        version: Set(spec.version.clone()),
        updated_at: Set(now),
        ..Default::default()
    };
    if synced_at.is_some() {
        model.last_synced_at = Set(synced_at);
    }
    model
}

/// `lower(column) LIKE %needle%`, with the needle's wildcards escaped.
fn contains(column: services::Column, needle: &str) -> sea_orm::sea_query::SimpleExpr {
    let escaped = needle
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::expr(Func::lower(Expr::col(column)))
        .like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

#[tonic::async_trait]
impl RegistryStore for SeaOrmStore {
    async fn insert_service(
        &self,
        spec: &ServiceSpec,
        slug: &Slug,
        secrets: Option<String>,
    ) -> Result<Service> {
        let now = Utc::now();
        let mut model = service_model(spec, secrets, now);
        model.slug = Set(slug.as_str().to_owned());
        model.health_status = Set(HealthStatus::Unknown.as_str().to_owned());
        model.is_available = Set(false);
        model.error_message = Set(String::new());
        model.consecutive_failures = Set(0);
        model.created_at = Set(now);
        model
            .insert(&self.db)
            .await
            .map_err(|e| on_unique(e, service_conflict(slug.as_str())))
    }

    async fn update_service(
        &self,
        id: i64,
        spec: &ServiceSpec,
        secrets: Option<String>,
    ) -> Result<Service> {
        let mut model = service_model(spec, secrets, Utc::now());
        model.id = Set(id);
        // A reactivated service is probed at once.
        if spec.is_active {
            model.next_check_at = Set(None);
        }
        model.update(&self.db).await.map_err(|e| {
            if matches!(e, DbErr::RecordNotUpdated) {
                Error::NotFound(format!("service {id} not found"))
            } else {
                Error::Db(e)
            }
        })
    }

    async fn get_service(&self, id: i64) -> Result<Option<Service>> {
        Ok(services::Entity::find_by_id(id).one(&self.db).await?)
    }

    async fn get_service_by_slug(&self, slug: &str) -> Result<Option<Service>> {
        Ok(services::Entity::find()
            .filter(services::Column::Slug.eq(slug))
            .one(&self.db)
            .await?)
    }

    async fn list_services(&self, f: &ServiceFilter) -> Result<Vec<Service>> {
        let mut cond = Condition::all();
        if let Some(a) = f.api_type {
            cond = cond.add(services::Column::ApiType.eq(a.as_str()));
        }
        if let Some(t) = &f.service_type {
            cond = cond.add(services::Column::ServiceType.eq(t.as_str()));
        }
        if let Some(a) = f.is_active {
            cond = cond.add(services::Column::IsActive.eq(a));
        }
        if let Some(a) = f.is_available {
            cond = cond.add(services::Column::IsAvailable.eq(a));
        }
        if let Some(c) = &f.continent {
            cond = cond.add(
                Expr::expr(Func::lower(Expr::col(services::Column::Continent)))
                    .eq(c.to_lowercase()),
            );
        }
        if let Some(c) = &f.country {
            cond = cond.add(
                Expr::expr(Func::lower(Expr::col(services::Column::LocationCountry)))
                    .eq(c.to_lowercase()),
            );
        }
        match f.build {
            Some(Build::Hg19) => cond = cond.add(services::Column::SupportsHg19.eq(true)),
            Some(Build::Hg38) => cond = cond.add(services::Column::SupportsHg38.eq(true)),
            None => {}
        }
        if let Some(q) = &f.q {
            cond = cond.add(
                Condition::any()
                    .add(contains(services::Column::Name, q))
                    .add(contains(services::Column::Description, q))
                    .add(contains(services::Column::LocationInstitution, q))
                    .add(contains(services::Column::LocationCity, q))
                    .add(contains(services::Column::LocationCountry, q))
                    .add(contains(services::Column::Continent, q)),
            );
        }
        if let Some(after) = f.after_id {
            cond = cond.add(services::Column::Id.gt(after));
        }
        Ok(services::Entity::find()
            .filter(cond)
            .order_by_asc(services::Column::Id)
            .limit(f.limit)
            .all(&self.db)
            .await?)
    }

    async fn delete_service(&self, id: i64) -> Result<Option<(Service, u64)>> {
        let txn = self.db.begin().await?;
        let Some(service) = services::Entity::find_by_id(id).one(&txn).await? else {
            return Ok(None);
        };
        // Explicit, rather than relying on ON DELETE CASCADE being enabled.
        let panels = reference_panels::Entity::delete_many()
            .filter(reference_panels::Column::ServiceId.eq(id))
            .exec(&txn)
            .await?
            .rows_affected;
        health_checks::Entity::delete_many()
            .filter(health_checks::Column::ServiceId.eq(id))
            .exec(&txn)
            .await?;
        services::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        Ok(Some((service, panels)))
    }

    async fn insert_panel(
        &self,
        spec: &PanelSpec,
        slug: &Slug,
        synced_at: Option<DateTime<Utc>>,
    ) -> Result<Panel> {
        let now = Utc::now();
        let mut model = panel_model(spec, synced_at, now);
        model.service_id = Set(spec.service_id);
        model.slug = Set(slug.as_str().to_owned());
        model.created_at = Set(now);
        if synced_at.is_none() {
            model.last_synced_at = Set(None);
        }
        model.insert(&self.db).await.map_err(|e| {
            on_unique(
                e,
                panel_conflict(slug.as_str(), spec.external_id.as_deref()),
            )
        })
    }

    async fn update_panel(
        &self,
        id: i64,
        spec: &PanelSpec,
        synced_at: Option<DateTime<Utc>>,
    ) -> Result<Panel> {
        let mut model = panel_model(spec, synced_at, Utc::now());
        model.id = Set(id);
        model.update(&self.db).await.map_err(|e| {
            if matches!(e, DbErr::RecordNotUpdated) {
                Error::NotFound(format!("reference panel {id} not found"))
            } else {
                on_unique(e, panel_conflict("", spec.external_id.as_deref()))
            }
        })
    }

    async fn get_panel(&self, id: i64) -> Result<Option<Panel>> {
        Ok(reference_panels::Entity::find_by_id(id)
            .one(&self.db)
            .await?)
    }

    async fn panel_slug_taken(&self, service_id: i64, slug: &str) -> Result<bool> {
        Ok(reference_panels::Entity::find()
            .filter(reference_panels::Column::ServiceId.eq(service_id))
            .filter(reference_panels::Column::Slug.eq(slug))
            .count(&self.db)
            .await?
            > 0)
    }

    async fn list_panels(&self, f: &PanelFilter) -> Result<Vec<Panel>> {
        let mut query = reference_panels::Entity::find();
        if let Some(id) = f.service_id {
            query = query.filter(reference_panels::Column::ServiceId.eq(id));
        }
        if let Some(b) = f.build {
            query = query.filter(reference_panels::Column::Build.eq(b.as_str()));
        }
        if let Some(p) = &f.population {
            query = query.filter(reference_panels::Column::Population.eq(p.as_str()));
        }
        if let Some(a) = f.is_available {
            query = query.filter(reference_panels::Column::IsAvailable.eq(a));
        }
        if let Some(after) = f.after_id {
            query = query.filter(reference_panels::Column::Id.gt(after));
        }
        Ok(query
            .order_by_asc(reference_panels::Column::Id)
            .limit(f.limit)
            .all(&self.db)
            .await?)
    }

    async fn delete_panel(&self, id: i64) -> Result<bool> {
        Ok(reference_panels::Entity::delete_by_id(id)
            .exec(&self.db)
            .await?
            .rows_affected
            > 0)
    }

    async fn record_health(&self, service_id: i64, u: &HealthUpdate) -> Result<Option<Service>> {
        let txn = self.db.begin().await?;
        let mut model = services::ActiveModel {
            id: Set(service_id),
            health_status: Set(u.status.as_str().to_owned()),
            is_available: Set(u.is_available),
            consecutive_failures: Set(u.consecutive_failures),
            first_unhealthy_at: Set(u.first_unhealthy_at),
            response_time_ms: Set(u.response_time_ms),
            error_message: Set(u.error_message.clone()),
            last_health_check: Set(Some(u.checked_at)),
            next_check_at: Set(Some(u.next_check_at)),
            ..Default::default()
        };
        if u.queue_current.is_some() {
            model.queue_current = Set(u.queue_current);
        }
        let updated = match model.update(&txn).await {
            Ok(service) => service,
            // Deleted while it was being probed.
            Err(DbErr::RecordNotUpdated) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        health_checks::ActiveModel {
            service_id: Set(service_id),
            status: Set(u.probe_status.as_str().to_owned()),
            response_time_ms: Set(u.response_time_ms),
            error_message: Set(u.error_message.clone()),
            checked_at: Set(u.checked_at),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(Some(updated))
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Service>> {
        let due = services::Entity::find()
            .filter(services::Column::IsActive.eq(true))
            .filter(
                Condition::any()
                    .add(services::Column::NextCheckAt.is_null())
                    .add(services::Column::NextCheckAt.lte(now)),
            )
            .order_by_asc(services::Column::NextCheckAt)
            .limit(limit)
            .all(&self.db)
            .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for service in due {
            // Compare-and-set on the old value: only one replica wins.
            let old = match service.next_check_at {
                Some(t) => services::Column::NextCheckAt.eq(t),
                None => services::Column::NextCheckAt.is_null(),
            };
            let won = services::Entity::update_many()
                .col_expr(services::Column::NextCheckAt, Expr::value(lease_until))
                .filter(services::Column::Id.eq(service.id))
                .filter(old)
                .exec(&self.db)
                .await?
                .rows_affected
                == 1;
            if won {
                claimed.push(service);
            }
        }
        Ok(claimed)
    }

    async fn health_history(
        &self,
        service_id: i64,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<HealthCheck>> {
        let mut query =
            health_checks::Entity::find().filter(health_checks::Column::ServiceId.eq(service_id));
        if let Some(start) = start {
            query = query.filter(health_checks::Column::CheckedAt.gte(start));
        }
        if let Some(end) = end {
            query = query.filter(health_checks::Column::CheckedAt.lt(end));
        }
        if let Some(before) = before_id {
            query = query.filter(health_checks::Column::Id.lt(before));
        }
        Ok(query
            .order_by_desc(health_checks::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    async fn prune_health_history(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(health_checks::Entity::delete_many()
            .filter(health_checks::Column::CheckedAt.lt(before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    async fn unhealthy_since(&self, since: DateTime<Utc>) -> Result<Vec<Service>> {
        Ok(services::Entity::find()
            .filter(services::Column::IsActive.eq(true))
            .filter(services::Column::FirstUnhealthyAt.lte(since))
            .order_by_asc(services::Column::FirstUnhealthyAt)
            .all(&self.db)
            .await?)
    }
}
