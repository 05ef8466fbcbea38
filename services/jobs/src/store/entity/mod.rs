//! sea-orm entities of the jobs database (plain rows; relations are by id).

pub(crate) mod input_files;
pub(crate) mod job_attempts;
pub(crate) mod job_logs;
pub(crate) mod job_notifications;
pub(crate) mod job_status_updates;
pub(crate) mod jobs;
pub(crate) mod result_files;
