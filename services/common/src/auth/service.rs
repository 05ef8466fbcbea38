//! Service identity: how one component proves to another that a call comes
//! from it, and not from an end user.
//!
//! Each calling component holds its own Ed25519 key (a file from a Secret
//! mounted only into that component's pods) and signs short-lived service
//! tokens with it; the receiving component holds the public keys of the
//! components it trusts, by name. A token travels in the
//! `x-fedimpute-service-token` metadata, beside (never instead of) the end
//! user's `authorization`, so the gateway can forward a user's call and say
//! who forwarded it. An end user cannot forge one: the private keys never
//! leave their component, and a key only speaks for the component it is
//! registered under. See docs/users.md.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use super::{AuthError, KeyError, PublicKey, TokenSigner};

/// The metadata key that carries a service token.
pub const SERVICE_TOKEN_HEADER: &str = "x-fedimpute-service-token";
/// The `token_use` of service tokens.
pub const SERVICE: &str = "service";
/// The issuer of service tokens; the audience is `fedimpute-<receiver>`,
/// so a token one component received cannot be replayed to another.
const INTERNAL: &str = "fedimpute-internal";

fn audience_of(receiver: Component) -> String {
    format!("fedimpute-{receiver}")
}
/// Lifetime of a service token; renewed when less than a third is left.
const LIFETIME_SECS: i64 = 300;

/// The platform's components.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    Gateway,
    Registry,
    Users,
    Jobs,
}

impl Component {
    pub const ALL: [Self; 4] = [Self::Gateway, Self::Registry, Self::Users, Self::Jobs];

    pub fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Registry => "registry",
            Self::Users => "users",
            Self::Jobs => "jobs",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ServiceClaims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    jti: String,
    token_use: String,
}

/// A component's own identity: signs its service tokens.
#[derive(Clone, Debug)]
pub struct ServiceIdentity {
    component: Component,
    signer: Arc<TokenSigner>,
    cached: Arc<Mutex<HashMap<Component, (String, i64)>>>,
}

impl ServiceIdentity {
    pub fn new(component: Component, signer: TokenSigner) -> Self {
        Self {
            component,
            signer: Arc::new(signer),
            cached: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn component(&self) -> Component {
        self.component
    }

    pub fn public_key(&self) -> &PublicKey {
        self.signer.public_key()
    }

    /// A valid service token for calls to `receiver` (cached until a third
    /// of its life is left).
    pub fn token(&self, receiver: Component) -> String {
        let now = chrono::Utc::now().timestamp();
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, exp)) = cached.get(&receiver)
            && exp - now > LIFETIME_SECS / 3
        {
            return token.clone();
        }
        let claims = ServiceClaims {
            sub: self.component.name().to_owned(),
            iss: INTERNAL.to_owned(),
            aud: audience_of(receiver),
            iat: now,
            exp: now + LIFETIME_SECS,
            jti: super::random_id(),
            token_use: SERVICE.to_owned(),
        };
        let token = self.signer.sign_any(&claims);
        cached.insert(receiver, (token.clone(), now + LIFETIME_SECS));
        token
    }
}

/// The public keys of the components a service trusts, by name, and the
/// component they are trusted by (the audience tokens must name).
#[derive(Clone, Debug)]
pub struct ServiceKeys {
    receiver: Component,
    keys: Arc<HashMap<String, (Component, PublicKey)>>,
}

impl ServiceKeys {
    pub fn new(
        receiver: Component,
        keys: impl IntoIterator<Item = (Component, PublicKey)>,
    ) -> Self {
        Self {
            receiver,
            keys: Arc::new(
                keys.into_iter()
                    .map(|(c, k)| (k.kid().to_owned(), (c, k)))
                    .collect(),
            ),
        }
    }

    /// Loads `<dir>/<component>.pub` for each of `components` that has one.
    pub fn load_dir(
        dir: &Path,
        receiver: Component,
        components: &[Component],
    ) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for component in components {
            let path = dir.join(format!("{component}.pub"));
            if path.exists() {
                keys.push((*component, PublicKey::load(&path)?));
            }
        }
        Ok(Self::new(receiver, keys))
    }

    /// The components trusted.
    pub fn components(&self) -> Vec<Component> {
        let mut all: Vec<_> = self.keys.values().map(|(c, _)| *c).collect();
        all.sort_by_key(|c| c.name());
        all.dedup();
        all
    }

    /// The component that signed `token`, or why it cannot be trusted.
    pub fn verify(&self, token: &str) -> Result<Component, AuthError> {
        let invalid = |m: &str| AuthError::Invalid(format!("service token: {m}"));
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(&e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(invalid("algorithm not accepted"));
        }
        let (component, key) = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or_else(|| invalid("signed by an unknown key"))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[INTERNAL]);
        validation.set_audience(&[audience_of(self.receiver)]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let claims = jsonwebtoken::decode::<ServiceClaims>(
            token,
            &DecodingKey::from_ed_der(key.raw()),
            &validation,
        )
        .map_err(|e| invalid(&e.to_string()))?
        .claims;
        // A key speaks only for the component it is registered under.
        if claims.token_use != SERVICE || claims.sub != component.name() {
            return Err(invalid("not a service token of its key's component"));
        }
        Ok(*component)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_speaks_only_for_its_own_component() {
        let jobs = ServiceIdentity::new(Component::Jobs, TokenSigner::generate());
        let gateway = ServiceIdentity::new(Component::Gateway, TokenSigner::generate());
        let keys = ServiceKeys::new(
            Component::Users,
            [(Component::Jobs, jobs.public_key().clone())],
        );
        assert_eq!(
            keys.verify(&jobs.token(Component::Users)).unwrap(),
            Component::Jobs
        );
        assert!(keys.verify(&gateway.token(Component::Users)).is_err());

        // The jobs key registered as the gateway's: a jobs token is refused.
        let swapped = ServiceKeys::new(
            Component::Users,
            [(Component::Gateway, jobs.public_key().clone())],
        );
        assert!(swapped.verify(&jobs.token(Component::Users)).is_err());

        // A token for the registry is not accepted by the users service.
        assert!(keys.verify(&jobs.token(Component::Registry)).is_err());
    }

    #[test]
    fn tokens_are_cached_and_user_tokens_are_not_service_tokens() {
        let signer = TokenSigner::generate();
        let public = signer.public_key().clone();
        let jobs = ServiceIdentity::new(Component::Jobs, signer);
        assert_eq!(jobs.token(Component::Users), jobs.token(Component::Users));
        assert_ne!(
            jobs.token(Component::Users),
            jobs.token(Component::Registry)
        );
        let keys = ServiceKeys::new(Component::Users, [(Component::Jobs, public)]);
        let now = chrono::Utc::now().timestamp();
        let user_token = jobs.signer.sign(&super::super::Claims {
            sub: "jobs".into(),
            username: "jobs".into(),
            email: String::new(),
            roles: vec![],
            iat: now,
            exp: now + 60,
            iss: INTERNAL.into(),
            aud: audience_of(Component::Users),
            jti: "x".into(),
            token_use: super::super::ACCESS.into(),
            sid: String::new(),
        });
        assert!(keys.verify(&user_token).is_err());
    }
}
