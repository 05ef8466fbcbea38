//! A job's history: status updates, step logs and result files, imported
//! with their job, merged with it, or skipped with it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Tally,
    db::Row,
    jobs::{Fate, Plan, status_row},
    jobs_map as map,
};
use crate::model;

/// The outcome for a record of job `id`: `Err` is the skip reason.
fn of_job(fate: &HashMap<Uuid, Fate>, id: Uuid) -> Result<Fate, String> {
    match fate.get(&id) {
        Some(Fate::Skipped) => Err(format!("its job {id} was not imported")),
        Some(f) => Ok(*f),
        None => Err(format!("its job {id} is not in the sources")),
    }
}

/// Status updates, step logs and result files of the imported jobs.
pub(super) fn history(
    legacy: &model::Legacy,
    fate: &HashMap<Uuid, Fate>,
    now: DateTime<Utc>,
    rows: &mut Plan,
    tally: &mut Tally,
) {
    let mut updates: Vec<&model::StatusUpdate> = legacy.status_updates.iter().collect();
    updates.sort_by_key(|u| u.at);
    for u in updates {
        match of_job(fate, u.job_id) {
            Err(reason) => tally.skipped("status_updates", &u.origin, reason),
            Ok(Fate::Merged) => tally.merged("status_updates"),
            Ok(_) => {
                let Some(status) = map::status(&u.status) else {
                    let reason = format!("status '{}' is not a job status", u.status);
                    tally.skipped("status_updates", &u.origin, reason);
                    continue;
                };
                tally.imported("status_updates");
                let details = if u.external_data.is_null() {
                    "{}".to_owned()
                } else {
                    u.external_data.to_string()
                };
                let row = status_row(
                    u.job_id,
                    status,
                    u.progress,
                    &u.message,
                    details,
                    u.at.unwrap_or(now),
                );
                rows.push(("job_status_updates", row));
            }
        }
    }
    let mut logs: Vec<&model::JobLog> = legacy.job_logs.iter().collect();
    logs.sort_by_key(|l| l.at);
    let mut steps: HashMap<(Uuid, String), (i32, i32)> = HashMap::new();
    let mut step_count: HashMap<Uuid, i32> = HashMap::new();
    for l in logs {
        match of_job(fate, l.job_id) {
            Err(reason) => tally.skipped("job_logs", &l.origin, reason),
            Ok(Fate::Merged) => tally.merged("job_logs"),
            Ok(_) => {
                tally.imported("job_logs");
                let next = step_count.entry(l.job_id).or_insert(0);
                let slot = steps.entry((l.job_id, l.step.clone())).or_insert_with(|| {
                    *next += 1;
                    (*next - 1, 0)
                });
                let row = Row::new()
                    .set("job_id", l.job_id.hyphenated().to_string())
                    .set("attempt", 1)
                    .set("step_index", slot.0)
                    .set("step_name", l.step.clone())
                    .set("entry_index", slot.1)
                    .set("log_type", l.log_type.clone())
                    .set("message", l.message.clone())
                    .set("logged_at", l.at.unwrap_or(now));
                slot.1 += 1;
                rows.push(("job_logs", row));
            }
        }
    }
    let mut names: HashMap<(Uuid, String), String> = HashMap::new();
    for r in &legacy.result_files {
        match of_job(fate, r.job_id) {
            Err(reason) => tally.skipped("result_files", &r.origin, reason),
            Ok(Fate::Merged) => tally.merged("result_files"),
            Ok(_) => {
                let mut name = r.name.trim().to_owned();
                if names.get(&(r.job_id, name.clone())) == Some(&r.location) {
                    tally.merged("result_files");
                    continue;
                }
                let mut n = 2;
                while names.contains_key(&(r.job_id, name.clone())) {
                    name = format!("{} ({n})", r.name.trim());
                    n += 1;
                }
                names.insert((r.job_id, name.clone()), r.location.clone());
                tally.imported("result_files");
                rows.push(("result_files", result_row(r, name, now)));
            }
        }
    }
}

fn result_row(r: &model::ResultFile, name: String, now: DateTime<Utc>) -> Row {
    let expired = !r.is_available || r.expires_at.is_some_and(|e| e <= now);
    let checksum = r.checksum.trim().to_lowercase();
    let sha256 = (checksum.len() == 64 && checksum.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| checksum.clone());
    let created = r.created_at.unwrap_or(now);
    Row::new()
        .set("id", Uuid::new_v4().hyphenated().to_string())
        .set("job_id", r.job_id.hyphenated().to_string())
        .set("attempt", 1)
        .set("name", name)
        .set("description", r.file_type.clone())
        .set("size_bytes", r.size_bytes.unwrap_or(0).max(0))
        .set(
            "remote_hash",
            if sha256.is_some() {
                String::new()
            } else {
                checksum
            },
        )
        .set("sha256", sha256.unwrap_or_default())
        .set("remote_location", r.location.clone())
        .set("downloadable", false)
        .set("remote_expires_at", r.expires_at)
        .set(
            "state",
            if expired { "expired" } else { "remote" }.to_owned(),
        )
        .set("storage_key", None::<String>)
        .set("content_type", String::new())
        .set("error", String::new())
        .set("download_attempts", 0)
        .set("created_at", created)
        .set("updated_at", created)
}
