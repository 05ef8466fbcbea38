//! The service-info bodies of each flavour (B.4), and the workflow types they accept.

use serde_json::{Value, json};

use super::WesStyle;

/// WES 1.0 states, all counted by WESkit.
pub(super) const STATES: [&str; 10] = [
    "UNKNOWN",
    "QUEUED",
    "INITIALIZING",
    "RUNNING",
    "PAUSED",
    "COMPLETE",
    "EXECUTOR_ERROR",
    "SYSTEM_ERROR",
    "CANCELED",
    "CANCELING",
];

pub(super) fn weskit_service_info() -> Value {
    let counts: serde_json::Map<String, Value> = STATES
        .iter()
        .map(|state| {
            let count = match *state {
                "QUEUED" => 2,
                "RUNNING" => 1,
                _ => 0,
            };
            ((*state).to_owned(), json!(count))
        })
        .collect();
    let engine_params: Vec<Value> = [
        ("NFL|22.10.0|max-memory", "100m"),
        ("NFL|22.10.0|max-runtime", "05:00"),
        ("NFL|22.10.0|accounting-name", ""),
        ("NFL|22.10.0|job-name", "weskit_job"),
        ("SMK|6.10.0|max-memory", "100m"),
        ("SMK|6.10.0|max-runtime", "05:00"),
    ]
    .into_iter()
    .map(|(name, default)| json!({"name": name, "type": "str", "default_value": default}))
    .collect();
    json!({
        "workflow_type_versions": {
            "NFL": {"workflow_type_version": ["22.10.0"]},
            "SMK": {"workflow_type_version": ["6.10.0"]},
        },
        "supported_wes_versions": ["1.0.0"],
        "supported_filesystem_protocols": ["file", "S3"],
        "workflow_engine_versions": {"NFL": "22.10.0", "SMK": "6.10.0"},
        "default_workflow_engine_parameters": engine_params,
        "system_state_counts": counts,
        "auth_instructions_url": "https://somewhere.org",
        "contact_info_url": "your@email.de",
        "tags": {"tag1": "value1", "tag2": "value2"},
    })
}

pub(super) fn starter_kit_service_info() -> Value {
    json!({
        "id": "org.ga4gh.starterkit.wes",
        "name": "GA4GH Starter Kit WES Service",
        "description": "An open source, community-driven implementation of the GA4GH Workflow Execution Service (WES) API specification.",
        "contactUrl": "mailto:info@ga4gh.org",
        "documentationUrl": "https://github.com/ga4gh/ga4gh-starter-kit-wes",
        "createdAt": "2020-01-15T12:00:00Z",
        "updatedAt": "2020-01-15T12:00:00Z",
        "environment": "test",
        "version": "0.3.2",
        "type": {"group": "org.ga4gh", "artifact": "wes", "version": "1.0.1"},
        "organization": {"name": "Global Alliance for Genomics and Health", "url": "https://ga4gh.org"},
        "workflow_type_versions": {"WDL": ["1.0"], "NEXTFLOW": ["21.04.0"]},
        "workflow_engine_versions": {"NATIVE": "1.0.0"},
    })
}

/// A strict WES 1.1 service-info (GA4GH service-info header, `{workflow_engine_version: [..]}`).
pub(super) fn spec11_service_info() -> Value {
    let counts: serde_json::Map<String, Value> = STATES
        .iter()
        .chain(std::iter::once(&"PREEMPTED"))
        .map(|state| ((*state).to_owned(), json!(0)))
        .collect();
    json!({
        "id": "org.example.fake-wes", "name": "Fake WES 1.1",
        "type": {"group": "org.ga4gh", "artifact": "wes", "version": "1.1.0"},
        "organization": {"name": "fedimpute tests", "url": "https://example.org"},
        "version": "1.1.0",
        "workflow_type_versions": {
            "NFL": {"workflow_type_version": ["22.10.0"]},
            "CWL": {"workflow_type_version": ["v1.0", "v1.2"]},
        },
        "supported_wes_versions": ["1.0.0", "1.1.0"],
        "supported_filesystem_protocols": ["http", "https", "file"],
        "workflow_engine_versions": {"nextflow": {"workflow_engine_version": ["22.10.0"]}},
        "default_workflow_engine_parameters": [],
        "system_state_counts": counts,
        "auth_instructions_url": "https://example.org/auth",
        "tags": {},
    })
}

/// The service-info body of `style`.
pub(super) fn service_info(style: WesStyle) -> Value {
    match style {
        WesStyle::WesKit => weskit_service_info(),
        WesStyle::StarterKit => starter_kit_service_info(),
        WesStyle::Spec11 => spec11_service_info(),
    }
}

/// The `workflow_type` values `style` accepts, each with its accepted
/// `workflow_type_version`s (empty: any version; the Starter Kit's `CWL` is in its enum
/// but not in its service-info).
pub(super) fn type_versions(style: WesStyle) -> &'static [(&'static str, &'static [&'static str])] {
    match style {
        WesStyle::WesKit => &[("NFL", &["22.10.0"]), ("SMK", &["6.10.0"])],
        WesStyle::StarterKit => &[("CWL", &[]), ("WDL", &["1.0"]), ("NEXTFLOW", &["21.04.0"])],
        WesStyle::Spec11 => &[("NFL", &["22.10.0"]), ("CWL", &["v1.0", "v1.2"])],
    }
}
