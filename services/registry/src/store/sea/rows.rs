//! Rows from domain values, and database errors to registry errors: the
//! pieces the store's methods share.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DbErr, SqlErr,
    sea_query::{Expr, ExprTrait, LikeExpr},
};
use serde_json::json;

use crate::{
    domain::{Build, PanelSpec, ServiceSpec, Slug},
    error::{Error, Result},
    store::{
        Panel, StoredSecrets,
        entity::{reference_panels, services},
    },
};

/// Maps constraint violations: a named unique constraint (PostgreSQL) or
/// its columns (SQLite) to `AlreadyExists`, a missing parent to
/// `FailedPrecondition`; anything else stays a database error.
pub(super) fn map_err(err: DbErr, unique: impl FnOnce(&str) -> Option<String>) -> Error {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(m)) => match unique(&m) {
            Some(message) => Error::AlreadyExists(message),
            None => Error::Db(err),
        },
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
            Error::FailedPrecondition("the service was deleted meanwhile".into())
        }
        Some(_) | None => Error::Db(err),
    }
}

pub(super) fn service_conflict(slug: &str) -> impl FnOnce(&str) -> Option<String> + '_ {
    move |m| {
        (m.contains("services_slug_key") || m.contains("services.slug"))
            .then(|| format!("a service with slug '{slug}' already exists"))
    }
}

pub(super) fn panel_conflict<'a>(
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

pub(super) fn service_model(
    spec: &ServiceSpec,
    secrets: StoredSecrets,
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
        secrets: Set(secrets.sealed),
        secret_names: Set(json!(secrets.names)),
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
        search_text: Set(spec.search_text()),
        continent_key: Set(spec.continent.to_lowercase()),
        country_key: Set(spec.location_country.to_lowercase()),
        updated_at: Set(now),
        ..Default::default()
    }
}

pub(super) fn panel_model(spec: &PanelSpec, now: DateTime<Utc>) -> reference_panels::ActiveModel {
    reference_panels::ActiveModel {
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
        api_config: Set(serde_json::Value::Object(spec.api_config.clone())),
        updated_at: Set(now),
        ..Default::default()
    }
}

pub(super) async fn insert_panel_with(
    db: &impl ConnectionTrait,
    spec: &PanelSpec,
    slug: &Slug,
    synced_at: Option<DateTime<Utc>>,
) -> Result<Panel> {
    let now = Utc::now();
    let mut model = panel_model(spec, now);
    model.service_id = Set(spec.service_id);
    model.slug = Set(slug.as_str().to_owned());
    model.created_at = Set(now);
    model.last_synced_at = Set(synced_at);
    model.insert(db).await.map_err(|e| {
        map_err(
            e,
            panel_conflict(slug.as_str(), spec.external_id.as_deref()),
        )
    })
}

/// Which columns an update of a panel writes.
#[derive(Clone, Copy, Debug)]
pub(super) enum PanelWrite {
    /// An administrator's update: every writable column.
    Edit,
    /// A sync: what the remote describes, never `api_config` (only
    /// administrators set it, and a sync must not write back a value it read
    /// before an update that ran beside it); `Some` also stamps
    /// `last_synced_at`.
    Sync(Option<DateTime<Utc>>),
}

pub(super) async fn update_panel_with(
    db: &impl ConnectionTrait,
    id: i64,
    spec: &PanelSpec,
    write: PanelWrite,
) -> Result<Panel> {
    let mut model = panel_model(spec, Utc::now());
    model.id = Set(id);
    match write {
        PanelWrite::Edit => {}
        PanelWrite::Sync(synced_at) => {
            model.api_config = NotSet;
            if synced_at.is_some() {
                model.last_synced_at = Set(synced_at);
            }
        }
    }
    model.update(db).await.map_err(|e| {
        if matches!(e, DbErr::RecordNotUpdated) {
            Error::NotFound(format!("reference panel {id} not found"))
        } else {
            map_err(e, panel_conflict("", spec.external_id.as_deref()))
        }
    })
}

/// `LIKE %needle%` on an already lower-cased column, wildcards escaped.
pub(super) fn contains(column: services::Column, needle: &str) -> sea_orm::sea_query::SimpleExpr {
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::col(column).like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}
