//! Legacy job states to the jobs service's, and a job's row as the jobs
//! service writes it (`services/jobs/src/store/sea/jobs.rs`).
//!
//! **Non-terminal legacy jobs.** A legacy job left `pending`, `queued` or
//! `running` is imported `failed`, with the error "imported from the legacy
//! platform in state X; its remote state is unknown", its remote id kept
//! and phase `done`. It is never handed to the scheduler: the legacy
//! platform did not tag its remote jobs with an id the scheduler can look
//! up, so a submission could not be told apart from a fresh one (a re-run
//! would be a second submission), and polling a job whose remote may have
//! forgotten it would only fail it later with a vaguer message. The user
//! sees the job, its history and its remote id, and can retry it
//! explicitly (the retry then fails cleanly, "the job's input file is
//! gone", until they submit their file again) — nothing runs twice behind
//! their back. Terminal jobs stay as they were. A federated parent takes
//! the state of its children by the jobs service's rule (all ended: all
//! completed → completed, all cancelled → cancelled, otherwise failed), so
//! a parent stuck in `queued` whose children failed becomes failed.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{KnownPanel, KnownService, db::Row};
use crate::model;

/// A legacy status word as the jobs service's, `None` when unknown.
pub(super) fn status(raw: &str) -> Option<&'static str> {
    Some(match raw.trim().to_lowercase().as_str() {
        "pending" | "created" => "pending",
        "queued" | "submitted" | "waiting" => "queued",
        "running" | "processing" | "in_progress" => "running",
        "completed" | "complete" | "success" | "succeeded" | "done" => "completed",
        "failed" | "error" | "failure" => "failed",
        "cancelled" | "canceled" => "cancelled",
        _ => return None,
    })
}

