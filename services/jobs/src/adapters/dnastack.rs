//! DNAstack Workbench eWES: OAuth2 client credentials (the token cached,
//! fetched again once on a 401), JSON runs under a namespace, the extra
//! states. See ../shared/reference/external-apis.md section C.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use super::{
    RemoteView, Submission, Target,
    http::{Call, Clients, RemoteError, json as read_json, scrub, send},
    outputs, wes,
};
use crate::{peers::Credential, store::NewLog};

/// How long a discovered eWES address is reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);

/// Where the eWES of a service is and how to get a token for it.
#[derive(Clone, Debug)]
struct Endpoints {
    /// `<ewes url>/<namespace>/ga4gh/wes/v1`.
    base: String,
    token_endpoint: String,
    resource: String,
}

async fn discover(c: &Clients, t: &Target) -> Result<(String, String, String), RemoteError> {
    let key = format!("dnastack:{}:{}", t.service_id, t.base_url);
    if let Some(found) = c.recall(&key) {
        return Ok((
            found[0].as_str().unwrap_or_default().to_owned(),
            found[1].as_str().unwrap_or_default().to_owned(),
            found[2].as_str().unwrap_or_default().to_owned(),
        ));
    }
    let registry = t
        .setting("service_registry_url")
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}/api/service-registry/services", t.base_url));
    c.guard(&registry)?;
    let reply = send(c.api.get(&registry), Call::Safe, t).await?;
    let entries = read_json(reply, t).await?;
    let ewes = entries
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["type"]["artifact"].as_str() == Some("ewes-service"))
        .ok_or_else(|| {
            RemoteError::Rejected("the service registry lists no eWES service".into())
        })?;
    let url = ewes["url"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();
    let auth = &ewes["authentication"][0];
    let token_endpoint = auth["token_endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let resource = auth["resource_url"].as_str().unwrap_or_default().to_owned();
    c.remember(&key, json!([url, token_endpoint, resource]), DISCOVERY_TTL);
    Ok((url, token_endpoint, resource))
}

async fn endpoints(c: &Clients, t: &Target) -> Result<Endpoints, RemoteError> {
    let (mut ewes, mut token_endpoint, mut resource) = (
        t.setting("ewes_url").map(str::to_owned),
        t.setting("token_endpoint").map(str::to_owned),
        t.setting("resource").map(str::to_owned),
    );
    if ewes.is_none() || token_endpoint.is_none() {
        let (url, endpoint, res) = discover(c, t).await?;
        ewes.get_or_insert(url);
        token_endpoint.get_or_insert(endpoint);
        resource.get_or_insert(res);
    }
    let ewes = ewes.unwrap_or_default().trim_end_matches('/').to_owned();
    let token_endpoint = token_endpoint
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| format!("{}/oauth/token", t.base_url));
    let resource = resource
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| format!("{ewes}/"));
    let namespace = match t.setting("namespace") {
        Some(ns) => ns.to_owned(),
        None => {
            namespace_of(&bearer(c, t, &token_endpoint, &resource).await?).ok_or_else(|| {
                RemoteError::Rejected(
                    "no namespace: set api_config.namespace (the token does not name one)".into(),
                )
            })?
        }
    };
    Ok(Endpoints {
        base: format!("{ewes}/{namespace}/ga4gh/wes/v1"),
        token_endpoint,
        resource,
    })
}

