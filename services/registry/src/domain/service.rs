//! A service as written by an administrator, parsed and normalised.

use std::collections::BTreeMap;

use fedimpute_common::status::{FieldViolation, Violations};
use fedimpute_proto::registry as pb;
use serde_json::{Map, Value};

use super::{
    json::parse_api_config,
    values::{ApiType, BaseUrl, Build, Slug},
};

const AUTH_TYPES: &[&str] = &["token", "oauth2", "api_key", "basic"];

/// Secret values given with a request. `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValues(pub BTreeMap<String, String>);

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// The writable fields of a service, valid.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    /// `None`: derive from the name.
    pub slug: Option<Slug>,
    pub service_type: String,
    pub api_type: ApiType,
    pub base_url: BaseUrl,
    pub description: String,
    pub version: String,
    pub requires_auth: bool,
    pub auth_type: String,
    pub max_file_size_mb: i32,
    pub supported_formats: Vec<String>,
    pub supported_builds: Vec<Build>,
    pub api_config: Map<String, Value>,
    /// Secrets given with this request (merged into the stored ones; an
    /// empty value removes a key).
    pub secrets: SecretValues,
    pub is_active: bool,
    pub location_institution: String,
    pub location_city: String,
    pub location_country: String,
    pub location_datacenter: String,
    pub continent: String,
    pub coordinates: Option<(f64, f64)>,
    pub cpu_total: Option<i32>,
    pub cpu_available: Option<i32>,
    pub memory_total_gb: Option<f64>,
    pub memory_available_gb: Option<f64>,
    pub storage_total_gb: Option<f64>,
    pub storage_available_gb: Option<f64>,
    pub queue_capacity: Option<i32>,
    pub queue_current: Option<i32>,
}

impl ServiceSpec {
    /// Lower-cased name, description and location, for free-text search.
    pub fn search_text(&self) -> String {
        [
            &self.name,
            &self.description,
            &self.location_institution,
            &self.location_city,
            &self.location_country,
            &self.location_datacenter,
            &self.continent,
        ]
        .iter()
        .map(|s| s.to_lowercase())
        .collect::<Vec<_>>()
        .join("\n")
    }
}

fn text(v: &mut Violations, field: &str, value: String, max: usize) -> String {
    let value = value.trim().to_owned();
    if value.chars().count() > max {
        v.add(field, format!("is longer than {max} characters"));
    }
    value
}

fn count(v: &mut Violations, field: &str, value: Option<i32>) -> Option<i32> {
    if value.is_some_and(|x| x < 0) {
        v.add(field, "must not be negative");
    }
    value
}

fn amount(v: &mut Violations, field: &str, value: Option<f64>) -> Option<f64> {
    match value {
        Some(x) if !x.is_finite() => v.add(field, "must be a finite number"),
        Some(x) if x < 0.0 => v.add(field, "must not be negative"),
        Some(_) | None => {}
    }
    value
}

impl TryFrom<pb::Service> for ServiceSpec {
    type Error = Vec<FieldViolation>;

