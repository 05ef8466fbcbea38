//! The Django monolith's jobs: `imputation_imputationjob` (with its
//! plaintext `user_token`, kept for the target to turn into a credential,
//! its uploaded input file, and its `result_files` JSON),
//! `imputation_jobstatusupdate` and `imputation_resultfile`.

use serde_json::Value;

use super::{Ctx, Row, job_status};
use crate::{
    model::{FileRecord, Job, Legacy, ResultFile, StatusUpdate},
    report::{Conflict, Skip},
};

pub(super) fn read(ctx: &mut Ctx<'_>, legacy: &mut Legacy) {
    let source = ctx.source.to_owned();
    ctx.each(
        "imputation_imputationjob",
        "jobs",
        &mut legacy.jobs,
        |row| job(&source, row),
    );
    // Derived records: each job's input file and its result_files JSON.
    let by_key: std::collections::HashMap<String, Job> = legacy
        .jobs
        .iter()
        .map(|j| (j.origin.key.clone(), j.clone()))
        .collect();
    for row in ctx.rows("imputation_imputationjob") {
        let Some(job) = by_key.get(&row.id_text()) else {
            continue; // the job itself was skipped, with its reason
        };
        if let Some(path) = row.nonempty("input_file") {
            ctx.report.entity("files").found += 1;
            legacy.files.push(FileRecord {
                origin: row.origin(&source, row.id_text()),
                user_id: job.user_id,
                job_id: Some(job.id),
                filename: basename(&path),
                original_filename: basename(&path),
                path,
                size_bytes: job.input_file_size,
                file_type: "input".into(),
                sha256: String::new(),
                created_at: job.created_at,
            });
        }
        let list = match row.json("result_files") {
            Ok(Value::Array(items)) => items,
            Ok(Value::Null) => Vec::new(),
            Ok(Value::Object(map)) if map.is_empty() => Vec::new(),
            Ok(other) => vec![other],
            Err(_) => Vec::new(),
        };
        for (i, item) in list.into_iter().enumerate() {
            ctx.report.entity("result_files").found += 1;
            let origin = crate::model::Origin {
                source: source.clone(),
                table: "imputation_imputationjob.result_files".into(),
                key: format!("{}[{i}]", job.id),
            };
            match result_from_json(&item) {
                Some((name, location, size)) => legacy.result_files.push(ResultFile {
                    origin,
                    job_id: job.id,
                    name,
                    file_type: "output".into(),
                    location,
                    size_bytes: size,
                    is_available: true,
                    created_at: job.completed_at,
                    ..ResultFile::default()
                }),
                None => ctx.report.entity("result_files").skipped.push(Skip::new(
                    &origin,
                    format!("no file name or location in {item}"),
                )),
            }
        }
    }
    let source2 = source.clone();
    ctx.each(
        "imputation_jobstatusupdate",
        "status_updates",
        &mut legacy.status_updates,
        |row| {
            Ok(StatusUpdate {
                origin: row.origin(&source2, row.id_text()),
                job_id: job_id(row, "job_id")?,
                status: job_status(&row.text("status"), true)?,
                progress: progress(row)?,
                message: row.text("message"),
                external_data: row.json("external_data")?,
                at: row.time("timestamp")?,
            })
        },
    );
    let mut conflicts = Vec::new();
    ctx.each(
        "imputation_resultfile",
        "result_files",
        &mut legacy.result_files,
        |row| {
            let url = row.nonempty("download_url");
            let path = row.nonempty("file_path");
            if let (Some(u), Some(p)) = (&url, &path)
                && u != p
            {
                conflicts.push(Conflict {
                    entity: "result_files".into(),
                    key: row.id_text(),
                    field: "location".into(),
                    values: vec![u.clone(), p.clone()],
                    kept: u.clone(),
                });
            }
            Ok(ResultFile {
                origin: row.origin(&source, row.id_text()),
                job_id: job_id(row, "job_id")?,
                name: row.text("filename"),
                file_type: row.text("file_type"),
                location: url
                    .or(path)
                    .ok_or("neither download_url nor file_path is set")?,
                size_bytes: row.i64("file_size")?,
                checksum: row.text("checksum"),
                is_available: row.flag("is_available", true)?,
                expires_at: row.time("expires_at")?,
                created_at: row.time("created_at")?,
            })
        },
    );
    for c in conflicts {
        ctx.conflict(c);
    }
}

/// A job row of either schema (the microservices' `imputation_jobs` has
/// the same columns, `input_file_name` instead of Django's `input_file`
/// path, and `parent_job_id`).
pub(super) fn job(source: &str, row: &Row<'_>) -> Result<Job, String> {
    let id = job_id(row, "id")?;
    let external_job_id = row.text("external_job_id");
    let input = row.text("input_file");
    Ok(Job {
        origin: row.origin(source, row.id_text()),
        id,
        user_id: row.required_i64("user_id")?,
        service_id: row.i64("service_id")?,
        panel_id: row.i64("reference_panel_id")?,
        parent_id: row.uuid("parent_job_id")?,
        name: row.text("name"),
        description: row.text("description"),
        input_format: row.text("input_format"),
        build: row.text("build"),
        phasing: row.flag("phasing", true)?,
        population: row.text("population"),
        status: job_status(&row.text("status"), !external_job_id.trim().is_empty())?,
        progress: progress(row)?,
        external_job_id,
        user_token: row.nonempty("user_token"),
        input_file_name: if input.is_empty() {
            row.text("input_file_name")
        } else {
            basename(&input)
        },
        input_file_size: row.i64("input_file_size")?,
        service_response: row.json("service_response")?,
        error_message: row.text("error_message"),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        started_at: row.time("started_at")?,
        completed_at: row.time("completed_at")?,
        execution_time_seconds: row.i64("execution_time_seconds")?,
    })
}

/// A job id: jobs have UUIDs in fedimpute.
pub(super) fn job_id(row: &Row<'_>, column: &str) -> Result<uuid::Uuid, String> {
    let raw = row.text(column);
    uuid::Uuid::parse_str(raw.trim())
        .map_err(|_| format!("{column} '{raw}' is not a UUID (fedimpute's job ids are UUIDs)"))
}

/// `progress_percentage`, clamped to 0..=100 (NULL is 0).
pub(super) fn progress(row: &Row<'_>) -> Result<i32, String> {
    Ok(row.i32("progress_percentage")?.unwrap_or(0).clamp(0, 100))
}

pub(super) fn basename(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_owned()
}

/// A `result_files` entry: a URL or path string, or an object with a
/// name and a location.
fn result_from_json(item: &Value) -> Option<(String, String, Option<i64>)> {
    fn text(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|s| !s.is_empty())
    }
    if let Some(s) = text(Some(item)) {
        return Some((basename(s), s.to_owned(), None));
    }
    let map = item.as_object()?;
    let location = ["download_url", "url", "path", "file_path", "href"]
        .iter()
        .find_map(|k| text(map.get(*k)))?;
    let name = ["name", "filename", "file_name"]
        .iter()
        .find_map(|k| text(map.get(*k)))
        .map_or_else(|| basename(location), str::to_owned);
    let size = ["size", "file_size", "size_bytes"]
        .iter()
        .find_map(|k| map.get(*k).and_then(Value::as_i64));
    Some((name, location.to_owned(), size))
}
