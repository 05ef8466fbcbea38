//! GA4GH WES 1.0/1.1 (the eLwazi nodes: WESkit, the GA4GH Starter Kit).
//! See ../shared/reference/external-apis.md section B.

use reqwest::multipart::{Form, Part};
use serde_json::{Map, Value, json};

use super::{
    RemoteState, RemoteView, Submission, Target,
    http::{Call, Clients, RemoteError, authorize, json as read_json, scrub, send},
    outputs,
};
use crate::{domain::Mode, store::NewLog};

/// The tag our runs carry: `tags[TAG_KEY] = <job tag>`.
pub(super) const TAG_KEY: &str = "fedimpute_job";
/// How many runs a tag search reads at most.
const SEARCH_LIMIT: usize = 200;

fn wes(t: &Target, path: &str) -> String {
    format!("{}/ga4gh/wes/v1{path}", t.base_url)
}

fn request(
    c: &Clients,
    t: &Target,
    method: reqwest::Method,
    url: &str,
) -> Result<reqwest::RequestBuilder, RemoteError> {
    c.guard(url)?;
    Ok(authorize(c.api.request(method, url), t))
}

/// The workflow parameters: the configured defaults, then the job's own.
pub(super) fn params(t: &Target, s: &Submission, input: &str) -> Map<String, Value> {
    let mut params = t
        .config
        .get("workflow_params")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let prefix = t.setting("param_prefix").unwrap_or_default();
    let input_param = t.setting("input_param").unwrap_or("input");
    let mut set = |key: &str, value: Value| {
        params.insert(format!("{prefix}{key}"), value);
    };
    set(input_param, json!(input));
    set("reference_panel", json!(s.panel));
    set("build", json!(s.build.as_str()));
    set("phasing", json!(s.phasing));
    set("population", json!(s.population));
    set(
        "mode",
        json!(match s.mode {
            Mode::Imputation => "imputation",
            Mode::QcOnly => "qc_only",
        }),
    );
    if let Some(r2) = s.r2_filter {
        set("r2_filter", json!(r2));
    }
    params
}

fn missing(what: &str) -> RemoteError {
    RemoteError::Rejected(format!(
        "the service's configuration has no {what} (set it in the service's or the panel's api_config)"
    ))
}

pub(super) async fn submit(c: &Clients, t: &Target, s: Submission) -> Result<String, RemoteError> {
    let url = wes(t, "/runs");
    let workflow_url = t
        .setting("workflow_url")
        .ok_or_else(|| missing("workflow_url"))?;
    let workflow_type = t.setting("workflow_type").unwrap_or("NFL");
    let version = match t.setting("workflow_type_version") {
        Some(v) => v.to_owned(),
        None => type_version(c, t, workflow_type).await?,
    };
    let attach = t.config.get("attach_input").and_then(Value::as_bool) == Some(true);
    let input_ref = if attach {
        s.input.filename.clone()
    } else {
        s.input.url.clone()
    };
    let params = params(t, &s, &input_ref);
    let tags = json!({ TAG_KEY: s.tag, "fedimpute_name": s.name });
    let mut form = Form::new()
        .text("workflow_type", workflow_type.to_owned())
        .text("workflow_type_version", version)
        .text("workflow_url", workflow_url.to_owned())
        .text("workflow_params", Value::Object(params).to_string())
        .text("tags", tags.to_string());
    if let Some(engine) = t
        .config
        .get("workflow_engine_parameters")
        .filter(|v| v.is_object())
    {
        form = form.text("workflow_engine_parameters", engine.to_string());
    }
    let size = s.input.size;
    if attach {
        let bytes = s
            .input
            .bytes
            .ok_or_else(|| RemoteError::Rejected("the input is not available".into()))?;
        let part = Part::stream_with_length(reqwest::Body::wrap_stream(bytes), size)
            .file_name(s.input.filename)
            .mime_str("application/gzip")
            .map_err(|e| RemoteError::Rejected(e.to_string()))?;
        form = form.part("workflow_attachment", part);
    }
    let timeout = c.submit_timeout + std::time::Duration::from_secs(size / (1024 * 1024));
    let reply = send(
        request(c, t, reqwest::Method::POST, &url)?
            .multipart(form)
            .timeout(timeout),
        Call::Submit,
        t,
    )
    .await?;
    let body = read_json(reply, t).await.map_err(RemoteError::unclear)?;
    body["run_id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| RemoteError::Ambiguous("the reply carries no run_id".into()))
}

/// The first version the node lists for `workflow_type` (1.0 and 1.1
/// shapes, and the Starter Kit's bare arrays).
async fn type_version(c: &Clients, t: &Target, workflow_type: &str) -> Result<String, RemoteError> {
    let reply = send(
        request(c, t, reqwest::Method::GET, &wes(t, "/service-info"))?,
        Call::Safe,
        t,
    )
    .await?;
    let info = read_json(reply, t).await?;
    let entry = &info["workflow_type_versions"][workflow_type];
    entry["workflow_type_version"]
        .as_array()
        .or(entry.as_array())
        .and_then(|v| v.first())
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            RemoteError::Rejected(format!(
                "the node lists no version of workflow type {workflow_type}"
            ))
        })
}

