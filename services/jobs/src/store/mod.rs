//! The jobs database: the [`JobsStore`] trait the service is written
//! against, and its sea-orm implementation (SQLite and PostgreSQL).
//!
//! Everything that must be atomic is one transaction inside the store. A
//! transaction that checks and then writes starts with a write, so SQLite
//! takes its write lock first, and PostgreSQL locks the rows it will change
//! (`FOR UPDATE`); work is claimed with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so replicas never take the same job.

mod entity;
mod records;
mod sea;

use chrono::{DateTime, Utc};

pub(crate) use records::*;
pub(crate) use sea::SeaOrmStore;

pub(crate) type Time = DateTime<Utc>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The row is referenced (a file some job still uses).
    #[error("still in use")]
    InUse,
    /// A stored value does not parse: the database was edited by hand.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

pub(crate) type StoreResult<T> = Result<T, StoreError>;

/// The jobs database.
#[tonic::async_trait]
pub(crate) trait JobsStore: Send + Sync + std::fmt::Debug {
    // Input files.
    async fn insert_file(&self, file: FileRecord) -> StoreResult<()>;
    async fn file(&self, id: &str) -> StoreResult<Option<FileRecord>>;
    /// Newest first.
    async fn files(&self, user_id: i64, skip: u64, limit: u64) -> StoreResult<Vec<FileRecord>>;
    /// How many jobs use each file.
    async fn file_job_counts(&self, ids: &[String]) -> StoreResult<Vec<(String, i64)>>;
    /// `InUse` while a job uses it.
    async fn delete_file(&self, id: &str) -> StoreResult<bool>;

    // Jobs.
    /// Inserts the jobs (a parent first, then its children) with their first
    /// status updates, in one transaction.
    async fn create_jobs(&self, jobs: Vec<NewJob>) -> StoreResult<Vec<JobRecord>>;
    async fn job(&self, id: &str) -> StoreResult<Option<JobRecord>>;
    async fn children(&self, parent_id: &str) -> StoreResult<Vec<JobRecord>>;
    async fn jobs(&self, filter: &JobFilter) -> StoreResult<Vec<JobRecord>>;
    async fn counts(&self, user_id: Option<i64>) -> StoreResult<Counts>;
    /// Cancels the job: at once when it has not reached the remote,
    /// otherwise hands the remote cancel to the scheduler.
    async fn cancel(&self, id: &str) -> StoreResult<Cancelled>;
    /// Starts a new attempt of a failed or cancelled job (keeping the old
    /// one's record); `None` when it is not failed or cancelled.
    async fn retry(&self, id: &str, spec: RetrySpec) -> StoreResult<Option<Applied>>;
    /// Deletes the jobs (children before parents) and returns the storage
    /// keys of their copied results.
    async fn delete_jobs(&self, ids: &[String]) -> StoreResult<Vec<String>>;
    async fn status_updates(&self, job_id: &str) -> StoreResult<Vec<StatusUpdateRecord>>;
    async fn attempts(&self, job_id: &str) -> StoreResult<Vec<AttemptRecord>>;
    async fn logs(&self, job_id: &str, attempt: i32) -> StoreResult<Vec<LogRecord>>;
    async fn results(&self, job_id: &str) -> StoreResult<Vec<ResultRecord>>;
    async fn result(&self, id: &str) -> StoreResult<Option<ResultRecord>>;

    // The scheduler.
    /// Leases up to `limit` jobs whose work is due to `owner` until `until`.
    async fn claim(
        &self,
        owner: &str,
        now: Time,
        until: Time,
        limit: u64,
    ) -> StoreResult<Vec<JobRecord>>;
    /// Extends a lease still held; false when it was lost.
    async fn renew(&self, id: &str, owner: &str, until: Time) -> StoreResult<bool>;
    /// Applies a step's outcome and releases the lease; `None` when the
    /// lease was lost (another worker owns the job now: nothing changed).
    async fn advance(
        &self,
        id: &str,
        owner: &str,
        advance: Advance,
    ) -> StoreResult<Option<Applied>>;
    /// Marks a submission in flight (phase `submitting` since `at`), keeping
    /// the lease; false when the lease was lost.
    async fn mark_submitting(&self, id: &str, owner: &str, at: Time) -> StoreResult<bool>;
    /// Jobs of `user_id` holding a slot on `service_id` (counted against
    /// the remote's running-jobs limit), `except` not counted.
    async fn on_remote(&self, user_id: i64, service_id: i64, except: &str) -> StoreResult<i64>;
    /// Jobs of `user_id` for `service_id` still waiting to be sent that
    /// were created before (`created_at`, `id`): they go first.
    async fn waiting_before(
        &self,
        user_id: i64,
        service_id: i64,
        created_at: Time,
        id: &str,
    ) -> StoreResult<i64>;
    /// When the next work is due, if any.
    async fn next_due(&self) -> StoreResult<Option<Time>>;
    /// How much work is due at `now` and not claimed.
    async fn queue_depth(&self, now: Time) -> StoreResult<i64>;
    /// Results of the current attempt still to copy.
    async fn pending_results(&self, job_id: &str, attempt: i32) -> StoreResult<Vec<ResultRecord>>;
    async fn record_copy(&self, result_id: &str, copy: ResultCopy) -> StoreResult<()>;

    // Notifications.
    /// Claims due notifications, each for `lease` (so replicas never send
    /// the same one).
    async fn due_notifications(
        &self,
        limit: u64,
        lease: chrono::Duration,
    ) -> StoreResult<Vec<NotificationRecord>>;
    async fn notification_sent(&self, id: i64) -> StoreResult<()>;
    async fn notification_failed(&self, id: i64, error: &str, retry_at: Time) -> StoreResult<()>;
}
