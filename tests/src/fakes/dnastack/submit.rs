//! `POST E/runs` (one ExtendedRunRequest) and `POST E/batch` (C.3): JSON only, a registered
//! workflow, a known engine.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::model::{EwesScenario, Request, Run};
use super::records::EwesSubmission;
use super::{
    Denied, DnastackConfig, ROUTE_SUBMIT, SharedState, State, authorize, workbench_error,
    workbench_error_json,
};
use crate::fakes::wes::artifacts::deliver;
use crate::fakes::{Fault, apply_fault, json_reply, lock};

/// `POST E/runs` → MinimalExtendedRun `{run_id, state: "PREPROCESSING"}`.
pub(super) async fn submit(
    Shared(state): Shared<SharedState>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (bearer, fault) = match begin(&state, &headers, &namespace) {
        Ok(begun) => begun,
        Err(denied) => return denied.reply(),
    };
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let body = match json_body(&headers, &body) {
        Ok(body) => body,
        Err(denied) => return denied.reply(),
    };
    let response = {
        let mut guard = lock(&state);
        match validate(&guard.config, &namespace, &body) {
            Ok(request) => {
                let run_id = create(&mut guard, &namespace, request, body, bearer);
                let minimal = json!({"run_id": run_id, "state": "PREPROCESSING"});
                json_reply(StatusCode::OK, minimal)
            }
            Err(msg) => workbench_error(StatusCode::BAD_REQUEST, &msg),
        }
    };
    deliver(fault, response).await
}

/// `POST E/batch` → `{runs: [MinimalExtendedRun]}`; a rejected run carries `msg` and
/// `error_code` in its entry.
pub(super) async fn batch(
    Shared(state): Shared<SharedState>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (bearer, fault) = match begin(&state, &headers, &namespace) {
        Ok(begun) => begun,
        Err(denied) => return denied.reply(),
    };
    if let Some(response) = apply_fault(fault.clone()).await {
        return response;
    }
    let batch = match json_body(&headers, &body) {
        Ok(Value::Object(batch)) => batch,
        Ok(_) => return Denied(StatusCode::BAD_REQUEST, "Malformed batch".into()).reply(),
        Err(denied) => return denied.reply(),
    };
    let Some(Value::Array(requests)) = batch.get("run_requests") else {
        let msg = "run_requests must be an array of run requests";
        return workbench_error(StatusCode::BAD_REQUEST, msg);
    };
    let response = {
        let mut guard = lock(&state);
        let runs: Vec<Value> = requests
            .iter()
            .map(|one| {
                let merged = merge(&batch, one);
                match validate(&guard.config, &namespace, &merged) {
                    Ok(request) => {
                        let run_id =
                            create(&mut guard, &namespace, request, merged, bearer.clone());
                        json!({"run_id": run_id, "state": "PREPROCESSING"})
                    }
                    Err(msg) => workbench_error_json(StatusCode::BAD_REQUEST, &msg),
                }
            })
            .collect();
        json_reply(StatusCode::OK, json!({"runs": runs}))
    };
    deliver(fault, response).await
}

/// Authorizes the request and draws the submit route's fault.
fn begin(
    state: &SharedState,
    headers: &HeaderMap,
    namespace: &str,
) -> Result<(String, Fault), Denied> {
    let mut guard = lock(state);
    let bearer = authorize(&guard, headers, namespace)?;
    Ok((bearer, guard.faults.next(ROUTE_SUBMIT)))
}

/// The body as a JSON object; anything but `application/json` (multipart, say) is a 400.
fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, Denied> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/json") {
        let msg = format!("Content-Type '{content_type}' is not supported");
        return Err(Denied(StatusCode::BAD_REQUEST, msg));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) | Err(_) => {
            let msg = "Malformed JSON request body".to_owned();
            Err(Denied(StatusCode::BAD_REQUEST, msg))
        }
    }
}

