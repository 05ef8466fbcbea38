//! Cloudgene 3 (`imputationserver2`): Michigan Imputation Server 2, TOPMed,
//! H3Africa. See ../shared/reference/external-apis.md section A.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use super::{
    Download, RemoteState, RemoteView, Submission, Target,
    http::{Call, Clients, RemoteError, json, scrub, send},
};
use crate::{
    domain::Mode,
    peers::Credential,
    store::{NewLog, NewResult},
};

const DEFAULT_APP: &str = "imputationserver2";
/// Days Cloudgene keeps results when the job does not say (`deletedOn`).
const DEFAULT_RETENTION_DAYS: i64 = 7;

fn app(t: &Target) -> &str {
    t.setting("app_id").unwrap_or(DEFAULT_APP)
}

fn api(t: &Target, path: &str) -> String {
    format!("{}/api/v2{path}", t.base_url)
}

fn token(t: &Target) -> Result<&str, RemoteError> {
    match &t.credential {
        Credential::Token(token) => Ok(token),
        Credential::None | Credential::Client { .. } | Credential::Basic { .. } => Err(
            RemoteError::Unauthorized("Cloudgene needs an API token (X-Auth-Token)".into()),
        ),
    }
}

fn get(c: &Clients, t: &Target, url: &str) -> Result<reqwest::RequestBuilder, RemoteError> {
    c.guard(url)?;
    Ok(c.api.get(url).header("X-Auth-Token", token(t)?))
}

pub(super) async fn submit(c: &Clients, t: &Target, s: Submission) -> Result<String, RemoteError> {
    let url = api(t, &format!("/jobs/submit/{}", app(t)));
    c.guard(&url)?;
    let input = s.input;
    let bytes = input
        .bytes
        .ok_or_else(|| RemoteError::Rejected("Cloudgene needs the file itself".into()))?;
    let part = Part::stream_with_length(reqwest::Body::wrap_stream(bytes), input.size)
        .file_name(input.filename)
        .mime_str("application/gzip")
        .map_err(|e| RemoteError::Rejected(e.to_string()))?;
    // Exactly the inputs of the app: an unknown part fails the submit, and a
    // checkbox is on whenever present (so `aesEncryption`/`meta` are left out).
    let mut form = Form::new()
        .part("files", part)
        .text("refpanel", s.panel)
        .text("build", s.build.as_str())
        .text(
            "phasing",
            if s.phasing {
                t.setting("phasing_engine").unwrap_or("eagle").to_owned()
            } else {
                "no_phasing".to_owned()
            },
        )
        .text("population", s.population)
        .text(
            "mode",
            match s.mode {
                Mode::Imputation => "imputation",
                Mode::QcOnly => "qc_only",
            },
        )
        .text("job-name", format!("{} [{}]", job_name(&s.name), s.tag));
    if let Some(r2) = s.r2_filter {
        form = form.text("r2Filter", r2.to_string());
    }
    if let Some(password) = s.password {
        form = form.text("password", password);
    }
    // The upload may take long: a base allowance plus one second per MiB.
    let timeout = c.submit_timeout + std::time::Duration::from_secs(input.size / (1024 * 1024));
    let request = c
        .api
        .post(&url)
        .header("X-Auth-Token", token(t)?)
        .multipart(form)
        .timeout(timeout);
    let reply = match send(request, Call::Submit, t).await {
        Ok(reply) => reply,
        Err(RemoteError::Rejected(m)) if m.contains("jobs per user can be executed") => {
            return Err(RemoteError::Busy(m));
        }
        Err(RemoteError::Ambiguous(m))
            if m.starts_with("HTTP 503") && m.contains("maintenance") =>
        {
            return Err(RemoteError::Busy(m));
        }
        Err(e) => return Err(e),
    };
    let body = json(reply, t).await.map_err(RemoteError::unclear)?;
    match (body["success"].as_bool(), body["id"].as_str()) {
        (Some(true), Some(id)) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(RemoteError::Rejected(scrub(
            body["message"]
                .as_str()
                .unwrap_or("the job was not accepted"),
            t,
        ))),
    }
}

