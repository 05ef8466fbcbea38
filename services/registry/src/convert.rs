//! Stored rows → proto messages (the only way data leaves the registry).

use chrono::{DateTime, Utc};
use fedimpute_common::wire::json_to_struct;
use fedimpute_proto::registry as pb;
use serde_json::Value;

use crate::{
    domain::{ApiType, Build, HealthStatus},
    store::{HealthCheck, Panel, Service},
};

pub(crate) fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    fedimpute_common::wire::timestamp(t)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A stored `api_config` (always an object; anything else reads as unset).
fn config(value: &Value) -> Option<prost_types::Struct> {
    match value {
        Value::Object(map) => Some(json_to_struct(map.clone())),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Array(_) => {
            None
        }
    }
}

/// A service as clients see it: secrets reduced to their names.
pub(crate) fn service(s: &Service) -> pb::Service {
    let mut builds = Vec::new();
    if s.supports_hg19 {
        builds.push(Build::Hg19.to_proto() as i32);
    }
    if s.supports_hg38 {
        builds.push(Build::Hg38.to_proto() as i32);
    }
    pb::Service {
        id: s.id,
        name: s.name.clone(),
        slug: s.slug.clone(),
        service_type: s.service_type.clone(),
        api_type: ApiType::parse(&s.api_type).map_or(0, |a| a.to_proto() as i32),
        base_url: s.base_url.clone(),
        description: s.description.clone(),
        version: s.version.clone(),
        requires_auth: Some(s.requires_auth),
        auth_type: s.auth_type.clone(),
        max_file_size_mb: Some(s.max_file_size_mb),
        supported_formats: strings(&s.supported_formats),
        supported_builds: builds,
        api_config: config(&s.api_config),
        secrets: Default::default(),
        secret_names: crate::secrets::names(s),
        is_active: Some(s.is_active),
        location_institution: s.location_institution.clone(),
        location_city: s.location_city.clone(),
        location_country: s.location_country.clone(),
        location_datacenter: s.location_datacenter.clone(),
        continent: s.continent.clone(),
        location_coordinates: match (s.latitude, s.longitude) {
            (Some(lat), Some(lon)) => Some(pb::Coordinates { lat, lon }),
            (Some(_) | None, _) => None,
        },
        cpu_total: s.cpu_total,
        cpu_available: s.cpu_available,
        memory_total_gb: s.memory_total_gb,
        memory_available_gb: s.memory_available_gb,
        storage_total_gb: s.storage_total_gb,
        storage_available_gb: s.storage_available_gb,
        queue_capacity: s.queue_capacity,
        queue_current: s.queue_current,
        health_status: HealthStatus::parse(&s.health_status).to_proto() as i32,
        is_available: s.is_available,
        last_health_check: s.last_health_check.map(timestamp),
        response_time_ms: s.response_time_ms,
        error_message: s.error_message.clone(),
        first_unhealthy_at: s.first_unhealthy_at.map(timestamp),
        consecutive_failures: s.consecutive_failures,
        created_at: Some(timestamp(s.created_at)),
        updated_at: Some(timestamp(s.updated_at)),
    }
}

pub(crate) fn panel(p: &Panel) -> pb::ReferencePanel {
    pb::ReferencePanel {
        id: p.id,
        service_id: p.service_id,
        name: p.name.clone(),
        display_name: p.display_name.clone(),
        slug: p.slug.clone(),
        external_id: p.external_id.clone().unwrap_or_default(),
        description: p.description.clone(),
        population: p.population.clone(),
        populations: strings(&p.populations),
        build: Build::parse(&p.build).map_or(0, |b| b.to_proto() as i32),
        samples_count: p.samples_count,
        variants_count: p.variants_count,
        is_available: Some(p.is_available),
        is_public: Some(p.is_public),
        requires_permission: Some(p.requires_permission),
        version: p.version.clone(),
        created_at: Some(timestamp(p.created_at)),
        updated_at: Some(timestamp(p.updated_at)),
        last_synced_at: p.last_synced_at.map(timestamp),
        api_config: config(&p.api_config),
    }
}

pub(crate) fn health(s: &Service) -> pb::ServiceHealth {
    pb::ServiceHealth {
        service_id: s.id,
        status: HealthStatus::parse(&s.health_status).to_proto() as i32,
        is_available: s.is_available,
        response_time_ms: s.response_time_ms,
        error_message: s.error_message.clone(),
        checked_at: s.last_health_check.map(timestamp),
        first_unhealthy_at: s.first_unhealthy_at.map(timestamp),
        consecutive_failures: s.consecutive_failures,
    }
}

pub(crate) fn health_check(c: &HealthCheck) -> pb::HealthCheck {
    pb::HealthCheck {
        id: c.id,
        service_id: c.service_id,
        status: HealthStatus::parse(&c.status).to_proto() as i32,
        response_time_ms: c.response_time_ms,
        error_message: c.error_message.clone(),
        checked_at: Some(timestamp(c.checked_at)),
    }
}
