//! The OpenAPI 3.0.3 document of the REST API, generated from the same
//! descriptors and annotations the gateway routes by, so it cannot drift
//! from what is served. The schemas follow the JSON rules of `json.rs`:
//! proto field names; 64-bit integers as numbers; enums as lower-case words
//! (`unspecified` included: a reply may carry it); unset `optional` scalars
//! and unset messages as `null`; `Timestamp` as an RFC 3339 string, `Struct`
//! as an object, `FieldMask` as a comma-separated string. Summaries and
//! descriptions are the comments of the .proto files.

use std::collections::{HashMap, HashSet};

use http::{Method, StatusCode};
use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
};
use serde_json::{Map, Value, json};

use crate::{
    error::code_name,
    json::{enum_word, field_at},
    rest::success_status,
    routes::{Route, RouteTable, Shape},
};

const SCHEMAS: &str = "#/components/schemas/";
const ERROR_SCHEMA: &str = "Error";
const FIELD_VIOLATION_SCHEMA: &str = "FieldViolation";

/// The document served at `/api/openapi.json`.
pub(crate) fn document(pool: &DescriptorPool, routes: &RouteTable) -> Value {
    let mut builder = Builder::new(pool);
    let mut paths: Map<String, Value> = Map::new();
    // OpenAPI forbids two templates that differ only in variable names
    // (`/api/services/{id_or_slug}/` beside `/api/services/{id}/`): such
    // routes share the first one's path, their variables named by position.
    let mut templates: HashMap<String, (String, Vec<String>)> = HashMap::new();
    let mut operation_ids: HashMap<String, usize> = HashMap::new();
    let mut tags: Vec<(String, Option<String>)> = Vec::new();

    for route in routes.routes() {
        let own_path = route.template.openapi_path();
        let variables: Vec<String> = route.template.variables().map(str::to_owned).collect();
        let (path, names) = templates
            .entry(template_shape(&own_path))
            .or_insert_with(|| (own_path.clone(), variables.clone()))
            .clone();
        let verb = route.verb.as_str().to_ascii_lowercase();
        let item = paths.entry(path).or_insert_with(|| json!({}));
        if item.get(&verb).is_some() {
            continue;
        }
        let name = route.method.name().to_owned();
        let seen = operation_ids.entry(name.clone()).or_insert(0);
        *seen += 1;
        let operation_id = if *seen == 1 {
            name
        } else {
            format!("{name}_{seen}")
        };
        let service = route.method.parent_service();
        if !tags.iter().any(|(t, _)| t == service.name()) {
            tags.push((
                service.name().to_owned(),
                builder.comments.get(&service.parent_file(), service.path()),
            ));
        }
        let parameter_names: Vec<(String, String)> = variables.into_iter().zip(names).collect();
        item[verb] = builder.operation(route, &operation_id, &parameter_names);
    }

    let mut schemas = builder.finish();
    schemas.insert(ERROR_SCHEMA.into(), error_schema());
    schemas.insert(FIELD_VIOLATION_SCHEMA.into(), field_violation_schema());
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "fedimpute",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The REST API of the fedimpute platform, transcoded by the gateway from the \
                google.api.http annotations of its gRPC services. JSON uses the proto field names; \
                64-bit integers are JSON numbers; enum values are lower-case words (\"queued\"), \
                accepted also as their full proto names or numbers; unset optional fields are null. \
                Errors are {\"detail\", \"code\", \"field_violations\"} with the HTTP status of the \
                gRPC code. Paths work with or without their trailing slash.",
        },
        "tags": tags
            .into_iter()
            .map(|(name, description)| {
                let mut tag = json!({"name": name});
                if let Some(d) = description {
                    tag["description"] = json!(d);
                }
                tag
            })
            .collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    })
}

/// `/api/services/{id}/` → `/api/services/{}/`.
fn template_shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_variable = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_variable = true;
                out.push_str("{}");
            }
            '}' => in_variable = false,
            _ if in_variable => {}
            _ => out.push(c),
        }
    }
    out
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("{SCHEMAS}{name}")})
}

