//! The jobs target: jobs (UUIDs kept; parents before their children; see
//! `jobs_map` for the states), their status updates, step logs and result
//! files (as links on the remote: state `remote`, or `expired` when the
//! legacy platform said so; never fetched). Every imported job is in phase
//! `done`: the scheduler never picks one up.
//!
//! Legacy upload records (`files`) are skipped with their reason: their
//! bytes are on the legacy host, not in fedimpute's file store, and an
//! input file row without its object would pass for a usable upload. The
//! job keeps the upload's name and size.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use fedimpute_jobs_migration::Migrator;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{
    Known, KnownUsers, Tally, TargetError, Targets,
    db::{self, Row},
    jobs_history,
    jobs_map::{self as map, JobFacts},
    read_err, registry_map, write_err,
};
use crate::model;

const TARGET: &str = "jobs";

pub(super) async fn import(
    legacy: &model::Legacy,
    targets: &Targets,
    known: &Known,
    users: &KnownUsers,
    dry_run: bool,
) -> Result<Tally, TargetError> {
    let sql = "SELECT id FROM jobs";
    if dry_run {
        let existing = match db::open_for_read(TARGET, &targets.jobs_url).await? {
            Some(conn) => ids(&conn, sql, true).await?,
            None => HashSet::new(),
        };
        return Ok(plan(legacy, known, users, &existing, Utc::now()).1);
    }
    let (_conn, txn) = db::open_migrated::<Migrator>(TARGET, &targets.jobs_url).await?;
    let existing = ids(&txn, sql, false).await?;
    let (rows, tally) = plan(legacy, known, users, &existing, Utc::now());
    for (table, row) in rows {
        db::insert(&txn, table, row)
            .await
            .map_err(write_err(TARGET))?;
    }
    txn.commit().await.map_err(write_err(TARGET))?;
    Ok(tally)
}

async fn ids(
    db: &impl ConnectionTrait,
    sql: &str,
    tolerant: bool,
) -> Result<HashSet<String>, TargetError> {
    let rows = db::rows(db, sql, tolerant)
        .await
        .map_err(read_err(TARGET))?;
    rows.iter()
        .map(|r| db::text(r, 0).map(|id| id.to_lowercase()))
        .collect::<Result<_, _>>()
        .map_err(read_err(TARGET))
}

/// What became of a legacy job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    Import,
    Merged,
    Skipped,
}

