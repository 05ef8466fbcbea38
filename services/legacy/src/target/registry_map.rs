//! Legacy services and panels to registry values, with the registry's own
//! rules (`fedimpute_registry::domain`): base URLs normalised, slugs
//! derived and made unique, builds and formats as the registry stores them,
//! service secrets sealed exactly as `services/registry/src/secrets.rs`
//! seals them (a JSON map, bound to the service's slug).

use std::collections::{BTreeMap, HashSet};

use fedimpute_common::crypto::Keyring;
use fedimpute_registry::domain::{ApiType, BaseUrl, Build, Slug};
use serde_json::{Map, Value};

use crate::model;

/// The registry's sealing context of a service's secrets (must match
/// `services/registry/src/secrets.rs`).
pub(super) fn secrets_context(slug: &str) -> Vec<u8> {
    format!("fedimpute/registry/service-secrets/v1/{slug}").into_bytes()
}

/// Keys that must not stay in a public `api_config` (the registry's list).
const SECRET_MARKERS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "credential",
    "private",
];

pub(super) fn api_type(raw: &str) -> Result<ApiType, String> {
    ApiType::parse(raw.trim().to_lowercase().as_str())
        .ok_or_else(|| format!("api_type '{raw}' is not one of michigan, ga4gh, dnastack"))
}

pub(super) fn base_url(raw: &str, api: ApiType) -> Result<String, String> {
    BaseUrl::parse(raw, Some(api))
        .map(|u| u.as_str().to_owned())
        .map_err(|e| format!("base_url '{raw}' {e}"))
}

/// A legacy build name as the registry and jobs store it.
pub(crate) fn build(raw: &str) -> Option<Build> {
    match raw.trim().to_lowercase().as_str() {
        "hg19" | "hg37" | "grch37" | "b37" | "37" => Some(Build::Hg19),
        "hg38" | "grch38" | "b38" | "38" => Some(Build::Hg38),
        _ => None,
    }
}

/// The first free slug among the legacy one (when valid) or one derived
/// from `fallback`, then `-1`, `-2`...; taken ones are in `taken`.
pub(super) fn unique_slug(
    given: Option<&str>,
    fallback: &str,
    kind: &str,
    id: i64,
    taken: &HashSet<String>,
) -> String {
    let base = given
        .and_then(|s| Slug::parse(s.trim()).ok())
        .or_else(|| Slug::derive(fallback, kind))
        .or_else(|| Slug::parse(&format!("{kind}-{id}")).ok());
    if let Some(base) = base
        && let Some(free) = base.candidates().find(|c| !taken.contains(c.as_str()))
    {
        return free.as_str().to_owned();
    }
    format!("{kind}-{id}-legacy")
}

/// A panel's slug source: the id inside a Cloudgene key
/// (`apps@h3africa-v6hc-s@1.0.0` → `h3africa-v6hc-s`), else the name.
pub(super) fn panel_slug_source(panel: &model::Panel) -> String {
    let mut parts = panel.external_id.split('@');
    match (parts.next(), parts.next()) {
        (Some("apps"), Some(id)) if !id.is_empty() => id.to_owned(),
        _ if !panel.external_id.trim().is_empty() => panel.external_id.clone(),
        _ => panel.name.clone(),
    }
}

/// A public `api_config` and the secrets found in it: keys that look like
/// secrets move out (the registry refuses them in `api_config`).
pub(super) fn split_config(config: &Value) -> (Map<String, Value>, BTreeMap<String, String>) {
    let mut public = Map::new();
    let mut secrets = BTreeMap::new();
    let Some(map) = config.as_object() else {
        if !config.is_null() {
            public.insert("legacy_api_config".into(), config.clone());
        }
        return (public, secrets);
    };
    for (key, value) in map {
        let lower = key.to_lowercase();
        if !SECRET_MARKERS.iter().any(|m| lower.contains(m)) {
            public.insert(key.clone(), value.clone());
            continue;
        }
        let text = match value.as_str() {
            Some(s) => s.to_owned(),
            None if value.is_null() => continue,
            None => value.to_string(),
        };
        if !text.is_empty() {
            secrets.insert(secret_name(key), text);
        }
    }
    (public, secrets)
}

