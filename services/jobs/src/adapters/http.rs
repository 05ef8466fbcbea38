//! The HTTP side of the adapters: two guarded clients (API calls, which may
//! carry credentials and follow only same-host redirects; downloads, which
//! carry none and follow redirects to object storage), the DNAstack token
//! cache, and how a reply becomes a [`RemoteError`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use fedimpute_common::http::{OutboundSettings, check_url, read_limited};
use reqwest::{RequestBuilder, Response, StatusCode};

use super::Target;
use crate::peers::Credential;

/// Why a remote call did not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RemoteError {
    /// 401: the credential was refused.
    #[error("the service refused the credential: {0}")]
    Unauthorized(String),
    /// 403: authenticated, not allowed.
    #[error("the service refused access: {0}")]
    Forbidden(String),
    /// 404: the remote job (or file) does not exist.
    #[error("not found on the service: {0}")]
    NotFound(String),
    /// A definite refusal: asking again the same way will not work.
    #[error("the service refused the request: {0}")]
    Rejected(String),
    /// The remote asks to wait (a per-user running-jobs cap, maintenance).
    #[error("the service asks to wait: {0}")]
    Busy(String),
    /// Worth retrying (5xx, a timeout or connection error on a safe call).
    #[error("the service did not answer properly: {0}")]
    Transient(String),
    /// A submission that may or may not have reached the remote.
    #[error("the submission's outcome is unknown: {0}")]
    Ambiguous(String),
}

impl RemoteError {
    /// A broken reply to a submission: accepted or not, nobody can tell.
    pub(crate) fn unclear(self) -> Self {
        if let Self::Transient(m) = self {
            Self::Ambiguous(m)
        } else {
            self
        }
    }
}

/// Cached OAuth2 tokens by (token endpoint, client id).
type TokenCache = Arc<Mutex<HashMap<(String, String), (String, Instant)>>>;

/// The outbound clients.
#[derive(Clone, Debug)]
pub(crate) struct Clients {
    pub(crate) api: reqwest::Client,
    pub(crate) downloads: reqwest::Client,
    pub(crate) allow_private: bool,
    /// Base time allowed for a submission's upload, plus one second per MiB.
    pub(crate) submit_timeout: Duration,
    tokens: TokenCache,
    memo: Arc<Mutex<HashMap<String, (serde_json::Value, Instant)>>>,
}

impl Clients {
    pub(crate) fn new(
        settings: &OutboundSettings,
        submit_timeout: Duration,
    ) -> Result<Self, String> {
        let api = fedimpute_common::http::client(settings).map_err(|e| e.to_string())?;
        // Downloads carry no credential: redirects to object storage are
        // followed, each hop checked against the address policy.
        let allow = settings.allow_private_targets;
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 10 {
                attempt.error("too many redirects")
            } else if let Err(e) = check_url(attempt.url(), allow) {
                attempt.error(e)
            } else {
                attempt.follow()
            }
        });
        let downloads = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.timeout.max(Duration::from_secs(60)))
            .user_agent(settings.user_agent.clone())
            .redirect(policy)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            api,
            downloads,
            allow_private: allow,
            submit_timeout,
            tokens: Arc::new(Mutex::new(HashMap::new())),
            memo: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Checks the target of a request against the address policy.
    pub(crate) fn guard(&self, url: &str) -> Result<(), RemoteError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| RemoteError::Rejected(format!("bad URL {url}: {e}")))?;
        check_url(&parsed, self.allow_private).map_err(|e| RemoteError::Rejected(e.to_string()))
    }

    pub(crate) fn cached_token(&self, endpoint: &str, client: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens
            .get(&(endpoint.to_owned(), client.to_owned()))
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(token, _)| token.clone())
    }

    pub(crate) fn cache_token(&self, endpoint: &str, client: &str, token: &str, ttl: Duration) {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                (endpoint.to_owned(), client.to_owned()),
                (token.to_owned(), Instant::now() + ttl),
            );
    }

    /// A value remembered under `key` until `until` (discovery results).
    pub(crate) fn recall(&self, key: &str) -> Option<serde_json::Value> {
        let memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        memo.get(key)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(v, _)| v.clone())
    }

    pub(crate) fn remember(&self, key: &str, value: serde_json::Value, ttl: Duration) {
        self.memo
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), (value, Instant::now() + ttl));
    }

    pub(crate) fn drop_token(&self, endpoint: &str, client: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(endpoint.to_owned(), client.to_owned()));
    }
}