    fn try_from(service: pb::Service) -> Result<Self, Self::Error> {
        let pb::Service {
            id: _,
            name,
            slug,
            service_type,
            api_type,
            base_url,
            description,
            version,
            requires_auth,
            auth_type,
            max_file_size_mb,
            supported_formats,
            supported_builds,
            api_config,
            secrets,
            secret_names: _,
            is_active,
            location_institution,
            location_city,
            location_country,
            location_datacenter,
            continent,
            location_coordinates,
            cpu_total,
            cpu_available,
            memory_total_gb,
            memory_available_gb,
            storage_total_gb,
            storage_available_gb,
            queue_capacity,
            queue_current,
            health_status: _,
            is_available: _,
            last_health_check: _,
            response_time_ms: _,
            error_message: _,
            first_unhealthy_at: _,
            consecutive_failures: _,
            created_at: _,
            updated_at: _,
        } = service;
        let mut v = Violations::new();

        let name = text(&mut v, "name", name, 200);
        if name.chars().count() < 3 {
            v.add("name", "must have at least 3 characters");
        }
        let slug = match slug.trim() {
            "" => None,
            s => v.check("slug", Slug::parse(s)),
        };
        if slug.is_none() && Slug::derive(&name, "service").is_none() && name.chars().count() >= 3 {
            v.add("slug", "cannot be derived from the name: give one");
        }
        let api_type = ApiType::from_proto(api_type);
        if api_type.is_none() {
            v.add("api_type", "is required: one of michigan, ga4gh, dnastack");
        }
        let base_url = v.check("base_url", BaseUrl::parse(&base_url, api_type));
        let service_type = match text(&mut v, "service_type", service_type, 50).to_lowercase() {
            s if s.is_empty() => api_type.map(|a| a.as_str().to_owned()).unwrap_or_default(),
            s => s,
        };
        let auth_type = text(&mut v, "auth_type", auth_type, 50).to_lowercase();
        if !auth_type.is_empty() && !AUTH_TYPES.contains(&auth_type.as_str()) {
            v.add(
                "auth_type",
                format!("'{auth_type}' is not one of {}", AUTH_TYPES.join(", ")),
            );
        }
        let max_file_size_mb = max_file_size_mb.unwrap_or(100);
        if !(1..=1_000_000).contains(&max_file_size_mb) {
            v.add("max_file_size_mb", "must be between 1 and 1000000");
        }
        let mut formats: Vec<String> = supported_formats
            .into_iter()
            .map(|f| f.trim().trim_start_matches('.').to_lowercase())
            .collect();
        if formats.iter().any(|f| f.is_empty() || f.len() > 20) {
            v.add(
                "supported_formats",
                "each format must have 1 to 20 characters",
            );
        }
        if formats.is_empty() {
            formats = vec!["vcf".to_owned(), "vcf.gz".to_owned()];
        }
        let mut builds = Vec::new();
        for (i, b) in supported_builds.iter().enumerate() {
            match Build::from_proto(*b) {
                Some(b) if !builds.contains(&b) => builds.push(b),
                Some(_) => {}
                None => v.add(format!("supported_builds[{i}]"), "must be hg19 or hg38"),
            }
        }
        if builds.is_empty() {
            builds = vec![Build::Hg19, Build::Hg38];
        }
        builds.sort();
        let api_config = parse_api_config(&mut v, api_config);
        for (key, value) in &secrets {
            let key_ok = !key.is_empty()
                && key.len() <= 64
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !key_ok {
                v.add(
                    format!("secrets.{key}"),
                    "names use 1-64 lower-case letters, digits and underscores",
                );
            }
            if value.len() > 8192 {
                v.add(format!("secrets.{key}"), "is longer than 8192 bytes");
            }
        }
        let coordinates = location_coordinates.map(|c| (c.lat, c.lon));
        if let Some((lat, lon)) = coordinates {
            if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                v.add("location_coordinates.lat", "must be between -90 and 90");
            }
            if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                v.add("location_coordinates.lon", "must be between -180 and 180");
            }
        }
        let description = text(&mut v, "description", description, 10_000);
        let version = text(&mut v, "version", version, 50);
        let location_institution = text(&mut v, "location_institution", location_institution, 200);
        let location_city = text(&mut v, "location_city", location_city, 100);
        let location_country = text(&mut v, "location_country", location_country, 100);
        let location_datacenter = text(&mut v, "location_datacenter", location_datacenter, 200);
        let continent = text(&mut v, "continent", continent, 50);
        let cpu_total = count(&mut v, "cpu_total", cpu_total);
        let cpu_available = count(&mut v, "cpu_available", cpu_available);
        let queue_capacity = count(&mut v, "queue_capacity", queue_capacity);
        let queue_current = count(&mut v, "queue_current", queue_current);
        let memory_total_gb = amount(&mut v, "memory_total_gb", memory_total_gb);
        let memory_available_gb = amount(&mut v, "memory_available_gb", memory_available_gb);
        let storage_total_gb = amount(&mut v, "storage_total_gb", storage_total_gb);
        let storage_available_gb = amount(&mut v, "storage_available_gb", storage_available_gb);
        v.finish()?;
        let (Some(api_type), Some(base_url)) = (api_type, base_url) else {
            // Both were recorded as violations above; kept total anyway.
            return Err(vec![FieldViolation::new("base_url", "is required")]);
        };
        Ok(Self {
            name,
            slug,
            service_type,
            api_type,
            base_url,
            description,
            version,
            requires_auth: requires_auth.unwrap_or(true),
            auth_type,
            max_file_size_mb,
            supported_formats: formats,
            supported_builds: builds,
            api_config,
            secrets: SecretValues(secrets.into_iter().collect()),
            is_active: is_active.unwrap_or(true),
            location_institution,
            location_city,
            location_country,
            location_datacenter,
            continent,
            coordinates,
            cpu_total,
            cpu_available,
            memory_total_gb,
            memory_available_gb,
            storage_total_gb,
            storage_available_gb,
            queue_capacity,
            queue_current,
        })
    }
}

