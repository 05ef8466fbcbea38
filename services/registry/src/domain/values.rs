//! Small value types shared by services and panels.

use std::fmt;

use fedimpute_proto::registry as pb;

/// The remote API a service speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiType {
    Michigan,
    Ga4gh,
    Dnastack,
}

impl ApiType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Michigan => "michigan",
            Self::Ga4gh => "ga4gh",
            Self::Dnastack => "dnastack",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "michigan" => Some(Self::Michigan),
            "ga4gh" => Some(Self::Ga4gh),
            "dnastack" => Some(Self::Dnastack),
            _ => None,
        }
    }

    /// From the proto enum; `None` for unspecified or unknown values.
    pub fn from_proto(value: i32) -> Option<Self> {
        match pb::ApiType::try_from(value).ok()? {
            pb::ApiType::Michigan => Some(Self::Michigan),
            pb::ApiType::Ga4gh => Some(Self::Ga4gh),
            pb::ApiType::Dnastack => Some(Self::Dnastack),
            pb::ApiType::Unspecified => None,
        }
    }

    pub fn to_proto(self) -> pb::ApiType {
        match self {
            Self::Michigan => pb::ApiType::Michigan,
            Self::Ga4gh => pb::ApiType::Ga4gh,
            Self::Dnastack => pb::ApiType::Dnastack,
        }
    }
}

/// A genome build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Build {
    Hg19,
    Hg38,
}

impl Build {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hg19 => "hg19",
            Self::Hg38 => "hg38",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hg19" => Some(Self::Hg19),
            "hg38" => Some(Self::Hg38),
            _ => None,
        }
    }

    pub fn from_proto(value: i32) -> Option<Self> {
        match pb::GenomeBuild::try_from(value).ok()? {
            pb::GenomeBuild::Hg19 => Some(Self::Hg19),
            pb::GenomeBuild::Hg38 => Some(Self::Hg38),
            pb::GenomeBuild::Unspecified => None,
        }
    }

    pub fn to_proto(self) -> pb::GenomeBuild {
        match self {
            Self::Hg19 => pb::GenomeBuild::Hg19,
            Self::Hg38 => pb::GenomeBuild::Hg38,
        }
    }
}

/// Health as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthStatus {
    Unknown,
    Healthy,
    Unhealthy,
    Timeout,
    Maintenance,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
            Self::Timeout => "timeout",
            Self::Maintenance => "maintenance",
        }
    }

    /// Unknown strings read back as `Unknown`.
    pub fn parse(s: &str) -> Self {
        match s {
            "healthy" => Self::Healthy,
            "unhealthy" => Self::Unhealthy,
            "timeout" => Self::Timeout,
            "maintenance" => Self::Maintenance,
            _ => Self::Unknown,
        }
    }

    pub fn to_proto(self) -> pb::HealthStatus {
        match self {
            Self::Unknown => pb::HealthStatus::Unknown,
            Self::Healthy => pb::HealthStatus::Healthy,
            Self::Unhealthy => pb::HealthStatus::Unhealthy,
            Self::Timeout => pb::HealthStatus::Timeout,
            Self::Maintenance => pb::HealthStatus::Maintenance,
        }
    }

    /// A probe failure (maintenance is an answer, not a failure).
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Unhealthy | Self::Timeout)
    }
}

