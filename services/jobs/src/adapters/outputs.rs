//! Workflow outputs (WES and DNAstack): a free-form object whose leaf
//! strings may be URLs. HTTP(S) leaves are files the platform can fetch;
//! other leaves (`gs://`, file paths) stay on the remote as references.

use futures::StreamExt;
use serde_json::Value;

use super::{
    Download, Target,
    http::{Call, Clients, RemoteError, authorize, send},
};
use crate::store::NewResult;

fn leaves(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                leaves(&format!("{prefix}[{i}]"), item, out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(&key, item, out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The result files of an `outputs` object.
pub(super) fn results(outputs: &Value) -> Vec<NewResult> {
    let mut found = Vec::new();
    leaves("", outputs, &mut found);
    let mut names = std::collections::HashSet::new();
    found
        .into_iter()
        .filter(|(_, location)| location.contains('/') || location.contains(':'))
        .map(|(key, location)| {
            let web = location.starts_with("https://") || location.starts_with("http://");
            let file = location
                .split(['?', '#'])
                .next()
                .unwrap_or_default()
                .rsplit('/')
                .next()
                .filter(|f| !f.is_empty())
                .unwrap_or(key.as_str())
                .to_owned();
            // Two outputs may end in the same file name.
            let mut name = file.clone();
            let mut n = 2;
            while !names.insert(name.clone()) {
                name = format!("{n}-{file}");
                n += 1;
            }
            NewResult {
                content_type: if name.ends_with(".gz") {
                    "application/gzip".into()
                } else if name.ends_with(".txt") {
                    "text/plain".into()
                } else {
                    "application/octet-stream".into()
                },
                description: format!("workflow output {key}"),
                size_bytes: 0,
                remote_hash: String::new(),
                remote_location: location,
                downloadable: web,
                remote_expires_at: None,
                name,
            }
        })
        .collect()
}

/// Fetches an output. The remote's credential goes only to the remote's
/// own host; a link elsewhere (a pre-signed object-store URL) gets none.
pub(super) async fn download(
    c: &Clients,
    t: &Target,
    location: &str,
) -> Result<(Option<u64>, Download), RemoteError> {
    c.guard(location)?;
    let same_origin = url::Url::parse(location).ok().map(|u| u.origin())
        == url::Url::parse(&t.base_url).ok().map(|u| u.origin());
    let request = if same_origin {
        authorize(c.downloads.get(location), t)
    } else {
        c.downloads.get(location)
    };
    let reply = send(request, Call::Safe, t).await?;
    let size = reply.content_length();
    let stream = reply
        .bytes_stream()
        .map(|r| r.map_err(|e| RemoteError::Transient(e.to_string())))
        .boxed();
    Ok((size, stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_leaves_become_results() {
        let got = results(&json!({
            "imputed_vcf": "https://node/outputs/r1/imputed.vcf.gz",
            "wf.imputed_vcfs": ["gs://bucket/r1/chr20.dose.vcf.gz"],
            "qc": {"report": "https://node/outputs/r1/qc_report.txt?sig=abc"},
            "count": 3,
            "note": "not a file",
        }));
        let names: Vec<_> = got
            .iter()
            .map(|r| (r.name.as_str(), r.downloadable))
            .collect();
        assert_eq!(
            names,
            [
                ("imputed.vcf.gz", true),
                ("qc_report.txt", true),
                ("chr20.dose.vcf.gz", false)
            ]
        );
    }
}
