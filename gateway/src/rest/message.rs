//! Building an RPC's request message from a REST request: the body (JSON
//! or a URL-encoded form, into the whole message or the annotated field),
//! then query parameters, then path variables (which win). A PATCH body
//! without an `update_mask` gets the mask of the fields it names.

use axum::{body::Body, extract::Request};
use http::HeaderMap;
use http_body_util::BodyExt;
use prost_reflect::{DynamicMessage, Kind, ReflectMessage, Value};
use serde_json::Value as Json;

use super::media_type;
use crate::{
    error::ApiError,
    json::{self, Violation},
    routes::Route,
    state::Shared,
};

pub(crate) fn is_multipart(headers: &HeaderMap) -> bool {
    media_type(headers) == "multipart/form-data"
}

/// Reads a body into memory, refusing more than `limit` bytes.
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::bad_request(format!("the request body could not be read: {e}"))
            }
        })
}

pub(crate) async fn build(
    state: &Shared,
    route: &Route,
    variables: &[(String, String)],
    request: Request,
) -> Result<DynamicMessage, ApiError> {
    let mut message = DynamicMessage::new(route.method.input());
    let query = request.uri().query().unwrap_or_default().to_owned();
    let (parts, body) = request.into_parts();
    let mut body_json = None;
    if let Some(target) = &route.body {
        let bytes = read_limited(body, state.settings.max_body_bytes).await?;
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            match media_type(&parts.headers).as_str() {
                "" | "application/json" => {
                    let parsed: Json = serde_json::from_slice(&bytes).map_err(|e| {
                        ApiError::bad_request(format!("the body is not valid JSON: {e}"))
                    })?;
                    apply_body(&mut message, target, &parsed)?;
                    body_json = Some(parsed);
                }
                "application/x-www-form-urlencoded" => {
                    for (key, value) in url::form_urlencoded::parse(&bytes) {
                        let path = if target == "*" {
                            key.to_string()
                        } else {
                            format!("{target}.{key}")
                        };
                        set_text(&mut message, &path, &value)?;
                    }
                }
                other => {
                    return Err(ApiError::UnsupportedMediaType(format!(
                        "this endpoint takes JSON or a URL-encoded form, not '{other}'"
                    )));
                }
            }
        }
    }
    apply_query(&mut message, &query, variables)?;
    for (path, value) in variables {
        set_text(&mut message, path, value)?;
    }
    if let (Some(target), Some(body)) = (route.body.as_deref(), &body_json) {
        imply_update_mask(&mut message, target, body);
    }
    Ok(message)
}

fn apply_body(message: &mut DynamicMessage, target: &str, body: &Json) -> Result<(), ApiError> {
    if target == "*" {
        return json::merge_json(message, body, "").map_err(ApiError::from);
    }
    let field = message
        .descriptor()
        .get_field_by_name(target)
        .ok_or_else(|| ApiError::bad_request(format!("the body field '{target}' is unknown")))?;
    let Some(desc) = field.kind().as_message().cloned() else {
        return Err(ApiError::bad_request(format!(
            "the body field '{target}' is not a message"
        )));
    };
    let mut inner = DynamicMessage::new(desc);
    json::merge_json(&mut inner, body, "")?;
    message.set_field(&field, Value::Message(inner));
    Ok(())
}

/// Query parameters set the fields they name; unknown ones are ignored
/// (caches and old clients add their own), bad values are refused.
fn apply_query(
    message: &mut DynamicMessage,
    query: &str,
    variables: &[(String, String)],
) -> Result<(), ApiError> {
    let desc = message.descriptor();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if variables.iter().any(|(v, _)| v == &key) {
            continue;
        }
        // An empty value is no value: `?status=&search=` is how forms and
        // the original's web client say "no filter" (not "status ''", nor
        // `is_active=false`).
        if value.is_empty() {
            continue;
        }
        if json::field_at(&desc, &key).is_none() {
            continue;
        }
        set_text(message, &key, &value)?;
    }
    Ok(())
}

/// Sets the field at a dotted path from text; a repeated field extends.
pub(crate) fn set_text(
    message: &mut DynamicMessage,
    path: &str,
    text: &str,
) -> Result<(), Violation> {
    set_at(message, path, path, text)
}

fn set_at(
    message: &mut DynamicMessage,
    path: &str,
    full: &str,
    text: &str,
) -> Result<(), Violation> {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let field = message
        .descriptor()
        .get_field_by_name(head)
        .ok_or_else(|| Violation {
            field: full.to_owned(),
            description: "is not a field of this request".into(),
        })?;
    if let Some(rest) = rest {
        if !matches!(field.kind(), Kind::Message(_)) || field.is_list() || field.is_map() {
            return Err(Violation {
                field: full.to_owned(),
                description: format!("'{head}' has no fields"),
            });
        }
        let Value::Message(inner) = message.get_field_mut(&field) else {
            return Err(Violation {
                field: full.to_owned(),
                description: format!("'{head}' has no fields"),
            });
        };
        return set_at(inner, rest, full, text);
    }
    let value = json::value_from_text(&field, text).map_err(|description| Violation {
        field: full.to_owned(),
        description,
    })?;
    match (message.get_field_mut(&field), value) {
        (Value::List(existing), Value::List(more)) if field.is_list() => existing.extend(more),
        (slot, value) => *slot = value,
    }
    Ok(())
}

fn imply_update_mask(message: &mut DynamicMessage, target: &str, body: &Json) {
    let desc = message.descriptor();
    let Some(mask) = desc.get_field_by_name("update_mask") else {
        return;
    };
    if message.has_field(&mask)
        || mask.kind().as_message().map(|m| m.full_name()) != Some("google.protobuf.FieldMask")
    {
        return;
    }
    let (patched, body) = if target == "*" {
        (desc.clone(), body.clone())
    } else {
        match desc
            .get_field_by_name(target)
            .and_then(|f| f.kind().as_message().cloned())
        {
            Some(d) => (d, body.clone()),
            None => return,
        }
    };
    let mut paths = json::implied_mask(&patched, &body);
    if target == "*" {
        paths.retain(|p| p != "update_mask");
    }
    if let Some(mask_desc) = mask.kind().as_message().cloned() {
        let mut value = DynamicMessage::new(mask_desc);
        value.set_field_by_name(
            "paths",
            Value::List(paths.into_iter().map(Value::String).collect()),
        );
        message.set_field(&mask, Value::Message(value));
    }
}