pub(super) async fn find(
    c: &Clients,
    t: &Target,
    tag: &str,
) -> Result<Option<String>, RemoteError> {
    let mut page_token = String::new();
    let mut seen = 0;
    loop {
        let mut url = wes(t, "/runs?page_size=100");
        if !page_token.is_empty() {
            url.push_str(&format!("&page_token={}", urlencode(&page_token)));
        }
        let reply = send(request(c, t, reqwest::Method::GET, &url)?, Call::Safe, t).await?;
        let body = read_json(reply, t).await?;
        for run in body["runs"].as_array().into_iter().flatten() {
            let Some(id) = run["run_id"].as_str() else {
                continue;
            };
            // WES 1.1 lists tags; 1.0 lists only states, so read each run.
            let tags = if run["tags"].is_object() {
                run["tags"].clone()
            } else {
                seen += 1;
                if seen > SEARCH_LIMIT {
                    return Ok(None);
                }
                let reply = send(
                    request(c, t, reqwest::Method::GET, &wes(t, &format!("/runs/{id}")))?,
                    Call::Safe,
                    t,
                )
                .await?;
                read_json(reply, t).await?["request"]["tags"].clone()
            };
            if tags[TAG_KEY].as_str() == Some(tag) {
                return Ok(Some(id.to_owned()));
            }
        }
        match body["next_page_token"].as_str() {
            Some(next) if !next.is_empty() && next != page_token => page_token = next.to_owned(),
            _ => return Ok(None),
        }
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The WES state enum, as our model sees it.
pub(super) fn state(raw: &str, reason: impl FnOnce() -> String) -> (RemoteState, i32) {
    match raw.to_ascii_uppercase().as_str() {
        "QUEUED" | "PREPROCESSING" => (RemoteState::Queued { position: None }, 5),
        "INITIALIZING" => (RemoteState::Queued { position: None }, 10),
        "RUNNING" | "PAUSED" => (RemoteState::Running, 50),
        "CANCELING" | "CANCELLING" => (RemoteState::Cancelling, 50),
        "COMPLETE" => (RemoteState::Succeeded, 100),
        "CANCELED" | "CANCELLED" => (RemoteState::Cancelled, 0),
        "EXECUTOR_ERROR"
        | "SYSTEM_ERROR"
        | "PREEMPTED"
        | "COMPLETE_WITH_ERRORS"
        | "PREPROCESSING_ERROR"
        | "NOT_PROCESSED" => (RemoteState::Failed { reason: reason() }, 0),
        _ => (RemoteState::Unknown, 0),
    }
}

pub(super) async fn status(
    c: &Clients,
    t: &Target,
    id: &str,
    previous: &str,
) -> Result<Option<RemoteView>, RemoteError> {
    let reply = send(
        request(
            c,
            t,
            reqwest::Method::GET,
            &wes(t, &format!("/runs/{id}/status")),
        )?,
        Call::Safe,
        t,
    )
    .await?;
    let raw = read_json(reply, t).await?["state"]
        .as_str()
        .unwrap_or("UNKNOWN")
        .to_owned();
    if raw == previous {
        return Ok(None);
    }
    let reply = send(
        request(c, t, reqwest::Method::GET, &wes(t, &format!("/runs/{id}")))?,
        Call::Safe,
        t,
    )
    .await?;
    let run = read_json(reply, t).await?;
    let stderr = tail(c, t, run["run_log"]["stderr"].as_str()).await;
    Ok(Some(view(t, run, &raw, &stderr)))
}

/// The end of a log the node serves over HTTP (bounded), for a failure's reason.
pub(super) async fn tail(c: &Clients, t: &Target, url: Option<&str>) -> String {
    let Some(url) = url.filter(|u| u.starts_with("http://") || u.starts_with("https://")) else {
        return String::new();
    };
    let Ok(request) = request(c, t, reqwest::Method::GET, url) else {
        return String::new();
    };
    let Ok(reply) = send(request, Call::Safe, t).await else {
        return String::new();
    };
    let body = fedimpute_common::http::read_limited(reply, 256 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let last: Vec<&str> = text
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .collect();
    last.into_iter().rev().collect::<Vec<_>>().join(" / ")
}

fn view(t: &Target, run: Value, raw: &str, stderr: &str) -> RemoteView {
    let run_log = &run["run_log"];
    let mut logs = Vec::new();
    let mut entry = |step: i32, name: &str, kind: &str, message: String| {
        logs.push(NewLog {
            step_index: step,
            step_name: name.to_owned(),
            entry_index: 0,
            log_type: kind.to_owned(),
            message: scrub(&message, t),
            logged_at: None,
        });
    };
    for (i, task) in run["task_logs"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = task["name"].as_str().unwrap_or("task");
        let (kind, message) = match task["exit_code"].as_i64() {
            Some(0) => ("success", format!("{name} finished")),
            Some(code) => ("error", format!("{name} exited with code {code}")),
            None => ("progress", format!("{name} running")),
        };
        entry(
            i32::try_from(i + 1).unwrap_or(i32::MAX),
            name,
            kind,
            message,
        );
    }
    let system: Vec<String> = run_log["system_logs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect();
    let exit = run_log["exit_code"].as_i64();
    let reason = || {
        let mut reason = match exit {
            Some(code) if code != 0 => format!("the workflow failed ({raw}, exit code {code})"),
            _ => format!("the workflow failed ({raw})"),
        };
        if !system.is_empty() {
            reason.push_str(&format!(": {}", system.join("; ")));
        }
        if !stderr.is_empty() {
            reason.push_str(&format!(": {stderr}"));
        }
        scrub(&reason, t)
    };
    let (state, progress) = state(raw, reason);
    entry(0, "workflow", "info", format!("state {raw}"));
    let results = if state == RemoteState::Succeeded {
        outputs::results(&run["outputs"])
    } else {
        Vec::new()
    };
    RemoteView {
        state,
        raw_state: raw.to_owned(),
        progress,
        payload: run,
        logs,
        results,
        results_expire_at: None,
    }
}

pub(super) async fn cancel(c: &Clients, t: &Target, id: &str) -> Result<(), RemoteError> {
    send(
        request(
            c,
            t,
            reqwest::Method::POST,
            &wes(t, &format!("/runs/{id}/cancel")),
        )?,
        Call::Safe,
        t,
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wes_and_workbench_states_map_onto_ours() {
        let reason = || "why".to_owned();
        let cases = [
            ("QUEUED", RemoteState::Queued { position: None }),
            ("PREPROCESSING", RemoteState::Queued { position: None }),
            ("INITIALIZING", RemoteState::Queued { position: None }),
            ("RUNNING", RemoteState::Running),
            ("PAUSED", RemoteState::Running),
            ("CANCELING", RemoteState::Cancelling),
            ("COMPLETE", RemoteState::Succeeded),
            ("CANCELED", RemoteState::Cancelled),
            ("UNKNOWN", RemoteState::Unknown),
            ("running", RemoteState::Running),
        ];
        for (raw, want) in cases {
            assert_eq!(state(raw, reason).0, want, "{raw}");
        }
        for raw in [
            "EXECUTOR_ERROR",
            "SYSTEM_ERROR",
            "PREEMPTED",
            "COMPLETE_WITH_ERRORS",
            "PREPROCESSING_ERROR",
            "NOT_PROCESSED",
        ] {
            assert!(
                matches!(state(raw, reason).0, RemoteState::Failed { .. }),
                "{raw}"
            );
        }
    }
}
