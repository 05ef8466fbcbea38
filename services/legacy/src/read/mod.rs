//! Recognises which of the original platform's schemas a source holds, by
//! the tables present — the Django monolith's (`auth_user`,
//! `imputation_*`), the half-migrated microservices' (`users`,
//! `imputation_services`, `imputation_jobs`...; any subset of them, as each
//! service had its own database), or both in one database — and maps every
//! row into [`Legacy`]. A row that cannot be mapped is reported as a
//! [`Skip`] with its reason, never dropped; tables with data that fedimpute
//! has no place for are reported too (entity `other_tables`).

mod django;
mod django_jobs;
mod micro;
mod row;

use std::collections::BTreeSet;

use crate::{
    model::Legacy,
    report::{Conflict, Report, Skip},
    source::Tables,
};

pub(crate) use row::Row;

/// The two schemas of the original platform. Ids are only meaningful
/// within one: the microservices' databases share an id space with each
/// other (a job's `service_id` is a registry id), not with Django's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Django,
    Microservices,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Django => "django",
            Self::Microservices => "microservices",
        }
    }
}

/// What one schema of one source holds.
#[derive(Clone, Debug)]
pub struct Part {
    /// The source as the report names it.
    pub source: String,
    pub family: Family,
    pub legacy: Legacy,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "{origin}: no tables of the original platform (neither the Django monolith's auth_user / imputation_* nor the microservices' users / imputation_services / imputation_jobs ...); tables found: {found}"
    )]
    Unrecognised { origin: String, found: String },
}

/// The Django monolith's tables that hold platform data.
pub(crate) const DJANGO_TABLES: &[&str] = &[
    "auth_user",
    "imputation_imputationservice",
    "imputation_referencepanel",
    "imputation_imputationjob",
    "imputation_jobstatusupdate",
    "imputation_resultfile",
    "imputation_userprofile",
    "imputation_userrole",
    "imputation_servicepermission",
    "imputation_serviceconfiguration",
    "imputation_userserviceaccess",
    "imputation_auditlog",
    "django_admin_log",
    "django_content_type",
];

/// The microservices' tables (§1 and §4 of the inventory).
pub(crate) const MICROSERVICES_TABLES: &[&str] = &[
    "users",
    "user_profiles",
    "user_roles",
    "user_service_credentials",
    "audit_logs",
    "imputation_services",
    "reference_panels",
    "service_health_logs",
    "imputation_jobs",
    "job_status_updates",
    "job_logs",
    "file_records",
];

/// Which schemas the tables hold.
pub fn detect(tables: &Tables) -> BTreeSet<Family> {
    let mut found = BTreeSet::new();
    // django_content_type alone (any Django project has it) is not the monolith.
    if DJANGO_TABLES
        .iter()
        .filter(|t| **t != "django_content_type" && **t != "django_admin_log")
        .any(|t| tables.contains_key(*t))
    {
        found.insert(Family::Django);
    }
    if MICROSERVICES_TABLES.iter().any(|t| tables.contains_key(*t)) {
        found.insert(Family::Microservices);
    }
    found
}

/// Whether a table's rows are needed (the others are only counted).
pub fn wanted(table: &str) -> bool {
    DJANGO_TABLES.contains(&table) || MICROSERVICES_TABLES.contains(&table)
}

/// Maps a source's tables: one part per schema found (Django first).
/// Counts every row as found in the report and records every skip.
pub fn read(source: &str, tables: &Tables, report: &mut Report) -> Result<Vec<Part>, ReadError> {
    let families = detect(tables);
    if families.is_empty() {
        return Err(ReadError::Unrecognised {
            origin: source.to_owned(),
            found: if tables.is_empty() {
                "none".into()
            } else {
                tables.keys().cloned().collect::<Vec<_>>().join(", ")
            },
        });
    }
    let mut parts = Vec::new();
    for family in families {
        let mut ctx = Ctx {
            source,
            tables,
            report: &mut *report,
        };
        let legacy = match family {
            Family::Django => django::read(&mut ctx),
            Family::Microservices => micro::read(&mut ctx),
        };
        parts.push(Part {
            source: source.to_owned(),
            family,
            legacy,
        });
    }
    other_tables(source, tables, report);
    Ok(parts)
}

/// Tables with rows that no reader maps: reported, one skip per table.
fn other_tables(source: &str, tables: &Tables, report: &mut Report) {
    for (name, table) in tables {
        if wanted(name) || table.row_count == 0 || name == "imputation_userrole" {
            continue;
        }
        let entity = report.entity("other_tables");
        entity.found += 1;
        entity.skipped.push(Skip {
            source: source.to_owned(),
            table: name.clone(),
            key: format!("{} rows", table.row_count),
            reason: other_table_reason(name).into(),
        });
    }
}

fn other_table_reason(table: &str) -> &'static str {
    match table {
        "django_session" => "login sessions: users sign in again",
        "django_migrations" | "auth_permission" | "auth_group_permissions" => {
            "Django's own bookkeeping, not platform data"
        }
        "imputation_userrole_permissions" => {
            "the legacy roles' Django permissions: fedimpute's roles carry fixed permissions"
        }
        "auth_group" | "auth_user_groups" | "auth_user_user_permissions" => {
            "Django groups and per-user Django permissions have no counterpart: roles come from the profile's role, is_superuser / is_staff and the service permissions"
        }
        "imputation_serviceusergroup"
        | "imputation_serviceusergroup_permissions"
        | "imputation_serviceusergroupmembership" => {
            "service user groups: the permissions they granted are rows of imputation_servicepermission, which are imported as scoped roles"
        }
        "job_templates" => "job templates were never used by the original platform",
        "file_access_logs" => "file access history has no counterpart",
        "notifications" | "notification_preferences" | "email_templates" => {
            "notifications of the old platform are not carried over"
        }
        "service_health" | "system_metrics" | "alerts" => {
            "monitoring of the old platform's own containers, not of imputation services"
        }
        _ => "not a table of the original platform that fedimpute imports",
    }
}

