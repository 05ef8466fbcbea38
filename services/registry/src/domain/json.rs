//! `google.protobuf.Struct` ⇄ JSON, for the free-form `api_config`.

use prost_types::value::Kind;
use serde_json::{Map, Value};

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
