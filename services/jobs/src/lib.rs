//! The Jobs service (`fedimpute.jobs.v1`): input files, imputation jobs on
//! the remote services, the scheduler that follows them, and their results.

mod adapters;
mod domain;
mod error;
mod files;
mod peers;
mod store;
