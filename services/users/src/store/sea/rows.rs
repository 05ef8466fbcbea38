//! Rows to records, roles as text, and database errors to store errors:
//! the pieces the store's methods share.

use fedimpute_common::{auth::Role, db::unique_violation};
use sea_orm::{
    ColumnTrait, DbErr,
    sea_query::{Expr, ExprTrait, LikeExpr},
};

use crate::store::{
    AuditRecord, CredentialRecord, GrantRecord, ProfileFields, StoreError, ThrottleState,
    UserRecord,
    entity::{audit_logs, credentials, login_throttle, role_grants, users},
};

/// The unique constraints the store reports as `Conflict`: the name
/// PostgreSQL gives, and the columns SQLite gives (`table.col, ...`).
const CONSTRAINTS: [(&str, &str); 3] = [
    ("users_username_key", "users.username_key"),
    ("users_email_key", "users.email_key"),
    ("credentials_user_service_key", "credentials.user_id"),
];

/// A violated unique constraint to `Conflict` (by its PostgreSQL name);
/// anything else stays a database error.
pub(super) fn map_err(err: DbErr) -> StoreError {
    if let Some(message) = unique_violation(&err)
        && let Some((name, _)) = CONSTRAINTS
            .iter()
            .find(|(name, columns)| message.contains(name) || message.contains(columns))
    {
        return StoreError::Conflict((*name).to_owned());
    }
    StoreError::Db(err)
}

pub(super) fn role_to_str(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::ServiceAdmin => "service_admin",
        Role::Researcher => "researcher",
        Role::ServiceUser => "service_user",
        Role::Viewer => "viewer",
    }
}

pub(super) fn role_from_str(role: &str) -> Result<Role, DbErr> {
    Ok(match role {
        "admin" => Role::Admin,
        "service_admin" => Role::ServiceAdmin,
        "researcher" => Role::Researcher,
        "service_user" => Role::ServiceUser,
        "viewer" => Role::Viewer,
        other => return Err(DbErr::Custom(format!("unknown role '{other}' stored"))),
    })
}

/// `users.search_text`: the lower-cased searchable fields, space-separated.
pub(super) fn search_text(
    username: &str,
    email: &str,
    first_name: &str,
    last_name: &str,
    institution: &str,
) -> String {
    [username, email, first_name, last_name, institution]
        .join(" ")
        .to_lowercase()
}

/// `LIKE %needle%` on an already lower-cased column, wildcards escaped.
pub(super) fn contains(column: impl ColumnTrait, needle: &str) -> Expr {
    let escaped = needle
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::col(column).like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

pub(super) fn user_record(m: users::Model) -> UserRecord {
    UserRecord {
        id: m.id,
        username: m.username,
        email: m.email,
        first_name: m.first_name,
        last_name: m.last_name,
        password_hash: m.password_hash,
        is_active: m.is_active,
        date_joined: m.date_joined,
        last_login: m.last_login,
        password_changed_at: m.password_changed_at,
        profile: ProfileFields {
            institution: m.institution,
            department: m.department,
            position: m.position,
            country: m.country,
            research_interests: m.research_interests,
            phone: m.phone,
            bio: m.bio,
            preferred_language: m.preferred_language,
            time_zone: m.time_zone,
            email_notifications: m.email_notifications,
        },
        monthly_job_limit: m.monthly_job_limit,
        storage_limit_bytes: m.storage_limit_bytes,
        updated_at: m.updated_at,
    }
}

pub(super) fn grant_record(m: role_grants::Model) -> Result<GrantRecord, DbErr> {
    Ok(GrantRecord {
        role: role_from_str(&m.role)?,
        service_id: m.service_id,
        expires_at: m.expires_at,
        granted_at: m.granted_at,
        granted_by: m.granted_by,
    })
}

pub(super) fn credential_record(m: credentials::Model) -> CredentialRecord {
    CredentialRecord {
        user_id: m.user_id,
        service_id: m.service_id,
        credential_type: m.credential_type,
        label: m.label,
        hint: m.hint,
        has_api_token: m.has_api_token,
        has_oauth_token: m.has_oauth_token,
        has_basic_auth: m.has_basic_auth,
        sealed: m.sealed,
        expires_at: m.expires_at,
        is_verified: m.is_verified,
        last_verified_at: m.last_verified_at,
        verification_error: m.verification_error,
        last_used_at: m.last_used_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

pub(super) fn audit_record(m: audit_logs::Model) -> AuditRecord {
    AuditRecord {
        id: m.id,
        user_id: m.user_id,
        action: m.action,
        resource_type: m.resource_type,
        resource_id: m.resource_id,
        details: m.details,
        ip_address: m.ip_address,
        user_agent: m.user_agent,
        timestamp: m.timestamp,
    }
}

pub(super) fn throttle_state(m: &login_throttle::Model) -> ThrottleState {
    ThrottleState {
        failures: u32::try_from(m.failures).unwrap_or(0),
        window_start: m.window_start,
        locked_until: m.locked_until,
    }
}
