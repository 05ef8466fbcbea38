//! The half-migrated microservices' schema (inventory §1, §4, §5.1): the
//! user-service's, service-registry's, job-processor's and
//! file-manager's tables, any subset of them (each service had its own
//! database, and some tables were copied into others).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{
    Ctx, api_type,
    django_jobs::{job_id, progress},
    job_status, role_name, service_config_and_key,
};
use crate::{
    model::{
        AuditEntry, Credential, FileRecord, HealthLog, JobLog, Legacy, Panel, Profile, ResultFile,
        RoleAssignment, Service, StatusUpdate, User,
    },
    report::Conflict,
};

pub(super) fn read(ctx: &mut Ctx<'_>) -> Legacy {
    let mut legacy = Legacy::default();
    registry(ctx, &mut legacy);
    users(ctx, &mut legacy);
    jobs(ctx, &mut legacy);
    legacy
}

fn registry(ctx: &mut Ctx<'_>, legacy: &mut Legacy) {
    let source = ctx.source.to_owned();
    let mut conflicts = Vec::new();
    ctx.each(
        "imputation_services",
        "services",
        &mut legacy.services,
        |row| {
            let id = row.required_i64("id")?;
            let (api_config, api_key) = service_config_and_key(row, id, &mut conflicts)?;
            Ok(Service {
                origin: row.origin(&source, id.to_string()),
                id,
                name: row.nonempty("name").ok_or("name is empty")?,
                slug: row.nonempty("slug"),
                service_type: row.text("service_type"),
                api_type: api_type(row.raw("api_type"))?,
                base_url: row.nonempty("base_url").ok_or("base_url is empty")?,
                description: row.text("description"),
                version: row.text("version"),
                location: row.text("location"),
                location_country: row.text("location_country"),
                location_city: row.text("location_city"),
                location_institution: row.text("location_datacenter"),
                continent: row.text("continent"),
                location_latitude: row.f64("location_latitude")?,
                location_longitude: row.f64("location_longitude")?,
                is_active: row.flag("is_active", true)?,
                requires_auth: row.flag("requires_auth", true)?,
                max_file_size_mb: row.i64("max_file_size_mb")?,
                supported_formats: row.string_list("supported_formats")?,
                supported_builds: row.string_list("supported_builds")?,
                api_config,
                api_key,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
            })
        },
    );
    for c in conflicts {
        ctx.conflict(c);
    }
    ctx.each("reference_panels", "panels", &mut legacy.panels, |row| {
        let id = row.required_i64("id")?;
        // The microservices had no panel_id column: for Cloudgene panels
        // the slug held the app id sent as `refpanel`
        // (`apps@h3africa-v6hc-s@1.0.0`); otherwise the slug is the best
        // remaining name of the panel on the remote side.
        let slug = row.nonempty("slug");
        let external_id = row
            .nonempty("panel_id")
            .or_else(|| row.nonempty("external_id"))
            .or_else(|| slug.clone())
            .ok_or("neither panel_id nor slug is set: the remote name of the panel is unknown")?;
        let name = row
            .nonempty("name")
            .or_else(|| row.nonempty("display_name"))
            .unwrap_or_default();
        Ok(Panel {
            origin: row.origin(&source, id.to_string()),
            id,
            service_id: row.required_i64("service_id")?,
            name,
            slug: slug.filter(|s| !s.contains('@')),
            external_id,
            description: row.text("description"),
            population: row.text("population"),
            build: row.text("build"),
            samples_count: row.i64("samples_count")?,
            variants_count: row.i64("variants_count")?,
            is_active: row.flag("is_available", true)? && row.flag("is_active", true)?,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
        })
    });
    ctx.each(
        "service_health_logs",
        "health_logs",
        &mut legacy.health_logs,
        |row| {
            Ok(HealthLog {
                origin: row.origin(&source, row.id_text()),
                service_id: row.required_i64("service_id")?,
                status: row.text("status"),
                response_time_ms: row.f64("response_time_ms")?,
                error_message: row.text("error_message"),
                checked_at: row.time("checked_at")?,
            })
        },
    );
}

