//! JSON ⇄ protobuf by descriptor, with the platform's rules (DESIGN.md):
//! proto field names; 64-bit integers as numbers; enum values as the
//! original's lower-case words (`JOB_STATUS_QUEUED` → `"queued"`), accepted
//! in either form or as numbers; unset optional fields and messages as
//! `null`; `Timestamp` as RFC 3339, `Struct` as a JSON object. Text from
//! paths, query strings and form fields is parsed by the field's type.

use base64::{Engine, engine::general_purpose::STANDARD};
use prost_reflect::{
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage, Value,
};
use serde_json::{Map, Number, Value as Json};

/// A problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) field: String,
    pub(crate) description: String,
}

impl Violation {
    fn new(field: &str, description: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            description: description.into(),
        }
    }
}

/// The field at a dotted path (`profile.institution`), through messages.
pub(crate) fn field_at(message: &MessageDescriptor, path: &str) -> Option<FieldDescriptor> {
    let mut current = message.clone();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = current.get_field_by_name(part)?;
        if parts.peek().is_none() {
            return Some(field);
        }
        current = field.kind().as_message()?.clone();
    }
    None
}

// ---------------------------------------------------------------- output

/// A message as JSON.
pub(crate) fn to_json(message: &DynamicMessage) -> Json {
    if let Some(json) = well_known_to_json(message) {
        return json;
    }
    let mut out = Map::new();
    for field in message.descriptor().fields() {
        let in_real_oneof = field.containing_oneof().is_some_and(|o| !o.is_synthetic());
        let present = message.has_field(&field);
        if in_real_oneof && !present {
            continue;
        }
        out.insert(field.name().to_owned(), field_json(message, &field));
    }
    Json::Object(out)
}

/// One field of a message as JSON (`null` when it has presence and is unset).
pub(crate) fn field_json(message: &DynamicMessage, field: &FieldDescriptor) -> Json {
    if field.supports_presence() && !message.has_field(field) {
        return Json::Null;
    }
    field_to_json(field, &message.get_field(field))
}

fn field_to_json(field: &FieldDescriptor, value: &Value) -> Json {
    match value {
        Value::List(items) => Json::Array(items.iter().map(|v| value_to_json(field, v)).collect()),
        Value::Map(entries) => {
            let value_field = field
                .kind()
                .as_message()
                .and_then(|m| m.map_entry_value_field().into());
            let mut out = Map::new();
            for (key, v) in entries {
                let key = key_label(key);
                let json = match &value_field {
                    Some(vf) => value_to_json(vf, v),
                    None => Json::Null,
                };
                out.insert(key, json);
            }
            Json::Object(out)
        }
        single @ (Value::Bool(_)
        | Value::I32(_)
        | Value::I64(_)
        | Value::U32(_)
        | Value::U64(_)
        | Value::F32(_)
        | Value::F64(_)
        | Value::String(_)
        | Value::Bytes(_)
        | Value::EnumNumber(_)
        | Value::Message(_)) => value_to_json(field, single),
    }
}

fn value_to_json(field: &FieldDescriptor, value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::I32(n) => Json::from(*n),
        Value::I64(n) => Json::from(*n),
        Value::U32(n) => Json::from(*n),
        Value::U64(n) => Json::from(*n),
        Value::F32(n) => Number::from_f64(f64::from(*n)).map_or(Json::Null, Json::Number),
        Value::F64(n) => Number::from_f64(*n).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(STANDARD.encode(b)),
        Value::EnumNumber(n) => match field.kind().as_enum() {
            Some(e) => enum_to_json(e, *n),
            None => Json::from(*n),
        },
        Value::Message(m) => to_json(m),
        Value::List(_) | Value::Map(_) => field_to_json(field, value),
    }
}

/// The enum's type prefix: `JobStatus` → `JOB_STATUS_`.
fn enum_prefix(e: &EnumDescriptor) -> String {
    let mut out = String::new();
    for (i, c) in e.name().chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out.push('_');
    out
}