/// Copies the fields named in `paths` from `patch` onto `current` (the
/// stored service as read back). Without paths, every field of `patch` that
/// is set to a non-default value is taken.
pub fn apply_service_mask(
    mut current: pb::Service,
    patch: pb::Service,
    paths: &[String],
) -> Result<pb::Service, Vec<FieldViolation>> {
    let paths: Vec<String> = if paths.is_empty() {
        implied_paths(&patch)
    } else {
        paths.to_vec()
    };
    let mut v = Violations::new();
    for path in &paths {
        match path.as_str() {
            "name" => current.name = patch.name.clone(),
            "slug" => {
                if patch.slug != current.slug {
                    v.add("slug", "cannot be changed");
                }
            }
            "service_type" => current.service_type = patch.service_type.clone(),
            "api_type" => current.api_type = patch.api_type,
            "base_url" => current.base_url = patch.base_url.clone(),
            "description" => current.description = patch.description.clone(),
            "version" => current.version = patch.version.clone(),
            "requires_auth" => current.requires_auth = patch.requires_auth,
            "auth_type" => current.auth_type = patch.auth_type.clone(),
            "max_file_size_mb" => current.max_file_size_mb = patch.max_file_size_mb,
            "supported_formats" => current.supported_formats = patch.supported_formats.clone(),
            "supported_builds" => current.supported_builds = patch.supported_builds.clone(),
            "api_config" => current.api_config = patch.api_config.clone(),
            "secrets" => current.secrets = patch.secrets.clone(),
            "is_active" => current.is_active = patch.is_active,
            "location_institution" => {
                current.location_institution = patch.location_institution.clone()
            }
            "location_city" => current.location_city = patch.location_city.clone(),
            "location_country" => current.location_country = patch.location_country.clone(),
            "location_datacenter" => {
                current.location_datacenter = patch.location_datacenter.clone()
            }
            "continent" => current.continent = patch.continent.clone(),
            "location_coordinates" => current.location_coordinates = patch.location_coordinates,
            "cpu_total" => current.cpu_total = patch.cpu_total,
            "cpu_available" => current.cpu_available = patch.cpu_available,
            "memory_total_gb" => current.memory_total_gb = patch.memory_total_gb,
            "memory_available_gb" => current.memory_available_gb = patch.memory_available_gb,
            "storage_total_gb" => current.storage_total_gb = patch.storage_total_gb,
            "storage_available_gb" => current.storage_available_gb = patch.storage_available_gb,
            "queue_capacity" => current.queue_capacity = patch.queue_capacity,
            "queue_current" => current.queue_current = patch.queue_current,
            other => v.add(
                "update_mask",
                format!("'{other}' is not an updatable field of a service"),
            ),
        }
    }
    v.finish().map(|()| current)
}

