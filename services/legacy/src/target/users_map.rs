//! Legacy accounts, profiles and credentials to the users service's rows,
//! with its rules: usernames and emails unique by their lower-cased keys,
//! the password hash kept verbatim (a Django `pbkdf2_sha256$...` hash
//! verifies through `fedimpute_passwords::verify` and is replaced by bcrypt
//! at the first login), credentials sealed as
//! `services/users/src/users/credentials.rs` seals them.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::db::Row;
use crate::model;

/// The limits of accounts whose legacy profile had none: the defaults of
/// `fedimpute serve` (`FEDIMPUTE_DEFAULT_MONTHLY_JOB_LIMIT`, `_STORAGE_LIMIT`).
pub(super) const DEFAULT_MONTHLY_JOB_LIMIT: i32 = 100;
pub(super) const DEFAULT_STORAGE_LIMIT_BYTES: i64 = 10 * 1024 * 1024 * 1024;

pub(super) const ROLES: &[&str] = &[
    "admin",
    "service_admin",
    "researcher",
    "service_user",
    "viewer",
];

/// The users service's sealing context of a (user, service) credential.
pub(super) fn credential_context(user_id: i64, service_id: i64) -> Vec<u8> {
    format!("credential:{user_id}:{service_id}").into_bytes()
}

/// The users row of a legacy account and its profile.
pub(super) fn user_row(u: &model::User, p: Option<&model::Profile>, now: DateTime<Utc>) -> Row {
    let empty = model::Profile::default();
    let p = p.unwrap_or(&empty);
    let institution = match (p.institution.trim(), p.organization.trim()) {
        ("", o) => o.to_owned(),
        (i, "") => i.to_owned(),
        (i, o) if i == o => i.to_owned(),
        (i, o) => format!("{i} ({o})"),
    };
    let username = u.username.trim().to_owned();
    let email = u.email.trim().to_owned();
    let search = [
        username.as_str(),
        &email,
        &u.first_name,
        &u.last_name,
        &institution,
    ]
    .join(" ")
    .to_lowercase();
    // An empty hash would match nothing anyway; `!` is Django's own mark
    // of an unusable password (the user resets it).
    let hash = match u.password_hash.trim() {
        "" => "!".to_owned(),
        h => h.to_owned(),
    };
    let joined = u.date_joined.unwrap_or(now);
    Row::new()
        .set("id", u.id)
        .set("username_key", username.to_lowercase())
        .set("username", username)
        .set("email_key", email.to_lowercase())
        .set("email", email)
        .set("first_name", u.first_name.trim().to_owned())
        .set("last_name", u.last_name.trim().to_owned())
        .set("password_hash", hash)
        .set("is_active", u.is_active)
        .set("date_joined", joined)
        .set("last_login", u.last_login)
        .set("password_changed_at", joined)
        .set("institution", institution)
        .set("department", p.department.trim().to_owned())
        .set("position", p.position.trim().to_owned())
        .set("country", p.country.trim().to_owned())
        .set("research_interests", p.research_area.trim().to_owned())
        .set("phone", p.phone.trim().to_owned())
        .set("bio", p.bio.clone())
        .set("preferred_language", p.preferred_language.trim().to_owned())
        .set("time_zone", p.timezone.trim().to_owned())
        .set("email_notifications", p.email_notifications.unwrap_or(true))
        .set(
            "monthly_job_limit",
            p.monthly_job_limit.map_or(DEFAULT_MONTHLY_JOB_LIMIT, |l| {
                l.clamp(0, i64::from(i32::MAX)) as i32
            }),
        )
        .set(
            "storage_limit_bytes",
            p.storage_limit_bytes
                .map_or(DEFAULT_STORAGE_LIMIT_BYTES, |l| l.max(0)),
        )
        .set("search_text", search)
        .set("updated_at", now)
}

/// A credential's secret parts, as the users service seals them (its
/// `SecretParts`: empty fields left out), with its type and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Secret {
    pub(super) kind: &'static str,
    pub(super) parts: Map<String, Value>,
}

