//! Accounts parsed from requests: usernames, emails, registrations,
//! profile and admin patches, role grants, list queries.

use chrono::{DateTime, Utc};
use fedimpute_common::{
    auth::Role,
    page::PageToken,
    status::{FieldViolation, Violations},
};
use fedimpute_proto::users as pb;

use crate::store::{NewGrant, UserFilter};

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

pub(super) fn text(v: &mut Violations, field: &str, raw: &str, max: usize) -> String {
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
}
