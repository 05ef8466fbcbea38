//! What the VCF check found about an input file (stored with the file).

use serde::{Deserialize, Serialize};

use super::Build;

/// Whether the genotypes are phased.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Phasing {
    Phased,
    Unphased,
    Mixed,
}

/// gzip or BGZF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Compression {
    Bgzf,
    Gzip,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct VcfFacts {
    pub(crate) compression: Compression,
    pub(crate) file_format: String,
    pub(crate) samples: u64,
    pub(crate) records: u64,
    /// In file order.
    pub(crate) chromosomes: Vec<String>,
    pub(crate) sorted: bool,
    pub(crate) phasing: Phasing,
    /// `hg19` or `hg38`, when the file tells.
    pub(crate) build: Option<String>,
    pub(crate) build_evidence: String,
    pub(crate) build_certain: bool,
}

impl VcfFacts {
    pub(crate) fn build(&self) -> Option<Build> {
        self.build.as_deref().and_then(Build::parse)
    }
}