impl Secret {
    pub(super) fn api_token(token: &str) -> Self {
        let mut parts = Map::new();
        parts.insert("api_token".into(), Value::String(token.trim().to_owned()));
        Self {
            kind: "api_token",
            parts,
        }
    }

    /// From a legacy credential, or why it cannot be used. A legacy OAuth
    /// token without a client id is a bearer token: it is kept as an API
    /// token (the users service's OAuth credentials are client id and secret).
    pub(super) fn of(c: &model::Credential) -> Result<Self, String> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let (token, oauth, user) = (
            given(&c.api_token),
            given(&c.oauth_token),
            given(&c.username),
        );
        let password = c.password.clone().filter(|p| !p.is_empty());
        match c.credential_type.trim().to_lowercase().as_str() {
            "basic_auth" | "basic" => match (user, password) {
                (Some(user), Some(password)) => {
                    let mut parts = Map::new();
                    parts.insert("username".into(), Value::String(user));
                    parts.insert("password".into(), Value::String(password));
                    Ok(Self {
                        kind: "basic_auth",
                        parts,
                    })
                }
                (_, None) => Err(
                    "a basic-auth credential without a usable password (the legacy platform stored only its hash)"
                        .into(),
                ),
                (None, Some(_)) => Err("a basic-auth credential without a username".into()),
            },
            _ => match token.or(oauth) {
                Some(token) => Ok(Self::api_token(&token)),
                None => Err("the credential holds no token".into()),
            },
        }
    }

    pub(super) fn token(&self) -> Option<&str> {
        self.parts.get("api_token").and_then(Value::as_str)
    }

    /// The users service's hint: `…wxyz` for secrets of 24 characters or
    /// more; basic auth shows the username.
    pub(super) fn hint(&self) -> String {
        let text = |k: &str| self.parts.get(k).and_then(Value::as_str).unwrap_or("");
        if self.kind == "basic_auth" {
            return format!("user {}", text("username"));
        }
        let chars: Vec<char> = text("api_token").chars().collect();
        if chars.len() >= 24 {
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("…{tail}")
        } else {
            "…".to_owned()
        }
    }

    pub(super) fn row(
        &self,
        keyring: &fedimpute_common::crypto::Keyring,
        user_id: i64,
        service_id: i64,
        label: &str,
        created: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Row {
        let clear = serde_json::to_vec(&self.parts).expect("a map of strings serialises");
        let sealed = keyring.seal(&clear, &credential_context(user_id, service_id));
        Row::new()
            .set("user_id", user_id)
            .set("service_id", service_id)
            .set("credential_type", self.kind.to_owned())
            .set("label", label.trim().chars().take(100).collect::<String>())
            .set("hint", self.hint())
            .set("has_api_token", self.parts.contains_key("api_token"))
            .set("has_oauth_token", self.parts.contains_key("client_secret"))
            .set("has_basic_auth", self.parts.contains_key("password"))
            .set("sealed", sealed)
            .set("expires_at", None::<DateTime<Utc>>)
            .set("is_verified", false)
            .set("last_verified_at", None::<DateTime<Utc>>)
            .set("verification_error", String::new())
            .set("last_used_at", None::<DateTime<Utc>>)
            .set("created_at", created)
            .set("updated_at", now)
    }
}

/// An audit entry's details as the users service stores them: text (JSON
/// for structured legacy details).
pub(super) fn details(value: &Value) -> String {
    if let Some(s) = value.as_str() {
        s.to_owned()
    } else if value.is_null() {
        String::new()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_map_to_the_services_parts() {
        let c = model::Credential {
            credential_type: "oauth2".into(),
            oauth_token: Some(" bearer-token ".into()),
            ..Default::default()
        };
        let s = Secret::of(&c).unwrap();
        assert_eq!((s.kind, s.token()), ("api_token", Some("bearer-token")));
        let hashed = model::Credential {
            credential_type: "basic_auth".into(),
            username: Some("u".into()),
            ..Default::default()
        };
        assert!(Secret::of(&hashed).is_err());
        assert_eq!(
            Secret::api_token("eyJhbGciOiJIUzI1NiJ9.payload.signature").hint(),
            "…ture"
        );
    }
}
