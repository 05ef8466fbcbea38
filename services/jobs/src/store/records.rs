//! What the store reads and writes, in domain types.

use crate::domain::{ApiType, Build, JobStatus, Mode, Phase, notice::Notice, vcf::VcfFacts};

use super::Time;

/// An uploaded input file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FileRecord {
    pub(crate) id: String,
    pub(crate) user_id: i64,
    pub(crate) filename: String,
    pub(crate) original_filename: String,
    pub(crate) storage_key: String,
    pub(crate) size_bytes: i64,
    pub(crate) sha256: String,
    pub(crate) facts: VcfFacts,
    pub(crate) warnings: Vec<String>,
    pub(crate) created_at: Time,
}

/// The scheduler's state of a job.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Work {
    pub(crate) phase: Phase,
    pub(crate) next_run_at: Time,
    pub(crate) lease_owner: Option<String>,
    pub(crate) lease_until: Option<Time>,
    pub(crate) error_count: i32,
    pub(crate) last_error: String,
    pub(crate) submit_started_at: Option<Time>,
    pub(crate) not_found_count: i32,
    pub(crate) restart_count: i32,
    pub(crate) cancel_attempts: i32,
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct JobRecord {
    pub(crate) id: String,
    pub(crate) user_id: i64,
    pub(crate) parent_id: Option<String>,
    pub(crate) is_parent: bool,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) service_id: Option<i64>,
    pub(crate) service_name: String,
    pub(crate) api_type: Option<ApiType>,
    pub(crate) panel_id: Option<i64>,
    pub(crate) panel_name: String,
    pub(crate) panel_external_id: String,
    /// The service's `api_config` with the panel's on top, as when created.
    pub(crate) remote_config: serde_json::Value,
    pub(crate) input_file_id: Option<String>,
    pub(crate) input_file_name: String,
    pub(crate) input_file_size: i64,
    pub(crate) input_format: String,
    pub(crate) build: Build,
    pub(crate) phasing: bool,
    pub(crate) population: String,
    pub(crate) mode: Mode,
    pub(crate) r2_filter: Option<f64>,
    pub(crate) status: JobStatus,
    pub(crate) progress: i32,
    pub(crate) attempt: i32,
    pub(crate) external_id: Option<String>,
    pub(crate) remote_state: String,
    pub(crate) remote_payload: serde_json::Value,
    pub(crate) payload_digest: String,
    pub(crate) error_message: String,
    pub(crate) warnings: Vec<String>,
    pub(crate) needs_credentials: bool,
    pub(crate) refused_credential: String,
    pub(crate) cancel_requested: bool,
    /// Sealed; empty when the remote needs none.
    pub(crate) results_password: String,
    pub(crate) results_expire_at: Option<Time>,
    pub(crate) quota_reservation: Option<String>,
    /// The `traceparent` of the request that created the job (or empty).
    pub(crate) trace_context: String,
    pub(crate) created_at: Time,
    pub(crate) updated_at: Time,
    pub(crate) submitted_at: Option<Time>,
    pub(crate) started_at: Option<Time>,
    pub(crate) completed_at: Option<Time>,
    pub(crate) version: i64,
    pub(crate) work: Work,
}

/// A job to insert (with its first status update).
#[derive(Clone, Debug)]
pub(crate) struct NewJob {
    pub(crate) id: String,
    pub(crate) user_id: i64,
    pub(crate) parent_id: Option<String>,
    pub(crate) is_parent: bool,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) service_id: Option<i64>,
    pub(crate) service_name: String,
    pub(crate) api_type: Option<ApiType>,
    pub(crate) panel_id: Option<i64>,
    pub(crate) panel_name: String,
    pub(crate) panel_external_id: String,
    pub(crate) remote_config: serde_json::Value,
    pub(crate) input_file_id: String,
    pub(crate) input_file_name: String,
    pub(crate) input_file_size: i64,
    pub(crate) build: Build,
    pub(crate) phasing: bool,
    pub(crate) population: String,
    pub(crate) mode: Mode,
    pub(crate) r2_filter: Option<f64>,
    pub(crate) warnings: Vec<String>,
    pub(crate) results_password: String,
    pub(crate) quota_reservation: Option<String>,
    pub(crate) trace_context: String,
    /// The status update that records the creation.
    pub(crate) message: String,
}

/// Which jobs to list.
#[derive(Clone, Debug, Default)]
pub(crate) struct JobFilter {
    /// `None`: every user's (admins).
    pub(crate) user_id: Option<i64>,
    pub(crate) status: Option<JobStatus>,
    pub(crate) service_id: Option<i64>,
    /// Lower-cased.
    pub(crate) search: Option<String>,
    pub(crate) parent_id: Option<String>,
    /// Continue after this job (newest first): `(created_at, id)`.
    pub(crate) after: Option<(Time, String)>,
    pub(crate) skip: u64,
    pub(crate) limit: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StatusUpdateRecord {
    pub(crate) id: i64,
    pub(crate) job_id: String,
    pub(crate) attempt: i32,
    pub(crate) status: JobStatus,
    pub(crate) progress: i32,
    pub(crate) message: String,
    pub(crate) details: String,
    pub(crate) created_at: Time,
}

/// A remote step log line; `(step_index, entry_index)` identifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NewLog {
    pub(crate) step_index: i32,
    pub(crate) step_name: String,
    pub(crate) entry_index: i32,
    /// info, warning, error, progress, success.
    pub(crate) log_type: String,
    pub(crate) message: String,
    pub(crate) logged_at: Option<Time>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogRecord {
    pub(crate) id: i64,
    pub(crate) job_id: String,
    pub(crate) attempt: i32,
    pub(crate) step_index: i32,
    pub(crate) step_name: String,
    pub(crate) log_type: String,
    pub(crate) message: String,
    pub(crate) logged_at: Time,
}

/// Where a result file is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResultState {
    Pending,
    Available,
    Remote,
    Expired,
    Failed,
}

