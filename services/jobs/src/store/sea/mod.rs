//! The sea-orm implementation of [`JobsStore`], the same code on SQLite and
//! PostgreSQL. The methods live by topic in the submodules; this impl only
//! dispatches.

mod cancel;
mod claims;
mod files;
mod jobs;
mod notifications;
mod parent;
mod results;
mod rows;
mod transitions;

use sea_orm::DatabaseConnection;

use super::{
    Advance, Applied, AttemptRecord, Cancelled, Counts, FileRecord, JobFilter, JobRecord,
    JobsStore, LogRecord, NewJob, NotificationRecord, ResultCopy, ResultRecord, RetrySpec,
    StatusUpdateRecord, StoreResult, Time,
};

/// The jobs store on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub(crate) struct SeaOrmStore {
    db: DatabaseConnection,
}

impl SeaOrmStore {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[tonic::async_trait]
impl JobsStore for SeaOrmStore {
    async fn insert_file(&self, file: FileRecord) -> StoreResult<()> {
        files::insert_file(&self.db, file).await
    }
    async fn file(&self, id: &str) -> StoreResult<Option<FileRecord>> {
        files::file(&self.db, id).await
    }
    async fn files(&self, user_id: i64, skip: u64, limit: u64) -> StoreResult<Vec<FileRecord>> {
        files::files(&self.db, user_id, skip, limit).await
    }
    async fn file_job_counts(&self, ids: &[String]) -> StoreResult<Vec<(String, i64)>> {
        files::file_job_counts(&self.db, ids).await
    }
    async fn delete_file(&self, id: &str) -> StoreResult<bool> {
        files::delete_file(&self.db, id).await
    }

    async fn create_jobs(&self, new: Vec<NewJob>) -> StoreResult<Vec<JobRecord>> {
        jobs::create_jobs(&self.db, new).await
    }
    async fn job(&self, id: &str) -> StoreResult<Option<JobRecord>> {
        jobs::job(&self.db, id).await
    }
    async fn children(&self, parent_id: &str) -> StoreResult<Vec<JobRecord>> {
        jobs::children(&self.db, parent_id).await
    }
    async fn jobs(&self, filter: &JobFilter) -> StoreResult<Vec<JobRecord>> {
        jobs::jobs(&self.db, filter).await
    }
    async fn counts(&self, user_id: Option<i64>) -> StoreResult<Counts> {
        jobs::counts(&self.db, user_id).await
    }
    async fn cancel(&self, id: &str) -> StoreResult<Cancelled> {
        cancel::cancel(&self.db, id).await
    }
    async fn retry(&self, id: &str, spec: RetrySpec) -> StoreResult<Option<Applied>> {
        cancel::retry(&self.db, id, spec).await
    }
    async fn delete_jobs(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        jobs::delete_jobs(&self.db, ids).await
    }
    async fn status_updates(&self, job_id: &str) -> StoreResult<Vec<StatusUpdateRecord>> {
        jobs::status_updates(&self.db, job_id).await
    }
    async fn attempts(&self, job_id: &str) -> StoreResult<Vec<AttemptRecord>> {
        jobs::attempts(&self.db, job_id).await
    }
    async fn logs(&self, job_id: &str, attempt: i32) -> StoreResult<Vec<LogRecord>> {
        jobs::logs(&self.db, job_id, attempt).await
    }
    async fn results(&self, job_id: &str) -> StoreResult<Vec<ResultRecord>> {
        jobs::results(&self.db, job_id).await
    }
    async fn result(&self, id: &str) -> StoreResult<Option<ResultRecord>> {
        jobs::result(&self.db, id).await
    }

    async fn claim(
        &self,
        owner: &str,
        now: Time,
        until: Time,
        limit: u64,
    ) -> StoreResult<Vec<JobRecord>> {
        claims::claim(&self.db, owner, now, until, limit).await
    }
    async fn renew(&self, id: &str, owner: &str, until: Time) -> StoreResult<bool> {
        claims::renew(&self.db, id, owner, until).await
    }
    async fn advance(
        &self,
        id: &str,
        owner: &str,
        advance: Advance,
    ) -> StoreResult<Option<Applied>> {
        transitions::advance(&self.db, id, owner, advance).await
    }
    async fn mark_submitting(&self, id: &str, owner: &str, at: Time) -> StoreResult<bool> {
        claims::mark_submitting(&self.db, id, owner, at).await
    }
    async fn on_remote(&self, user_id: i64, service_id: i64, except: &str) -> StoreResult<i64> {
        claims::on_remote(&self.db, user_id, service_id, except).await
    }
    async fn waiting_before(
        &self,
        user_id: i64,
        service_id: i64,
        created_at: Time,
        id: &str,
    ) -> StoreResult<i64> {
        claims::waiting_before(&self.db, user_id, service_id, created_at, id).await
    }
    async fn next_due(&self) -> StoreResult<Option<Time>> {
        claims::next_due(&self.db).await
    }
    async fn queue_depth(&self, now: Time) -> StoreResult<i64> {
        claims::queue_depth(&self.db, now).await
    }
    async fn pending_results(&self, job_id: &str, attempt: i32) -> StoreResult<Vec<ResultRecord>> {
        results::pending_results(&self.db, job_id, attempt).await
    }
    async fn record_copy(&self, result_id: &str, copy: ResultCopy) -> StoreResult<()> {
        results::record_copy(&self.db, result_id, copy).await
    }

    async fn due_notifications(
        &self,
        limit: u64,
        lease: chrono::Duration,
    ) -> StoreResult<Vec<NotificationRecord>> {
        notifications::due(&self.db, limit, lease).await
    }
    async fn notification_sent(&self, id: i64) -> StoreResult<()> {
        notifications::sent(&self.db, id).await
    }
    async fn notification_failed(&self, id: i64, error: &str, retry_at: Time) -> StoreResult<()> {
        notifications::failed(&self.db, id, error, retry_at).await
    }
}