/// One run of a batch with the batch's defaults: `workflow_url` and `engine_id` unless the
/// run names its own, default params, engine parameters and tags under the run's.
fn merge(batch: &Map<String, Value>, one: &Value) -> Value {
    let mut out = one.as_object().cloned().unwrap_or_default();
    let own_workflow = out.contains_key("workflow_url") || out.contains_key("workflow_id");
    for key in ["workflow_url", "engine_id"] {
        let inherit = !out.contains_key(key) && (key == "engine_id" || !own_workflow);
        if let (true, Some(value)) = (inherit, batch.get(key)) {
            out.insert(key.to_owned(), value.clone());
        }
    }
    let defaults = [
        ("workflow_params", "default_workflow_params"),
        (
            "workflow_engine_parameters",
            "default_workflow_engine_parameters",
        ),
        ("tags", "default_tags"),
    ];
    for (field, default) in defaults {
        let mut merged = match batch.get(default) {
            Some(Value::Object(map)) => map.clone(),
            Some(_) | None => Map::new(),
        };
        match out.get(field) {
            Some(Value::Object(own)) => merged.extend(own.clone()),
            Some(Value::Null) | None => {}
            // Kept as sent, so that validation rejects it.
            Some(_) => continue,
        }
        out.insert(field.to_owned(), Value::Object(merged));
    }
    Value::Object(out)
}

/// Checks an ExtendedRunRequest against the registered workflows and engines.
fn validate(config: &DnastackConfig, namespace: &str, body: &Value) -> Result<Request, String> {
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    let (workflow_id, version_id) = match (
        text("workflow_url"),
        text("workflow_id"),
        text("workflow_version_id"),
    ) {
        (Some(url), _, _) => url
            .split_once('/')
            .ok_or_else(|| format!("workflow_url '{url}' is not '<workflow_id>/<version_id>'"))?,
        (None, Some(id), Some(version)) => (id, version),
        (None, _, _) => {
            return Err(
                "workflow_url, or workflow_id and workflow_version_id, are required".into(),
            );
        }
    };
    let registered = config
        .workflows
        .iter()
        .any(|(id, version)| id == workflow_id && version == version_id);
    if !registered {
        return Err(format!(
            "Workflow '{workflow_id}' version '{version_id}' is not registered in namespace \
             '{namespace}'"
        ));
    }
    let engine_id = match body.get("engine_id") {
        None | Some(Value::Null) => config
            .engines
            .first()
            .cloned()
            .ok_or("No execution engine is configured")?,
        Some(Value::String(id)) if config.engines.contains(id) => id.clone(),
        Some(other) => {
            return Err(format!(
                "Engine {other} not found in namespace '{namespace}'"
            ));
        }
    };
    let object = |key: &str, strings: bool| match body.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) if !strings || map.values().all(Value::is_string) => {
            Ok(map.clone())
        }
        Some(_) if strings => Err(format!("{key} must be an object of strings")),
        Some(_) => Err(format!("{key} must be an object")),
    };
    let params = object("workflow_params", false)?;
    let engine_params = object("workflow_engine_parameters", false)?;
    let tags: BTreeMap<String, String> = object("tags", true)?
        .into_iter()
        .map(|(key, value)| (key, value.as_str().unwrap_or_default().to_owned()))
        .collect();
    Ok(Request {
        workflow_id: workflow_id.to_owned(),
        version_id: version_id.to_owned(),
        engine_id,
        params,
        engine_params,
        tags,
    })
}

/// Creates and records a run; its scenario comes from `tags.fake`, else the pushed queue,
/// else the config default.
fn create(
    state: &mut State,
    namespace: &str,
    request: Request,
    body: Value,
    bearer: String,
) -> String {
    let tagged = request
        .tags
        .get("fake")
        .and_then(|t| EwesScenario::from_tag(t));
    let scenario = tagged
        .or_else(|| state.scenarios.pop_front())
        .unwrap_or(state.config.default_scenario);
    let run_id = uuid::Uuid::new_v4().to_string();
    let run = Run::new(run_id.clone(), namespace.to_owned(), request, scenario);
    state.runs.insert(run_id.clone(), run);
    state.order.push(run_id.clone());
    state.submissions.push(EwesSubmission {
        run_id: run_id.clone(),
        namespace: namespace.to_owned(),
        body,
        bearer: Some(bearer),
    });
    run_id
}
