//! Accounts parsed from requests: usernames, emails, registrations,
//! profile and admin patches, role grants, list queries.

use chrono::{DateTime, Utc};
use fedimpute_common::{
    auth::Role,
    page::PageToken,
    status::{FieldViolation, Violations},
};
use fedimpute_proto::users as pb;

use crate::store::{NewGrant, ProfilePatch, UserFilter, UserPatch};

/// Parses a username: 3–150 characters of letters, digits and `.+-_`, not
/// all digits (ids and usernames share the `/users/{id}` space), and no `@`:
/// a login is a username or an email, so no username may look like an
/// email someone else owns (legacy accounts imported with one keep it).
pub fn username(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let count = name.chars().count();
    if !(3..=150).contains(&count) {
        return Err("must be 3 to 150 characters long".into());
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || combining_mark(c) || ".+-_".contains(c))
    {
        return Err("may contain only letters, digits and . + - _".into());
    }
    if name.chars().all(|c| c.is_ascii_digit()) {
        return Err("must not be all digits".into());
    }
    Ok(name.to_owned())
}

/// Combining diacritics (names such as Olúwadámilọ́lá are often written
/// with them rather than precomposed letters).
fn combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Parses an email address: one `@`, a non-empty local part, a dotted
/// domain, no spaces, at most 254 characters.
pub fn email(raw: &str) -> Result<String, String> {
    let email = raw.trim();
    let bad = || "is not a valid email address".to_owned();
    if email.is_empty() || email.len() > 254 || email.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(bad());
    }
    Ok(email.to_owned())
}

fn text(v: &mut Violations, field: &str, raw: &str, max: usize) -> String {
    let value = raw.trim();
    if value.chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        v.add(field, "must not contain control characters");
    }
    value.to_owned()
}

/// A new account's identity fields.
#[derive(Clone, Debug)]
pub struct Identity {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

impl Identity {
    pub fn parse(
        v: &mut Violations,
        username_raw: &str,
        email_raw: &str,
        first: &str,
        last: &str,
    ) -> Self {
        Self {
            username: v
                .check("username", username(username_raw))
                .unwrap_or_default(),
            email: v.check("email", email(email_raw)).unwrap_or_default(),
            first_name: text(v, "first_name", first, 150),
            last_name: text(v, "last_name", last, 150),
        }
    }
}

/// A BCP 47-looking language tag (`en`, `fr`, `pt-BR`, `zh-Hant-TW`).
fn language(raw: &str) -> Result<String, String> {
    let tag = raw.trim();
    let ok = !tag.is_empty()
        && tag.len() <= 35
        && tag.split('-').enumerate().all(|(i, part)| {
            let len_ok = if i == 0 {
                (2..=3).contains(&part.len())
            } else {
                (1..=8).contains(&part.len())
            };
            len_ok && part.chars().all(|c| c.is_ascii_alphanumeric())
        });
    ok.then(|| tag.to_owned())
        .ok_or_else(|| "must be a language tag such as en, fr or pt-BR".into())
}

/// An IANA time-zone name (`UTC`, `Africa/Johannesburg`, `America/Argentina/Salta`).
fn time_zone(raw: &str) -> Result<String, String> {
    let zone = raw.trim();
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
    };
    let ok =
        zone == "UTC" || (zone.len() <= 64 && zone.contains('/') && zone.split('/').all(part_ok));
    ok.then(|| zone.to_owned())
        .ok_or_else(|| "must be an IANA time zone such as UTC or Africa/Johannesburg".into())
}

const PROFILE_FIELDS: [&str; 10] = [
    "institution",
    "department",
    "position",
    "country",
    "research_interests",
    "phone",
    "bio",
    "preferred_language",
    "time_zone",
    "email_notifications",
];

