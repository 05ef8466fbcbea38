//! Small value types of the jobs domain, each parsed once at the edge.

use std::fmt;

use fedimpute_proto::{jobs as pb, registry as rpb};
use uuid::Uuid;

/// Which remote API a job runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ApiType {
    /// Cloudgene (Michigan Imputation Server 2, TOPMed, H3Africa).
    Michigan,
    /// GA4GH WES.
    Ga4gh,
    /// DNAstack Workbench eWES.
    Dnastack,
}

impl ApiType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Michigan => "michigan",
            Self::Ga4gh => "ga4gh",
            Self::Dnastack => "dnastack",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        [Self::Michigan, Self::Ga4gh, Self::Dnastack]
            .into_iter()
            .find(|t| t.as_str() == raw)
    }

    pub(crate) fn from_pb(api_type: rpb::ApiType) -> Option<Self> {
        match api_type {
            rpb::ApiType::Unspecified => None,
            rpb::ApiType::Michigan => Some(Self::Michigan),
            rpb::ApiType::Ga4gh => Some(Self::Ga4gh),
            rpb::ApiType::Dnastack => Some(Self::Dnastack),
        }
    }
}

/// A reference genome build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Build {
    Hg19,
    Hg38,
}

impl Build {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Hg19 => "hg19",
            Self::Hg38 => "hg38",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        match raw {
            "hg19" => Some(Self::Hg19),
            "hg38" => Some(Self::Hg38),
            _ => None,
        }
    }

    pub(crate) fn from_pb(build: rpb::GenomeBuild) -> Option<Self> {
        match build {
            rpb::GenomeBuild::Unspecified => None,
            rpb::GenomeBuild::Hg19 => Some(Self::Hg19),
            rpb::GenomeBuild::Hg38 => Some(Self::Hg38),
        }
    }

    pub(crate) fn to_pb(self) -> rpb::GenomeBuild {
        match self {
            Self::Hg19 => rpb::GenomeBuild::Hg19,
            Self::Hg38 => rpb::GenomeBuild::Hg38,
        }
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the remote is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Imputation,
    QcOnly,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Imputation => "imputation",
            Self::QcOnly => "qc_only",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        match raw {
            "imputation" => Some(Self::Imputation),
            "qc_only" => Some(Self::QcOnly),
            _ => None,
        }
    }

    pub(crate) fn from_pb(mode: pb::JobMode) -> Self {
        match mode {
            pb::JobMode::QcOnly => Self::QcOnly,
            pb::JobMode::Unspecified | pb::JobMode::Imputation => Self::Imputation,
        }
    }

    pub(crate) fn to_pb(self) -> pb::JobMode {
        match self {
            Self::Imputation => pb::JobMode::Imputation,
            Self::QcOnly => pb::JobMode::QcOnly,
        }
    }
}

macro_rules! uuid_id {
    ($name:ident, $what:literal) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub(crate) struct $name(Uuid);

        impl $name {
            pub(crate) fn new() -> Self {
                Self(Uuid::new_v4())
            }

            pub(crate) fn parse(raw: &str) -> Result<Self, String> {
                Uuid::parse_str(raw.trim())
                    .map(Self)
                    .map_err(|_| format!("'{raw}' is not a {} id (a UUID)", $what))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(JobId, "job");
uuid_id!(FileId, "file");

/// A whole number from a setting: `api_config` travels as a
/// `google.protobuf.Struct`, whose numbers are all doubles (`2.0`).
pub(crate) fn whole_number(value: &serde_json::Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_numbers_may_be_doubles() {
        assert_eq!(whole_number(&serde_json::json!(3)), Some(3));
        assert_eq!(whole_number(&serde_json::json!(3.0)), Some(3));
        assert_eq!(whole_number(&serde_json::json!(3.5)), None);
        assert_eq!(whole_number(&serde_json::json!("3")), None);
    }
}