/// A normalised base URL: http or https, no credentials, query or
/// fragment, no trailing slash, no `/ga4gh/wes/v1` suffix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn parse(raw: &str, api_type: Option<ApiType>) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is required".into());
        }
        let url = url::Url::parse(raw).map_err(|e| format!("is not a valid URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "scheme '{}' is not allowed: use http or https",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("has no host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials: store them as service secrets".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not have a query or fragment".into());
        }
        let mut s = url.as_str().trim_end_matches('/').to_owned();
        let mut suffixes = vec!["/ga4gh/wes/v1"];
        if api_type == Some(ApiType::Michigan) {
            suffixes.extend(["/api/v2", "/api"]);
        }
        for suffix in suffixes {
            if let Some(stripped) = s.strip_suffix(suffix) {
                s = stripped.trim_end_matches('/').to_owned();
            }
        }
        if s.len() > 500 {
            return Err("is longer than 500 characters".into());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Path words a slug must not take (`/api/services/discover`...).
const RESERVED_SLUGS: &[&str] = &["discover", "at-risk", "health", "reference-panels"];

/// A URL slug: lower-case letters, digits and hyphens; not all digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().all(|c| c.is_ascii_digit()) && !raw.is_empty() {
            return Err(format!("'{raw}' is all digits: it would be read as an id"));
        }
        if RESERVED_SLUGS.contains(&raw) {
            return Err(format!("'{raw}' is reserved by the API's paths"));
        }
        let ok = !raw.is_empty()
            && raw.len() <= 100
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !raw.starts_with('-')
            && !raw.ends_with('-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "'{raw}' is not a slug: use 1-100 lower-case letters, digits and inner hyphens"
            ))
        }
    }

    /// Derives a slug from a name: lower-case, runs of other characters
    /// become one hyphen; prefixed with `kind` when that alone would not be
    /// a valid slug (all digits, reserved). `None` when nothing usable is left.
    pub fn derive(name: &str, kind: &str) -> Option<Self> {
        let base = Self::from_name(name)?;
        match Self::parse(&base.0) {
            Ok(slug) => Some(slug),
            Err(_) => Self::parse(&format!("{kind}-{}", base.0)).ok(),
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        let mut out = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let out = out.trim_end_matches('-');
        let out = if out.len() > 90 {
            out[..90].trim_end_matches('-')
        } else {
            out
        };
        (!out.is_empty()).then(|| Self(out.to_owned()))
    }

    /// The slug, then `slug-1`, `slug-2`... (at most 1000 in all): the
    /// candidates tried when a derived slug is taken.
    pub fn candidates(&self) -> impl Iterator<Item = Self> + '_ {
        (0..1000u32).map(|n| {
            if n == 0 {
                self.clone()
            } else {
                Self(format!("{}-{n}", self.0))
            }
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub use fedimpute_common::page::PageToken;

/// A finite float (NaN and infinities are refused).
pub fn finite(value: f64) -> Result<f64, String> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err("must be a finite number".into())
    }
}

/// A page size: 0 means the default (100); at most 1000.
pub fn page_size(requested: i32) -> Result<u64, String> {
    match requested {
        0 => Ok(100),
        1..=1000 => Ok(requested as u64),
        _ => Err(format!(
            "{requested} is out of range: use 1 to 1000 (0 for the default, 100)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalised() {
        let cases = [
            (
                "https://impute.afrigen-d.org/",
                Some(ApiType::Michigan),
                "https://impute.afrigen-d.org",
            ),
            (
                "https://host/api/v2",
                Some(ApiType::Michigan),
                "https://host",
            ),
            (
                "http://elwazi-node.icermali.org:6000/ga4gh/wes/v1",
                Some(ApiType::Ga4gh),
                "http://elwazi-node.icermali.org:6000",
            ),
            (
                "http://node:6000/ga4gh/wes/v1/",
                Some(ApiType::Ga4gh),
                "http://node:6000",
            ),
            (
                "  HTTPS://Example.org/path/  ",
                None,
                "https://example.org/path",
            ),
        ];
        for (raw, api, want) in cases {
            assert_eq!(BaseUrl::parse(raw, api).unwrap().as_str(), want, "{raw}");
        }
        for bad in [
            "",
            "ftp://host",
            "not a url",
            "https://user:pw@host",
            "https://host/?x=1",
            "file:///etc",
        ] {
            assert!(
                BaseUrl::parse(bad, None).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn slugs_derive_from_names() {
        let derive = |name: &str| Slug::derive(name, "service").map(|s| s.as_str().to_owned());
        assert_eq!(
            derive("eLwazi MALI Node - Imputation Service").as_deref(),
            Some("elwazi-mali-node-imputation-service")
        );
        assert_eq!(derive("H3AFRICA v6").as_deref(), Some("h3africa-v6"));
        assert_eq!(derive("!!!"), None);
        assert_eq!(derive("2024").as_deref(), Some("service-2024"));
        assert_eq!(derive("Discover").as_deref(), Some("service-discover"));
        assert!(Slug::parse("12").is_err());
        assert!(Slug::parse("at-risk").is_err());
        assert!(Slug::parse("elwazi-mali-node---imputation-service").is_ok());
        assert!(Slug::parse("Bad Slug").is_err());
        assert!(Slug::parse("-x").is_err());
    }

    #[test]
    fn page_tokens_round_trip() {
        let t = PageToken(42);
        assert_eq!(PageToken::parse(&t.encode()).unwrap(), Some(t));
        assert_eq!(PageToken::parse("").unwrap(), None);
        assert!(PageToken::parse("garbage!").is_err());
    }
}
