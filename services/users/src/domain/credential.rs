//! A user's credential for one imputation service, parsed from a request;
//! the secret parts travel sealed and are never shown.

use chrono::{DateTime, Utc};
use fedimpute_common::status::{FieldViolation, Violations};
use fedimpute_proto::users as pb;
use serde::{Deserialize, Serialize};

use super::account::timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialType {
    ApiToken,
    OAuth2,
    BasicAuth,
}

impl CredentialType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiToken => "api_token",
            Self::OAuth2 => "oauth2",
            Self::BasicAuth => "basic_auth",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        [Self::ApiToken, Self::OAuth2, Self::BasicAuth]
            .into_iter()
            .find(|t| t.as_str() == stored)
    }

    pub fn to_pb(self) -> pb::CredentialType {
        match self {
            Self::ApiToken => pb::CredentialType::ApiToken,
            Self::OAuth2 => pb::CredentialType::Oauth2,
            Self::BasicAuth => pb::CredentialType::BasicAuth,
        }
    }
}

/// The secret parts, sealed together as JSON.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretParts {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_token: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_secret: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
}

impl std::fmt::Debug for SecretParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretParts(<redacted>)")
    }
}

/// A credential to store.
#[derive(Clone, Debug)]
pub struct CredentialSpec {
    pub service_id: i64,
    pub kind: CredentialType,
    pub label: String,
    pub secret: SecretParts,
    pub expires_at: Option<DateTime<Utc>>,
}

const MAX_SECRET: usize = 16 * 1024;

impl TryFrom<pb::PutMyCredentialRequest> for CredentialSpec {
    type Error = Vec<FieldViolation>;

    fn try_from(r: pb::PutMyCredentialRequest) -> Result<Self, Self::Error> {
        let mut v = Violations::new();
        if r.service_id <= 0 {
            v.add("service_id", "must be a positive service id");
        }
        let kind = match pb::CredentialType::try_from(r.credential_type) {
            Ok(pb::CredentialType::Unspecified | pb::CredentialType::ApiToken) => {
                CredentialType::ApiToken
            }
            Ok(pb::CredentialType::Oauth2) => CredentialType::OAuth2,
            Ok(pb::CredentialType::BasicAuth) => CredentialType::BasicAuth,
            Err(_) => {
                v.add("credential_type", "must be api_token, oauth2 or basic_auth");
                CredentialType::ApiToken
            }
        };
        // Tokens and ids lose surrounding spaces (a paste artefact); a
        // password is kept exactly as given.
        let mut required = |field: &str, value: String| {
            let value = if field == "password" {
                value
            } else {
                value.trim().to_owned()
            };
            if value.is_empty() {
                v.add(
                    field,
                    format!("is required for a {} credential", kind.as_str()),
                );
            } else if value.len() > MAX_SECRET {
                v.add(field, "is too long");
            } else if value.chars().any(char::is_control) {
                v.add(field, "must not contain control characters");
            }
            value
        };
        let secret = match kind {
            CredentialType::ApiToken => SecretParts {
                api_token: required("api_token", r.api_token),
                ..SecretParts::default()
            },
            CredentialType::OAuth2 => {
                let client_secret = if r.client_secret.is_empty() {
                    r.oauth_token
                } else {
                    r.client_secret
                };
                SecretParts {
                    client_id: required("client_id", r.client_id),
                    client_secret: required("client_secret", client_secret),
                    ..SecretParts::default()
                }
            }
            CredentialType::BasicAuth => SecretParts {
                username: required("username", r.username),
                password: required("password", r.password),
                ..SecretParts::default()
            },
        };
        let label = r.label.trim().to_owned();
        if label.chars().count() > 100 {
            v.add("label", "must be at most 100 characters");
        }
        let expires_at = r.expires_at.as_ref().and_then(timestamp);
        v.into_result(Self {
            service_id: r.service_id,
            kind,
            label,
            secret,
            expires_at,
        })
    }
}

impl CredentialSpec {
    /// A masked hint that helps a user tell credentials apart without
    /// revealing them: `…wxyz` for secrets of 24 characters or more;
    /// basic auth shows the username.
    pub fn hint(&self) -> String {
        match self.kind {
            CredentialType::ApiToken => mask(&self.secret.api_token),
            CredentialType::OAuth2 => format!("client {}", mask(&self.secret.client_id)),
            CredentialType::BasicAuth => format!("user {}", self.secret.username),
        }
    }
}

/// The last four characters of a secret of 24 or more, else nothing: enough
/// to tell two tokens apart, too little to help guess one.
fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() >= 24 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("…{tail}")
    } else {
        "…".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_and_masks_the_hint() {
        let spec = CredentialSpec::try_from(pb::PutMyCredentialRequest {
            service_id: 3,
            api_token: "eyJhbGciOiJIUzI1NiJ9.payload.signature".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(spec.kind, CredentialType::ApiToken);
        assert_eq!(spec.hint(), "…ture");
        assert!(!format!("{spec:?}").contains("payload"));

        let oauth = CredentialSpec::try_from(pb::PutMyCredentialRequest {
            service_id: 3,
            credential_type: pb::CredentialType::Oauth2 as i32,
            client_id: "client-1".into(),
            oauth_token: "s3cret-value".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(oauth.secret.client_secret, "s3cret-value");

        let errors = CredentialSpec::try_from(pb::PutMyCredentialRequest {
            service_id: 0,
            credential_type: pb::CredentialType::BasicAuth as i32,
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["service_id", "username", "password"]);
    }
}