/// `null` allowed too (OpenAPI 3.0: `nullable`; beside a `$ref` only
/// through `allOf`, since siblings of a `$ref` are ignored).
fn nullable(schema: Value) -> Value {
    if schema.get("$ref").is_some() {
        return json!({"allOf": [schema], "nullable": true});
    }
    let mut schema = schema;
    schema["nullable"] = json!(true);
    schema
}

fn described(schema: Value, description: Option<String>) -> Value {
    let Some(description) = description else {
        return schema;
    };
    let mut schema = if schema.get("$ref").is_some() {
        json!({"allOf": [schema]})
    } else {
        schema
    };
    schema["description"] = json!(description);
    schema
}

fn enum_schema(e: &EnumDescriptor) -> Value {
    let mut words: Vec<String> = Vec::new();
    for value in e.values() {
        let word = enum_word(e, value.name());
        if !words.contains(&word) {
            words.push(word);
        }
    }
    json!({"type": "string", "enum": words})
}

/// A message given as text in a path, query or form (json.rs parses these
/// from their string forms).
fn is_text_message(m: &MessageDescriptor) -> bool {
    matches!(
        m.full_name(),
        "google.protobuf.Timestamp" | "google.protobuf.FieldMask"
    )
}

/// Whether a field can be set from a path segment, query or form value.
fn is_text_field(field: &FieldDescriptor) -> bool {
    if field.is_map() {
        return false;
    }
    match field.kind() {
        Kind::Message(m) => !field.is_list() && is_text_message(&m),
        Kind::Double
        | Kind::Float
        | Kind::Int32
        | Kind::Int64
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Sint32
        | Kind::Sint64
        | Kind::Fixed32
        | Kind::Fixed64
        | Kind::Sfixed32
        | Kind::Sfixed64
        | Kind::Bool
        | Kind::String
        | Kind::Bytes
        | Kind::Enum(_) => true,
    }
}

/// The `Route`'s success status as the key of `responses`.
fn success_code(route: &Route) -> String {
    success_status(route).as_u16().to_string()
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": reference(ERROR_SCHEMA)}},
    })
}

fn error_schema() -> Value {
    let codes: Vec<&str> = (0..=16)
        .map(|n| code_name(tonic::Code::from_i32(n)))
        .collect();
    json!({
        "type": "object",
        "description": "Every error of the REST API. `detail` is for people; `code` is the gRPC \
            status code's name; `field_violations` names the input fields at fault.",
        "required": ["detail", "code", "field_violations"],
        "properties": {
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": codes},
            "field_violations": {"type": "array", "items": reference(FIELD_VIOLATION_SCHEMA)},
        },
        "additionalProperties": false,
    })
}

fn field_violation_schema() -> Value {
    json!({
        "type": "object",
        "required": ["field", "description"],
        "properties": {
            "field": {"type": "string", "description": "The field's path, e.g. `service.base_url`."},
            "description": {"type": "string"},
        },
        "additionalProperties": false,
    })
}

/// The leading comments of the .proto files, by file and location path.
struct Comments {
    by_location: HashMap<(String, Vec<i32>), String>,
}

impl Comments {
    fn new(pool: &DescriptorPool) -> Self {
        let mut by_location = HashMap::new();
        for file in pool.files() {
            let Some(info) = &file.file_descriptor_proto().source_code_info else {
                continue;
            };
            for location in &info.location {
                let Some(text) = location.leading_comments.as_deref().map(clean_comment) else {
                    continue;
                };
                if !text.is_empty() {
                    by_location.insert((file.name().to_owned(), location.path.clone()), text);
                }
            }
        }
        Self { by_location }
    }

    fn get(&self, file: &FileDescriptor, path: &[i32]) -> Option<String> {
        self.by_location
            .get(&(file.name().to_owned(), path.to_vec()))
            .cloned()
    }

    fn of_field(&self, field: &FieldDescriptor) -> Option<String> {
        self.get(&field.parent_file(), field.path())
    }
}