/// Bearer or basic authentication from the target's credential.
pub(crate) fn authorize(request: RequestBuilder, t: &Target) -> RequestBuilder {
    match &t.credential {
        Credential::Token(token) => request.bearer_auth(token),
        Credential::Basic { username, password } => request.basic_auth(username, Some(password)),
        Credential::None | Credential::Client { .. } => request,
    }
}

/// Whether a failed request may have been acted on by the remote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    /// Safe to repeat (reads, cancels).
    Safe,
    /// Not idempotent (a submission): an unclear failure is ambiguous.
    Submit,
}

/// Sends, and turns transport failures and error replies into
/// [`RemoteError`]s; `Ok` is a 2xx (or 3xx not followed) reply.
pub(crate) async fn send(
    request: RequestBuilder,
    call: Call,
    t: &Target,
) -> Result<Response, RemoteError> {
    let response = match fedimpute_common::http::traced(request).send().await {
        Ok(response) => response,
        Err(e) => return Err(transport(&e, call, t)),
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = read_limited(response, 64 * 1024).await.unwrap_or_default();
    let message = scrub(&message(status, &body), t);
    Err(match status {
        StatusCode::UNAUTHORIZED => RemoteError::Unauthorized(message),
        StatusCode::FORBIDDEN => RemoteError::Forbidden(message),
        StatusCode::NOT_FOUND => RemoteError::NotFound(message),
        StatusCode::TOO_MANY_REQUESTS => RemoteError::Busy(message),
        s if s.is_server_error() && call == Call::Submit => RemoteError::Ambiguous(message),
        s if s.is_server_error() => RemoteError::Transient(message),
        _ => RemoteError::Rejected(message),
    })
}

fn transport(e: &reqwest::Error, call: Call, t: &Target) -> RemoteError {
    let text = scrub(&without_url(e), t);
    // Refused before anything was sent: never ambiguous.
    if e.is_connect() || e.is_builder() || e.is_redirect() {
        return RemoteError::Transient(text);
    }
    match call {
        Call::Safe => RemoteError::Transient(text),
        Call::Submit => RemoteError::Ambiguous(text),
    }
}

/// reqwest errors name the URL, which may carry a secret (a signed link).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), url.path());
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// The remote's own words: a JSON `message` or `msg`, else the text.
pub(crate) fn message(status: StatusCode, body: &[u8]) -> String {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let said = json["message"]
        .as_str()
        .or(json["msg"].as_str())
        .or(json["error_description"].as_str())
        .or(json["error"].as_str())
        .map(str::to_owned);
    let text = said.unwrap_or_else(|| {
        let raw = String::from_utf8_lossy(body);
        if raw.trim_start().starts_with('<') {
            // An HTML error page (nginx): its status says more.
            String::new()
        } else {
            raw.trim().to_owned()
        }
    });
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect();
    if text.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {}: {text}", status.as_u16())
    }
}

/// Removes the target's secrets from a text (a remote may echo them).
pub(crate) fn scrub(text: &str, t: &Target) -> String {
    let mut text = text.to_owned();
    for secret in t.credential.secrets() {
        if secret.len() >= 4 {
            text = text.replace(secret, "<redacted>");
        }
    }
    text
}

/// Reads a JSON reply (bounded).
pub(crate) async fn json(response: Response, t: &Target) -> Result<serde_json::Value, RemoteError> {
    let body = read_limited(response, 32 * 1024 * 1024)
        .await
        .map_err(|e| RemoteError::Transient(scrub(&e, t)))?;
    serde_json::from_slice(&body).map_err(|_| {
        RemoteError::Transient(format!(
            "the reply is not JSON: {}",
            scrub(&String::from_utf8_lossy(&body[..body.len().min(200)]), t)
        ))
    })
}
