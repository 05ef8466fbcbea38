//! Merging two copies of one record field by field: the first source's
//! value wins; an empty value is filled from the later copy (that is
//! completion, not a conflict); two different values are a conflict,
//! reported. Secrets are never printed.

use serde_json::Value;

use crate::report::Conflict;

/// One record being merged: where the kept copy and the later copy came
/// from, and where conflicts go.
pub(super) struct Fields<'c> {
    pub(super) conflicts: &'c mut Vec<Conflict>,
    pub(super) entity: &'static str,
    pub(super) key: String,
    pub(super) kept_source: String,
    pub(super) other_source: String,
}

impl Fields<'_> {
    fn conflict(&mut self, field: &str, kept: String, other: String) {
        self.conflicts.push(Conflict {
            entity: self.entity.to_owned(),
            key: self.key.clone(),
            field: field.to_owned(),
            values: vec![
                format!("{kept} ({})", self.kept_source),
                format!("{other} ({})", self.other_source),
            ],
            kept: kept.clone(),
        });
    }

    /// Records a remapped id.
    pub(super) fn remapped(&mut self, field: &str, from: i64, to: i64) {
        self.conflicts.push(Conflict {
            entity: self.entity.to_owned(),
            key: self.key.clone(),
            field: field.to_owned(),
            values: vec![format!("{from} ({})", self.other_source)],
            kept: to.to_string(),
        });
    }

    pub(super) fn text(&mut self, field: &str, kept: &mut String, other: &str) {
        if kept.trim().is_empty() {
            other.clone_into(kept);
        } else if !other.trim().is_empty() && kept != other {
            self.conflict(field, kept.clone(), other.to_owned());
        }
    }

    pub(super) fn opt<T: Clone + PartialEq + std::fmt::Debug>(
        &mut self,
        field: &str,
        kept: &mut Option<T>,
        other: &Option<T>,
    ) {
        match (&*kept, other) {
            (None, Some(_)) => kept.clone_from(other),
            (Some(a), Some(b)) if a != b => self.conflict(field, show(a), show(b)),
            _ => {}
        }
    }

    /// A secret: compared, never shown.
    pub(super) fn secret(
        &mut self,
        field: &str,
        kept: &mut Option<String>,
        other: &Option<String>,
    ) {
        match (&*kept, other) {
            (None, Some(_)) => kept.clone_from(other),
            (Some(a), Some(b)) if a != b => {
                let (a, b) = (redact(a), redact(b));
                self.conflict(field, a, b);
            }
            _ => {}
        }
    }

    pub(super) fn flag(&mut self, field: &str, kept: &bool, other: &bool) {
        if kept != other {
            self.conflict(field, kept.to_string(), other.to_string());
        }
    }

    pub(super) fn same<T: PartialEq + std::fmt::Debug>(
        &mut self,
        field: &str,
        kept: &T,
        other: &T,
    ) {
        if kept != other {
            self.conflict(field, show(kept), show(other));
        }
    }

    pub(super) fn list(&mut self, field: &str, kept: &mut Vec<String>, other: &[String]) {
        if kept.is_empty() {
            *kept = other.to_vec();
        } else if !other.is_empty() && kept.as_slice() != other {
            self.conflict(field, format!("{kept:?}"), format!("{other:?}"));
        }
    }

    pub(super) fn json(&mut self, field: &str, kept: &mut Value, other: &Value) {
        if is_empty(kept) {
            kept.clone_from(other);
        } else if !is_empty(other) && kept != other {
            self.conflict(field, clip(&kept.to_string()), clip(&other.to_string()));
        }
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Bool(_) | Value::Number(_) | Value::String(_) => false,
    }
}

fn show<T: std::fmt::Debug>(v: &T) -> String {
    clip(&format!("{v:?}"))
}

fn clip(s: &str) -> String {
    const MAX: usize = 200;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// A secret as the report shows it: its length only.
pub(super) fn redact(secret: &str) -> String {
    format!("<secret, {} characters>", secret.chars().count())
}

/// A base URL normalised the way the registry normalises it at
/// registration (services/registry/src/domain/values.rs, `BaseUrl::parse`):
/// lower-case scheme and host (the `url` crate's parsing; default ports
/// dropped), no trailing slash, no `/ga4gh/wes/v1` suffix, and for
/// Cloudgene (`michigan`) services no `/api/v2` or `/api` suffix either.
/// The registry's own function, so the two can never disagree.
pub fn normalise_base_url(raw: &str, api_type: &str) -> String {
    use fedimpute_registry::domain::{ApiType, BaseUrl};
    let api = ApiType::parse(api_type.trim().to_lowercase().as_str());
    match BaseUrl::parse(raw, api) {
        Ok(url) => url.as_str().to_owned(),
        // Not a URL the registry accepts: compare it as written (the
        // target skips the service with the registry's reason).
        Err(_) => raw.trim().trim_end_matches('/').to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_normalise_like_the_registry() {
        // The registry's own cases (values.rs, base_urls_are_normalised).
        let cases = [
            (
                "https://impute.afrigen-d.org/",
                "michigan",
                "https://impute.afrigen-d.org",
            ),
            ("https://host/api/v2", "michigan", "https://host"),
            (
                "http://elwazi-node.icermali.org:6000/ga4gh/wes/v1",
                "ga4gh",
                "http://elwazi-node.icermali.org:6000",
            ),
            (
                "http://node:6000/ga4gh/wes/v1/",
                "ga4gh",
                "http://node:6000",
            ),
            (
                "  HTTPS://Example.org/path/  ",
                "",
                "https://example.org/path",
            ),
            ("https://Host:443/", "dnastack", "https://host"),
        ];
        for (raw, api, want) in cases {
            assert_eq!(normalise_base_url(raw, api), want, "{raw}");
        }
        // Only Cloudgene strips /api.
        assert_eq!(
            normalise_base_url("https://h/api", "ga4gh"),
            "https://h/api"
        );
    }

    #[test]
    fn secrets_are_never_shown() {
        let mut conflicts = Vec::new();
        let mut f = Fields {
            conflicts: &mut conflicts,
            entity: "credentials",
            key: "1".into(),
            kept_source: "a".into(),
            other_source: "b".into(),
        };
        let mut kept = Some("token-one".to_owned());
        f.secret("api_token", &mut kept, &Some("token-two".into()));
        let text = format!("{conflicts:?}");
        assert!(!text.contains("token-"), "{text}");
        assert_eq!(conflicts.len(), 1);
    }
}