pub(super) fn is_terminal(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

pub(super) fn unknown_remote(state: &str) -> String {
    format!("imported from the legacy platform in state {state}; its remote state is unknown")
}

/// The state a job is imported in: (status, progress, error message,
/// whether the import changed it).
pub(super) fn leaf_state(j: &model::Job) -> (&'static str, i32, String, bool) {
    let progress = j.progress.clamp(0, 100);
    match status(&j.status) {
        Some(s) if is_terminal(s) => {
            let progress = if s == "completed" { 100 } else { progress };
            (s, progress, j.error_message.clone(), false)
        }
        _ => {
            let state = if j.status.trim().is_empty() {
                "(none)"
            } else {
                j.status.trim()
            };
            let mut message = unknown_remote(state);
            if !j.error_message.trim().is_empty() {
                message = format!("{message} (its last error: {})", j.error_message.trim());
            }
            ("failed", progress, message, true)
        }
    }
}

/// A parent's state from its children's (status, progress): the jobs
/// service's `Aggregate::parent_state` for children that have all ended.
pub(super) fn parent_state(children: &[(&str, i32)]) -> (&'static str, i32, String) {
    let count = |s: &str| children.iter().filter(|(c, _)| *c == s).count();
    let (total, completed, failed, cancelled) = (
        children.len(),
        count("completed"),
        count("failed"),
        count("cancelled"),
    );
    let summary =
        format!("{completed} of {total} completed, {failed} failed, {cancelled} cancelled");
    let status = if total > 0 && completed == total {
        "completed"
    } else if total > 0 && cancelled == total {
        "cancelled"
    } else {
        "failed"
    };
    let progress = if status == "completed" {
        100
    } else if total == 0 {
        0
    } else {
        let sum: i64 = children.iter().map(|(_, p)| i64::from(*p)).sum();
        i32::try_from(sum / total as i64).unwrap_or(0)
    };
    (status, progress, summary)
}

/// What a job row needs beyond the legacy job.
pub(super) struct JobFacts<'a> {
    pub(super) status: &'static str,
    pub(super) progress: i32,
    pub(super) error_message: String,
    pub(super) is_parent: bool,
    pub(super) build: &'static str,
    pub(super) service: Option<(i64, &'a KnownService)>,
    pub(super) panel: Option<(i64, &'a KnownPanel)>,
    pub(super) completed_at: Option<DateTime<Utc>>,
}

pub(super) fn job_row(j: &model::Job, f: JobFacts<'_>, now: DateTime<Utc>) -> Row {
    let created = j.created_at.unwrap_or(now);
    let external = Some(j.external_job_id.trim().to_owned()).filter(|e| !e.is_empty());
    let mut config = f
        .service
        .and_then(|(_, s)| s.api_config.as_object().cloned())
        .unwrap_or_default();
    if let Some((_, p)) = f.panel
        && let Some(extra) = p.api_config.as_object()
    {
        config.extend(extra.clone());
    }
    let remote_config = if f.is_parent {
        Value::Null
    } else {
        Value::Object(config)
    };
    let payload = if j.service_response.is_null() {
        "{}".to_owned()
    } else {
        j.service_response.to_string()
    };
    let format = match j.input_format.trim().to_lowercase() {
        f if f.is_empty() => "vcf".to_owned(),
        f => f,
    };
    Row::new()
        .set("id", j.id.hyphenated().to_string())
        .set("user_id", j.user_id)
        .set("parent_id", j.parent_id.map(|p| p.hyphenated().to_string()))
        .set("is_parent", f.is_parent)
        .set("name", j.name.clone())
        .set("description", j.description.clone())
        .set(
            "search_text",
            format!("{} {}", j.name.to_lowercase(), j.description.to_lowercase()),
        )
        .set("service_id", f.service.map(|(id, _)| id))
        .set(
            "service_name",
            f.service.map(|(_, s)| s.name.clone()).unwrap_or_default(),
        )
        .set(
            "api_type",
            f.service
                .map(|(_, s)| s.api_type.clone())
                .unwrap_or_default(),
        )
        .set("panel_id", f.panel.map(|(id, _)| id))
        .set(
            "panel_name",
            f.panel.map(|(_, p)| p.name.clone()).unwrap_or_default(),
        )
        .set(
            "panel_external_id",
            f.panel
                .map(|(_, p)| p.external_id.clone())
                .unwrap_or_default(),
        )
        .set("remote_config", remote_config.to_string())
        .set("input_file_id", None::<String>)
        .set("input_file_name", file_name(&j.input_file_name))
        .set("input_file_size", j.input_file_size.unwrap_or(0).max(0))
        .set("input_format", format)
        .set("build", f.build.to_owned())
        .set("phasing", j.phasing)
        .set("population", j.population.trim().to_owned())
        .set("mode", "imputation".to_owned())
        .set("r2_filter", None::<f64>)
        .set("status", f.status.to_owned())
        .set("progress", f.progress)
        .set("attempt", 1)
        .set(
            "submitted_at",
            external.as_ref().map(|_| j.started_at.unwrap_or(created)),
        )
        .set("external_id", external)
        .set("remote_state", String::new())
        .set("remote_payload", payload)
        .set("payload_digest", String::new())
        .set("error_message", f.error_message)
        .set("warnings", "[]".to_owned())
        .set("needs_credentials", false)
        .set("refused_credential", String::new())
        .set("cancel_requested", false)
        .set("results_password", String::new())
        .set("results_expire_at", None::<DateTime<Utc>>)
        .set("quota_reservation", None::<String>)
        .set("created_at", created)
        .set("updated_at", j.updated_at.unwrap_or(created).max(created))
        .set("started_at", j.started_at)
        .set("completed_at", f.completed_at)
        .set("version", 1_i64)
        .set("phase", "done".to_owned())
        .set("next_run_at", now)
        .set("lease_owner", None::<String>)
        .set("lease_until", None::<DateTime<Utc>>)
        .set("error_count", 0)
        .set("last_error", String::new())
        .set("submit_started_at", None::<DateTime<Utc>>)
        .set("not_found_count", 0)
        .set("restart_count", 0)
        .set("cancel_attempts", 0)
}

/// The file name of a legacy upload path (`uploads/2025/10/x.vcf.gz`).
fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_follow_their_children() {
        assert_eq!(parent_state(&[("failed", 10), ("failed", 30)]).0, "failed");
        assert_eq!(
            parent_state(&[("completed", 100), ("completed", 100)]).0,
            "completed"
        );
        assert_eq!(
            parent_state(&[("completed", 100), ("cancelled", 0)]).0,
            "failed"
        );
        let stuck = model::Job {
            status: "queued".into(),
            ..Default::default()
        };
        let (s, _, message, changed) = leaf_state(&stuck);
        assert_eq!((s, changed), ("failed", true));
        assert_eq!(message, unknown_remote("queued"));
        assert_eq!(file_name("uploads/a/b.vcf.gz"), "b.vcf.gz");
    }
}
