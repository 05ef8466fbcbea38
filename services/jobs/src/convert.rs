//! Records to protos (the only place they meet).

use fedimpute_common::{
    crypto::Keyring,
    wire::{json_to_struct, timestamp},
};
use fedimpute_proto::jobs as pb;

use crate::{
    domain::{
        Aggregate,
        vcf::{Compression, Phasing, VcfFacts},
    },
    store::{FileRecord, JobRecord, LogRecord, ResultRecord, ResultState, StatusUpdateRecord},
};

/// The seal context of a job's results password.
pub(crate) fn password_context(job_id: &str) -> Vec<u8> {
    format!("fedimpute results password {job_id}").into_bytes()
}

fn json_struct(value: &serde_json::Value) -> Option<prost_types::Struct> {
    value
        .as_object()
        .filter(|map| !map.is_empty())
        .map(|map| json_to_struct(map.clone()))
}

fn vcf(f: &VcfFacts) -> pb::VcfSummary {
    pb::VcfSummary {
        file_format: f.file_format.clone(),
        samples_count: i64::try_from(f.samples).unwrap_or(i64::MAX),
        records_count: i64::try_from(f.records).unwrap_or(i64::MAX),
        chromosomes: f.chromosomes.clone(),
        sorted: f.sorted,
        phasing: match f.phasing {
            Phasing::Phased => pb::Phasing::Phased,
            Phasing::Unphased => pb::Phasing::Unphased,
            Phasing::Mixed => pb::Phasing::Mixed,
        } as i32,
        detected_build: f.build().map_or(0, |b| b.to_pb() as i32),
        build_evidence: f.build_evidence.clone(),
        build_certain: f.build_certain,
    }
}

pub(crate) fn file(f: &FileRecord, job_count: i64) -> pb::InputFile {
    pb::InputFile {
        id: f.id.clone(),
        user_id: f.user_id,
        filename: f.filename.clone(),
        original_filename: f.original_filename.clone(),
        size_bytes: f.size_bytes,
        sha256: f.sha256.clone(),
        compression: match f.facts.compression {
            Compression::Bgzf => pb::Compression::Bgzf,
            Compression::Gzip => pb::Compression::Gzip,
        } as i32,
        vcf: Some(vcf(&f.facts)),
        created_at: Some(timestamp(f.created_at)),
        job_count: i32::try_from(job_count).unwrap_or(i32::MAX),
        warnings: f.warnings.clone(),
    }
}

