//! The Jobs service (`fedimpute.jobs.v1`): input files, streamed in and
//! checked as VCFs; imputation jobs on the remote services (Cloudgene,
//! GA4GH WES, DNAstack); the scheduler that follows them with leases in the
//! database; their status history, logs and results. See docs/jobs.md.

mod adapters;
pub mod config;
mod convert;
mod domain;
mod error;
mod files;
mod grpc;
mod jobs;
mod metrics;
mod peers;
mod scheduler;
pub mod startup;
mod store;
mod watch;

pub use config::{SchedulerSettings, Settings};
pub use startup::{Application, StartError};
