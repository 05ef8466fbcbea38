//! Reads the reference panels a Cloudgene server offers, from
//! `GET {base}/api/v2/server/apps/{app}` (an authenticated call): the
//! `refpanel` parameter lists `apps@<panel>@<version>` keys with their names,
//! and the `population` parameter, bound to it, the populations each panel
//! accepts.

use serde_json::Value;

use crate::{domain::Build, error::Error};

/// The default Cloudgene app; `api_config.app_id` overrides it.
pub const DEFAULT_APP: &str = "imputationserver2";

/// App details are a few kilobytes; refuse to buffer more than this.
const MAX_APP_BODY: usize = 4 << 20;

/// A panel as the remote lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct RemotePanel {
    pub external_id: String,
    pub name: String,
    pub populations: Vec<String>,
    /// Read from the key or name when it says (`hg19`, `b38`...).
    pub build: Option<Build>,
}

/// The app and its panels.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteApp {
    pub app_id: String,
    pub panels: Vec<RemotePanel>,
}

/// Fetches and parses the app's panels.
pub async fn fetch_panels(
    client: &reqwest::Client,
    base_url: &str,
    app: &str,
    token: &str,
) -> Result<RemoteApp, Error> {
    let url = format!("{base_url}/api/v2/server/apps/{app}");
    let request = client
        .get(&url)
        .header("X-Auth-Token", token)
        .header("accept", "application/json");
    let response = fedimpute_common::http::traced(request)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                Error::Unavailable(format!(
                    "the Cloudgene server did not answer in time ({url})"
                ))
            } else {
                Error::Unavailable(format!(
                    "cannot reach the Cloudgene server at {base_url}: {e}"
                ))
            }
        })?;
    let status = response.status().as_u16();
    let body = fedimpute_common::http::read_limited(response, MAX_APP_BODY)
        .await
        .map_err(|e| Error::Unavailable(format!("reading {url}: {e}")))?;
    match status {
        200 => {}
        401 | 403 => {
            return Err(Error::FailedPrecondition(format!(
                "the Cloudgene server rejected the API token (HTTP {status}): check that it is valid and not expired"
            )));
        }
        404 => {
            return Err(Error::FailedPrecondition(format!(
                "the Cloudgene server has no app '{app}' (or the token may not use it)"
            )));
        }
        503 => {
            return Err(Error::Unavailable(
                "the Cloudgene server is in maintenance mode (HTTP 503)".into(),
            ));
        }
        other => {
            return Err(Error::Unavailable(format!(
                "the Cloudgene server answered HTTP {other}"
            )));
        }
    }
    let json: Value = serde_json::from_slice(&body).map_err(|_| {
        Error::FailedPrecondition(format!(
            "{url} did not return JSON: is this a Cloudgene server?"
        ))
    })?;
    parse_app(&json, app)
}

/// Parses an app-details document.
pub fn parse_app(json: &Value, requested: &str) -> Result<RemoteApp, Error> {
    let params = json
        .get("params")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::FailedPrecondition("the app details have no 'params'".into()))?;
    let param = |id: &str| {
        params
            .iter()
            .find(|p| p.get("id").and_then(Value::as_str) == Some(id))
    };
    let refpanel = param("refpanel")
        .and_then(|p| p.get("values"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::FailedPrecondition("the app has no 'refpanel' parameter with values".into())
        })?;
    let bound = param("population")
        .and_then(|p| p.get("values"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();

    let mut panels = Vec::new();
    for entry in refpanel {
        let Some(key) = entry
            .get("key")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
        else {
            continue;
        };
        if panels.iter().any(|p: &RemotePanel| p.external_id == key) {
            continue;
        }
        let name = entry
            .get("value")
            .or_else(|| entry.get("label"))
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_owned();
        let populations = bound
            .iter()
            .find(|b| b.get("key").and_then(Value::as_str) == Some(key))
            .and_then(|b| b.get("values"))
            .and_then(Value::as_array)
            .map(|values| {
                values
                    .iter()
                    .filter_map(|v| v.get("key").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        panels.push(RemotePanel {
            build: build_hint(&format!("{key} {name}")),
            external_id: key.to_owned(),
            name,
            populations,
        });
    }
    let app_id = match (
        json.get("id").and_then(Value::as_str),
        json.get("version").and_then(Value::as_str),
    ) {
        (Some(id), Some(version)) if !id.contains('@') => format!("{id}@{version}"),
        (Some(id), _) => id.to_owned(),
        (None, _) => requested.to_owned(),
    };
    Ok(RemoteApp { app_id, panels })
}

fn build_hint(text: &str) -> Option<Build> {
    let t = text.to_lowercase();
    if ["hg38", "grch38", "b38"].iter().any(|m| t.contains(m)) {
        Some(Build::Hg38)
    } else if ["hg19", "grch37", "b37"].iter().any(|m| t.contains(m)) {
        Some(Build::Hg19)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_refpanels_and_bound_populations() {
        let app = json!({
            "id": "imputationserver2", "version": "2.0.12",
            "params": [
                {"id": "refpanel", "type": "app_list", "values": [
                    {"key": "apps@h3africa-v6hc-s@1.0.0", "value": "H3AFRICA v6 (hg38)"},
                    {"key": "apps@1000g-phase-3-v5@2.0.0", "value": "1000G Phase 3"}
                ]},
                {"id": "population", "type": "binded_list", "bind": "refpanel", "values": [
                    {"key": "apps@h3africa-v6hc-s@1.0.0", "label": "H3AFRICA", "values": [{"key": "afr", "value": "AFR"}, {"key": "off", "value": "off"}]}
                ]}
            ]
        });
        let parsed = parse_app(&app, "imputationserver2").unwrap();
        assert_eq!(parsed.app_id, "imputationserver2@2.0.12");
        assert_eq!(parsed.panels.len(), 2);
        assert_eq!(parsed.panels[0].populations, vec!["afr", "off"]);
        assert_eq!(parsed.panels[0].build, Some(Build::Hg38));
        assert!(parsed.panels[1].populations.is_empty());
        assert!(parse_app(&json!({"params": []}), "x").is_err());
    }
}