/// A job as `viewer` sees it: its owner also sees the results password.
pub(crate) fn job(
    j: &JobRecord,
    viewer: i64,
    keyring: &Keyring,
    children: Option<&[JobRecord]>,
) -> pb::Job {
    let password = if viewer == j.user_id && !j.results_password.is_empty() {
        keyring
            .open(&j.results_password, &password_context(&j.id))
            .ok()
            .and_then(|p| String::from_utf8(p).ok())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let execution = match (j.started_at, j.completed_at) {
        (Some(start), Some(end)) => Some((end - start).num_seconds().max(0)),
        _ => None,
    };
    let (aggregate, child_ids) = match children {
        Some(children) => (
            Some(Aggregate::of(children.iter().map(|c| c.status)).to_pb()),
            children.iter().map(|c| c.id.clone()).collect(),
        ),
        None => (None, Vec::new()),
    };
    pb::Job {
        id: j.id.clone(),
        user_id: j.user_id,
        name: j.name.clone(),
        description: j.description.clone(),
        service_id: j.service_id,
        reference_panel_id: j.panel_id,
        parent_job_id: j.parent_id.clone().unwrap_or_default(),
        status: j.status.to_pb() as i32,
        progress_percentage: j.progress,
        input_format: j.input_format.clone(),
        build: j.build.to_pb() as i32,
        phasing: j.phasing,
        population: j.population.clone(),
        mode: j.mode.to_pb() as i32,
        r2_filter: j.r2_filter,
        input_file_id: j.input_file_id.clone().unwrap_or_default(),
        input_file_name: j.input_file_name.clone(),
        input_file_size: j.input_file_size,
        external_job_id: j.external_id.clone().unwrap_or_default(),
        remote_state: j.remote_state.clone(),
        service_response: json_struct(&j.remote_payload),
        error_message: j.error_message.clone(),
        created_at: Some(timestamp(j.created_at)),
        updated_at: Some(timestamp(j.updated_at)),
        submitted_at: j.submitted_at.map(timestamp),
        started_at: j.started_at.map(timestamp),
        completed_at: j.completed_at.map(timestamp),
        execution_time_seconds: execution,
        attempt: j.attempt,
        needs_credentials: j.needs_credentials,
        cancel_requested: j.cancel_requested,
        service_name: j.service_name.clone(),
        reference_panel_name: j.panel_name.clone(),
        reference_panel_external_id: j.panel_external_id.clone(),
        aggregate,
        child_job_ids: child_ids,
        warnings: j.warnings.clone(),
        results_password: password,
        results_expire_at: j.results_expire_at.map(timestamp),
        version: j.version,
        previous_attempts: Vec::new(),
    }
}

pub(crate) fn status_update(u: &StatusUpdateRecord) -> pb::StatusUpdate {
    let details: serde_json::Value = serde_json::from_str(&u.details).unwrap_or_default();
    pb::StatusUpdate {
        id: u.id,
        job_id: u.job_id.clone(),
        status: u.status.to_pb() as i32,
        progress_percentage: u.progress,
        message: u.message.clone(),
        details: json_struct(&details),
        timestamp: Some(timestamp(u.created_at)),
        attempt: u.attempt,
    }
}

pub(crate) fn log(l: &LogRecord) -> pb::JobLog {
    pb::JobLog {
        id: l.id,
        job_id: l.job_id.clone(),
        step_name: l.step_name.clone(),
        step_index: l.step_index,
        log_type: match l.log_type.as_str() {
            "error" => pb::LogType::Error,
            "warning" => pb::LogType::Warning,
            "progress" => pb::LogType::Progress,
            "success" => pb::LogType::Success,
            _ => pb::LogType::Info,
        } as i32,
        message: l.message.clone(),
        timestamp: Some(timestamp(l.logged_at)),
        attempt: l.attempt,
    }
}

pub(crate) fn result(r: &ResultRecord) -> pb::ResultFile {
    let state = match r.state {
        ResultState::Pending => pb::ResultState::Pending,
        ResultState::Available => pb::ResultState::Available,
        ResultState::Remote => pb::ResultState::Remote,
        ResultState::Expired => pb::ResultState::Expired,
        ResultState::Failed => pb::ResultState::Failed,
    };
    // HTTP locations may be secret (a download hash, a pre-signed URL):
    // only references that are not links are shown.
    let shown = if r.downloadable {
        String::new()
    } else {
        r.remote_location.clone()
    };
    let downloadable = matches!(r.state, ResultState::Available | ResultState::Pending)
        && (r.storage_key.is_some() || r.downloadable);
    pb::ResultFile {
        id: r.id.clone(),
        job_id: r.job_id.clone(),
        attempt: r.attempt,
        name: r.name.clone(),
        description: r.description.clone(),
        size_bytes: r.size_bytes,
        sha256: r.sha256.clone(),
        // A Cloudgene download hash is the file's download secret.
        remote_hash: if r.downloadable {
            String::new()
        } else {
            r.remote_hash.clone()
        },
        state: state as i32,
        remote_url: shown,
        remote_expires_at: r.remote_expires_at.map(timestamp),
        error: r.error.clone(),
        created_at: Some(timestamp(r.created_at)),
        download_path: if downloadable {
            format!("/api/jobs/{}/results/{}/download", r.job_id, r.id)
        } else {
            String::new()
        },
        content_type: r.content_type.clone(),
    }
}