/// ` Streams a file in.\n More.\n` → `Streams a file in.\nMore.`
fn clean_comment(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

/// The first sentence of a comment's first paragraph.
fn summary_of(comment: &str) -> String {
    let paragraph = comment
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .lines()
        .collect::<Vec<_>>()
        .join(" ");
    let end = paragraph
        .match_indices(". ")
        .map(|(i, _)| i)
        .next()
        .unwrap_or(paragraph.len());
    paragraph[..end].trim_end_matches('.').to_owned()
}

/// Builds operations, collecting the message schemas they refer to.
struct Builder {
    comments: Comments,
    schemas: Map<String, Value>,
    pending: Vec<MessageDescriptor>,
    queued: HashSet<String>,
}

impl Builder {
    fn new(pool: &DescriptorPool) -> Self {
        Self {
            comments: Comments::new(pool),
            schemas: Map::new(),
            pending: Vec::new(),
            queued: HashSet::new(),
        }
    }

    /// Every message schema referred to so far, and those they refer to.
    fn finish(mut self) -> Map<String, Value> {
        while let Some(message) = self.pending.pop() {
            let schema = self.message_schema(&message, &[]);
            self.schemas.insert(message.full_name().to_owned(), schema);
        }
        self.schemas
    }

    fn message_ref(&mut self, m: &MessageDescriptor) -> Value {
        if self.queued.insert(m.full_name().to_owned()) {
            self.pending.push(m.clone());
        }
        reference(m.full_name())
    }

    /// The schema of one value of a field's type (no repetition, no null).
    fn kind_schema(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Double => json!({"type": "number", "format": "double"}),
            Kind::Float => json!({"type": "number", "format": "float"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => json!({
                "type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX,
            }),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({
                "type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX,
            }),
            Kind::Uint32 | Kind::Fixed32 => json!({
                "type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX,
            }),
            Kind::Uint64 | Kind::Fixed64 => {
                json!({"type": "integer", "minimum": 0, "maximum": u64::MAX})
            }
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "format": "byte"}),
            Kind::Enum(e) => enum_schema(e),
            Kind::Message(m) => match m.full_name() {
                "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
                "google.protobuf.Struct" => json!({"type": "object", "additionalProperties": true}),
                "google.protobuf.Value" => json!({}),
                "google.protobuf.ListValue" => json!({"type": "array", "items": {}}),
                "google.protobuf.FieldMask" => json!({
                    "type": "string",
                    "description": "Field paths, comma-separated (`name,profile.institution`).",
                }),
                "google.protobuf.Empty" => {
                    json!({"type": "object", "properties": {}, "additionalProperties": false})
                }
                _ => self.message_ref(m),
            },
        }
    }

    /// A field's schema as it appears in a JSON object.
    fn field_schema(&mut self, field: &FieldDescriptor) -> Value {
        let kind = field.kind();
        let schema = if field.is_map() {
            let value = kind
                .as_message()
                .map(|entry| self.kind_schema(&entry.map_entry_value_field().kind()))
                .unwrap_or_else(|| json!({}));
            json!({"type": "object", "additionalProperties": value})
        } else if field.is_list() {
            json!({"type": "array", "items": self.kind_schema(&kind)})
        } else {
            let schema = self.kind_schema(&kind);
            // A real oneof's unset members are left out, never null.
            let in_real_oneof = field.containing_oneof().is_some_and(|o| !o.is_synthetic());
            if field.supports_presence() && !in_real_oneof {
                nullable(schema)
            } else {
                schema
            }
        };
        described(schema, self.comments.of_field(field))
    }

    /// A message as a JSON object, without the fields named in `skip`.
    fn message_schema(&mut self, m: &MessageDescriptor, skip: &[&str]) -> Value {
        let mut properties = Map::new();
        for field in m.fields() {
            if skip.contains(&field.name()) {
                continue;
            }
            let schema = self.field_schema(&field);
            properties.insert(field.name().to_owned(), schema);
        }
        let mut schema = json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        });
        if let Some(description) = self.comments.get(&m.parent_file(), m.path()) {
            schema["description"] = json!(description);
        }
        schema
    }

    /// The schema of a path variable.
    fn path_schema(&mut self, field: &FieldDescriptor) -> Value {
        let mut schema = self.kind_schema(&field.kind());
        if field.kind() == Kind::String {
            // An empty segment matches no route.
            schema["minLength"] = json!(1);
        }
        schema
    }

    fn operation(
        &mut self,
        route: &Route,
        operation_id: &str,
        path_names: &[(String, String)],
    ) -> Value {
        let method = &route.method;
        let input = method.input();
        let mut operation = json!({
            "operationId": operation_id,
            "tags": [method.parent_service().name()],
            "security": [{}, {"bearerAuth": []}],
        });
        if let Some(comment) = self.comments.get(&method.parent_file(), method.path()) {
            operation["summary"] = json!(summary_of(&comment));
            operation["description"] = json!(comment);
        }

        let mut parameters = Vec::new();
        for (variable, name) in path_names {
            let Some(field) = field_at(&input, variable) else {
                continue;
            };
            let mut description = self.comments.of_field(&field).unwrap_or_default();
            if name != variable {
                description = format!("The `{variable}` field. {description}")
                    .trim()
                    .to_owned();
            }
            let mut parameter = json!({
                "name": name,
                "in": "path",
                "required": true,
                "schema": self.path_schema(&field),
            });
            if !description.is_empty() {
                parameter["description"] = json!(description);
            }
            parameters.push(parameter);
        }
        let top_level: Vec<&str> = path_names
            .iter()
            .map(|(v, _)| v.split('.').next().unwrap_or(v))
            .collect();
        if route.shape == Shape::Upload {
            if let Some(metadata) = upload_metadata(&input) {
                for field in metadata.fields().filter(is_text_field) {
                    parameters.push(self.query_parameter(&field));
                }
            }
        } else if route.body.as_deref() != Some("*") {
            for field in input.fields() {
                if top_level.contains(&field.name())
                    || route.body.as_deref() == Some(field.name())
                    || !is_text_field(&field)
                {
                    continue;
                }
                parameters.push(self.query_parameter(&field));
            }
        }
        if !parameters.is_empty() {
            operation["parameters"] = json!(parameters);
        }

        if let Some(body) = self.request_body(route, &top_level) {
            operation["requestBody"] = body;
        }
        operation["responses"] = self.responses(route);
        operation
    }

    fn query_parameter(&mut self, field: &FieldDescriptor) -> Value {
        let schema = if field.is_list() {
            json!({"type": "array", "items": self.kind_schema(&field.kind())})
        } else {
            self.kind_schema(&field.kind())
        };
        let mut parameter = json!({
            "name": field.name(),
            "in": "query",
            "required": false,
            "schema": schema,
        });
        if field.is_list() {
            parameter["style"] = json!("form");
            parameter["explode"] = json!(true);
        }
        if let Some(description) = self.comments.of_field(field) {
            parameter["description"] = json!(description);
        }
        parameter
    }

    fn request_body(&mut self, route: &Route, path_fields: &[&str]) -> Option<Value> {
        let input = route.method.input();
        if route.shape == Shape::Upload {
            let mut properties = Map::new();
            properties.insert(
                "file".into(),
                json!({"type": "string", "format": "binary", "description": "The file (any part with a file name)."}),
            );
            if let Some(metadata) = upload_metadata(&input) {
                for field in metadata.fields().filter(is_text_field) {
                    if field.name() != "filename" {
                        let schema = self.kind_schema(&field.kind());
                        properties.insert(
                            field.name().to_owned(),
                            described(schema, self.comments.of_field(&field)),
                        );
                    }
                }
            }
            return Some(json!({
                "required": true,
                "description": "A multipart form with the file (text fields before the file part), or \
                    the raw bytes with `?filename=` (or a Content-Disposition header). Streamed: not \
                    bound by the JSON body limit.",
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": properties,
                            "required": ["file"],
                            "additionalProperties": false,
                        },
                    },
                    "application/octet-stream": {
                        "schema": {"type": "string", "format": "binary"},
                    },
                },
            }));
        }
        let target = route.body.as_deref()?;
        let (schema, required) = if target == "*" {
            let removed: Vec<&str> = path_fields
                .iter()
                .copied()
                .filter(|f| input.get_field_by_name(f).is_some())
                .collect();
            let schema = if removed.is_empty() {
                self.message_ref(&input)
            } else {
                self.message_schema(&input, &removed)
            };
            (schema, false)
        } else {
            let field = input.get_field_by_name(target)?;
            let schema = if field.is_list() || field.is_map() {
                self.field_schema(&field)
            } else {
                self.kind_schema(&field.kind())
            };
            (schema, true)
        };
        let mut content = Map::new();
        content.insert("application/json".into(), json!({"schema": schema}));
        if let Some(form) = self.job_form(route, path_fields) {
            content.insert("multipart/form-data".into(), json!({"schema": form}));
        }
        Some(json!({"required": required, "content": content}))
    }

    /// The original's job form: the request's fields as form fields and
    /// the file in `input_file` (uploaded first, then used as
    /// `input_file_id`). Served for any unary RPC with an `input_file_id`
    /// beside an upload RPC of the same service.
    fn job_form(&mut self, route: &Route, path_fields: &[&str]) -> Option<Value> {
        let input = route.method.input();
        input.get_field_by_name("input_file_id")?;
        let has_upload = route
            .method
            .parent_service()
            .methods()
            .any(|m| m.is_client_streaming() && !m.is_server_streaming());
        if route.shape != Shape::Unary || !has_upload {
            return None;
        }
        let mut properties = Map::new();
        for field in input.fields() {
            if path_fields.contains(&field.name()) || !is_text_field(&field) {
                continue;
            }
            let schema = if field.is_list() {
                json!({"type": "string", "description": "A comma-separated list."})
            } else {
                let schema = self.kind_schema(&field.kind());
                described(schema, self.comments.of_field(&field))
            };
            properties.insert(field.name().to_owned(), schema);
        }
        properties.insert(
            "input_file".into(),
            json!({"type": "string", "format": "binary", "description": "The VCF; or give `input_file_id` of an uploaded file."}),
        );
        Some(json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        }))
    }

    fn responses(&mut self, route: &Route) -> Value {
        let output = route.method.output();
        let success = match route.shape {
            Shape::Unary | Shape::Upload if success_status(route) == StatusCode::NO_CONTENT => {
                json!({"description": "Done; nothing to say."})
            }
            Shape::Unary | Shape::Upload => {
                let schema = match route
                    .response_body
                    .as_deref()
                    .and_then(|name| output.get_field_by_name(name))
                {
                    Some(field) => self.field_schema(&field),
                    None => self.message_ref(&output),
                };
                json!({
                    "description": if success_status(route) == StatusCode::CREATED { "Created" } else { "OK" },
                    "content": {"application/json": {"schema": schema}},
                })
            }
            Shape::Download => json!({
                "description": "The file's bytes, streamed, with its Content-Type (application/octet-stream \
                    when unknown), Content-Length and Content-Disposition.",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }),
            Shape::Events => {
                // Referenced so the event's schema is in the document.
                self.message_ref(&output);
                let name = output.full_name();
                json!({
                    "description": format!(
                        "Server-sent events, one per message: named by the message's `type` (else \
                        `message`), with the message as JSON (schema `{name}`) in `data`; an `error` \
                        event with an `Error` in `data` ends the stream."
                    ),
                    "content": {"text/event-stream": {"schema": event_schema(&output)}},
                })
            }
        };
        let mut responses = Map::new();
        responses.insert(success_code(route), success);
        responses.insert(
            "400".into(),
            error_response(
                "The request is invalid (`field_violations` says where), or a precondition failed.",
            ),
        );
        responses.insert(
            "401".into(),
            error_response("No valid access token, where one is needed."),
        );
        responses.insert("403".into(), error_response("The caller may not do this."));
        responses.insert(
            "404".into(),
            error_response("No such resource (or not the caller's)."),
        );
        if route.verb != Method::GET {
            responses.insert(
                "409".into(),
                error_response("It exists already, or changed meanwhile."),
            );
        }
        responses.insert(
            "429".into(),
            error_response("A rate limit or quota: see Retry-After."),
        );
        responses.insert(
            "503".into(),
            error_response("A service behind the gateway is unavailable."),
        );
        responses.insert("default".into(), error_response("Any other error."));
        Value::Object(responses)
    }
}

