//! `POST /runs`: the `multipart/form-data` form (or, on the Starter Kit, urlencoded), checked
//! as each flavour checks it (B.3, B.6, B.8), attachments streamed and hashed.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart, Request, State as Shared};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::artifacts::{deliver, hex};
use super::model::{Run, WesScenario};
use super::records::{Attachment, WesSubmission};
use super::{ROUTE_SUBMIT, SharedState, WesStyle, apply_fault, bearer, error, fetch, info};
use crate::fakes::{json_reply, lock};

/// WESkit's answer to a body without form data (a JSON body, say).
const EMPTY_FORM: &str = "Malformed request: Empty form data";
/// Largest urlencoded body read (Starter Kit).
const FORM_LIMIT: usize = 16 << 20;

#[derive(Debug, Default)]
struct Form {
    fields: Vec<(String, String)>,
    attachments: Vec<Attachment>,
}

impl Form {
    /// The first non-empty value of `name`.
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// A form that passed validation.
#[derive(Debug)]
struct Valid {
    workflow_type: String,
    workflow_type_version: String,
    workflow_url: String,
    params: Map<String, Value>,
    tags: BTreeMap<String, String>,
    engine_parameters: Map<String, Value>,
}

pub(super) async fn submit(Shared(state): Shared<SharedState>, request: Request) -> Response {
    let (fault, style) = {
        let mut state = lock(&state);
        (state.faults.next(ROUTE_SUBMIT), state.config.style)
    };
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let owner = bearer(request.headers());
    let form = match read_form(style, &content_type, request).await {
        Ok(form) => form,
        Err(msg) => return error(style, StatusCode::BAD_REQUEST, &msg),
    };
    let valid = match validate(style, &form) {
        Ok(valid) => valid,
        Err(problems) => {
            let list = serde_json::to_string(&problems).unwrap_or_default();
            let msg = format!("Malformed request: {list}");
            return error(style, StatusCode::BAD_REQUEST, &msg);
        }
    };
    let run_id = uuid::Uuid::new_v4().to_string();
    {
        let mut state = lock(&state);
        let tagged = valid
            .tags
            .get("fake")
            .and_then(|t| WesScenario::from_tag(t));
        let scenario = tagged
            .or_else(|| state.scenarios.pop_front())
            .unwrap_or(state.config.default_scenario);
        let inputs = fetch::input_urls(valid.params.get(&state.config.input_param));
        let request = json!({
            "workflow_params": valid.params, "workflow_type": valid.workflow_type,
            "workflow_type_version": valid.workflow_type_version, "tags": valid.tags,
            "workflow_engine_parameters": valid.engine_parameters,
            "workflow_url": valid.workflow_url,
        });
        let run = Run::new(
            run_id.clone(),
            owner.clone(),
            request,
            valid.tags,
            scenario,
            inputs,
        );
        state.runs.insert(run_id.clone(), run);
        state.order.push(run_id.clone());
        state.submissions.push(WesSubmission {
            run_id: run_id.clone(),
            content_type,
            fields: form.fields,
            attachments: form.attachments,
            bearer: owner,
        });
    }
    deliver(fault, json_reply(StatusCode::OK, json!({"run_id": run_id}))).await
}

async fn read_form(style: WesStyle, content_type: &str, request: Request) -> Result<Form, String> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let form = if media.eq_ignore_ascii_case("multipart/form-data") {
        read_multipart(request).await?
    } else if style == WesStyle::StarterKit
        && media.eq_ignore_ascii_case("application/x-www-form-urlencoded")
    {
        let body = axum::body::to_bytes(request.into_body(), FORM_LIMIT)
            .await
            .map_err(|e| format!("Malformed request: {e}"))?;
        Form {
            fields: url::form_urlencoded::parse(&body).into_owned().collect(),
            attachments: Vec::new(),
        }
    } else {
        Form::default()
    };
    if form.fields.is_empty() && form.attachments.is_empty() {
        return Err(EMPTY_FORM.to_owned());
    }
    Ok(form)
}

/// Reads every part: `workflow_attachment` parts are streamed through SHA-256, the others
/// are text.
async fn read_multipart(request: Request) -> Result<Form, String> {
    let malformed = |e: &dyn std::fmt::Display| format!("Malformed request: {e}");
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| malformed(&e))?;
    let mut form = Form::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|e| malformed(&e))? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "workflow_attachment" {
            let filename = field.file_name().unwrap_or_default().to_owned();
            let (mut hasher, mut size) = (Sha256::new(), 0u64);
            while let Some(chunk) = field.chunk().await.map_err(|e| malformed(&e))? {
                hasher.update(&chunk);
                size += chunk.len() as u64;
            }
            let sha256_hex = hex(&hasher.finalize());
            form.attachments.push(Attachment {
                filename,
                size,
                sha256_hex,
            });
        } else {
            let text = field.text().await.map_err(|e| malformed(&e))?;
            form.fields.push((name, text));
        }
    }
    Ok(form)
}