/// The profile fields named by `paths` (without a prefix), or without paths
/// every field set in `p`, parsed.
pub fn profile_patch(
    v: &mut Violations,
    p: &pb::Profile,
    paths: &[String],
    prefix: &str,
) -> ProfilePatch {
    let implied: Vec<String>;
    let paths: &[String] = if paths.is_empty() {
        implied = implied_profile_paths(p);
        &implied
    } else {
        paths
    };
    let mut patch = ProfilePatch::default();
    for path in paths {
        let field = format!("{prefix}{path}");
        match path.as_str() {
            "institution" => patch.institution = Some(text(v, &field, &p.institution, 200)),
            "department" => patch.department = Some(text(v, &field, &p.department, 200)),
            "position" => patch.position = Some(text(v, &field, &p.position, 100)),
            "country" => patch.country = Some(text(v, &field, &p.country, 100)),
            "research_interests" => {
                patch.research_interests = Some(text(v, &field, &p.research_interests, 5000))
            }
            "phone" => {
                let phone = text(v, &field, &p.phone, 32);
                if !phone
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c))
                {
                    v.add(&field, "may contain only digits, spaces and + - ( ) .");
                }
                patch.phone = Some(phone);
            }
            "bio" => patch.bio = Some(text(v, &field, &p.bio, 5000)),
            "preferred_language" => {
                patch.preferred_language = v.check(&field, language(&p.preferred_language))
            }
            "time_zone" => patch.time_zone = v.check(&field, time_zone(&p.time_zone)),
            "email_notifications" => {
                patch.email_notifications = Some(p.email_notifications.unwrap_or(true))
            }
            other => v.add(
                &field,
                format!(
                    "'{other}' is not a profile field (use {})",
                    PROFILE_FIELDS.join(", ")
                ),
            ),
        }
    }
    patch
}

fn implied_profile_paths(p: &pb::Profile) -> Vec<String> {
    let texts = [
        ("institution", &p.institution),
        ("department", &p.department),
        ("position", &p.position),
        ("country", &p.country),
        ("research_interests", &p.research_interests),
        ("phone", &p.phone),
        ("bio", &p.bio),
        ("preferred_language", &p.preferred_language),
        ("time_zone", &p.time_zone),
    ];
    let mut paths: Vec<String> = texts
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, _)| (*name).to_owned())
        .collect();
    if p.email_notifications.is_some() {
        paths.push("email_notifications".into());
    }
    paths
}

/// An admin's update of a user: account, profile and quota fields.
pub fn user_patch(request: &pb::UpdateUserRequest) -> Result<UserPatch, Vec<FieldViolation>> {
    let mut v = Violations::new();
    let user = request.user.clone().unwrap_or_default();
    let paths: Vec<String> = match &request.update_mask {
        Some(mask) if !mask.paths.is_empty() => mask.paths.clone(),
        Some(_) | None => implied_user_paths(&user),
    };
    let mut patch = UserPatch::default();
    let mut profile_paths = Vec::new();
    for path in &paths {
        match path.as_str() {
            "email" => patch.email = v.check("user.email", email(&user.email)),
            "first_name" => patch.first_name = Some(text(&mut v, "user.first_name", &user.first_name, 150)),
            "last_name" => patch.last_name = Some(text(&mut v, "user.last_name", &user.last_name, 150)),
            "is_active" => patch.is_active = Some(user.is_active),
            "quota.monthly_job_limit" => {
                let limit = user.quota.as_ref().map_or(0, |q| q.monthly_job_limit);
                if limit < 0 {
                    v.add("user.quota.monthly_job_limit", "must not be negative");
                }
                patch.monthly_job_limit = Some(limit);
            }
            "quota.storage_limit_bytes" => {
                let limit = user.quota.as_ref().map_or(0, |q| q.storage_limit_bytes);
                if limit < 0 {
                    v.add("user.quota.storage_limit_bytes", "must not be negative");
                }
                patch.storage_limit_bytes = Some(limit);
            }
            "profile" => profile_paths.clear(),
            other => match other.strip_prefix("profile.") {
                Some(field) => profile_paths.push(field.to_owned()),
                None => v.add(
                    "update_mask",
                    format!("'{other}' cannot be changed here (email, first_name, last_name, is_active, profile.*, quota.monthly_job_limit, quota.storage_limit_bytes)"),
                ),
            },
        }
    }
    if paths
        .iter()
        .any(|p| p == "profile" || p.starts_with("profile."))
    {
        let profile = user.profile.clone().unwrap_or_default();
        patch.profile = profile_patch(&mut v, &profile, &profile_paths, "user.profile.");
    }
    if patch.is_empty() && v.is_empty() {
        v.add("update_mask", "names no field to change");
    }
    v.into_result(patch)
}

fn implied_user_paths(u: &pb::User) -> Vec<String> {
    let mut paths = Vec::new();
    for (name, value) in [
        ("email", &u.email),
        ("first_name", &u.first_name),
        ("last_name", &u.last_name),
    ] {
        if !value.is_empty() {
            paths.push(name.to_owned());
        }
    }
    if u.profile.is_some() {
        paths.push("profile".to_owned());
    }
    if let Some(q) = &u.quota {
        if q.monthly_job_limit != 0 {
            paths.push("quota.monthly_job_limit".to_owned());
        }
        if q.storage_limit_bytes != 0 {
            paths.push("quota.storage_limit_bytes".to_owned());
        }
    }
    paths
}

