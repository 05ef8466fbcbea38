//! `google.protobuf.Struct` ⇄ JSON, for the free-form `api_config` of
//! services and panels, and the one rule both follow.

use fedimpute_common::status::Violations;
use prost_types::value::Kind;
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
        out.insert(key, struct_value_to_json(value));
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

/// `google.protobuf.Value` → JSON.
pub(crate) fn struct_value_to_json(value: prost_types::Value) -> Value {
    match value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::NumberValue(n)) => {
            serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
        }
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::StructValue(s)) => Value::Object(
            s.fields
                .into_iter()
                .map(|(k, v)| (k, struct_value_to_json(v)))
                .collect(),
        ),
        Some(Kind::ListValue(l)) => {
            Value::Array(l.values.into_iter().map(struct_value_to_json).collect())
        }
    }
}

/// JSON → `google.protobuf.Value`.
pub(crate) fn json_to_struct_value(value: Value) -> prost_types::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s),
        Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.into_iter().map(json_to_struct_value).collect(),
        }),
        Value::Object(o) => Kind::StructValue(json_to_struct(o)),
    };
    prost_types::Value { kind: Some(kind) }
}

pub(crate) fn json_to_struct(map: Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: map
            .into_iter()
            .map(|(k, v)| (k, json_to_struct_value(v)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            struct_value_to_json(json_to_struct_value(Value::Object(parsed)))
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
