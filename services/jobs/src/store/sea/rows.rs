//! Rows to records and back.

use crate::domain::{ApiType, Build, JobStatus, Mode, Phase, vcf::VcfFacts};
use crate::store::{
    FileRecord, JobRecord, LogRecord, ResultRecord, ResultState, StatusUpdateRecord, StoreError,
    StoreResult, Work,
    entity::{input_files, job_logs, job_status_updates, jobs, result_files},
};

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} '{value}'"))
}

pub(super) fn status(raw: &str) -> StoreResult<JobStatus> {
    JobStatus::parse(raw).ok_or_else(|| corrupt("status", raw))
}

pub(super) fn json(raw: &str) -> serde_json::Value {
    serde_json::from_str(raw).unwrap_or(serde_json::Value::Null)
}

pub(super) fn strings(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

pub(super) fn file(m: input_files::Model) -> StoreResult<FileRecord> {
    let facts: VcfFacts = serde_json::from_str(&m.vcf_summary)
        .map_err(|e| StoreError::Corrupt(format!("vcf summary of file {}: {e}", m.id)))?;
    Ok(FileRecord {
        id: m.id,
        user_id: m.user_id,
        filename: m.filename,
        original_filename: m.original_filename,
        storage_key: m.storage_key,
        size_bytes: m.size_bytes,
        sha256: m.sha256,
        facts,
        warnings: strings(&m.warnings),
        created_at: m.created_at,
    })
}

pub(super) fn job(m: jobs::Model) -> StoreResult<JobRecord> {
    let api_type = if m.api_type.is_empty() {
        None
    } else {
        Some(ApiType::parse(&m.api_type).ok_or_else(|| corrupt("api type", &m.api_type))?)
    };
    Ok(JobRecord {
        status: status(&m.status)?,
        api_type,
        build: Build::parse(&m.build).ok_or_else(|| corrupt("build", &m.build))?,
        mode: Mode::parse(&m.mode).ok_or_else(|| corrupt("mode", &m.mode))?,
        remote_config: json(&m.remote_config),
        remote_payload: json(&m.remote_payload),
        warnings: strings(&m.warnings),
        work: Work {
            phase: Phase::parse(&m.phase).ok_or_else(|| corrupt("phase", &m.phase))?,
            next_run_at: m.next_run_at,
            lease_owner: m.lease_owner,
            lease_until: m.lease_until,
            error_count: m.error_count,
            last_error: m.last_error,
            submit_started_at: m.submit_started_at,
            not_found_count: m.not_found_count,
            restart_count: m.restart_count,
            cancel_attempts: m.cancel_attempts,
        },
        id: m.id,
        user_id: m.user_id,
        parent_id: m.parent_id,
        is_parent: m.is_parent,
        name: m.name,
        description: m.description,
        service_id: m.service_id,
        service_name: m.service_name,
        panel_id: m.panel_id,
        panel_name: m.panel_name,
        panel_external_id: m.panel_external_id,
        input_file_id: m.input_file_id,
        input_file_name: m.input_file_name,
        input_file_size: m.input_file_size,
        input_format: m.input_format,
        phasing: m.phasing,
        population: m.population,
        r2_filter: m.r2_filter,
        progress: m.progress,
        attempt: m.attempt,
        external_id: m.external_id,
        remote_state: m.remote_state,
        payload_digest: m.payload_digest,
        error_message: m.error_message,
        needs_credentials: m.needs_credentials,
        refused_credential: m.refused_credential,
        cancel_requested: m.cancel_requested,
        results_password: m.results_password,
        results_expire_at: m.results_expire_at,
        quota_reservation: m.quota_reservation,
        trace_context: m.trace_context,
        created_at: m.created_at,
        updated_at: m.updated_at,
        submitted_at: m.submitted_at,
        started_at: m.started_at,
        completed_at: m.completed_at,
        version: m.version,
    })
}

pub(super) fn jobs(rows: Vec<jobs::Model>) -> StoreResult<Vec<JobRecord>> {
    rows.into_iter().map(job).collect()
}

pub(super) fn status_update(m: job_status_updates::Model) -> StoreResult<StatusUpdateRecord> {
    Ok(StatusUpdateRecord {
        status: status(&m.status)?,
        id: m.id,
        job_id: m.job_id,
        attempt: m.attempt,
        progress: m.progress,
        message: m.message,
        details: m.details,
        created_at: m.created_at,
    })
}

pub(super) fn log(m: job_logs::Model) -> LogRecord {
    LogRecord {
        id: m.id,
        job_id: m.job_id,
        attempt: m.attempt,
        step_index: m.step_index,
        step_name: m.step_name,
        log_type: m.log_type,
        message: m.message,
        logged_at: m.logged_at,
    }
}

pub(super) fn result(m: result_files::Model) -> StoreResult<ResultRecord> {
    Ok(ResultRecord {
        state: ResultState::parse(&m.state).ok_or_else(|| corrupt("result state", &m.state))?,
        id: m.id,
        job_id: m.job_id,
        attempt: m.attempt,
        name: m.name,
        description: m.description,
        size_bytes: m.size_bytes,
        sha256: m.sha256,
        remote_hash: m.remote_hash,
        remote_location: m.remote_location,
        downloadable: m.downloadable,
        remote_expires_at: m.remote_expires_at,
        storage_key: m.storage_key,
        content_type: m.content_type,
        error: m.error,
        download_attempts: m.download_attempts,
        created_at: m.created_at,
    })
}
