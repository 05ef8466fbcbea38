//! Identity from verified tokens only. Access tokens are JWTs signed with
//! Ed25519 (EdDSA) by the Users service; every component verifies them with
//! the public keys, chosen by the token's `kid`. A request without a token
//! is anonymous; a request with a bad token is refused, never downgraded.

mod keys;
mod layer;
mod service;
mod verify;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use keys::{KeyError, PublicKey, TokenSigner, write_private};
pub use layer::{
    Authenticated, CLIENT_ADDR_HEADER, CLIENT_AGENT_HEADER, Origin, caller_of, origin_of,
};
pub use service::{Component, SERVICE, SERVICE_TOKEN_HEADER, ServiceIdentity, ServiceKeys};
pub use verify::{KeySource, Verifier};

/// Methods that need no access token: a stale one attached (a client whose
/// token just expired) must not stop them, here or at the gateway.
pub const TOKEN_FREE_METHODS: &[&str] = &[
    "/fedimpute.users.v1.UsersService/Register",
    "/fedimpute.users.v1.UsersService/Login",
    "/fedimpute.users.v1.UsersService/RefreshToken",
    "/fedimpute.users.v1.UsersService/Logout",
    "/fedimpute.users.v1.UsersService/RequestPasswordReset",
    "/fedimpute.users.v1.UsersService/ConfirmPasswordReset",
    "/fedimpute.users.v1.UsersService/GetJwks",
    "/fedimpute.jobs.v1.JobsService/OpenSignedInput",
];

/// Methods where guessing is the attack (passwords, reset tokens): the
/// gateway gives them a stricter rate limit per client.
pub const CREDENTIAL_METHODS: &[&str] = &[
    "/fedimpute.users.v1.UsersService/Register",
    "/fedimpute.users.v1.UsersService/Login",
    "/fedimpute.users.v1.UsersService/RequestPasswordReset",
    "/fedimpute.users.v1.UsersService/ConfirmPasswordReset",
];

/// A random identifier (128 bits, base64url): token ids, session ids.
pub fn random_id() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The platform's roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    ServiceAdmin,
    Researcher,
    ServiceUser,
    Viewer,
}

/// A role, optionally scoped to one imputation service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGrant {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<i64>,
}

impl RoleGrant {
    pub fn global(role: Role) -> Self {
        Self {
            role,
            service_id: None,
        }
    }

    pub fn scoped(role: Role, service_id: i64) -> Self {
        Self {
            role,
            service_id: Some(service_id),
        }
    }
}

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub username: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub roles: Vec<RoleGrant>,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    #[serde(default)]
    pub jti: String,
    /// `access` for access tokens; anything else is refused here, so that a
    /// token of another kind signed with the same key cannot pass for one.
    #[serde(default)]
    pub token_use: String,
    /// The session (refresh-token family) the token was issued in; empty
    /// for tokens minted outside a session.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
}

/// The `token_use` of access tokens.
pub const ACCESS: &str = "access";

impl Claims {
    /// Whether the caller holds `role`, globally or for `service_id`.
    pub fn has_role(&self, role: Role, service_id: Option<i64>) -> bool {
        self.roles.iter().any(|g| {
            g.role == role
                && (g.service_id.is_none() || (service_id.is_some() && g.service_id == service_id))
        })
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(Role::Admin, None)
    }

    /// Registry writes: an admin, or a service_admin unscoped or scoped to
    /// this service. `None` (a new service) needs an unscoped grant.
    pub fn can_manage_service(&self, service_id: Option<i64>) -> bool {
        self.is_admin() || self.has_role(Role::ServiceAdmin, service_id)
    }
}

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    User(Arc<Claims>),
    /// A bearer token was sent and refused (expired, forged...), on a method
    /// that tolerates it (see [`Authenticated::tolerate_bad_tokens_on`]):
    /// calls that need a user answer `Unauthenticated` with the reason.
    Invalid(String),
}

impl Caller {
    /// The user id of a signed-in caller.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Self::User(claims) => claims.sub.parse().ok(),
            Self::Anonymous | Self::Invalid(_) => None,
        }
    }

    /// The verified claims, or `Unauthenticated`.
    pub fn user(&self) -> Result<&Claims, AuthError> {
        match self {
            Self::User(claims) => Ok(claims),
            Self::Anonymous => Err(AuthError::Missing),
            Self::Invalid(reason) => Err(AuthError::Invalid(reason.clone())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required: send 'authorization: Bearer <access token>'")]
    Missing,
    #[error("invalid access token: {0}")]
    Invalid(String),
    #[error("permission denied: {0}")]
    Forbidden(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(roles: Vec<RoleGrant>, exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: "7".into(),
            username: "ada".into(),
            email: "ada@example.org".into(),
            roles,
            iat: now,
            exp: now + exp_in,
            iss: "fedimpute".into(),
            aud: "fedimpute".into(),
            jti: "j1".into(),
            token_use: ACCESS.into(),
            sid: String::new(),
        }
    }

    #[test]
    fn verifies_its_own_tokens_and_rejects_others() {
        let signer = TokenSigner::generate();
        let verifier = Verifier::new("fedimpute", "fedimpute", vec![signer.public_key().clone()]);
        let token = signer.sign(&claims(vec![RoleGrant::global(Role::Admin)], 60));
        let got = verifier.verify(&token).unwrap();
        assert!(got.is_admin());

        let stranger = TokenSigner::generate();
        let forged = stranger.sign(&claims(vec![RoleGrant::global(Role::Admin)], 60));
        assert!(matches!(
            verifier.verify(&forged),
            Err(AuthError::Invalid(_))
        ));

        let expired = signer.sign(&claims(vec![], -3600));
        assert!(matches!(
            verifier.verify(&expired),
            Err(AuthError::Invalid(_))
        ));

        let mut refresh = claims(vec![], 60);
        refresh.token_use = "refresh".into();
        assert!(verifier.verify(&signer.sign(&refresh)).is_err());

        let other_audience =
            Verifier::new("fedimpute", "elsewhere", vec![signer.public_key().clone()]);
        assert!(other_audience.verify(&token).is_err());
    }

    #[test]
    fn keys_round_trip_through_pem() {
        let signer = TokenSigner::generate();
        let public = PublicKey::from_pem(&signer.public_key().to_pem()).unwrap();
        assert_eq!(public.kid(), signer.public_key().kid());
    }

    #[test]
    fn service_scopes_limit_management() {
        let scoped = claims(vec![RoleGrant::scoped(Role::ServiceAdmin, 3)], 60);
        assert!(scoped.can_manage_service(Some(3)));
        assert!(!scoped.can_manage_service(Some(4)));
        assert!(!scoped.can_manage_service(None));
        let researcher = claims(vec![RoleGrant::global(Role::Researcher)], 60);
        assert!(!researcher.can_manage_service(Some(3)));
    }
}
