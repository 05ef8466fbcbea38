//! The Django monolith's schema (`federated_imputation`; inventory §7.1):
//! services with their real `api_type`, `location` and `continent`;
//! panels with `panel_id` as the external id; users with their pbkdf2
//! hashes; profiles with quotas; roles from `is_superuser` / `is_staff`,
//! the profile's role and the per-service permissions; per-user service
//! keys; audit history (including Django admin actions).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::{Ctx, Row, api_type, role_name, service_config_and_key};
use crate::{
    model::{AuditEntry, Credential, Legacy, Panel, Profile, RoleAssignment, Service, User},
    report::Conflict,
};

pub(super) fn read(ctx: &mut Ctx<'_>) -> Legacy {
    let mut legacy = Legacy::default();
    let source = ctx.source.to_owned();
    services(ctx, &mut legacy);
    ctx.each(
        "imputation_referencepanel",
        "panels",
        &mut legacy.panels,
        |row| {
            let id = row.required_i64("id")?;
            let external_id = row
                .nonempty("panel_id")
                .ok_or("panel_id is empty: the remote service's name for the panel is unknown")?;
            Ok(Panel {
                origin: row.origin(&source, id.to_string()),
                id,
                service_id: row.required_i64("service_id")?,
                name: row.text("name"),
                external_id,
                slug: None,
                description: row.text("description"),
                population: row.text("population"),
                build: row.text("build"),
                samples_count: row.i64("samples_count")?,
                variants_count: row.i64("variants_count")?,
                is_active: row.flag("is_active", true)?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
            })
        },
    );
    ctx.each("auth_user", "users", &mut legacy.users, |row| {
        let id = row.required_i64("id")?;
        let username = row.nonempty("username").ok_or("username is empty")?;
        Ok(User {
            origin: row.origin(&source, id.to_string()),
            id,
            username,
            email: row.text("email"),
            password_hash: row.text("password"),
            first_name: row.text("first_name"),
            last_name: row.text("last_name"),
            is_active: row.flag("is_active", true)?,
            is_superuser: row.flag("is_superuser", false)?,
            is_staff: row.flag("is_staff", false)?,
            date_joined: row.time("date_joined")?,
            last_login: row.time("last_login")?,
        })
    });
    ctx.each(
        "imputation_userprofile",
        "profiles",
        &mut legacy.profiles,
        |row| {
            let storage = match row.raw("storage_limit_gb") {
                None => None,
                Some(gb) => Some(super::row::gigabytes_to_bytes(gb).ok_or_else(|| {
                    format!("storage_limit_gb: cannot read '{gb}' as a number of gigabytes")
                })?),
            };
            Ok(Profile {
                origin: row.origin(&source, row.id_text()),
                user_id: row.required_i64("user_id")?,
                institution: row.text("institution"),
                organization: row.text("organization"),
                department: row.text("department"),
                position: row.text("position"),
                phone: row.text("phone"),
                research_area: row.text("research_area"),
                country: row.text("country"),
                bio: String::new(),
                preferred_language: row.text("preferred_language"),
                timezone: row.text("timezone"),
                email_notifications: row.bool("email_notifications")?,
                monthly_job_limit: row.i64("monthly_job_limit")?,
                storage_limit_bytes: storage,
            })
        },
    );
    roles(ctx, &mut legacy);
    credentials(ctx, &mut legacy);
    audit(ctx, &mut legacy);
    super::django_jobs::read(ctx, &mut legacy);
    legacy
}

fn services(ctx: &mut Ctx<'_>, legacy: &mut Legacy) {
    let source = ctx.source.to_owned();
    let mut conflicts = Vec::new();
    ctx.each(
        "imputation_imputationservice",
        "services",
        &mut legacy.services,
        |row| {
            let id = row.required_i64("id")?;
            let (api_config, api_key) = service_config_and_key(row, id, &mut conflicts)?;
            Ok(Service {
                origin: row.origin(&source, id.to_string()),
                id,
                name: row.nonempty("name").ok_or("name is empty")?,
                slug: None,
                service_type: row.text("service_type"),
                api_type: api_type(row.raw("api_type"))?,
                base_url: row.nonempty("api_url").ok_or("api_url is empty")?,
                description: row.text("description"),
                location: row.text("location"),
                continent: row.text("continent"),
                is_active: row.flag("is_active", true)?,
                requires_auth: row.flag("api_key_required", false)?,
                max_file_size_mb: row.i64("max_file_size_mb")?,
                supported_formats: row.string_list("supported_formats")?,
                api_config,
                api_key,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                ..Service::default()
            })
        },
    );
    for c in conflicts {
        ctx.conflict(c);
    }
    service_configurations(ctx, legacy);
}