fn users(ctx: &mut Ctx<'_>, legacy: &mut Legacy) {
    let source = ctx.source.to_owned();
    ctx.each("users", "users", &mut legacy.users, |row| {
        let id = row.required_i64("id")?;
        Ok(User {
            origin: row.origin(&source, id.to_string()),
            id,
            username: row.nonempty("username").ok_or("username is empty")?,
            email: row.text("email"),
            password_hash: row.text("hashed_password"),
            first_name: row.text("first_name"),
            last_name: row.text("last_name"),
            is_active: row.flag("is_active", true)?,
            is_superuser: row.flag("is_superuser", false)?,
            is_staff: row.flag("is_staff", false)?,
            date_joined: row.time("date_joined")?,
            last_login: row.time("last_login")?,
        })
    });
    ctx.each("user_profiles", "profiles", &mut legacy.profiles, |row| {
        Ok(Profile {
            origin: row.origin(&source, row.id_text()),
            user_id: row.required_i64("user_id")?,
            institution: row.text("institution"),
            department: row.text("department"),
            position: row.text("position"),
            phone: row.text("phone_number"),
            research_area: row.text("research_interests"),
            country: row.text("country"),
            bio: row.text("bio"),
            ..Profile::default()
        })
    });
    // Roles: is_superuser / is_staff make an admin; then user_roles.
    let mut seen = BTreeSet::new();
    for user in &legacy.users {
        if user.is_superuser || user.is_staff {
            ctx.report.entity("roles").found += 1;
            seen.insert((user.id, "admin".to_owned(), None));
            legacy.roles.push(RoleAssignment {
                origin: user.origin.clone(),
                user_id: user.id,
                role: "admin".into(),
                service_id: None,
            });
        }
    }
    let now = chrono::Utc::now();
    let mut duplicates = 0;
    ctx.each("user_roles", "roles", &mut legacy.roles, |row| {
        if !row.flag("is_active", true)? {
            return Err("the role was revoked (is_active = f)".into());
        }
        if let Some(expiry) = row.time("expires_at")?
            && expiry < now
        {
            return Err(format!("the role expired on {expiry}"));
        }
        let raw = row.text("role");
        let role = role_name(&raw)
            .ok_or_else(|| format!("role '{raw}' is not one of fedimpute's roles"))?;
        let user_id = row.required_i64("user_id")?;
        let service_id = row.i64("service_id")?;
        if !seen.insert((user_id, role.to_owned(), service_id)) {
            duplicates += 1;
        }
        Ok(RoleAssignment {
            origin: row.origin(&source, row.id_text()),
            user_id,
            role: role.into(),
            service_id,
        })
    });
    if duplicates > 0 {
        // The same grant twice: keep it once.
        let mut kept = BTreeSet::new();
        legacy
            .roles
            .retain(|r| kept.insert((r.user_id, r.role.clone(), r.service_id)));
        ctx.report.entity("roles").merged += duplicates;
    }
    let mut conflicts = Vec::new();
    ctx.each(
        "user_service_credentials",
        "credentials",
        &mut legacy.credentials,
        |row| {
            if !row.flag("is_active", true)? {
                return Err("the credential was deactivated (is_active = f)".into());
            }
            let mut password = row.nonempty("password");
            // The user-service bcrypt-hashed basic-auth passwords: useless
            // for authenticating to the remote service.
            if password.as_deref().is_some_and(is_bcrypt) {
                password = None;
                let tokens = row.nonempty("api_token").is_some() || row.nonempty("oauth_token").is_some();
                if !tokens {
                    return Err("its password is a bcrypt hash, which cannot authenticate to the service, and it holds no token: the user must enter it again".into());
                }
                conflicts.push(Conflict {
                    entity: "credentials".into(),
                    key: row.id_text(),
                    field: "password".into(),
                    values: vec!["<bcrypt hash>".into()],
                    kept: "none: the password is a bcrypt hash; the user must enter it again (the tokens were imported)".into(),
                });
            }
            Ok(Credential {
                origin: row.origin(&source, row.id_text()),
                user_id: row.required_i64("user_id")?,
                service_id: row.required_i64("service_id")?,
                credential_type: row
                    .nonempty("credential_type")
                    .unwrap_or_else(|| "api_token".into()),
                api_token: row.nonempty("api_token"),
                oauth_token: row.nonempty("oauth_token"),
                username: row.nonempty("username"),
                password,
                label: row.text("label"),
                created_at: row.time("created_at")?,
            })
        },
    );
    for c in conflicts {
        ctx.conflict(c);
    }
    ctx.each("audit_logs", "audit_logs", &mut legacy.audit_logs, |row| {
        Ok(AuditEntry {
            origin: row.origin(&source, row.id_text()),
            user_id: row.i64("user_id")?,
            action: row.text("action"),
            resource_type: row.text("resource_type"),
            resource_id: row.text("resource_id"),
            // A text column: JSON when it is JSON, else the sentence.
            details: match row.json("details") {
                Ok(v) => v,
                Err(_) => Value::String(row.text("details")),
            },
            ip_address: row.text("ip_address"),
            user_agent: row.text("user_agent"),
            at: row.time("timestamp")?,
        })
    });
}