/// An enum value as its lower-case word.
pub(crate) fn enum_word(e: &EnumDescriptor, name: &str) -> String {
    let prefix = enum_prefix(e);
    name.strip_prefix(&prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

fn enum_to_json(e: &EnumDescriptor, number: i32) -> Json {
    match e.get_value(number) {
        Some(v) => Json::String(enum_word(e, v.name())),
        None => Json::from(number),
    }
}

fn well_known_to_json(message: &DynamicMessage) -> Option<Json> {
    let get = |name: &str| message.get_field_by_name(name);
    match message.descriptor().full_name() {
        "google.protobuf.Timestamp" => {
            let seconds = get("seconds")?.as_i64()?;
            let nanos = get("nanos")?.as_i32()?;
            let at = chrono::DateTime::from_timestamp(seconds, u32::try_from(nanos).ok()?)?;
            Some(Json::String(
                at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ))
        }
        "google.protobuf.Struct" => {
            let mut out = Map::new();
            if let Some(Value::Map(fields)) = get("fields").as_deref() {
                for (key, value) in fields {
                    if let (MapKey::String(key), Value::Message(v)) = (key, value) {
                        out.insert(key.clone(), to_json(v));
                    }
                }
            }
            Some(Json::Object(out))
        }
        "google.protobuf.ListValue" => match get("values").as_deref() {
            Some(Value::List(items)) => Some(Json::Array(
                items
                    .iter()
                    .filter_map(|v| v.as_message().map(to_json))
                    .collect(),
            )),
            _ => Some(Json::Array(Vec::new())),
        },
        "google.protobuf.Value" => {
            let set = message
                .descriptor()
                .fields()
                .find(|f| message.has_field(f))?;
            let value = message.get_field(&set);
            Some(match (set.name(), &*value) {
                ("number_value", Value::F64(n)) => {
                    Number::from_f64(*n).map_or(Json::Null, Json::Number)
                }
                ("string_value", Value::String(s)) => Json::String(s.clone()),
                ("bool_value", Value::Bool(b)) => Json::Bool(*b),
                ("struct_value" | "list_value", Value::Message(m)) => to_json(m),
                _ => Json::Null,
            })
        }
        "google.protobuf.FieldMask" => match get("paths").as_deref() {
            Some(Value::List(paths)) => Some(Json::String(
                paths
                    .iter()
                    .filter_map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            _ => Some(Json::String(String::new())),
        },
        "google.protobuf.Empty" => Some(Json::Object(Map::new())),
        _ => None,
    }
}

// ----------------------------------------------------------------- input

/// Reads a JSON object into a new message of type `desc`.
#[cfg(test)]
pub(crate) fn from_json(
    desc: &MessageDescriptor,
    json: &Json,
) -> Result<DynamicMessage, Violation> {
    let mut message = DynamicMessage::new(desc.clone());
    merge_json(&mut message, json, "")?;
    Ok(message)
}

/// Merges a JSON object into `message`; `prefix` names the message in errors.
pub(crate) fn merge_json(
    message: &mut DynamicMessage,
    json: &Json,
    prefix: &str,
) -> Result<(), Violation> {
    let desc = message.descriptor();
    if let Some(value) = well_known_from_json(&desc, json, prefix)? {
        *message = value;
        return Ok(());
    }
    let Json::Object(object) = json else {
        return Err(Violation::new(
            prefix.trim_end_matches('.'),
            "must be a JSON object",
        ));
    };
    for (key, value) in object {
        let name = format!("{prefix}{key}");
        let field = desc
            .get_field_by_name(key)
            .or_else(|| desc.get_field_by_json_name(key))
            .ok_or_else(|| Violation::new(&name, "is not a field of this request"))?;
        if value.is_null() {
            message.clear_field(&field);
            continue;
        }
        let parsed = json_to_field(&field, value, &name)?;
        message.set_field(&field, parsed);
    }
    Ok(())
}

fn json_to_field(field: &FieldDescriptor, json: &Json, name: &str) -> Result<Value, Violation> {
    if field.is_map() {
        let Json::Object(entries) = json else {
            return Err(Violation::new(name, "must be a JSON object"));
        };
        let entry = field
            .kind()
            .as_message()
            .cloned()
            .ok_or_else(|| Violation::new(name, "is not a map"))?;
        let key_kind = entry.map_entry_key_field().kind();
        let value_field = entry.map_entry_value_field();
        let mut map = std::collections::HashMap::new();
        for (key, value) in entries {
            let key =
                match key_kind {
                    Kind::String => MapKey::String(key.clone()),
                    Kind::Bool => MapKey::Bool(key == "true"),
                    Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                        MapKey::I32(key.parse().map_err(|_| {
                            Violation::new(name, format!("key '{key}' is not a number"))
                        })?)
                    }
                    Kind::Int64
                    | Kind::Sint64
                    | Kind::Sfixed64
                    | Kind::Uint32
                    | Kind::Uint64
                    | Kind::Fixed32
                    | Kind::Fixed64
                    | Kind::Double
                    | Kind::Float
                    | Kind::Bytes
                    | Kind::Message(_)
                    | Kind::Enum(_) => MapKey::I64(key.parse().map_err(|_| {
                        Violation::new(name, format!("key '{key}' is not a number"))
                    })?),
                };
            let label = format!("{name}.{}", key_label(&key));
            map.insert(key, single_from_json(&value_field, value, &label)?);
        }
        return Ok(Value::Map(map));
    }
    if field.is_list() {
        let items = if let Json::Array(items) = json {
            items.clone()
        } else {
            vec![json.clone()]
        };
        return items
            .iter()
            .enumerate()
            .map(|(i, item)| single_from_json(field, item, &format!("{name}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List);
    }
    single_from_json(field, json, name)
}

fn key_label(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn single_from_json(field: &FieldDescriptor, json: &Json, name: &str) -> Result<Value, Violation> {
    let kind = field.kind();
    if let Kind::Message(desc) = &kind {
        let mut message = DynamicMessage::new(desc.clone());
        merge_json(&mut message, json, &format!("{name}."))?;
        return Ok(Value::Message(message));
    }
    match json {
        Json::String(text) => scalar_from_text(&kind, text).map_err(|e| Violation::new(name, e)),
        Json::Bool(b) if kind == Kind::Bool => Ok(Value::Bool(*b)),
        Json::Number(n) => number_value(&kind, n).map_err(|e| Violation::new(name, e)),
        Json::Null | Json::Bool(_) | Json::Array(_) | Json::Object(_) => Err(Violation::new(
            name,
            format!("must be {}", kind_word(&kind)),
        )),
    }
}

fn number_value(kind: &Kind, n: &Number) -> Result<Value, String> {
    let whole = || {
        n.as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| format!("must be {}", kind_word(kind)))
    };
    let range = |_| format!("is out of range for {}", kind_word(kind));
    Ok(match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(i32::try_from(whole()?).map_err(range)?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(whole()?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(u32::try_from(whole()?).map_err(range)?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(u64::try_from(whole()?).map_err(range)?),
        Kind::Float => Value::F32(n.as_f64().unwrap_or_default() as f32),
        Kind::Double => Value::F64(n.as_f64().unwrap_or_default()),
        Kind::String => Value::String(n.to_string()),
        Kind::Enum(e) => {
            let number = i32::try_from(whole()?).map_err(range)?;
            e.get_value(number)
                .ok_or_else(|| format!("{number} is not one of {}", enum_choices(e)))?;
            Value::EnumNumber(number)
        }
        Kind::Bool | Kind::Bytes | Kind::Message(_) => {
            return Err(format!("must be {}", kind_word(kind)));
        }
    })
}

/// Parses text (a path segment, query or form value) as a field's value;
/// a repeated field takes a comma-separated list.
pub(crate) fn value_from_text(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    if field.is_list() {
        return text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|part| scalar_from_text(&field.kind(), part))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List);
    }
    if field.is_map() {
        return Err("cannot be given as text".into());
    }
    scalar_from_text(&field.kind(), text)
}

fn scalar_from_text(kind: &Kind, text: &str) -> Result<Value, String> {
    let bad = || format!("'{}' is not {}", clip(text), kind_word(kind));
    let t = text.trim();
    Ok(match kind {
        Kind::String => Value::String(text.to_owned()),
        Kind::Bool => match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Bool(true),
            "false" | "0" | "no" | "off" | "" => Value::Bool(false),
            _ => return Err(bad()),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(t.parse().map_err(|_| bad())?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(t.parse().map_err(|_| bad())?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(t.parse().map_err(|_| bad())?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(t.parse().map_err(|_| bad())?),
        Kind::Float => Value::F32(t.parse().map_err(|_| bad())?),
        Kind::Double => Value::F64(t.parse().map_err(|_| bad())?),
        Kind::Bytes => Value::Bytes(STANDARD.decode(t).map_err(|_| bad())?.into()),
        Kind::Enum(e) => Value::EnumNumber(
            parse_enum(e, t)
                .ok_or_else(|| format!("'{}' is not one of {}", clip(text), enum_choices(e)))?,
        ),
        Kind::Message(m) => {
            let json = match m.full_name() {
                "google.protobuf.Timestamp" | "google.protobuf.FieldMask" => {
                    Json::String(text.to_owned())
                }
                _ => serde_json::from_str(text).map_err(|_| bad())?,
            };
            let mut message = DynamicMessage::new(m.clone());
            merge_json(&mut message, &json, "").map_err(|v| v.description)?;
            Value::Message(message)
        }
    })
}

/// An enum value from its word, its full name or its number.
pub(crate) fn parse_enum(e: &EnumDescriptor, text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return e.get_value(n).map(|v| v.number());
    }
    let upper = text.to_ascii_uppercase();
    e.get_value_by_name(&upper)
        .or_else(|| e.get_value_by_name(&format!("{}{upper}", enum_prefix(e))))
        .map(|v| v.number())
}

/// The words an enum accepts (without `unspecified`).
pub(crate) fn enum_words(e: &EnumDescriptor) -> Vec<String> {
    e.values()
        .filter(|v| v.number() != 0)
        .map(|v| enum_word(e, v.name()))
        .collect()
}

fn enum_choices(e: &EnumDescriptor) -> String {
    enum_words(e).join(", ")
}

fn kind_word(kind: &Kind) -> String {
    match kind {
        Kind::String => "a string".into(),
        Kind::Bool => "true or false".into(),
        Kind::Float | Kind::Double => "a number".into(),
        Kind::Bytes => "base64 text".into(),
        Kind::Enum(e) => format!("one of {}", enum_choices(e)),
        Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => {
            "an RFC 3339 time".into()
        }
        Kind::Message(_) => "a JSON object".into(),
        Kind::Int32
        | Kind::Sint32
        | Kind::Sfixed32
        | Kind::Int64
        | Kind::Sint64
        | Kind::Sfixed64
        | Kind::Uint32
        | Kind::Fixed32
        | Kind::Uint64
        | Kind::Fixed64 => "a whole number".into(),
    }
}

fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, in Unix seconds.
const TIMESTAMP_MIN: i64 = -62_135_596_800;
const TIMESTAMP_MAX: i64 = 253_402_300_799;

fn well_known_from_json(
    desc: &MessageDescriptor,
    json: &Json,
    prefix: &str,
) -> Result<Option<DynamicMessage>, Violation> {
    let name = prefix.trim_end_matches('.');
    let mut message = DynamicMessage::new(desc.clone());
    match desc.full_name() {
        "google.protobuf.Timestamp" => {
            let text = json
                .as_str()
                .ok_or_else(|| Violation::new(name, "must be an RFC 3339 time"))?;
            let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| {
                Violation::new(name, format!("'{}' is not an RFC 3339 time", clip(text)))
            })?;
            // A leap second (`23:59:60`) is the next second: a Timestamp's
            // nanos stay below one second.
            let (mut seconds, mut nanos) = (at.timestamp(), at.timestamp_subsec_nanos());
            if nanos >= 1_000_000_000 {
                seconds += 1;
                nanos -= 1_000_000_000;
            }
            // The range of google.protobuf.Timestamp, which is also what an
            // RFC 3339 time in UTC can write (an offset can push it out).
            if !(TIMESTAMP_MIN..=TIMESTAMP_MAX).contains(&seconds) {
                return Err(Violation::new(
                    name,
                    "must be from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
                ));
            }
            message.set_field_by_name("seconds", Value::I64(seconds));
            message.set_field_by_name(
                "nanos",
                Value::I32(i32::try_from(nanos).unwrap_or_default()),
            );
        }
        "google.protobuf.FieldMask" => {
            let paths: Vec<Value> = match json {
                Json::String(s) => s
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_owned()))
                    .collect(),
                Json::Array(items) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(|s| Value::String(s.to_owned())))
                    .collect(),
                Json::Null | Json::Bool(_) | Json::Number(_) | Json::Object(_) => {
                    return Err(Violation::new(
                        name,
                        "must be a comma-separated list of fields",
                    ));
                }
            };
            message.set_field_by_name("paths", Value::List(paths));
        }
        "google.protobuf.Struct" => {
            let Json::Object(object) = json else {
                return Err(Violation::new(name, "must be a JSON object"));
            };
            let value_desc = desc
                .get_field_by_name("fields")
                .and_then(|f| f.kind().as_message().map(|m| m.map_entry_value_field()))
                .and_then(|f| f.kind().as_message().cloned())
                .ok_or_else(|| Violation::new(name, "Struct has no fields"))?;
            let mut map = std::collections::HashMap::new();
            for (key, value) in object {
                map.insert(
                    MapKey::String(key.clone()),
                    Value::Message(any_value(&value_desc, value)),
                );
            }
            message.set_field_by_name("fields", Value::Map(map));
        }
        "google.protobuf.Value" => return Ok(Some(any_value(desc, json))),
        _ => return Ok(None),
    }
    Ok(Some(message))
}

/// Any JSON as a `google.protobuf.Value`.
fn any_value(value_desc: &MessageDescriptor, json: &Json) -> DynamicMessage {
    let mut message = DynamicMessage::new(value_desc.clone());
    let pool = value_desc.parent_pool();
    match json {
        Json::Null => message.set_field_by_name("null_value", Value::EnumNumber(0)),
        Json::Bool(b) => message.set_field_by_name("bool_value", Value::Bool(*b)),
        Json::Number(n) => {
            message.set_field_by_name("number_value", Value::F64(n.as_f64().unwrap_or_default()))
        }
        Json::String(s) => message.set_field_by_name("string_value", Value::String(s.clone())),
        Json::Array(items) => {
            if let Some(list) = pool.get_message_by_name("google.protobuf.ListValue") {
                let mut l = DynamicMessage::new(list);
                l.set_field_by_name(
                    "values",
                    Value::List(
                        items
                            .iter()
                            .map(|i| Value::Message(any_value(value_desc, i)))
                            .collect(),
                    ),
                );
                message.set_field_by_name("list_value", Value::Message(l));
            }
        }
        Json::Object(_) => {
            if let Some(desc) = pool.get_message_by_name("google.protobuf.Struct")
                && let Ok(Some(s)) = well_known_from_json(&desc, json, "")
            {
                message.set_field_by_name("struct_value", Value::Message(s));
            }
        }
    }
    message
}

/// The paths a JSON patch body names, for an `update_mask` the client did
/// not send: `{"name": .., "profile": {"institution": ..}}` →
/// `name`, `profile.institution`. Struct-valued fields are one path.
pub(crate) fn implied_mask(desc: &MessageDescriptor, json: &Json) -> Vec<String> {
    let mut out = Vec::new();
    collect_paths(desc, json, "", &mut out);
    out
}

fn collect_paths(desc: &MessageDescriptor, json: &Json, prefix: &str, out: &mut Vec<String>) {
    let Json::Object(object) = json else {
        return;
    };
    for (key, value) in object {
        let Some(field) = desc
            .get_field_by_name(key)
            .or_else(|| desc.get_field_by_json_name(key))
        else {
            continue;
        };
        let path = format!("{prefix}{}", field.name());
        match (field.kind().as_message(), value) {
            (Some(m), Json::Object(_))
                if !field.is_list()
                    && !field.is_map()
                    && !m.full_name().starts_with("google.protobuf.") =>
            {
                collect_paths(m, value, &format!("{path}."), out)
            }
            _ => out.push(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;
    use serde_json::json;

    use super::*;

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(fedimpute_proto::FILE_DESCRIPTOR_SET).unwrap()
    }

    #[test]
    fn enums_read_and_write_as_lower_case_words() {
        let pool = pool();
        let desc = pool
            .get_message_by_name("fedimpute.jobs.v1.ListJobsRequest")
            .unwrap();
        for form in ["queued", "JOB_STATUS_QUEUED", "QUEUED", "2"] {
            let message = from_json(&desc, &json!({"status": form})).unwrap();
            assert_eq!(to_json(&message)["status"], json!("queued"), "{form}");
        }
        let error = from_json(&desc, &json!({"status": "sleeping"})).unwrap_err();
        assert_eq!(error.field, "status");
        assert!(error.description.contains("running"), "{error:?}");
    }

    #[test]
    fn int64_are_numbers_and_unset_optionals_null() {
        let pool = pool();
        let desc = pool.get_message_by_name("fedimpute.jobs.v1.Job").unwrap();
        let message = from_json(
            &desc,
            &json!({"input_file_size": 12345678901_i64, "created_at": "2026-12-01T09:30:00Z", "service_response": {"a": [1, "x", null, {"b": true}]}}),
        )
        .unwrap();
        let out = to_json(&message);
        assert_eq!(out["input_file_size"], json!(12345678901_i64));
        assert_eq!(out["service_id"], Json::Null);
        assert_eq!(out["created_at"], json!("2026-12-01T09:30:00Z"));
        assert_eq!(
            out["service_response"],
            json!({"a": [1.0, "x", null, {"b": true}]})
        );
        assert_eq!(out["status"], json!("unspecified"));
    }

    #[test]
    fn timestamps_stay_in_range_and_leap_seconds_carry() {
        let pool = pool();
        let desc = pool.get_message_by_name("fedimpute.jobs.v1.Job").unwrap();
        let read = |t: &str| from_json(&desc, &json!({"created_at": t}));
        let out = to_json(&read("2026-12-31T23:59:60.5Z").unwrap());
        assert_eq!(out["created_at"], json!("2027-01-01T00:00:00.500Z"));
        for outside in [
            "9999-12-31T23:59:59-14:00",
            "0000-12-31T23:59:59Z",
            "0001-01-01T00:00:00+01:00",
        ] {
            let e = read(outside).unwrap_err();
            assert_eq!(e.field, "created_at", "{outside}");
        }
        assert!(read("0001-01-01T00:00:00Z").is_ok());
        assert!(read("9999-12-31T23:59:59.999999999Z").is_ok());
    }

    #[test]
    fn unknown_fields_and_bad_values_name_the_field() {
        let pool = pool();
        let desc = pool
            .get_message_by_name("fedimpute.jobs.v1.CreateJobRequest")
            .unwrap();
        let e = from_json(&desc, &json!({"nmae": "x"})).unwrap_err();
        assert_eq!(e.field, "nmae");
        let e = from_json(&desc, &json!({"r2_filter": "high"})).unwrap_err();
        assert_eq!(e.field, "r2_filter");
        let e = from_json(&desc, &json!({"phasing": 3})).unwrap_err();
        assert_eq!(e.field, "phasing");
    }

    #[test]
    fn text_values_follow_the_field_type() {
        let pool = pool();
        let desc = pool
            .get_message_by_name("fedimpute.jobs.v1.CreateFederatedJobRequest")
            .unwrap();
        let ids = desc.get_field_by_name("service_ids").unwrap();
        assert_eq!(
            value_from_text(&ids, "1, 2").unwrap(),
            Value::List(vec![Value::String("1".into()), Value::String("2".into())])
        );
        let phasing = desc.get_field_by_name("phasing").unwrap();
        assert_eq!(
            value_from_text(&phasing, "false").unwrap(),
            Value::Bool(false)
        );
        assert!(value_from_text(&phasing, "maybe").is_err());
        let build = desc.get_field_by_name("build").unwrap();
        assert!(matches!(value_from_text(&build, "hg38").unwrap(), Value::EnumNumber(n) if n > 0));
    }

    #[test]
    fn patch_bodies_imply_their_mask() {
        let pool = pool();
        let desc = pool.get_message_by_name("fedimpute.users.v1.User").unwrap();
        let mut paths = implied_mask(
            &desc,
            &json!({"is_active": false, "profile": {"institution": "UCT"}, "quota": {"monthly_job_limit": 5}}),
        );
        paths.sort();
        assert_eq!(
            paths,
            vec![
                "is_active",
                "profile.institution",
                "quota.monthly_job_limit"
            ]
        );
    }
}
