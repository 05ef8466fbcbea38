//! The `imputationserver2` app as `GET /api/v2/server/apps/{appId}` describes it: its form
//! inputs, reference panels (`refpanel`) and per-panel populations (`population`).

use serde_json::{Value, json};

use super::{APP_NAME, CloudgeneConfig, app_version};

/// A reference panel offered by the fake's imputation app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakePanel {
    /// The `refpanel` key, e.g. `"apps@h3africa-v6hc-s@1.0.0"`.
    pub key: String,
    /// The display name.
    pub label: String,
    /// Allowed `population` values as (key, label), e.g. `("afr", "AFR")`.
    pub populations: Vec<(String, String)>,
}

impl FakePanel {
    /// A panel whose population labels are the upper-cased keys (`"mixed"` → `"MIXED"`).
    pub fn new(key: &str, label: &str, populations: &[&str]) -> Self {
        Self {
            key: key.to_owned(),
            label: label.to_owned(),
            populations: populations
                .iter()
                .map(|p| ((*p).to_owned(), p.to_uppercase()))
                .collect(),
        }
    }
}

/// The panels of A.10: 1000 Genomes phase 3, H3Africa v6 and TOPMed r3.
pub(super) fn default_panels() -> Vec<FakePanel> {
    let all = ["afr", "amr", "eas", "eur", "sas", "mixed", "off"];
    vec![
        FakePanel::new(
            "apps@1000g-phase-3-v5@2.0.0",
            "1000 Genomes Phase 3 (Version 5)",
            &all,
        ),
        FakePanel::new(
            "apps@h3africa-v6hc-s@1.0.0",
            "H3Africa Reference Panel (v6)",
            &["afr", "mixed", "off"],
        ),
        FakePanel::new(
            "apps@topmed-r3@1.0.0",
            "TOPMed (Version R3)",
            &["all", "off"],
        ),
    ]
}

/// The `list` and `checkbox` inputs of `imputationserver2` (IS2 `cloudgene.yaml`):
/// (id, description, type, default value, allowed values as (key, label)).
type ListParam = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
);

const LIST_PARAMS: [ListParam; 6] = [
    (
        "build",
        "Array Build",
        "list",
        Some("hg19"),
        &[("hg19", "GRCh37/hg19"), ("hg38", "GRCh38/hg38")],
    ),
    (
        "r2Filter",
        "rsq Filter",
        "list",
        Some("0"),
        &[
            ("0", "off"),
            ("0.001", "0.001"),
            ("0.1", "0.1"),
            ("0.2", "0.2"),
            ("0.3", "0.3"),
        ],
    ),
    (
        "phasing",
        "Phasing",
        "list",
        Some("eagle"),
        &[
            ("beagle", "Beagle 5.4 (phased output)"),
            ("eagle", "Eagle v2.4 (phased output)"),
            ("no_phasing", "No phasing"),
        ],
    ),
    (
        "mode",
        "Mode",
        "list",
        Some("imputation"),
        &[
            ("imputation", "Quality Control & Imputation"),
            ("qc_only", "Quality Control Only"),
        ],
    ),
    (
        "aesEncryption",
        "AES 256 encryption",
        "checkbox",
        None,
        &[("false", "no"), ("true", "yes")],
    ),
    (
        "meta",
        "Generate Meta-imputation file",
        "checkbox",
        None,
        &[("false", "no"), ("true", "yes")],
    ),
];

/// A parameter of the app, as CG3 `WdlParameterInputResponse` renders it (nulls omitted).
fn param(id: &str, description: &str, kind: &str, extra: Value) -> Value {
    let mut param = json!({"id": id, "description": description, "type": kind,
        "visible": true, "required": true, "adminOnly": false});
    if let (Some(map), Value::Object(extra)) = (param.as_object_mut(), extra) {
        map.extend(extra);
    }
    param
}

/// `[{key, value}]` (CG3 `PropertyResponse`).
fn pairs<K: serde::Serialize, V: serde::Serialize>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> Value {
    pairs
        .into_iter()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect()
}

/// The app details of `GET /api/v2/server/apps/{appId}` (A.3, A.4), panels included.
pub(super) fn app_json(config: &CloudgeneConfig) -> Value {
    let panels = &config.panels;
    let refpanels = pairs(panels.iter().map(|p| (&p.key, &p.label)));
    let populations: Vec<Value> = panels
        .iter()
        .map(|p| {
            let values = pairs(p.populations.iter().map(|(key, label)| (key, label)));
            json!({"key": p.key, "label": p.label, "values": values})
        })
        .collect();
    let mut params = vec![
        param(
            "files",
            "Input Files (VCF)",
            "local-folder",
            json!({"source": "upload"}),
        ),
        param(
            "refpanel",
            "Reference Panel",
            "app_list",
            json!({"values": refpanels}),
        ),
        param(
            "population",
            "Allele Frequency Check",
            "binded_list",
            json!({"bind": "refpanel", "values": populations}),
        ),
    ];
    for (id, description, kind, value, values) in LIST_PARAMS {
        let mut extra = json!({"values": pairs(values.iter().copied())});
        if let (Some(value), Some(map)) = (value, extra.as_object_mut()) {
            map.insert("value".into(), json!(value));
        }
        params.push(param(id, description, kind, extra));
    }
    json!({
        "id": config.app_id, "name": APP_NAME, "version": app_version(&config.app_id),
        "description": "Fake Cloudgene imputation app for tests.", "author": "fedimpute tests",
        "website": "https://example.org/imputationserver2", "logo": "", "submitButton": "Submit job",
        "s3Workspace": false, "footer": "", "params": params,
    })
}