pub(super) fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| hash.starts_with(p))
}

fn jobs(ctx: &mut Ctx<'_>, legacy: &mut Legacy) {
    let source = ctx.source.to_owned();
    ctx.each("imputation_jobs", "jobs", &mut legacy.jobs, |row| {
        super::django_jobs::job(&source, row)
    });
    ctx.each(
        "job_status_updates",
        "status_updates",
        &mut legacy.status_updates,
        |row| {
            Ok(StatusUpdate {
                origin: row.origin(&source, row.id_text()),
                job_id: job_id(row, "job_id")?,
                status: job_status(&row.text("status"), true)?,
                progress: progress(row)?,
                message: row.text("message"),
                external_data: row.json("details")?,
                at: row.time("timestamp")?,
            })
        },
    );
    ctx.each("job_logs", "job_logs", &mut legacy.job_logs, |row| {
        Ok(JobLog {
            origin: row.origin(&source, row.id_text()),
            job_id: job_id(row, "job_id")?,
            step: row.text("step_name"),
            step_index: row.i32("step_index")?,
            log_type: row.text("log_type"),
            message: row.text("message"),
            at: row.time("timestamp")?,
        })
    });
    ctx.each("file_records", "files", &mut legacy.files, |row| {
        let job = match row.nonempty("job_id") {
            None => None,
            Some(raw) => Some(uuid::Uuid::parse_str(raw.trim()).map_err(|_| {
                format!("job_id '{raw}' is not a UUID: the file's job cannot be found")
            })?),
        };
        Ok(FileRecord {
            origin: row.origin(&source, row.id_text()),
            user_id: row.required_i64("user_id")?,
            job_id: job,
            filename: row.text("filename"),
            original_filename: row.text("original_filename"),
            path: row.text("file_path"),
            size_bytes: row.i64("file_size")?,
            file_type: row.text("file_type"),
            sha256: row.text("checksum_sha256"),
            created_at: row.time("created_at")?,
        })
    });
    results_from_file_records(ctx, legacy);
}

/// The file manager's result links (`file_type` output or result, with a
/// job: the Michigan results it recorded as external URLs) are the job's
/// result files, not uploads: they move to `result_files`, counted there.
fn results_from_file_records(ctx: &mut Ctx<'_>, legacy: &mut Legacy) {
    let (results, uploads): (Vec<FileRecord>, Vec<FileRecord>) = std::mem::take(&mut legacy.files)
        .into_iter()
        .partition(|f| {
            f.origin.table == "file_records"
                && f.job_id.is_some()
                && matches!(f.file_type.trim(), "output" | "result")
        });
    legacy.files = uploads;
    for f in results {
        let Some(job_id) = f.job_id else { continue };
        ctx.report.entity("files").found -= 1;
        ctx.report.entity("result_files").found += 1;
        let name = if f.filename.trim().is_empty() {
            f.original_filename.clone()
        } else {
            f.filename.clone()
        };
        legacy.result_files.push(ResultFile {
            origin: f.origin,
            job_id,
            name,
            file_type: f.file_type,
            location: f.path,
            size_bytes: f.size_bytes,
            checksum: f.sha256,
            is_available: true,
            expires_at: None,
            created_at: f.created_at,
        });
    }
}