/// What a reader works with.
pub(crate) struct Ctx<'a> {
    pub(crate) source: &'a str,
    pub(crate) tables: &'a Tables,
    pub(crate) report: &'a mut Report,
}

impl<'a> Ctx<'a> {
    /// The rows of a table (none when it is absent).
    pub(crate) fn rows(&self, table: &'a str) -> Vec<Row<'a>> {
        let tables: &'a Tables = self.tables;
        match tables.get(table) {
            Some(t) => t
                .rows
                .iter()
                .map(|values| Row::new(table, t, values))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Maps every row of `table` into `out`, counting it as found under
    /// `entity`; a row that maps to an error is skipped with that reason.
    pub(crate) fn each<T>(
        &mut self,
        table: &'a str,
        entity: &str,
        out: &mut Vec<T>,
        mut map: impl FnMut(&Row<'a>) -> Result<T, String>,
    ) {
        for row in self.rows(table) {
            self.report.entity(entity).found += 1;
            match map(&row) {
                Ok(record) => out.push(record),
                Err(reason) => self.skip(entity, &row, reason),
            }
        }
    }

    pub(crate) fn skip(&mut self, entity: &str, row: &Row<'_>, reason: String) {
        let origin = row.origin(self.source, row.id_text());
        self.report
            .entity(entity)
            .skipped
            .push(Skip::new(&origin, reason));
    }

    pub(crate) fn conflict(&mut self, conflict: Conflict) {
        self.report.conflicts.push(conflict);
    }
}

/// The platform's roles.
pub(crate) const ROLES: &[&str] = &[
    "admin",
    "service_admin",
    "researcher",
    "service_user",
    "viewer",
];

/// A legacy role name as one of ours (`Service Admin` → `service_admin`).
pub(crate) fn role_name(raw: &str) -> Option<&'static str> {
    let name = raw.trim().to_lowercase().replace([' ', '-'], "_");
    ROLES.iter().find(|r| **r == name).copied()
}

/// A legacy job state as one of ours. The microservices' poller also
/// wrote `error` (a failure) and `unknown` (the remote state could not be
/// read: a job with a remote id is polled again, so it is `running`).
pub(crate) fn job_status(raw: &str, has_remote_job: bool) -> Result<String, String> {
    let status = raw.trim().to_lowercase();
    match status.as_str() {
        "pending" | "queued" | "running" | "completed" | "failed" | "cancelled" => Ok(status),
        "canceled" => Ok("cancelled".into()),
        "error" => Ok("failed".into()),
        "unknown" if has_remote_job => Ok("running".into()),
        "unknown" => Ok("failed".into()),
        _ => Err(format!("status '{raw}' is not a job state")),
    }
}

/// The api_type column as one of ours.
pub(crate) fn api_type(raw: Option<&str>) -> Result<String, String> {
    let raw = raw.unwrap_or_default().trim().to_lowercase();
    match raw.as_str() {
        "michigan" | "ga4gh" | "dnastack" => Ok(raw),
        "" => Err("api_type is empty: set it in the source (michigan, ga4gh or dnastack)".into()),
        other => Err(format!(
            "api_type '{other}' is not supported (michigan, ga4gh or dnastack)"
        )),
    }
}

/// A service row's `api_config` (`{}` when NULL) and its secret: the
/// `api_key` column, or one kept in `api_config` (moved out of it, see
/// [`take_config_secret`]); a second, different secret is a conflict.
pub(crate) fn service_config_and_key(
    row: &Row<'_>,
    id: i64,
    conflicts: &mut Vec<Conflict>,
) -> Result<(serde_json::Value, Option<String>), String> {
    let mut api_config = row.json("api_config")?;
    if api_config.is_null() {
        api_config = serde_json::json!({});
    }
    let mut api_key = row.nonempty("api_key");
    conflicts.extend(take_config_secret(
        &mut api_config,
        &mut api_key,
        &id.to_string(),
    ));
    Ok((api_config, api_key))
}

/// Moves a service secret kept in `api_config` (`api_key`, `api_token`)
/// into `api_key`, so it is stored encrypted and not as plain
/// configuration. A second, different secret is reported.
pub(crate) fn take_config_secret(
    config: &mut serde_json::Value,
    api_key: &mut Option<String>,
    key: &str,
) -> Option<Conflict> {
    let map = config.as_object_mut()?;
    let mut conflict = None;
    for field in ["api_key", "api_token"] {
        let Some(serde_json::Value::String(secret)) = map.get(field).cloned() else {
            continue;
        };
        map.remove(field);
        if secret.trim().is_empty() {
            continue;
        }
        match api_key {
            None => *api_key = Some(secret),
            Some(existing) if *existing == secret => {}
            Some(_) => {
                conflict = Some(Conflict {
                    entity: "services".into(),
                    key: key.to_owned(),
                    field: format!("api_config.{field}"),
                    values: vec![
                        "<secret: api_key>".into(),
                        format!("<secret: api_config.{field}>"),
                    ],
                    kept: "api_key (the api_config secret is not imported)".into(),
                });
            }
        }
    }
    conflict
}

#[cfg(test)]
mod tests;