fn validate(style: WesStyle, form: &Form) -> Result<Valid, Vec<String>> {
    let mut problems = Vec::new();
    let mut required = |name: &str| {
        let value = form.field(name);
        if value.is_none() {
            problems.push(format!("{name}: required field"));
        }
        value.unwrap_or_default().to_owned()
    };
    let workflow_type = required("workflow_type");
    let workflow_type_version = required("workflow_type_version");
    let workflow_url = required("workflow_url");
    let raw_params = form.field("workflow_params");
    if raw_params.is_none() {
        problems.push("workflow_params: required field".to_owned());
    }
    let types = info::type_versions(style);
    if !workflow_type.is_empty() {
        match types.iter().find(|(name, _)| *name == workflow_type) {
            None => {
                let allowed: Vec<&str> = types.iter().map(|(name, _)| *name).collect();
                problems.push(format!(
                    "workflow_type: unallowed value '{workflow_type}' (allowed: {})",
                    allowed.join(", ")
                ));
            }
            Some((_, versions)) => {
                let listed = versions.is_empty() || versions.contains(&&*workflow_type_version);
                if !workflow_type_version.is_empty() && !listed {
                    problems.push(format!(
                        "workflow_type_version: unallowed value '{workflow_type_version}' for \
                         {workflow_type} (allowed: {})",
                        versions.join(", ")
                    ));
                }
            }
        }
    }
    if style == WesStyle::WesKit
        && let Some(problem) = weskit_url_problem(&workflow_url)
    {
        problems.push(problem);
    }
    let params = raw_params.map_or_else(Map::new, |text| {
        json_object(&mut problems, style, "workflow_params", text, false)
    });
    let mut strings = |name: &str| {
        let text = form.field(name).unwrap_or("{}");
        json_object(&mut problems, style, name, text, true)
    };
    let tags = strings("tags");
    let engine_parameters = strings("workflow_engine_parameters");
    for attachment in &form.attachments {
        problems.extend(attachment_problem(style, &attachment.filename));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let tags = tags
        .into_iter()
        .map(|(key, value)| (key, value.as_str().unwrap_or_default().to_owned()))
        .collect();
    Ok(Valid {
        workflow_type,
        workflow_type_version,
        workflow_url,
        params,
        tags,
        engine_parameters,
    })
}

/// WESkit accepts only a relative path inside its data directory (optionally `file:`), or
/// a `trs://` URI.
fn weskit_url_problem(url: &str) -> Option<String> {
    if url.is_empty() || url.starts_with("trs://") {
        return None;
    }
    let path = url.strip_prefix("file:").unwrap_or(url);
    if path.contains("://") || url.starts_with("http:") || url.starts_with("https:") {
        return Some(format!(
            "workflow_url: '{url}' is not a relative path (WESkit runs only workflows \
             inside its data directory, or trs:// URIs)"
        ));
    }
    if path.starts_with('/') || path.split('/').any(|part| part == "..") {
        return Some(format!(
            "workflow_url: '{url}' must be a relative path inside the data directory"
        ));
    }
    None
}

fn attachment_problem(style: WesStyle, filename: &str) -> Option<String> {
    if filename.is_empty() {
        return Some("workflow_attachment: a file part needs a filename".to_owned());
    }
    let mut parts = filename.split(['/', '\\']);
    if parts.clone().any(|part| part == "..") {
        return Some(format!(
            "workflow_attachment: filename '{filename}' must not contain '..'"
        ));
    }
    let forbidden = |part: &str| part == ".nextflow" || part == ".snakemake";
    if style == WesStyle::WesKit && parts.any(forbidden) {
        return Some(format!(
            "workflow_attachment: filename '{filename}' is in a forbidden directory"
        ));
    }
    None
}

/// Parses a JSON-text field that must be an object (with string values, if `strings`).
fn json_object(
    problems: &mut Vec<String>,
    style: WesStyle,
    name: &str,
    text: &str,
    strings: bool,
) -> Map<String, Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => {
            if strings && map.values().any(|v| !v.is_string()) {
                problems.push(format!("{name}: values must be strings"));
            }
            map
        }
        Ok(_) | Err(_) => {
            problems.push(match (style, name) {
                (WesStyle::StarterKit, "workflow_params") => {
                    "Supplied workflow_params not valid JSON".to_owned()
                }
                (WesStyle::StarterKit | WesStyle::WesKit | WesStyle::Spec11, _) => {
                    format!("{name}: must be the JSON text of an object")
                }
            });
            Map::new()
        }
    }
}
