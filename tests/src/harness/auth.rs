//! Access tokens signed with a test key, as the Users service will sign them.

use std::sync::Arc;

use fedimpute_common::auth::{
    Claims, Component, Role, RoleGrant, ServiceIdentity, ServiceKeys, TokenSigner, Verifier,
};

pub const ISSUER: &str = "fedimpute";
pub const AUDIENCE: &str = "fedimpute";

/// A test signing key and the verifier that trusts it.
#[derive(Debug)]
pub struct TestAuth {
    signer: Arc<TokenSigner>,
    /// The Jobs component's identity (for the internal RPCs).
    pub jobs: ServiceIdentity,
    /// The gateway's identity (trusted client metadata).
    pub gateway: ServiceIdentity,
}

impl Default for TestAuth {
    fn default() -> Self {
        Self::new()
    }
}

impl TestAuth {
    pub fn new() -> Self {
        Self {
            signer: Arc::new(TokenSigner::generate()),
            jobs: ServiceIdentity::new(Component::Jobs, TokenSigner::generate()),
            gateway: ServiceIdentity::new(Component::Gateway, TokenSigner::generate()),
        }
    }

    /// The signing key, shared with a users service under test.
    pub fn signer(&self) -> Arc<TokenSigner> {
        self.signer.clone()
    }

    /// The service keys `receiver` trusts under test.
    pub fn service_keys(&self, receiver: Component) -> ServiceKeys {
        ServiceKeys::new(
            receiver,
            [
                (Component::Jobs, self.jobs.public_key().clone()),
                (Component::Gateway, self.gateway.public_key().clone()),
            ],
        )
    }

    pub fn verifier(&self) -> Verifier {
        Verifier::new(ISSUER, AUDIENCE, vec![self.signer.public_key().clone()])
    }

    /// Signs arbitrary claims with the test key.
    pub fn sign(&self, claims: &Claims) -> String {
        self.signer.sign(claims)
    }

    /// A token for `username` with `roles`.
    pub fn token(&self, username: &str, roles: Vec<RoleGrant>) -> String {
        let now = chrono::Utc::now().timestamp();
        self.signer.sign(&Claims {
            sub: "1".into(),
            username: username.into(),
            email: format!("{username}@example.org"),
            roles,
            iat: now,
            exp: now + 900,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            jti: format!("{username}-{now}"),
            token_use: fedimpute_common::auth::ACCESS.into(),
            sid: String::new(),
        })
    }

    pub fn admin(&self) -> String {
        self.token("admin", vec![RoleGrant::global(Role::Admin)])
    }

    pub fn researcher(&self) -> String {
        self.token("researcher", vec![RoleGrant::global(Role::Researcher)])
    }

    pub fn service_admin_of(&self, service_id: i64) -> String {
        self.token(
            "service-admin",
            vec![RoleGrant::scoped(Role::ServiceAdmin, service_id)],
        )
    }
}

/// Attaches `authorization: Bearer <token>` to a request.
pub fn bearer<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .expect("a token is valid metadata"),
    );
    request
}