/// `imputation_serviceconfiguration` (1:1 with a service): its API key
/// becomes the service's when the service has none; the connection
/// settings go into the service's `api_config` under
/// `legacy_configuration`; an `api_secret` or extra headers (secrets
/// fedimpute has no place for) are reported.
fn service_configurations(ctx: &mut Ctx<'_>, legacy: &mut Legacy) {
    const ENTITY: &str = "service_configurations";
    for row in ctx.rows("imputation_serviceconfiguration") {
        ctx.report.entity(ENTITY).found += 1;
        let service_id = match row.required_i64("service_id") {
            Ok(id) => id,
            Err(reason) => {
                ctx.skip(ENTITY, &row, reason);
                continue;
            }
        };
        let Some(service) = legacy.services.iter_mut().find(|s| s.id == service_id) else {
            ctx.skip(
                ENTITY,
                &row,
                format!("service {service_id} was not imported"),
            );
            continue;
        };
        if let Some(key) = row.nonempty("api_key") {
            match &service.api_key {
                None => service.api_key = Some(key),
                Some(existing) if *existing == key => {}
                Some(_) => ctx.conflict(Conflict {
                    entity: "services".into(),
                    key: service_id.to_string(),
                    field: "api_key".into(),
                    values: vec![
                        "<secret: imputation_imputationservice.api_key>".into(),
                        "<secret: imputation_serviceconfiguration.api_key>".into(),
                    ],
                    kept: "imputation_imputationservice.api_key".into(),
                }),
            }
        }
        let mut settings = serde_json::Map::new();
        for column in ["rate_limit_per_hour", "timeout_seconds", "retry_attempts"] {
            if let Ok(Some(n)) = row.i64(column) {
                settings.insert(column.into(), json!(n));
            }
        }
        if let Ok(v @ Value::Object(_)) = row.json("settings") {
            settings.insert("settings".into(), v);
        }
        if !settings.is_empty()
            && let Some(config) = service.api_config.as_object_mut()
        {
            config.insert("legacy_configuration".into(), Value::Object(settings));
        }
        let headers =
            matches!(row.json("additional_headers"), Ok(Value::Object(m)) if !m.is_empty());
        if row.nonempty("api_secret").is_some() || headers {
            ctx.skip(
                ENTITY,
                &row,
                "its api_secret / additional_headers have no place in fedimpute: enter them again as the service's token if the service needs them (the API key and settings were imported)".into(),
            );
        } else {
            ctx.report.entity(ENTITY).merged += 1;
        }
    }
}

fn roles(ctx: &mut Ctx<'_>, legacy: &mut Legacy) {
    const ENTITY: &str = "roles";
    let source = ctx.source.to_owned();
    let mut seen = BTreeMap::new();
    let mut push = |ctx: &mut Ctx<'_>, row: &Row<'_>, user_id: i64, role: &str, service_id| {
        ctx.report.entity(ENTITY).found += 1;
        if seen
            .insert((user_id, role.to_owned(), service_id), ())
            .is_some()
        {
            ctx.report.entity(ENTITY).merged += 1;
            return;
        }
        legacy.roles.push(RoleAssignment {
            origin: row.origin(&source, row.id_text()),
            user_id,
            role: role.to_owned(),
            service_id,
        });
    };
    for row in ctx.rows("auth_user") {
        let (Ok(id), Ok(su), Ok(staff)) = (
            row.required_i64("id"),
            row.flag("is_superuser", false),
            row.flag("is_staff", false),
        ) else {
            continue; // already skipped as a user
        };
        if su || staff {
            push(ctx, &row, id, "admin", None);
        }
    }
    let names: HashMap<String, (String, bool)> = ctx
        .rows("imputation_userrole")
        .iter()
        .map(|r| {
            (
                r.id_text(),
                (r.text("name"), r.flag("is_active", true).unwrap_or(true)),
            )
        })
        .collect();
    for row in ctx.rows("imputation_userprofile") {
        let (Ok(user_id), Some(role_id)) = (row.required_i64("user_id"), row.nonempty("role_id"))
        else {
            continue;
        };
        let skip = |ctx: &mut Ctx<'_>, reason: String| {
            ctx.report.entity(ENTITY).found += 1;
            ctx.skip(ENTITY, &row, reason);
        };
        match names.get(&role_id) {
            None => skip(ctx, format!("role {role_id} is not in imputation_userrole")),
            Some((name, false)) => skip(ctx, format!("role '{name}' is disabled (is_active = f)")),
            Some((name, true)) => match role_name(name) {
                Some(role) => push(ctx, &row, user_id, role, None),
                None => skip(
                    ctx,
                    format!("role '{name}' is not one of fedimpute's roles"),
                ),
            },
        }
    }
    let now = chrono::Utc::now();
    for row in ctx.rows("imputation_servicepermission") {
        let mapped = (|| {
            let user_id = row.required_i64("user_id")?;
            let service_id = row.required_i64("service_id")?;
            if !row.flag("is_active", true)? {
                return Err("the permission was revoked (is_active = f)".to_owned());
            }
            if let Some(expiry) = row.time("expires_at")?
                && expiry < now
            {
                return Err(format!("the permission expired on {expiry}"));
            }
            let permission = row.text("permission");
            let role = permission_role(&permission)
                .ok_or_else(|| format!("permission '{permission}' has no counterpart"))?;
            Ok((user_id, role, service_id))
        })();
        match mapped {
            Ok((user_id, role, service_id)) => push(ctx, &row, user_id, role, Some(service_id)),
            Err(reason) => {
                ctx.report.entity(ENTITY).found += 1;
                ctx.skip(ENTITY, &row, reason);
            }
        }
    }
}

