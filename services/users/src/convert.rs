//! Store records → API messages.

use chrono::{DateTime, Utc};
use fedimpute_common::auth::{PublicKey, Role};
use fedimpute_proto::users as pb;

use crate::{
    domain::{CredentialType, account::role_to_pb},
    store::{AuditRecord, CredentialRecord, GrantRecord, ProfileFields, UserRecord},
};

pub(crate) fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    fedimpute_common::wire::timestamp(t)
}

pub(crate) fn jwk(key: &PublicKey) -> pb::Jwk {
    pb::Jwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: key.x(),
        kid: key.kid().to_owned(),
        alg: "EdDSA".into(),
        r#use: "sig".into(),
    }
}

pub(crate) fn profile(p: &ProfileFields) -> pb::Profile {
    pb::Profile {
        institution: p.institution.clone(),
        department: p.department.clone(),
        position: p.position.clone(),
        country: p.country.clone(),
        research_interests: p.research_interests.clone(),
        phone: p.phone.clone(),
        bio: p.bio.clone(),
        preferred_language: p.preferred_language.clone(),
        time_zone: p.time_zone.clone(),
        email_notifications: Some(p.email_notifications),
    }
}

pub(crate) fn grant(g: &GrantRecord) -> pb::RoleGrant {
    pb::RoleGrant {
        role: role_to_pb(g.role) as i32,
        service_id: g.service_id,
        expires_at: g.expires_at.map(ts),
        granted_at: Some(ts(g.granted_at)),
        granted_by: g.granted_by,
    }
}

/// The user with the grants in force now; `quota` when it was read.
pub(crate) fn user(
    u: &UserRecord,
    grants: &[GrantRecord],
    quota: Option<pb::Quota>,
    now: DateTime<Utc>,
) -> pb::User {
    let live: Vec<&GrantRecord> = grants.iter().filter(|g| g.in_force(now)).collect();
    let admin = live
        .iter()
        .any(|g| g.role == Role::Admin && g.service_id.is_none());
    pb::User {
        id: u.id,
        username: u.username.clone(),
        email: u.email.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        is_active: u.is_active,
        is_staff: admin,
        is_superuser: admin,
        date_joined: Some(ts(u.date_joined)),
        last_login: u.last_login.map(ts),
        roles: live.into_iter().map(grant).collect(),
        profile: Some(profile(&u.profile)),
        quota: Some(quota.unwrap_or(pb::Quota {
            monthly_job_limit: u.monthly_job_limit,
            storage_limit_bytes: u.storage_limit_bytes,
            ..pb::Quota::default()
        })),
    }
}

pub(crate) fn credential(c: &CredentialRecord) -> pb::Credential {
    pb::Credential {
        service_id: c.service_id,
        credential_type: CredentialType::parse(&c.credential_type)
            .map_or(pb::CredentialType::Unspecified, CredentialType::to_pb)
            as i32,
        label: c.label.clone(),
        hint: c.hint.clone(),
        has_api_token: c.has_api_token,
        has_oauth_token: c.has_oauth_token,
        has_basic_auth: c.has_basic_auth,
        is_verified: c.is_verified,
        last_verified_at: c.last_verified_at.map(ts),
        verification_error: c.verification_error.clone(),
        expires_at: c.expires_at.map(ts),
        last_used_at: c.last_used_at.map(ts),
        created_at: Some(ts(c.created_at)),
        updated_at: Some(ts(c.updated_at)),
        user_id: c.user_id,
    }
}

pub(crate) fn audit(a: &AuditRecord) -> pb::AuditEntry {
    pb::AuditEntry {
        id: a.id,
        user_id: a.user_id,
        action: a.action.clone(),
        resource_type: a.resource_type.clone(),
        resource_id: a.resource_id.clone(),
        details: a.details.clone(),
        ip_address: a.ip_address.clone(),
        user_agent: a.user_agent.clone(),
        timestamp: Some(ts(a.timestamp)),
    }
}
