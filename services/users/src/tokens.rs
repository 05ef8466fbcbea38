//! Issuing tokens: Ed25519 access JWTs with the user's grants in force, and
//! random refresh and reset tokens that are stored only as SHA-256.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use fedimpute_common::auth::{ACCESS, Claims, PublicKey, RoleGrant, random_id};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{
    config::TokenSettings,
    store::{GrantRecord, UserRecord},
};

/// A fresh random secret token (256 bits, base64url).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How a token is stored: SHA-256, hex. 256 random bits need no salt or
/// slow hash; a stolen table gives nothing usable.
pub(crate) fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Clone, Debug)]
pub(crate) struct Tokens {
    settings: TokenSettings,
}

/// A signed access token and its lifetime in seconds.
#[derive(Debug)]
pub(crate) struct Access {
    pub(crate) token: String,
    pub(crate) expires_in: i64,
}

impl Tokens {
    pub(crate) fn new(settings: TokenSettings) -> Self {
        Self { settings }
    }

    pub(crate) fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// The published keys.
    pub(crate) fn public_keys(&self) -> Vec<PublicKey> {
        self.settings.public_keys()
    }

    /// An access token for `user` in session `sid`, carrying the grants in
    /// force and expiring no later than the first of them.
    pub(crate) fn access(&self, user: &UserRecord, grants: &[GrantRecord], sid: &str) -> Access {
        let now = Utc::now();
        let live: Vec<&GrantRecord> = grants.iter().filter(|g| g.in_force(now)).collect();
        let ttl = i64::try_from(self.settings.access_ttl.as_secs()).unwrap_or(900);
        let mut exp = now.timestamp() + ttl;
        if let Some(first) = live.iter().filter_map(|g| g.expires_at).min() {
            exp = exp.min(first.timestamp()).max(now.timestamp() + 1);
        }
        let claims = Claims {
            sub: user.id.to_string(),
            username: user.username.clone(),
            email: user.email.clone(),
            roles: live
                .iter()
                .map(|g| RoleGrant {
                    role: g.role,
                    service_id: g.service_id,
                })
                .collect(),
            iat: now.timestamp(),
            exp,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            jti: random_id(),
            token_use: ACCESS.to_owned(),
            sid: sid.to_owned(),
        };
        Access {
            token: self.settings.signer.sign(&claims),
            expires_in: exp - now.timestamp(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_tokens_random() {
        assert_eq!(token_hash("a"), token_hash("a"));
        assert_eq!(token_hash("a").len(), 64);
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 43);
    }
}