/// The `sub` of a JWT access token: DNAstack's default namespace.
fn namespace_of(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

/// A bearer token: a personal one as stored, or one from the client
/// credentials grant (cached until a minute before it expires).
async fn bearer(
    c: &Clients,
    t: &Target,
    endpoint: &str,
    resource: &str,
) -> Result<String, RemoteError> {
    let (id, secret) = match &t.credential {
        Credential::Token(token) => return Ok(token.clone()),
        Credential::Client { id, secret } => (id, secret),
        Credential::None | Credential::Basic { .. } => {
            return Err(RemoteError::Unauthorized(
                "DNAstack needs OAuth2 client credentials or an access token".into(),
            ));
        }
    };
    if let Some(token) = c.cached_token(endpoint, id) {
        return Ok(token);
    }
    c.guard(endpoint)?;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("resource", resource),
    ];
    let reply = match send(c.api.post(endpoint).form(&form), Call::Safe, t).await {
        Ok(reply) => reply,
        // A refused client is a credential problem, not an outage.
        Err(RemoteError::Rejected(m) | RemoteError::Forbidden(m)) => {
            return Err(RemoteError::Unauthorized(m));
        }
        Err(e) => return Err(e),
    };
    let body = read_json(reply, t).await?;
    let token = body["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            RemoteError::Transient("the token endpoint returned no access_token".into())
        })?
        .to_owned();
    let lifetime = body["expires_in"].as_u64().unwrap_or(300);
    c.cache_token(
        endpoint,
        id,
        &token,
        Duration::from_secs(lifetime.saturating_sub(60).max(1)),
    );
    Ok(token)
}

/// Sends with a bearer token; on a 401 with client credentials, gets a new
/// token once and tries again.
async fn call(
    c: &Clients,
    t: &Target,
    e: &Endpoints,
    kind: Call,
    build: impl Fn(&str) -> RequestBuilder,
) -> Result<reqwest::Response, RemoteError> {
    let token = bearer(c, t, &e.token_endpoint, &e.resource).await?;
    match send(build(&token), kind, t).await {
        Err(RemoteError::Unauthorized(_)) if matches!(t.credential, Credential::Client { .. }) => {
            if let Credential::Client { id, .. } = &t.credential {
                c.drop_token(&e.token_endpoint, id);
            }
            let token = bearer(c, t, &e.token_endpoint, &e.resource).await?;
            send(build(&token), kind, t).await
        }
        other => other,
    }
}

fn at(c: &Clients, method: Method, url: &str, token: &str) -> RequestBuilder {
    c.api.request(method, url).bearer_auth(token)
}