/// The user's job name as Cloudgene shows it: it HTML-escapes text, so
/// the characters it would change are left out.
fn job_name(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '&' | '<' | '>' | '"' | '\'') && !c.is_control())
        .take(100)
        .collect()
}

pub(super) async fn find(
    c: &Clients,
    t: &Target,
    tag: &str,
) -> Result<Option<String>, RemoteError> {
    let reply = send(get(c, t, &api(t, "/jobs"))?, Call::Safe, t).await?;
    let body = json(reply, t).await?;
    // Cloudgene 3 pages `{data: [...]}`; Cloudgene 2 answers a bare array.
    let jobs = body["data"]
        .as_array()
        .or(body.as_array())
        .cloned()
        .unwrap_or_default();
    Ok(jobs
        .iter()
        .find(|j| j["name"].as_str().is_some_and(|n| n.contains(tag)))
        .and_then(|j| j["id"].as_str())
        .map(str::to_owned))
}

pub(super) async fn status(c: &Clients, t: &Target, id: &str) -> Result<RemoteView, RemoteError> {
    let reply = send(get(c, t, &api(t, &format!("/jobs/{id}")))?, Call::Safe, t).await?;
    let mut body = json(reply, t).await?;
    Ok(view(t, &mut body))
}

pub(super) async fn cancel(c: &Clients, t: &Target, id: &str) -> Result<(), RemoteError> {
    send(
        get(c, t, &api(t, &format!("/jobs/{id}/cancel")))?,
        Call::Safe,
        t,
    )
    .await
    .map(|_| ())
}

pub(super) async fn restart(c: &Clients, t: &Target, id: &str) -> Result<(), RemoteError> {
    send(
        get(c, t, &api(t, &format!("/jobs/{id}/restart")))?,
        Call::Safe,
        t,
    )
    .await
    .map(|_| ())
}

/// `location` is the path `/share/results/{hash}/{name}`: anonymous (the
/// hash is the secret); each GET spends one of the file's downloads.
pub(super) async fn download(
    c: &Clients,
    t: &Target,
    location: &str,
) -> Result<(Option<u64>, Download), RemoteError> {
    let url = format!("{}{location}", t.base_url);
    c.guard(&url)?;
    let reply = send(c.downloads.get(&url), Call::Safe, t).await?;
    let size = reply.content_length();
    let stream = reply
        .bytes_stream()
        .map(|r| r.map_err(|e| RemoteError::Transient(e.to_string())))
        .boxed();
    Ok((size, stream))
}

fn time(ms: &Value) -> Option<DateTime<Utc>> {
    ms.as_i64()
        .filter(|ms| *ms > 0)
        .and_then(DateTime::from_timestamp_millis)
}

/// Removes HTML (`<b>`, `<br>`) from a log message; a `<` that opens no
/// tag ("< 20 SNPs") is text.
fn plain(message: &str) -> String {
    let spaced = message
        .replace("<br>", "\n")
        .replace("<br/>", "\n")
        .replace("<br />", "\n");
    let mut out = String::with_capacity(spaced.len());
    let mut chars = spaced.chars().peekable();
    while let Some(ch) = chars.next() {
        let opens_tag = ch == '<'
            && chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!'));
        if opens_tag {
            for c in chars.by_ref() {
                if c == '>' {
                    break;
                }
            }
        } else {
            out.push(ch);
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .trim()
        .to_owned()
}

fn log_type(kind: i64) -> &'static str {
    match kind {
        1 => "error",
        2 => "warning",
        3 => "progress",
        _ => "info",
    }
}

/// A human size ("82 MB", "760 bytes") in bytes (approximate).
fn size(text: &str) -> i64 {
    let mut parts = text.split_whitespace();
    let number: f64 = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0.0);
    let factor: f64 = match parts.next().map(str::to_ascii_uppercase).as_deref() {
        Some("KB") => 1024.0,
        Some("MB") => 1024.0 * 1024.0,
        Some("GB") => 1024.0 * 1024.0 * 1024.0,
        Some("TB") => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => 1.0,
    };
    (number * factor) as i64
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".zip") {
        "application/zip"
    } else if name.ends_with(".html") {
        "text/html"
    } else if name.ends_with(".gz") {
        "application/gzip"
    } else if name.ends_with(".txt") || name.ends_with(".log") {
        "text/plain"
    } else if name.ends_with(".csv") {
        "text/csv"
    } else {
        "application/octet-stream"
    }
}

