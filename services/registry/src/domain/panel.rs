//! A reference panel as written by an administrator or a sync, parsed.

use fedimpute_common::status::{FieldViolation, Violations};
use fedimpute_proto::registry as pb;
use serde_json::{Map, Value};

use super::{
    json::parse_api_config,
    values::{Build, Slug},
};

/// The writable fields of a panel, valid.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelSpec {
    pub service_id: i64,
    pub name: String,
    pub display_name: String,
    /// `None`: derive from the external id or the name.
    pub slug: Option<Slug>,
    pub external_id: Option<String>,
    pub description: String,
    pub population: String,
    pub populations: Vec<String>,
    pub build: Build,
    pub samples_count: Option<i64>,
    pub variants_count: Option<i64>,
    pub is_available: bool,
    pub is_public: bool,
    pub requires_permission: bool,
    pub version: String,
    /// Public settings for the remote, over the service's `api_config`
    /// (merged by the Jobs service); same rule as the service's.
    pub api_config: Map<String, Value>,
}

impl TryFrom<pb::ReferencePanel> for PanelSpec {
    type Error = Vec<FieldViolation>;

    fn try_from(panel: pb::ReferencePanel) -> Result<Self, Self::Error> {
        let pb::ReferencePanel {
            id: _,
            service_id,
            name,
            display_name,
            slug,
            external_id,
            description,
            population,
            populations,
            build,
            samples_count,
            variants_count,
            is_available,
            is_public,
            requires_permission,
            version,
            created_at: _,
            updated_at: _,
            last_synced_at: _,
            api_config,
        } = panel;
        let mut v = Violations::new();
        if service_id <= 0 {
            v.add("service_id", "is required");
        }
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            v.add("name", "must have 1 to 200 characters");
        }
        let display_name = match display_name.trim() {
            "" => name.clone(),
            d => d.to_owned(),
        };
        if display_name.chars().count() > 200 {
            v.add("display_name", "is longer than 200 characters");
        }
        let slug = match slug.trim() {
            "" => None,
            s => v.check("slug", Slug::parse(s)),
        };
        let external_id = match external_id.trim() {
            "" => None,
            e if e.len() > 200 || e.chars().any(char::is_whitespace) => {
                v.add("external_id", "must be 1-200 characters without spaces");
                None
            }
            e => Some(e.to_owned()),
        };
        let build = Build::from_proto(build);
        if build.is_none() {
            v.add("build", "is required: hg19 or hg38");
        }
        let populations: Vec<String> = populations
            .into_iter()
            .map(|p| p.trim().to_owned())
            .collect();
        if populations.iter().any(|p| p.is_empty() || p.len() > 50) {
            v.add("populations", "each value must have 1 to 50 characters");
        }
        for (field, count) in [
            ("samples_count", samples_count),
            ("variants_count", variants_count),
        ] {
            if count.is_some_and(|c| c < 0) {
                v.add(field, "must not be negative");
            }
        }
        if population.trim().chars().count() > 100 {
            v.add("population", "is longer than 100 characters");
        }
        if description.chars().count() > 10_000 {
            v.add("description", "is longer than 10000 characters");
        }
        if version.trim().chars().count() > 50 {
            v.add("version", "is longer than 50 characters");
        }
        let api_config = parse_api_config(&mut v, api_config);
        v.finish()?;
        Ok(Self {
            service_id,
            name,
            display_name,
            slug,
            external_id,
            description: description.trim().to_owned(),
            population: population.trim().to_owned(),
            populations,
            build: build.unwrap_or(Build::Hg38),
            samples_count,
            variants_count,
            is_available: is_available.unwrap_or(true),
            is_public: is_public.unwrap_or(true),
            requires_permission: requires_permission.unwrap_or(false),
            version: version.trim().to_owned(),
            api_config,
        })
    }
}

/// A spec back to its proto (output-only fields empty): a changed spec is
/// validated again as a whole by parsing this.
impl From<&PanelSpec> for pb::ReferencePanel {
    fn from(spec: &PanelSpec) -> Self {
        Self {
            service_id: spec.service_id,
            name: spec.name.clone(),
            display_name: spec.display_name.clone(),
            slug: spec
                .slug
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            external_id: spec.external_id.clone().unwrap_or_default(),
            description: spec.description.clone(),
            population: spec.population.clone(),
            populations: spec.populations.clone(),
            build: spec.build.to_proto() as i32,
            samples_count: spec.samples_count,
            variants_count: spec.variants_count,
            is_available: Some(spec.is_available),
            is_public: Some(spec.is_public),
            requires_permission: Some(spec.requires_permission),
            version: spec.version.clone(),
            api_config: Some(fedimpute_common::wire::json_to_struct(
                spec.api_config.clone(),
            )),
            ..Default::default()
        }
    }
}

impl PanelSpec {
    /// The slug to use when none was given: the panel id inside a Cloudgene
    /// key (`apps@h3africa-v6hc-s@1.0.0` → `h3africa-v6hc-s`), else the name.
    pub fn derived_slug(&self) -> Option<Slug> {
        self.external_id
            .as_deref()
            .map(|e| {
                let mut parts = e.split('@');
                match (parts.next(), parts.next()) {
                    (Some("apps"), Some(id)) => id,
                    _ => e,
                }
            })
            .and_then(|id| Slug::derive(id, "panel"))
            .or_else(|| Slug::derive(&self.name, "panel"))
    }
}