/// One server-sent event as OpenAPI describes a `text/event-stream` item
/// before 3.2: its fields, `data` being the message (or the error) as JSON.
fn event_schema(output: &MessageDescriptor) -> Value {
    let mut names: Vec<String> = match output.get_field_by_name("type").map(|f| f.kind()) {
        Some(Kind::Enum(e)) => e.values().map(|v| enum_word(&e, v.name())).collect(),
        Some(_) => Vec::new(),
        None => vec!["message".into()],
    };
    let mut event = json!({"type": "string"});
    if !names.is_empty() {
        if !names.iter().any(|n| n == "error") {
            names.push("error".into());
        }
        event["enum"] = json!(names);
    }
    json!({
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": event,
            "data": {
                "type": "string",
                "description": format!(
                    "JSON: a `{}`, or an `Error` for an `error` event.",
                    output.full_name()
                ),
            },
            "id": {"type": "string"},
            "retry": {"type": "integer"},
        },
    })
}

/// The metadata message of a client-streaming upload (its first message
/// field; the other field carries the bytes).
fn upload_metadata(input: &MessageDescriptor) -> Option<MessageDescriptor> {
    input.fields().find_map(|f| f.kind().as_message().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        let pool = DescriptorPool::decode(fedimpute_proto::FILE_DESCRIPTOR_SET).unwrap();
        let routes = RouteTable::from_pool(&pool).unwrap();
        document(&pool, &routes)
    }

    fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (verb, operation) in item.as_object().unwrap() {
                out.push((path.clone(), verb.clone(), operation));
            }
        }
        out
    }

    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }

    #[test]
    fn every_route_is_one_operation_with_a_unique_id() {
        let pool = DescriptorPool::decode(fedimpute_proto::FILE_DESCRIPTOR_SET).unwrap();
        let routes = RouteTable::from_pool(&pool).unwrap();
        let doc = document(&pool, &routes);
        let operations = operations(&doc);
        assert_eq!(operations.len(), routes.routes().len());
        let mut ids: Vec<&str> = operations
            .iter()
            .map(|(_, _, op)| op["operationId"].as_str().unwrap())
            .collect();
        for route in routes.routes() {
            assert!(
                ids.iter().any(|id| id.starts_with(route.method.name())),
                "{} has no operation",
                route.method.name()
            );
        }
        ids.sort_unstable();
        let count = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), count, "operation ids repeat");
        assert!(ids.contains(&"ListReferencePanels_2"), "{ids:?}");
        assert_eq!(doc["openapi"], "3.0.3");
    }

    #[test]
    fn every_ref_resolves_and_every_path_variable_is_a_parameter() {
        let doc = doc();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for r in found {
            let name = r.strip_prefix(SCHEMAS).unwrap_or_else(|| panic!("{r}"));
            assert!(schemas.contains_key(name), "{r} does not resolve");
        }
        for (path, verb, operation) in operations(&doc) {
            let in_path: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let declared: Vec<&str> = operation["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(in_path, declared, "{verb} {path}");
            assert!(path.ends_with('/'), "{path}");
            for code in ["400", "401", "404"] {
                assert_eq!(
                    operation["responses"][code]["content"]["application/json"]["schema"]["$ref"],
                    format!("{SCHEMAS}Error"),
                    "{verb} {path} {code}"
                );
            }
            assert_eq!(
                operation["security"],
                json!([{}, {"bearerAuth": []}]),
                "{verb} {path}"
            );
        }
        // Templates differing only in variable names share one path.
        let paths = doc["paths"].as_object().unwrap();
        let shapes: HashSet<String> = paths.keys().map(|p| template_shape(p)).collect();
        assert_eq!(shapes.len(), paths.len());
        let service = &paths["/api/services/{id_or_slug}/"];
        assert!(service.get("get").is_some() && service.get("patch").is_some());
    }

    #[test]
    fn schemas_follow_the_json_rules() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        let job = &schemas["fedimpute.jobs.v1.Job"]["properties"];
        let words = job["status"]["enum"].as_array().unwrap();
        assert!(words.contains(&json!("queued")), "{words:?}");
        assert!(words.contains(&json!("unspecified")), "{words:?}");
        assert_eq!(job["input_file_size"]["type"], "integer");
        assert_eq!(job["input_file_size"]["format"], "int64");
        assert_eq!(job["service_id"]["nullable"], true);
        assert!(job["name"].get("nullable").is_none());
        assert_eq!(job["created_at"]["format"], "date-time");
        assert_eq!(job["created_at"]["nullable"], true);
        assert_eq!(job["service_response"]["type"], "object");
        assert_eq!(job["service_response"]["additionalProperties"], true);
        assert_eq!(job["warnings"]["type"], "array");
        assert_eq!(job["r2_filter"]["type"], "number");
        assert_eq!(
            job["aggregate"]["allOf"][0]["$ref"],
            format!("{SCHEMAS}fedimpute.jobs.v1.JobAggregate")
        );
        assert_eq!(job["aggregate"]["nullable"], true);
        let service = &schemas["fedimpute.registry.v1.Service"]["properties"];
        assert_eq!(service["secrets"]["type"], "object");
        assert_eq!(service["secrets"]["additionalProperties"]["type"], "string");
        assert_eq!(service["api_type"]["enum"][1], "michigan");
        // A request with a body field is no component: only its body is.
        assert!(
            schemas
                .get("fedimpute.registry.v1.UpdateServiceRequest")
                .is_none()
        );
    }

    #[test]
    fn operations_carry_bodies_parameters_and_statuses() {
        let doc = doc();
        let paths = &doc["paths"];
        // A bare array, as the original returned.
        let list = &paths["/api/jobs/"]["get"];
        let schema = &list["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(schema["type"], "array");
        assert_eq!(
            schema["items"]["$ref"],
            format!("{SCHEMAS}fedimpute.jobs.v1.Job")
        );
        let query: Vec<&str> = list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(
            query.contains(&"status") && query.contains(&"limit"),
            "{query:?}"
        );
        assert_eq!(
            list["summary"],
            "The caller's jobs (an admin's: everybody's), newest first, parents and children alike"
        );
        // Creation is 201, with JSON or the original's multipart form.
        let create = &paths["/api/jobs/"]["post"];
        assert!(create["responses"].get("201").is_some());
        let form = &create["requestBody"]["content"]["multipart/form-data"]["schema"];
        assert_eq!(form["properties"]["input_file"]["format"], "binary");
        assert_eq!(form["properties"]["phasing"]["type"], "boolean");
        // Path variables are not in a `*` body.
        let cancel = &paths["/api/jobs/{id}/cancel/"]["post"];
        let body = &cancel["requestBody"]["content"]["application/json"]["schema"];
        assert!(body["properties"].get("id").is_none(), "{body}");
        assert!(cancel["responses"].get("200").is_some());
        // A body field: its message; the mask in the query.
        let patch = &paths["/api/services/{id_or_slug}/"]["patch"];
        assert_eq!(
            patch["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            format!("{SCHEMAS}fedimpute.registry.v1.Service")
        );
        let names: Vec<&str> = patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["id_or_slug", "update_mask"]);
        assert_eq!(patch["parameters"][0]["schema"]["format"], "int64");
        // Uploads, downloads, events.
        let upload = &paths["/api/files/"]["post"];
        assert!(upload["responses"].get("201").is_some());
        let content = &upload["requestBody"]["content"];
        assert_eq!(
            content["multipart/form-data"]["schema"]["properties"]["file"]["format"],
            "binary"
        );
        assert!(content.get("application/octet-stream").is_some());
        let download = &paths["/api/files/{id}/download/"]["get"];
        assert!(
            download["responses"]["200"]["content"]
                .get("application/octet-stream")
                .is_some()
        );
        let events = &paths["/api/jobs/{id}/events/"]["get"];
        assert!(
            events["responses"]["200"]["content"]
                .get("text/event-stream")
                .is_some()
        );
        assert!(
            doc["components"]["schemas"]
                .get("fedimpute.jobs.v1.JobEvent")
                .is_some()
        );
        assert_eq!(
            doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
    }
}
