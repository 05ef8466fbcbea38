//! The jobs service's domain: types parsed from the protos (`TryFrom`), so
//! that nothing invalid reaches the core or the store.

pub(crate) mod filename;
pub(crate) mod notice;
pub(crate) mod request;
pub(crate) mod status;
pub(crate) mod values;
pub(crate) mod vcf;

pub(crate) use status::{Aggregate, JobStatus, Phase};
pub(crate) use values::{ApiType, Build, FileId, JobId, Mode};