/// Mask rules of `apply_service_mask`, for panels; `service_id` and `slug`
/// cannot change. Without a mask, `api_config` changes when the patch's is
/// non-empty (it replaces the stored one whole); with the `api_config` path,
/// an empty one clears it.
pub fn apply_panel_mask(
    mut current: pb::ReferencePanel,
    patch: pb::ReferencePanel,
    paths: &[String],
) -> Result<pb::ReferencePanel, Vec<FieldViolation>> {
    let implied;
    let paths = if paths.is_empty() {
        implied = implied_paths(&patch);
        &implied
    } else {
        paths
    };
    let mut v = Violations::new();
    for path in paths {
        match path.as_str() {
            "service_id" => {
                if patch.service_id != current.service_id {
                    v.add("service_id", "cannot be changed");
                }
            }
            "slug" => {
                if patch.slug != current.slug {
                    v.add("slug", "cannot be changed");
                }
            }
            "name" => current.name = patch.name.clone(),
            "display_name" => current.display_name = patch.display_name.clone(),
            "external_id" => current.external_id = patch.external_id.clone(),
            "description" => current.description = patch.description.clone(),
            "population" => current.population = patch.population.clone(),
            "populations" => current.populations = patch.populations.clone(),
            "build" => current.build = patch.build,
            "samples_count" => current.samples_count = patch.samples_count,
            "variants_count" => current.variants_count = patch.variants_count,
            "is_available" => current.is_available = patch.is_available,
            "is_public" => current.is_public = patch.is_public,
            "requires_permission" => current.requires_permission = patch.requires_permission,
            "version" => current.version = patch.version.clone(),
            "api_config" => current.api_config = patch.api_config.clone(),
            other => v.add(
                "update_mask",
                format!("'{other}' is not an updatable field of a panel"),
            ),
        }
    }
    v.finish().map(|()| current)
}

fn implied_paths(p: &pb::ReferencePanel) -> Vec<String> {
    [
        ("service_id", p.service_id != 0),
        ("slug", !p.slug.is_empty()),
        ("name", !p.name.is_empty()),
        ("display_name", !p.display_name.is_empty()),
        ("external_id", !p.external_id.is_empty()),
        ("description", !p.description.is_empty()),
        ("population", !p.population.is_empty()),
        ("populations", !p.populations.is_empty()),
        ("build", p.build != 0),
        ("samples_count", p.samples_count.is_some()),
        ("variants_count", p.variants_count.is_some()),
        ("is_available", p.is_available.is_some()),
        ("is_public", p.is_public.is_some()),
        ("requires_permission", p.requires_permission.is_some()),
        ("version", !p.version.is_empty()),
        (
            "api_config",
            p.api_config.as_ref().is_some_and(|c| !c.fields.is_empty()),
        ),
    ]
    .into_iter()
    .filter(|(_, present)| *present)
    .map(|(name, _)| name.to_owned())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudgene_keys_give_readable_slugs() {
        let spec = PanelSpec::try_from(pb::ReferencePanel {
            service_id: 1,
            name: "H3AFRICA v6".into(),
            external_id: "apps@h3africa-v6hc-s@1.0.0".into(),
            build: pb::GenomeBuild::Hg38 as i32,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(spec.derived_slug().unwrap().as_str(), "h3africa-v6hc-s");
        assert_eq!(spec.display_name, "H3AFRICA v6");
    }

    #[test]
    fn api_config_follows_the_mask_and_refuses_secrets() {
        let config = |value: serde_json::Value| {
            value
                .as_object()
                .cloned()
                .map(fedimpute_common::wire::json_to_struct)
        };
        let current = pb::ReferencePanel {
            service_id: 1,
            name: "WES panel".into(),
            build: pb::GenomeBuild::Hg38 as i32,
            api_config: config(serde_json::json!({"workflow_url": "https://a"})),
            ..Default::default()
        };
        let other = pb::ReferencePanel {
            description: "d".into(),
            ..Default::default()
        };
        let kept = apply_panel_mask(current.clone(), other.clone(), &[]).unwrap();
        assert_eq!(
            kept.api_config, current.api_config,
            "not in the patch: kept"
        );
        let emptied = pb::ReferencePanel {
            api_config: config(serde_json::json!({})),
            ..other
        };
        let kept = apply_panel_mask(current.clone(), emptied.clone(), &[]).unwrap();
        assert_eq!(kept.api_config, current.api_config, "empty, no mask: kept");
        let cleared = apply_panel_mask(current.clone(), emptied, &["api_config".into()]).unwrap();
        assert!(PanelSpec::try_from(cleared).unwrap().api_config.is_empty());

        let secret = pb::ReferencePanel {
            api_config: config(serde_json::json!({"engine_password": "x"})),
            ..current
        };
        let fields: Vec<_> = PanelSpec::try_from(secret)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, vec!["api_config.engine_password"]);
    }

    #[test]
    fn rejects_missing_build_and_service() {
        let err = PanelSpec::try_from(pb::ReferencePanel {
            name: "x".into(),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<_> = err.iter().map(|v| v.field.as_str()).collect();
        assert!(fields.contains(&"build") && fields.contains(&"service_id"));
    }
}