/// A secret's name as the registry accepts it: 1-64 of `[a-z0-9_]`.
fn secret_name(key: &str) -> String {
    let name: String = key
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "secret".into()
    } else {
        name
    }
}

/// The service's secrets: its legacy `api_key` as `api_token` (the name
/// the registry's sync and probes read) and any moved out of `api_config`.
pub(super) fn secrets(
    service: &model::Service,
    mut from_config: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    if let Some(key) = service.api_key.as_deref().map(str::trim)
        && !key.is_empty()
    {
        from_config.insert("api_token".into(), key.to_owned());
    }
    from_config
}

/// Seals a service's secrets as the registry does; `None` when there are none.
pub(super) fn seal(
    keyring: &Keyring,
    slug: &str,
    secrets: &BTreeMap<String, String>,
) -> Option<String> {
    if secrets.is_empty() {
        return None;
    }
    let plain = serde_json::to_vec(secrets).expect("a map of strings serialises");
    Some(keyring.seal(&plain, &secrets_context(slug)))
}

/// Formats as the registry keeps them: trimmed, no leading dot, lower
/// case; none given means the registry's default.
pub(super) fn formats(given: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in given {
        let f = f.trim().trim_start_matches('.').to_lowercase();
        if !f.is_empty() && f.len() <= 20 && !out.contains(&f) {
            out.push(f);
        }
    }
    if out.is_empty() {
        out = vec!["vcf".into(), "vcf.gz".into()];
    }
    out
}

/// (hg19, hg38) support; none known means both (the registry's default).
pub(super) fn builds(given: &[String]) -> (bool, bool) {
    let parsed: Vec<Build> = given.iter().filter_map(|b| build(b)).collect();
    if parsed.is_empty() {
        return (true, true);
    }
    (parsed.contains(&Build::Hg19), parsed.contains(&Build::Hg38))
}

/// (institution, city, country): the structured columns when the source
/// had them, else the Django free text "City, Country" split at its last
/// comma (a text without a comma is taken as the city).
pub(super) fn location(s: &model::Service) -> (String, String, String) {
    let (institution, city, country) = (
        s.location_institution.trim(),
        s.location_city.trim(),
        s.location_country.trim(),
    );
    if !(institution.is_empty() && city.is_empty() && country.is_empty()) {
        return (institution.into(), city.into(), country.into());
    }
    let free = s.location.trim();
    match free.rsplit_once(',') {
        Some((c, n)) => (String::new(), c.trim().into(), n.trim().into()),
        None => (String::new(), free.into(), String::new()),
    }
}

/// The registry's `search_text`: lower-cased name, description and location.
pub(super) fn search_text(parts: [&str; 7]) -> String {
    parts
        .iter()
        .map(|s| s.to_lowercase())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_leave_the_public_config() {
        let (public, secrets) = split_config(&serde_json::json!({
            "workflow_url": "https://x/wf.wdl",
            "Access-Token": "abc",
            "client_secret": {"nested": 1},
        }));
        assert_eq!(public.len(), 1);
        assert_eq!(secrets["access_token"], "abc");
        assert_eq!(secrets["client_secret"], r#"{"nested":1}"#);
    }

    #[test]
    fn slugs_are_unique_and_locations_split() {
        let taken: HashSet<String> = ["h3africa".to_owned()].into();
        assert_eq!(
            unique_slug(None, "H3Africa", "service", 1, &taken),
            "h3africa-1"
        );
        assert_eq!(
            unique_slug(Some("Bad Slug"), "2024", "service", 3, &taken),
            "service-2024"
        );
        let s = model::Service {
            location: "Cape Town, South Africa".into(),
            ..Default::default()
        };
        assert_eq!(
            location(&s),
            (String::new(), "Cape Town".into(), "South Africa".into())
        );
        assert_eq!(build("GRCh37"), Some(Build::Hg19));
    }
}
