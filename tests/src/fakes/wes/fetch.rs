//! Input staging: a run entering INITIALIZING downloads the http(s) URLs of its input
//! parameter, as a WES node fetching pre-signed VCF URLs would (B.3 "Input data").

use std::time::Duration;

use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::artifacts::hex;
use super::records::FetchedInput;

/// The whole-download limit of one input (the fake's "short timeout").
pub(super) const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The client the fake downloads with.
pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(FETCH_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// The http(s) URLs in an input parameter (a space-separated list, FI `input`).
pub(super) fn input_urls(value: Option<&serde_json::Value>) -> Vec<String> {
    let text = match value {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        Some(_) | None => String::new(),
    };
    text.split_whitespace()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .map(str::to_owned)
        .collect()
}

/// Downloads every URL in turn (streaming, hashing as it goes).
pub(super) async fn fetch_all(
    client: &reqwest::Client,
    run_id: &str,
    urls: &[String],
) -> Vec<FetchedInput> {
    let mut fetched = Vec::with_capacity(urls.len());
    for url in urls {
        fetched.push(fetch_one(client, run_id, url).await);
    }
    fetched
}

async fn fetch_one(client: &reqwest::Client, run_id: &str, url: &str) -> FetchedInput {
    let mut record = FetchedInput {
        run_id: run_id.to_owned(),
        url: url.to_owned(),
        status: None,
        size: 0,
        sha256_hex: hex(&Sha256::digest(b"")),
        error: None,
    };
    let response = match client.get(url).send().await {
        Ok(response) => response,
        Err(error) => {
            record.error = Some(describe(&error));
            return record;
        }
    };
    let status = response.status();
    record.status = Some(status.as_u16());
    let mut hasher = Sha256::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                hasher.update(&chunk);
                record.size += chunk.len() as u64;
            }
            Err(error) => {
                record.error = Some(describe(&error));
                break;
            }
        }
    }
    record.sha256_hex = hex(&hasher.finalize());
    if record.error.is_none() && !status.is_success() {
        record.error = Some(format!("HTTP {status}"));
    }
    record
}

/// A reqwest error with its causes (its `Display` alone hides e.g. "connection refused").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
