//! `google.protobuf.Struct` ⇄ JSON, for the free-form `api_config` of
//! services and panels, and the one rule both follow.

use fedimpute_common::{status::Violations, wire::value_to_json};
use serde_json::{Map, Value};

/// Keys that must never sit in a public `api_config`.
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

/// The largest `api_config` accepted (a service's or a panel's), as JSON:
/// it holds settings, and every read returns it whole.
pub(crate) const API_CONFIG_MAX_BYTES: usize = 64 * 1024;

/// A public `api_config`, parsed: a key that looks like a secret is refused
/// (as `api_config.<key>`: secrets belong in the service's sealed
/// `secrets`), and so is a config over [`API_CONFIG_MAX_BYTES`] (as
/// `api_config`).
pub(crate) fn parse_api_config(
    v: &mut Violations,
    config: Option<prost_types::Struct>,
) -> Map<String, Value> {
    let Some(config) = config else {
        return Map::new();
    };
    let mut out = Map::new();
    for (key, value) in config.fields {
        let lower = key.to_lowercase();
        if SECRET_MARKERS.iter().any(|m| lower.contains(m)) {
            v.add(
                format!("api_config.{key}"),
                "looks like a secret; api_config is public: put it in the service's `secrets`, which are stored encrypted",
            );
        }
        out.insert(key, value_to_json(value));
    }
    let size = serde_json::to_vec(&out).map_or(usize::MAX, |json| json.len());
    if size > API_CONFIG_MAX_BYTES {
        v.add(
            "api_config",
            format!("is larger than {API_CONFIG_MAX_BYTES} bytes as JSON"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use fedimpute_common::wire::{json_to_struct, json_to_value};
    use serde_json::json;

    fn config(value: Value) -> Option<prost_types::Struct> {
        value.as_object().cloned().map(json_to_struct)
    }

    fn fields(v: Violations) -> Vec<String> {
        v.finish()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn nested_settings_round_trip() {
        let value = json!({
            "workflow_url": "https://example.org/impute.wdl",
            "workflow_params": {"impute.cpus": 4.0, "impute.tags": ["a", "b"], "off": null},
            "enabled": true,
        });
        let mut v = Violations::new();
        let parsed = parse_api_config(&mut v, config(value.clone()));
        assert!(fields(v).is_empty());
        assert_eq!(Value::Object(parsed.clone()), value);
        assert_eq!(
            Value::Object(parsed.clone()),
            value_to_json(json_to_value(Value::Object(parsed)))
        );
    }

    #[test]
    fn secret_looking_keys_and_oversized_configs_are_refused() {
        let mut v = Violations::new();
        parse_api_config(
            &mut v,
            config(json!({"Client_Secret": "x", "workflow_id": "ok"})),
        );
        assert_eq!(fields(v), vec!["api_config.Client_Secret"]);

        let mut v = Violations::new();
        let big = "x".repeat(API_CONFIG_MAX_BYTES);
        parse_api_config(&mut v, config(json!({ "workflow_params": big })));
        assert_eq!(fields(v), vec!["api_config"]);

        let mut v = Violations::new();
        assert!(parse_api_config(&mut v, None).is_empty());
        assert!(fields(v).is_empty());
    }
}