fn implied_paths(p: &pb::Service) -> Vec<String> {
    let set = [
        ("name", !p.name.is_empty()),
        ("slug", !p.slug.is_empty()),
        ("service_type", !p.service_type.is_empty()),
        ("api_type", p.api_type != 0),
        ("base_url", !p.base_url.is_empty()),
        ("description", !p.description.is_empty()),
        ("version", !p.version.is_empty()),
        ("requires_auth", p.requires_auth.is_some()),
        ("auth_type", !p.auth_type.is_empty()),
        ("max_file_size_mb", p.max_file_size_mb.is_some()),
        ("supported_formats", !p.supported_formats.is_empty()),
        ("supported_builds", !p.supported_builds.is_empty()),
        ("api_config", p.api_config.is_some()),
        ("secrets", !p.secrets.is_empty()),
        ("is_active", p.is_active.is_some()),
        ("location_institution", !p.location_institution.is_empty()),
        ("location_city", !p.location_city.is_empty()),
        ("location_country", !p.location_country.is_empty()),
        ("location_datacenter", !p.location_datacenter.is_empty()),
        ("continent", !p.continent.is_empty()),
        ("location_coordinates", p.location_coordinates.is_some()),
        ("cpu_total", p.cpu_total.is_some()),
        ("cpu_available", p.cpu_available.is_some()),
        ("memory_total_gb", p.memory_total_gb.is_some()),
        ("memory_available_gb", p.memory_available_gb.is_some()),
        ("storage_total_gb", p.storage_total_gb.is_some()),
        ("storage_available_gb", p.storage_available_gb.is_some()),
        ("queue_capacity", p.queue_capacity.is_some()),
        ("queue_current", p.queue_current.is_some()),
    ];
    set.into_iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fedimpute_common::wire::json_to_struct;

    fn valid() -> pb::Service {
        pb::Service {
            name: "H3Africa Imputation Service".into(),
            api_type: pb::ApiType::Michigan as i32,
            base_url: "https://impute.afrigen-d.org/".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_normalisation() {
        let spec = ServiceSpec::try_from(valid()).unwrap();
        assert_eq!(spec.base_url.as_str(), "https://impute.afrigen-d.org");
        assert_eq!(spec.service_type, "michigan");
        assert_eq!(spec.max_file_size_mb, 100);
        assert!(spec.requires_auth && spec.is_active);
        assert_eq!(spec.supported_builds, vec![Build::Hg19, Build::Hg38]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = valid();
        bad.name = "x".into();
        bad.api_type = 0;
        bad.base_url = "ftp://x".into();
        bad.max_file_size_mb = Some(0);
        bad.supported_builds = vec![7];
        bad.auth_type = "magic".into();
        bad.location_coordinates = Some(pb::Coordinates {
            lat: 91.0,
            lon: 0.0,
        });
        bad.api_config = Some(json_to_struct(
            serde_json::json!({"api_key": "abc"})
                .as_object()
                .unwrap()
                .clone(),
        ));
        let fields: Vec<String> = ServiceSpec::try_from(bad)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        for f in [
            "name",
            "api_type",
            "base_url",
            "max_file_size_mb",
            "supported_builds[0]",
            "auth_type",
            "location_coordinates.lat",
            "api_config.api_key",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn masks_copy_only_named_fields() {
        let current = valid();
        let patch = pb::Service {
            description: "new".into(),
            name: "ignored".into(),
            ..Default::default()
        };
        let merged =
            apply_service_mask(current.clone(), patch.clone(), &["description".into()]).unwrap();
        assert_eq!(merged.description, "new");
        assert_eq!(merged.name, current.name);
        let implied = apply_service_mask(current, patch, &[]).unwrap();
        assert_eq!(implied.name, "ignored");
        assert!(apply_service_mask(valid(), valid(), &["health_status".into()]).is_err());
    }
}