impl ResultState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Available => "available",
            Self::Remote => "remote",
            Self::Expired => "expired",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Available,
            Self::Remote,
            Self::Expired,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// A result file the remote listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NewResult {
    pub(crate) name: String,
    pub(crate) description: String,
    /// The remote's figure (approximate for Cloudgene).
    pub(crate) size_bytes: i64,
    pub(crate) remote_hash: String,
    pub(crate) remote_location: String,
    /// Fetchable over HTTP by the platform.
    pub(crate) downloadable: bool,
    pub(crate) remote_expires_at: Option<Time>,
    pub(crate) content_type: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResultRecord {
    pub(crate) id: String,
    pub(crate) job_id: String,
    pub(crate) attempt: i32,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) size_bytes: i64,
    pub(crate) sha256: String,
    pub(crate) remote_hash: String,
    pub(crate) remote_location: String,
    pub(crate) downloadable: bool,
    pub(crate) remote_expires_at: Option<Time>,
    pub(crate) state: ResultState,
    pub(crate) storage_key: Option<String>,
    pub(crate) content_type: String,
    pub(crate) error: String,
    pub(crate) download_attempts: i32,
    pub(crate) created_at: Time,
}

/// The outcome of copying one result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ResultCopy {
    Copied {
        storage_key: String,
        size_bytes: i64,
        sha256: String,
    },
    /// Failed this time; tried again later.
    Retry(String),
    Failed(ResultState, String),
}

/// A status transition: writes one status update.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Transition {
    pub(crate) status: JobStatus,
    pub(crate) message: String,
    pub(crate) details: serde_json::Value,
}

/// How the scheduler's error count changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Errors {
    /// The step worked.
    #[default]
    Reset,
    /// The step failed transiently.
    Increment,
    Keep,
}

/// What one scheduler step changes in a job; applied atomically, only while
/// the step's worker still holds the job's lease, which it releases.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Advance {
    pub(crate) phase: Phase,
    pub(crate) next_run_at: Time,
    pub(crate) transition: Option<Transition>,
    pub(crate) progress: Option<i32>,
    pub(crate) remote_state: Option<String>,
    /// The remote's reply and its digest (stored only when the digest changed).
    pub(crate) payload: Option<(serde_json::Value, String)>,
    pub(crate) external_id: Option<String>,
    pub(crate) error_message: Option<String>,
    pub(crate) last_error: String,
    pub(crate) errors: Errors,
    /// `Some((refused, fingerprint))`.
    pub(crate) needs_credentials: Option<(bool, String)>,
    /// `Some(Some(t))` marks a submission in flight since `t`; `Some(None)` clears it.
    pub(crate) submit_started_at: Option<Option<Time>>,
    pub(crate) not_found_count: Option<i32>,
    pub(crate) restart_count: Option<i32>,
    pub(crate) cancel_attempts: Option<i32>,
    pub(crate) results_expire_at: Option<Time>,
    /// The job reached the remote: its quota reservation is spent.
    pub(crate) consume_quota: bool,
    pub(crate) logs: Vec<NewLog>,
    pub(crate) results: Vec<NewResult>,
    /// Mails to queue (a standalone job's outcome, a credential problem).
    pub(crate) notices: Vec<Notice>,
}

impl Advance {
    /// Nothing changes but the next run.
    pub(crate) fn wait(phase: Phase, next_run_at: Time) -> Self {
        Self {
            phase,
            next_run_at,
            transition: None,
            progress: None,
            remote_state: None,
            payload: None,
            external_id: None,
            error_message: None,
            last_error: String::new(),
            errors: Errors::Keep,
            needs_credentials: None,
            submit_started_at: None,
            not_found_count: None,
            restart_count: None,
            cancel_attempts: None,
            results_expire_at: None,
            consume_quota: false,
            logs: Vec::new(),
            results: Vec::new(),
            notices: Vec::new(),
        }
    }
}

/// What applying an [`Advance`] (or a cancel) did.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Applied {
    pub(crate) job: JobRecord,
    /// Quota reservations to give back (jobs that ended before reaching the remote).
    pub(crate) release_quota: Vec<String>,
    /// The parent whose state was recomputed, if any.
    pub(crate) parent_id: Option<String>,
}

/// How a cancel request was taken.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cancelled {
    /// The job had ended already: nothing changed.
    AlreadyEnded(JobRecord),
    /// Cancelled at once (it had not reached the remote).
    Now(Applied),
    /// The remote job is being cancelled by the scheduler.
    Requested(JobRecord),
}

/// Counts of jobs by status, overall and per service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) by_status: Vec<(JobStatus, i64)>,
    /// `(service_id, service_name, status, count)`.
    pub(crate) by_service: Vec<(i64, String, JobStatus, i64)>,
}

/// A notification claimed for sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NotificationRecord {
    pub(crate) id: i64,
    pub(crate) job_id: String,
    pub(crate) user_id: i64,
    pub(crate) dedupe_key: String,
    pub(crate) subject: String,
    pub(crate) body: String,
    pub(crate) attempts: i32,
}

/// What a retry starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RetrySpec {
    pub(crate) reservation: Option<String>,
    /// Sealed password for the new attempt's results (empty when not needed).
    pub(crate) results_password: String,
}

/// The record of an earlier attempt, kept by a retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AttemptRecord {
    pub(crate) attempt: i32,
    pub(crate) status: JobStatus,
    pub(crate) external_id: Option<String>,
    pub(crate) error_message: String,
    pub(crate) completed_at: Option<Time>,
}