pub fn role_from_pb(value: i32) -> Option<Role> {
    match pb::Role::try_from(value).ok()? {
        pb::Role::Admin => Some(Role::Admin),
        pb::Role::ServiceAdmin => Some(Role::ServiceAdmin),
        pb::Role::Researcher => Some(Role::Researcher),
        pb::Role::ServiceUser => Some(Role::ServiceUser),
        pb::Role::Viewer => Some(Role::Viewer),
        pb::Role::Unspecified => None,
    }
}

pub fn role_to_pb(role: Role) -> pb::Role {
    match role {
        Role::Admin => pb::Role::Admin,
        Role::ServiceAdmin => pb::Role::ServiceAdmin,
        Role::Researcher => pb::Role::Researcher,
        Role::ServiceUser => pb::Role::ServiceUser,
        Role::Viewer => pb::Role::Viewer,
    }
}

pub fn timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// Role grants from a request: a known role, a positive service id, an
/// expiry in the future; duplicates of (role, service) are merged.
pub fn grants(
    v: &mut Violations,
    field: &str,
    raw: &[pb::RoleGrant],
    granted_by: Option<i64>,
) -> Vec<NewGrant> {
    let now = Utc::now();
    let mut out: Vec<NewGrant> = Vec::new();
    for (i, g) in raw.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let Some(role) = role_from_pb(g.role) else {
            v.add(
                format!("{at}.role"),
                "must be admin, service_admin, researcher, service_user or viewer",
            );
            continue;
        };
        if g.service_id.is_some_and(|id| id <= 0) {
            v.add(format!("{at}.service_id"), "must be a positive service id");
        }
        let expires_at = match &g.expires_at {
            Some(t) => match timestamp(t) {
                Some(at_time) if at_time > now => Some(at_time),
                Some(_) | None => {
                    v.add(format!("{at}.expires_at"), "must be in the future");
                    None
                }
            },
            None => None,
        };
        if out
            .iter()
            .any(|o| o.role == role && o.service_id == g.service_id)
        {
            continue;
        }
        out.push(NewGrant {
            role,
            service_id: g.service_id,
            expires_at,
            granted_by,
        });
    }
    out
}

/// `ListUsers` parsed.
pub fn user_filter(r: &pb::ListUsersRequest) -> Result<UserFilter, Vec<FieldViolation>> {
    let mut v = Violations::new();
    let after = v
        .check("page_token", PageToken::parse(&r.page_token))
        .flatten();
    let role = match r.role {
        0 => None,
        value => {
            let role = role_from_pb(value);
            if role.is_none() {
                v.add("role", "is not a known role");
            }
            role
        }
    };
    let limit = v.check("page_size", page_size(r.page_size)).unwrap_or(100);
    let q = r.q.trim().to_lowercase();
    v.into_result(UserFilter {
        q: (!q.is_empty()).then_some(q),
        is_active: r.is_active,
        role,
        after_id: after.map_or(0, |t| t.0),
        limit,
    })
}

/// Default 100, at most 1000.
pub fn page_size(raw: i32) -> Result<u64, String> {
    match raw {
        0 => Ok(100),
        1..=1000 => Ok(raw as u64),
        _ => Err("must be between 1 and 1000".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_emails() {
        assert!(username("ada.lovelace").is_ok());
        assert!(username("Olúwadámilọ́lá").is_ok());
        assert!(username("ab").is_err());
        assert!(username("12345").is_err());
        assert!(username("a b c").is_err());
        assert!(username("victim@example.org").is_err());
        assert!(email("ada@example.org").is_ok());
        for bad in [
            "ada",
            "ada@",
            "@x.org",
            "a@b",
            "a@@b.org",
            "a b@c.org",
            "a@.org",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn profile_fields_are_checked() {
        let mut v = Violations::new();
        let p = pb::Profile {
            preferred_language: "pt-BR".into(),
            time_zone: "Africa/Johannesburg".into(),
            ..Default::default()
        };
        let patch = profile_patch(&mut v, &p, &[], "");
        assert!(v.is_empty());
        assert_eq!(patch.time_zone.as_deref(), Some("Africa/Johannesburg"));
        assert!(patch.bio.is_none());

        let mut v = Violations::new();
        let p = pb::Profile {
            preferred_language: "english please".into(),
            time_zone: "Mars/Olympus Mons".into(),
            phone: "call me".into(),
            ..Default::default()
        };
        profile_patch(&mut v, &p, &[], "");
        assert_eq!(v.into_result(()).unwrap_err().len(), 3);
    }
}