/// A per-service Django permission as a role scoped to that service,
/// never granting more than the permission did.
pub(super) fn permission_role(permission: &str) -> Option<&'static str> {
    match permission.trim() {
        "admin" => Some("service_admin"),
        "manage_jobs" => Some("researcher"),
        "submit_jobs" => Some("service_user"),
        "view" | "view_jobs" => Some("viewer"),
        _ => None,
    }
}

fn credentials(ctx: &mut Ctx<'_>, legacy: &mut Legacy) {
    let source = ctx.source.to_owned();
    ctx.each(
        "imputation_userserviceaccess",
        "credentials",
        &mut legacy.credentials,
        |row| {
            let api_key = row.nonempty("api_key").ok_or(
                "no API key: the access flag and the per-service quota have no counterpart",
            )?;
            Ok(Credential {
                origin: row.origin(&source, row.id_text()),
                user_id: row.required_i64("user_id")?,
                service_id: row.required_i64("service_id")?,
                credential_type: "api_token".into(),
                api_token: Some(api_key),
                label: "imported".into(),
                created_at: row.time("created_at")?,
                ..Credential::default()
            })
        },
    );
}

fn audit(ctx: &mut Ctx<'_>, legacy: &mut Legacy) {
    let source = ctx.source.to_owned();
    ctx.each(
        "imputation_auditlog",
        "audit_logs",
        &mut legacy.audit_logs,
        |row| {
            Ok(AuditEntry {
                origin: row.origin(&source, row.id_text()),
                user_id: row.i64("user_id")?,
                action: row.text("action"),
                resource_type: row.text("resource_type"),
                resource_id: row.text("resource_id"),
                details: row
                    .json("details")
                    .unwrap_or_else(|_| Value::String(row.text("details"))),
                ip_address: row.text("ip_address"),
                user_agent: row.text("user_agent"),
                at: row.time("timestamp")?,
            })
        },
    );
    let content_types: HashMap<String, String> = ctx
        .rows("django_content_type")
        .iter()
        .map(|r| {
            (
                r.id_text(),
                format!("{}.{}", r.text("app_label"), r.text("model")),
            )
        })
        .collect();
    ctx.each(
        "django_admin_log",
        "audit_logs",
        &mut legacy.audit_logs,
        |row| {
            let action = match row.raw("action_flag").map(str::trim) {
                Some("1") => "admin_add",
                Some("2") => "admin_change",
                Some("3") => "admin_delete",
                _ => "admin_action",
            };
            let resource_type = row
                .raw("content_type_id")
                .and_then(|id| content_types.get(id).cloned())
                .unwrap_or_default();
            Ok(AuditEntry {
                origin: row.origin(&source, row.id_text()),
                user_id: row.i64("user_id")?,
                action: action.into(),
                resource_type,
                resource_id: row.text("object_id"),
                details: json!({
                    "object_repr": row.text("object_repr"),
                    "change_message": row.text("change_message"),
                }),
                at: row.time("action_time")?,
                ..AuditEntry::default()
            })
        },
    );
}