fn view(t: &Target, body: &mut Value) -> RemoteView {
    let state = body["state"].as_i64().unwrap_or(0);
    let steps = body["steps"].as_array().cloned().unwrap_or_default();
    let mut logs = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut done_steps = 0;
    for (i, step) in steps.iter().enumerate() {
        let name = step["name"].as_str().unwrap_or_default().to_owned();
        let messages = step["logMessages"].as_array().cloned().unwrap_or_default();
        if !messages.is_empty() && messages.iter().all(|m| m["type"].as_i64() != Some(3)) {
            done_steps += 1;
        }
        for (j, m) in messages.iter().enumerate() {
            let kind = m["type"].as_i64().unwrap_or(0);
            let text = plain(m["message"].as_str().unwrap_or_default());
            match kind {
                1 => errors.push(format!("{name}: {text}")),
                2 => warnings.push(format!("{name}: {text}")),
                _ => {}
            }
            logs.push(NewLog {
                step_index: i32::try_from(i).unwrap_or(i32::MAX),
                step_name: name.clone(),
                entry_index: i32::try_from(j).unwrap_or(i32::MAX),
                log_type: log_type(kind).to_owned(),
                message: scrub(&text, t),
                logged_at: time(&m["time"]),
            });
        }
    }
    let reason = || {
        scrub(
            &errors
                .first()
                .or(warnings.first())
                .cloned()
                .unwrap_or_else(|| "the job failed on the service (no reason given)".into()),
            t,
        )
    };
    let (remote, progress) = match state {
        -1 => (RemoteState::Dead, 10),
        1 => (
            RemoteState::Queued {
                position: body["positionInQueue"].as_i64().filter(|p| *p >= 0),
            },
            5,
        ),
        2 => (RemoteState::Running, 10 + 80 * done_steps.min(4) / 4),
        3 => (RemoteState::Running, 95),
        4 | 8 => (RemoteState::Succeeded, 100),
        5 => (RemoteState::Failed { reason: reason() }, 0),
        6 => (RemoteState::Cancelled, 0),
        9 => (RemoteState::Ended { reason: reason() }, 0),
        7 => (
            RemoteState::Gone {
                reason: "the service retired the job and deleted its files".into(),
            },
            0,
        ),
        10 => (
            RemoteState::Gone {
                reason: "the job was deleted on the service".into(),
            },
            0,
        ),
        _ => (RemoteState::Unknown, 0),
    };
    let mut results = Vec::new();
    let mut expires = time(&body["deletedOn"]);
    if matches!(state, 4 | 8) {
        if expires.is_none() {
            let days = t
                .config
                .get("retention_days")
                .and_then(crate::domain::values::whole_number)
                .unwrap_or(DEFAULT_RETENTION_DAYS);
            expires = time(&body["endTime"]).map(|end| end + chrono::Duration::days(days));
        }
        for param in body["outputParams"].as_array().into_iter().flatten() {
            if param["download"].as_bool() != Some(true) {
                continue;
            }
            let description = param["description"].as_str().unwrap_or_default();
            for file in param["files"].as_array().into_iter().flatten() {
                let (Some(name), Some(hash)) = (file["name"].as_str(), file["hash"].as_str())
                else {
                    continue;
                };
                results.push(NewResult {
                    name: name.to_owned(),
                    description: description.to_owned(),
                    size_bytes: size(file["size"].as_str().unwrap_or_default()),
                    remote_hash: hash.to_owned(),
                    remote_location: format!("/share/results/{hash}/{name}"),
                    downloadable: true,
                    remote_expires_at: expires,
                    content_type: content_type(name).to_owned(),
                });
            }
        }
    }
    // `currentTime` changes on every call: it says nothing about the job.
    if let Some(map) = body.as_object_mut() {
        map.remove("currentTime");
    }
    RemoteView {
        state: remote,
        raw_state: state.to_string(),
        progress,
        payload: std::mem::take(body),
        logs,
        results,
        results_expire_at: expires.filter(|_| matches!(state, 4 | 8)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ApiType;
    use serde_json::json;

    fn target() -> Target {
        Target {
            api_type: ApiType::Michigan,
            service_id: 1,
            base_url: "https://impute.example.org".into(),
            config: json!({}),
            credential: Credential::Token("secret-token-123".into()),
        }
    }

    fn job(state: i64) -> Value {
        json!({
            "id": "job-1", "state": state, "positionInQueue": 3, "currentTime": 1_700_000_000_000i64,
            "endTime": 1_700_000_000_000i64, "deletedOn": -1,
            "steps": [{"name": "Quality Control", "logMessages": [
                {"message": "<b>bad</b> input near secret-token-123", "type": 1, "time": 1_700_000_000_000i64}
            ]}],
            "outputParams": [{"name": "output", "description": "Downloads", "download": true,
                "files": [{"name": "chr_20.zip", "hash": "abc", "size": "2 MB"}]},
                {"name": "hidden", "download": false, "files": [{"name": "x", "hash": "h"}]}],
        })
    }

    #[test]
    fn every_cloudgene_state_has_its_meaning() {
        let state = |code| view(&target(), &mut job(code)).state;
        assert_eq!(state(1), RemoteState::Queued { position: Some(3) });
        assert_eq!(state(2), RemoteState::Running);
        assert_eq!(state(3), RemoteState::Running);
        assert_eq!(state(4), RemoteState::Succeeded);
        assert_eq!(state(8), RemoteState::Succeeded);
        assert_eq!(state(6), RemoteState::Cancelled);
        assert_eq!(state(-1), RemoteState::Dead);
        assert!(
            matches!(state(5), RemoteState::Failed { reason } if reason == "Quality Control: bad input near <redacted>")
        );
        assert!(matches!(state(9), RemoteState::Ended { .. }));
        assert!(matches!(state(7), RemoteState::Gone { .. }));
        assert!(matches!(state(10), RemoteState::Gone { .. }));
        assert_eq!(state(42), RemoteState::Unknown);
    }

    #[test]
    fn a_success_lists_its_downloads_and_expiry_and_drops_volatile_fields() {
        let v = view(&target(), &mut job(4));
        assert_eq!(v.results.len(), 1, "only downloadable outputs");
        let r = &v.results[0];
        assert_eq!(
            (r.name.as_str(), r.size_bytes, r.remote_location.as_str()),
            (
                "chr_20.zip",
                2 * 1024 * 1024,
                "/share/results/abc/chr_20.zip"
            )
        );
        let expires = r.remote_expires_at.expect("an expiry");
        assert_eq!(
            (expires - DateTime::from_timestamp_millis(1_700_000_000_000).expect("t")).num_days(),
            7
        );
        assert!(v.payload.get("currentTime").is_none());
        assert_eq!(v.progress, 100);
        assert!(view(&target(), &mut job(2)).results.is_empty());
    }

    #[test]
    fn human_sizes_and_html_are_read() {
        assert_eq!(size("82 MB"), 82 * 1024 * 1024);
        assert_eq!(size("760 bytes"), 760);
        assert_eq!(size("2 GB"), 2 * 1024 * 1024 * 1024);
        assert_eq!(size("garbage"), 0);
        assert_eq!(
            plain("<b>Samples:</b> 51<br>Build: hg19 &amp; more"),
            "Samples: 51\nBuild: hg19 & more"
        );
        assert_eq!(
            plain("1 Chunk(s) excluded: < 20 SNPs"),
            "1 Chunk(s) excluded: < 20 SNPs"
        );
        assert_eq!(job_name("a & <b> \"c\""), "a  b c");
    }
}
