//! Profile fields and the admin's user patch, parsed from requests.

use fedimpute_common::status::{FieldViolation, Violations};
use fedimpute_proto::users as pb;

use super::account::{email, text};
use crate::store::{ProfilePatch, UserPatch};

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

#[cfg(test)]
mod tests {
    use super::*;

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
