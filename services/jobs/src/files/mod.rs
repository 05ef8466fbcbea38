//! Input and result files: the store, the streaming upload with its VCF
//! check, and signed links.

pub(crate) mod genome;
pub(crate) mod signed;
pub(crate) mod storage;
pub(crate) mod upload;
pub(crate) mod vcf;
