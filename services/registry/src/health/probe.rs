//! One health probe per api_type, anonymous (service health, not a user's
//! readiness):
//! - Cloudgene: `GET {base}/api/v2/server`, healthy on a JSON object with a
//!   `name`; its `maintenace` (sic) flag means maintenance;
//! - WES: `GET {base}/ga4gh/wes/v1/service-info`, healthy on a JSON object
//!   that looks like WES service-info;
//! - DNAstack: `GET` the Workbench service registry, healthy when it lists
//!   an eWES service.

use std::time::Instant;

use serde_json::Value;

use crate::domain::{ApiType, HealthStatus};

/// Probe replies are small; anything larger is not a health document.
const MAX_PROBE_BODY: usize = 1 << 20;

/// What a probe saw.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeResult {
    pub status: HealthStatus,
    pub response_time_ms: Option<f64>,
    pub error: String,
    /// Jobs waiting or running remotely, when the service says.
    pub queue_current: Option<i32>,
}

impl ProbeResult {
    /// A failure seen without reaching the service.
    pub fn failed(status: HealthStatus, error: impl Into<String>) -> Self {
        Self::failed_after(status, None, error)
    }

    fn failed_after(status: HealthStatus, elapsed: Option<f64>, error: impl Into<String>) -> Self {
        let mut error: String = error.into();
        if error.len() > 500 {
            let mut cut = 500;
            while !error.is_char_boundary(cut) {
                cut -= 1;
            }
            error.truncate(cut);
        }
        Self {
            status,
            response_time_ms: elapsed,
            error,
            queue_current: None,
        }
    }
}

/// Where the probe goes.
fn probe_url(api_type: ApiType, base_url: &str, api_config: &Value) -> String {
    match api_type {
        ApiType::Michigan => format!("{base_url}/api/v2/server"),
        ApiType::Ga4gh => format!("{base_url}/ga4gh/wes/v1/service-info"),
        ApiType::Dnastack => api_config
            .get("service_registry_url")
            .and_then(Value::as_str)
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("{base_url}/api/service-registry/services")),
    }
}

/// Probes once. `bearer` is a service-level token, sent to WES only.
pub async fn probe(
    client: &reqwest::Client,
    api_type: ApiType,
    base_url: &str,
    api_config: &Value,
    bearer: Option<&str>,
    allow_private: bool,
) -> ProbeResult {
    let url = probe_url(api_type, base_url, api_config);
    match url::Url::parse(&url) {
        Ok(parsed) => {
            if let Err(e) = fedimpute_common::http::check_url(&parsed, allow_private) {
                return ProbeResult::failed(HealthStatus::Unhealthy, format!("refused: {e}"));
            }
        }
        Err(e) => {
            return ProbeResult::failed(
                HealthStatus::Unhealthy,
                format!("invalid probe URL {url}: {e}"),
            );
        }
    }
    let mut request = client.get(&url).header("accept", "application/json");
    if let (ApiType::Ga4gh, Some(token)) = (api_type, bearer) {
        request = request.bearer_auth(token);
    }
    let started = Instant::now();
    let response = fedimpute_common::http::traced(request).send().await;
    let elapsed = || Some(started.elapsed().as_secs_f64() * 1000.0);
    let response = match response {
        Ok(r) => r,
        Err(e) => return transport_failure(&e, elapsed()),
    };
    let status = response.status();
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let body = match fedimpute_common::http::read_limited(response, MAX_PROBE_BODY).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return ProbeResult::failed_after(HealthStatus::Unhealthy, elapsed(), e),
    };
    let elapsed = elapsed();
    if !status.is_success() {
        let hint = match (api_type, status.as_u16()) {
            (ApiType::Ga4gh, 401 | 403) => {
                " (service-info requires authentication: store an api_token secret)"
            }
            _ => "",
        };
        return ProbeResult::failed_after(
            HealthStatus::Unhealthy,
            elapsed,
            format!("HTTP {}{hint}: {}", status.as_u16(), snippet(&body)),
        );
    }
    let json: Option<Value> = serde_json::from_str(&body).ok();
    let Some(json) = json.filter(|_| is_json || body.trim_start().starts_with(['{', '['])) else {
        return ProbeResult::failed_after(
            HealthStatus::Unhealthy,
            elapsed,
            format!(
                "HTTP {} but not JSON: is the base URL right? {}",
                status.as_u16(),
                snippet(&body)
            ),
        );
    };
    let verdict = match api_type {
        ApiType::Michigan => judge_cloudgene(&json),
        ApiType::Ga4gh => judge_wes(&json),
        ApiType::Dnastack => judge_dnastack(&json),
    };
    match verdict {
        Ok((status, queue_current)) => ProbeResult {
            status,
            response_time_ms: elapsed,
            error: if status == HealthStatus::Maintenance {
                json.get("maintenaceMessage")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty())
                    .unwrap_or("the service reports maintenance mode")
                    .to_owned()
            } else {
                String::new()
            },
            queue_current,
        },
        Err(why) => ProbeResult::failed_after(HealthStatus::Unhealthy, elapsed, why),
    }
}