pub(super) type Plan = Vec<(&'static str, Row)>;

fn plan(
    legacy: &model::Legacy,
    known: &Known,
    users: &KnownUsers,
    existing: &HashSet<String>,
    now: DateTime<Utc>,
) -> (Plan, Tally) {
    let mut tally = Tally::default();
    let by_id: HashMap<Uuid, &model::Job> = legacy.jobs.iter().map(|j| (j.id, j)).collect();
    let parents: HashSet<Uuid> = legacy.jobs.iter().filter_map(|j| j.parent_id).collect();
    // Parents before their children (depth along the parent chain).
    let depth = |j: &model::Job| {
        let (mut d, mut at) = (0, j.parent_id);
        while let Some(p) = at.filter(|_| d < 16) {
            d += 1;
            at = by_id.get(&p).and_then(|j| j.parent_id);
        }
        d
    };
    let mut order: Vec<&model::Job> = legacy.jobs.iter().collect();
    order.sort_by_key(|j| (depth(j), j.created_at, j.id));
    let mut fate: HashMap<Uuid, Fate> = HashMap::new();
    let mut builds: HashMap<Uuid, &'static str> = HashMap::new();
    for j in &order {
        let verdict = decide(j, known, users, existing, &fate, &by_id);
        let f = match verdict {
            Ok(None) => {
                tally.merged("jobs");
                Fate::Merged
            }
            Ok(Some(build)) => {
                tally.imported("jobs");
                builds.insert(j.id, build);
                Fate::Import
            }
            Err(reason) => {
                tally.skipped("jobs", &j.origin, reason);
                Fate::Skipped
            }
        };
        fate.entry(j.id).or_insert(f);
    }

    // States: leaves as mapped, parents from their imported children.
    let mut states: HashMap<Uuid, (&'static str, i32, String, bool)> = HashMap::new();
    for j in order.iter().filter(|j| fate[&j.id] == Fate::Import) {
        states.insert(j.id, map::leaf_state(j));
    }
    for j in order.iter().rev().filter(|j| parents.contains(&j.id)) {
        if fate[&j.id] != Fate::Import {
            continue;
        }
        let children: Vec<(&str, i32)> = legacy
            .jobs
            .iter()
            .filter(|c| c.parent_id == Some(j.id))
            .filter_map(|c| states.get(&c.id).map(|(s, p, _, _)| (*s, *p)))
            .collect();
        if !children.is_empty() {
            let (status, progress, summary) = map::parent_state(&children);
            let changed = map::status(&j.status) != Some(status);
            states.insert(j.id, (status, progress, summary, changed));
        }
    }

    let mut rows = Plan::new();
    for j in order.iter().filter(|j| fate[&j.id] == Fate::Import) {
        let (status, progress, message, changed) = states[&j.id].clone();
        let completed_at = if changed {
            Some(now)
        } else {
            j.completed_at.or(j.updated_at).or(j.created_at)
        };
        let is_parent = parents.contains(&j.id);
        let facts = JobFacts {
            status,
            progress,
            error_message: if status == "completed" {
                String::new()
            } else {
                message.clone()
            },
            is_parent,
            build: builds[&j.id],
            service: j
                .service_id
                .filter(|_| !is_parent)
                .and_then(|s| known.services.get(&s).map(|k| (s, k))),
            panel: j
                .panel_id
                .filter(|_| !is_parent)
                .and_then(|p| known.panels.get(&p).map(|k| (p, k))),
            completed_at,
        };
        rows.push(("jobs", map::job_row(j, facts, now)));
        if changed {
            rows.push((
                "job_status_updates",
                status_row(j.id, status, progress, &message, "{}".into(), now),
            ));
        }
    }
    jobs_history::history(legacy, &fate, now, &mut rows, &mut tally);
    for f in &legacy.files {
        let reason = format!(
            "a legacy upload ({}, at '{}'): its bytes are on the legacy host, not in fedimpute's file store{}",
            f.original_filename,
            f.path,
            f.job_id
                .map(|j| format!("; job {j} keeps its name and size"))
                .unwrap_or_default()
        );
        tally.skipped("files", &f.origin, reason);
    }
    (rows, tally)
}

/// `Ok(Some(build))`: import; `Ok(None)`: already there.
fn decide(
    j: &model::Job,
    known: &Known,
    users: &KnownUsers,
    existing: &HashSet<String>,
    fate: &HashMap<Uuid, Fate>,
    by_id: &HashMap<Uuid, &model::Job>,
) -> Result<Option<&'static str>, String> {
    if existing.contains(&j.id.hyphenated().to_string()) {
        return Ok(None);
    }
    if fate.contains_key(&j.id) {
        return Err("a second copy of this job in the sources".into());
    }
    if !users.contains(&j.user_id) {
        return Err(format!("user {} was not imported", j.user_id));
    }
    if let Some(s) = j.service_id
        && !known.services.contains_key(&s)
    {
        return Err(format!("service {s} was not imported"));
    }
    if let Some(p) = j.panel_id {
        match known.panels.get(&p) {
            None => return Err(format!("reference panel {p} was not imported")),
            Some(k) if j.service_id.is_some_and(|s| s != k.service_id) => {
                return Err(format!(
                    "reference panel {p} belongs to service {}, not to the job's service {}",
                    k.service_id,
                    j.service_id.unwrap_or_default()
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(parent) = j.parent_id {
        match (by_id.get(&parent), fate.get(&parent)) {
            (None, _) => return Err(format!("its parent job {parent} is not in the sources")),
            (_, Some(Fate::Import | Fate::Merged)) => {}
            (_, Some(Fate::Skipped) | None) => {
                return Err(format!("its parent job {parent} was not imported"));
            }
        }
    }
    // NULL in the legacy column means "never set": the legacy model's
    // default (hg38) applies, rather than the job being lost.
    let build = if j.build.trim().is_empty() {
        "hg38"
    } else {
        j.build.as_str()
    };
    registry_map::build(build)
        .map(|b| Some(b.as_str()))
        .ok_or_else(|| format!("build '{}' is neither hg19 nor hg38", j.build))
}

pub(super) fn status_row(
    job: Uuid,
    status: &str,
    progress: i32,
    message: &str,
    details: String,
    at: DateTime<Utc>,
) -> Row {
    Row::new()
        .set("job_id", job.hyphenated().to_string())
        .set("attempt", 1)
        .set("status", status.to_owned())
        .set("progress", progress.clamp(0, 100))
        .set("message", message.to_owned())
        .set("details", details)
        .set("created_at", at)
}