pub(super) async fn submit(c: &Clients, t: &Target, s: Submission) -> Result<String, RemoteError> {
    let e = endpoints(c, t).await?;
    let url = format!("{}/runs", e.base);
    c.guard(&url)?;
    let mut body = json!({
        "workflow_params": Value::Object(wes::params(t, &s, &s.input.url)),
        "tags": { wes::TAG_KEY: s.tag, "fedimpute_name": s.name },
    });
    match (t.setting("workflow_id"), t.setting("workflow_version_id")) {
        (Some(id), Some(version)) => {
            body["workflow_url"] = json!(format!("{id}/{version}"));
        }
        _ => {
            let workflow = t.setting("workflow_url").ok_or_else(|| {
                RemoteError::Rejected(
                    "the service's configuration has no workflow_id and workflow_version_id".into(),
                )
            })?;
            body["workflow_url"] = json!(workflow);
        }
    }
    if let Some(engine) = t.setting("engine_id") {
        body["engine_id"] = json!(engine);
    }
    if let Some(params) = t
        .config
        .get("workflow_engine_parameters")
        .filter(|v| v.is_object())
    {
        body["workflow_engine_parameters"] = params.clone();
    }
    let reply = call(c, t, &e, Call::Submit, |token| {
        at(c, Method::POST, &url, token).json(&body)
    })
    .await?;
    let run = read_json(reply, t).await.map_err(RemoteError::unclear)?;
    if let Some(msg) = run["msg"].as_str().filter(|_| run["run_id"].is_null()) {
        return Err(RemoteError::Rejected(scrub(msg, t)));
    }
    run["run_id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| RemoteError::Ambiguous("the reply carries no run_id".into()))
}

pub(super) async fn find(
    c: &Clients,
    t: &Target,
    tag: &str,
) -> Result<Option<String>, RemoteError> {
    let e = endpoints(c, t).await?;
    let filter: String =
        url::form_urlencoded::byte_serialize(format!("{}:{tag}", wes::TAG_KEY).as_bytes())
            .collect();
    let mut url = url::Url::parse(&format!("{}/runs?page_size=100&tag={filter}", e.base))
        .map_err(|err| RemoteError::Rejected(err.to_string()))?;
    for _ in 0..20 {
        c.guard(url.as_str())?;
        let page = url.to_string();
        let reply = call(c, t, &e, Call::Safe, |token| {
            at(c, Method::GET, &page, token)
        })
        .await?;
        let body = read_json(reply, t).await?;
        let found = body["runs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["tags"][wes::TAG_KEY].as_str() == Some(tag));
        if let Some(run) = found.and_then(|r| r["run_id"].as_str()) {
            return Ok(Some(run.to_owned()));
        }
        // `next_page_url` may be relative to the page it came with.
        match body["pagination"]["next_page_url"].as_str() {
            Some(next) if !next.is_empty() => {
                url = url
                    .join(next)
                    .map_err(|err| RemoteError::Transient(err.to_string()))?;
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

pub(super) async fn status(
    c: &Clients,
    t: &Target,
    id: &str,
    previous: &str,
) -> Result<Option<RemoteView>, RemoteError> {
    let e = endpoints(c, t).await?;
    let status_url = format!("{}/runs/{id}/status", e.base);
    c.guard(&status_url)?;
    let reply = call(c, t, &e, Call::Safe, |token| {
        at(c, Method::GET, &status_url, token)
    })
    .await?;
    let raw = read_json(reply, t).await?["state"]
        .as_str()
        .unwrap_or("UNKNOWN")
        .to_ascii_uppercase();
    if raw == previous {
        return Ok(None);
    }
    let details = format!("{}/runs/{id}?exclude_tasks=false", e.base);
    let reply = call(c, t, &e, Call::Safe, |token| {
        at(c, Method::GET, &details, token)
    })
    .await?;
    let run = read_json(reply, t).await?;
    Ok(Some(view(t, run, &raw)))
}

fn view(t: &Target, run: Value, raw: &str) -> RemoteView {
    let errors: Vec<String> = run["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    let mut logs: Vec<NewLog> = Vec::new();
    for (i, event) in run["events"].as_array().into_iter().flatten().enumerate() {
        let kind = event["event_type"].as_str().unwrap_or("EVENT");
        let detail = &event["metadata"];
        let message = match (detail["old_state"].as_str(), detail["new_state"].as_str()) {
            (Some(old), Some(new)) => format!("{kind}: {old} → {new}"),
            _ => kind.to_owned(),
        };
        logs.push(NewLog {
            step_index: 0,
            step_name: "events".into(),
            entry_index: i32::try_from(i).unwrap_or(i32::MAX),
            log_type: if kind == "ERROR_OCCURRED" {
                "error"
            } else {
                "info"
            }
            .into(),
            message: scrub(&message, t),
            logged_at: event["created_at"]
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.with_timezone(&chrono::Utc)),
        });
    }
    for (i, task) in run["task_logs"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = task["pretty_name"]
            .as_str()
            .or(task["name"].as_str())
            .unwrap_or("task");
        let (kind, message) = match task["exit_code"].as_i64() {
            Some(0) => ("success", format!("{name} finished")),
            Some(code) => ("error", format!("{name} exited with code {code}")),
            None => ("progress", format!("{name} running")),
        };
        logs.push(NewLog {
            step_index: i32::try_from(i + 1).unwrap_or(i32::MAX),
            step_name: name.to_owned(),
            entry_index: 0,
            log_type: kind.into(),
            message: scrub(&message, t),
            logged_at: None,
        });
    }
    let reason = || {
        let why = if errors.is_empty() {
            format!("the workflow failed ({raw})")
        } else {
            format!("the workflow failed ({raw}): {}", errors.join("; "))
        };
        scrub(&why, t)
    };
    let (state, progress) = wes::state(raw, reason);
    // COMPLETE_WITH_ERRORS keeps its partial outputs.
    let results = if matches!(raw, "COMPLETE" | "COMPLETE_WITH_ERRORS") {
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
    let e = endpoints(c, t).await?;
    let url = format!("{}/runs/{id}/cancel", e.base);
    c.guard(&url)?;
    call(c, t, &e, Call::Safe, |token| {
        at(c, Method::POST, &url, token)
    })
    .await
    .map(|_| ())
}
