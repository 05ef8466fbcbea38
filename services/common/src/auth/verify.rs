//! Verifying access tokens, and the server interceptor that does it for
//! every call.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tonic::metadata::MetadataMap;

use super::{ACCESS, AuthError, Caller, Claims, PublicKey};

/// Where a verifier fetches the current public keys when a token names a
/// key it does not know (the Users service's JWKS), so signing keys can
/// rotate without restarting anything.
#[tonic::async_trait]
pub trait KeySource: Send + Sync + std::fmt::Debug {
    async fn fetch(&self) -> Result<Vec<PublicKey>, String>;
}

#[derive(Debug)]
struct Refresh {
    source: std::sync::Arc<dyn KeySource>,
    min_interval: Duration,
    last: tokio::sync::Mutex<Option<Instant>>,
}

/// Verifies access tokens against a set of public keys chosen by `kid`.
#[derive(Clone, Debug)]
pub struct Verifier {
    inner: Arc<VerifierInner>,
}

#[derive(Debug)]
struct VerifierInner {
    issuer: String,
    audience: String,
    keys: RwLock<HashMap<String, PublicKey>>,
    refresh: Option<Refresh>,
}

impl Verifier {
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        keys: Vec<PublicKey>,
    ) -> Self {
        Self::build(issuer.into(), audience.into(), keys, None)
    }

    fn build(
        issuer: String,
        audience: String,
        keys: Vec<PublicKey>,
        refresh: Option<Refresh>,
    ) -> Self {
        Self {
            inner: Arc::new(VerifierInner {
                issuer,
                audience,
                keys: RwLock::new(keys.into_iter().map(|k| (k.kid().to_owned(), k)).collect()),
                refresh,
            }),
        }
    }

    /// A verifier that fetches keys from `source` on an unknown `kid`, at
    /// most once per `min_interval` (a flood of tokens with made-up key ids
    /// cannot turn into a flood of fetches).
    pub fn with_source(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        keys: Vec<PublicKey>,
        source: std::sync::Arc<dyn KeySource>,
        min_interval: Duration,
    ) -> Self {
        let refresh = Refresh {
            source,
            min_interval,
            last: tokio::sync::Mutex::new(None),
        };
        Self::build(issuer.into(), audience.into(), keys, Some(refresh))
    }

    /// Adds (or replaces) a key, for rotation.
    pub fn add_key(&self, key: PublicKey) {
        self.inner
            .keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.kid().to_owned(), key);
    }

    /// The keys known now.
    pub fn known_keys(&self) -> Vec<PublicKey> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    fn lookup(&self, kid: Option<&str>) -> Option<PublicKey> {
        let keys = self.inner.keys.read().unwrap_or_else(|e| e.into_inner());
        match kid {
            Some(kid) => keys.get(kid).cloned(),
            None if keys.len() == 1 => keys.values().next().cloned(),
            None => None,
        }
    }

    /// Checks signature, expiry, issuer and audience with the keys known now.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let kid = kid_of(token)?;
        let key = self
            .lookup(kid.as_deref())
            .ok_or_else(|| AuthError::Invalid("signed by an unknown key".to_owned()))?;
        self.verify_with(token, &key)
    }

    /// Like [`Verifier::verify`], but on an unknown key id fetches the
    /// current keys from the key source first (when there is one).
    pub async fn verify_fresh(&self, token: &str) -> Result<Claims, AuthError> {
        let kid = kid_of(token)?;
        if let Some(key) = self.lookup(kid.as_deref()) {
            return self.verify_with(token, &key);
        }
        if let (Some(refresh), Some(_)) = (&self.inner.refresh, &kid) {
            let mut last = refresh.last.lock().await;
            // Another caller may have fetched while this one waited.
            if self.lookup(kid.as_deref()).is_none()
                && last.is_none_or(|at| at.elapsed() >= refresh.min_interval)
            {
                *last = Some(Instant::now());
                match refresh.source.fetch().await {
                    Ok(keys) => {
                        for key in keys {
                            self.add_key(key);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot fetch the token-verification keys")
                    }
                }
            }
        }
        let key = self
            .lookup(kid.as_deref())
            .ok_or_else(|| AuthError::Invalid("signed by an unknown key".to_owned()))?;
        self.verify_with(token, &key)
    }

    fn verify_with(&self, token: &str, key: &PublicKey) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.inner.issuer]);
        validation.set_audience(&[&self.inner.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let decoding = DecodingKey::from_ed_der(key.raw());
        let claims = jsonwebtoken::decode::<Claims>(token, &decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        if claims.token_use != ACCESS {
            return Err(AuthError::Invalid("not an access token".to_owned()));
        }
        Ok(claims)
    }

    /// The caller of a gRPC request: anonymous without `authorization`,
    /// [`Caller::Invalid`] with a bad one.
    pub async fn caller(&self, metadata: &MetadataMap) -> Caller {
        let verified = match bearer(metadata) {
            Ok(None) => return Caller::Anonymous,
            Ok(Some(token)) => self.verify_fresh(token).await,
            Err(e) => Err(e),
        };
        match verified {
            Ok(claims) => Caller::User(Arc::new(claims)),
            Err(AuthError::Invalid(reason)) => Caller::Invalid(reason),
            Err(other @ (AuthError::Missing | AuthError::Forbidden(_))) => {
                Caller::Invalid(other.to_string())
            }
        }
    }
}

fn kid_of(token: &str) -> Result<Option<String>, AuthError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
    if header.alg != Algorithm::EdDSA {
        return Err(AuthError::Invalid(format!(
            "algorithm {:?} is not accepted",
            header.alg
        )));
    }
    Ok(header.kid)
}

/// The bearer token of the `authorization` metadata, if any.
pub(crate) fn bearer(metadata: &MetadataMap) -> Result<Option<&str>, AuthError> {
    let Some(value) = metadata.get("authorization") else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| AuthError::Invalid("the authorization header is not text".to_owned()))?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(|t| Some(t.trim()))
        .ok_or_else(|| AuthError::Invalid("expected 'Bearer <token>'".to_owned()))
}