type Verdict = Result<(HealthStatus, Option<i32>), String>;

fn judge_cloudgene(json: &Value) -> Verdict {
    if json.get("name").is_none() {
        return Err("JSON without 'name': not a Cloudgene server".into());
    }
    let maintenance = ["maintenace", "maintenance"]
        .iter()
        .any(|k| json.get(k).and_then(Value::as_bool) == Some(true));
    Ok((
        if maintenance {
            HealthStatus::Maintenance
        } else {
            HealthStatus::Healthy
        },
        None,
    ))
}

fn judge_wes(json: &Value) -> Verdict {
    let has_versions = json
        .get("supported_wes_versions")
        .and_then(Value::as_array)
        .is_some_and(|v| !v.is_empty());
    let is_wes_type = json.pointer("/type/artifact").and_then(Value::as_str) == Some("wes");
    let has_types = json.get("workflow_type_versions").is_some();
    if !(has_versions || is_wes_type || has_types) {
        return Err("JSON that is not WES service-info".into());
    }
    let queue = json
        .get("system_state_counts")
        .and_then(Value::as_object)
        .map(|counts| {
            ["QUEUED", "INITIALIZING", "RUNNING", "PAUSED"]
                .iter()
                .filter_map(|s| counts.get(*s).and_then(Value::as_i64))
                .sum::<i64>()
                .clamp(0, i64::from(i32::MAX)) as i32
        });
    Ok((HealthStatus::Healthy, queue))
}

fn judge_dnastack(json: &Value) -> Verdict {
    let listed = json.as_array().is_some_and(|services| {
        services.iter().any(|s| {
            s.pointer("/type/artifact")
                .and_then(Value::as_str)
                .is_some_and(|a| a.contains("ewes"))
        })
    });
    if listed {
        Ok((HealthStatus::Healthy, None))
    } else {
        Err("the service registry lists no eWES service".into())
    }
}

fn transport_failure(e: &reqwest::Error, elapsed: Option<f64>) -> ProbeResult {
    if e.is_timeout() {
        return ProbeResult::failed(HealthStatus::Timeout, "health check timed out");
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    let status = HealthStatus::Unhealthy;
    if e.is_connect() {
        ProbeResult::failed(status, format!("cannot connect: {message}"))
    } else {
        ProbeResult::failed_after(status, elapsed, message)
    }
}

fn snippet(body: &str) -> String {
    let trimmed = body.trim();
    let mut cut = trimmed.len().min(200);
    while !trimmed.is_char_boundary(cut) {
        cut -= 1;
    }
    trimmed[..cut].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn judges_bodies() {
        assert_eq!(
            judge_cloudgene(&json!({"name": "x", "maintenace": false}))
                .unwrap()
                .0,
            HealthStatus::Healthy
        );
        assert_eq!(
            judge_cloudgene(&json!({"name": "x", "maintenace": true}))
                .unwrap()
                .0,
            HealthStatus::Maintenance
        );
        assert!(judge_cloudgene(&json!({"other": 1})).is_err());
        let wes = judge_wes(
            &json!({"supported_wes_versions": ["1.0.0"], "system_state_counts": {"QUEUED": 2, "RUNNING": 1, "COMPLETE": 9}}),
        );
        assert_eq!(wes.unwrap(), (HealthStatus::Healthy, Some(3)));
        assert!(judge_wes(&json!({"hello": "world"})).is_err());
        assert!(judge_dnastack(&json!([{"type": {"artifact": "ewes-service"}}])).is_ok());
        assert!(judge_dnastack(&json!([])).is_err());
    }
}
