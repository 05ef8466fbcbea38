//! Verifying access tokens, and the server interceptor that does it for
//! every call.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tonic::metadata::MetadataMap;

use super::{ACCESS, AuthError, Caller, Claims, PublicKey};

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
}

impl Verifier {
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        keys: Vec<PublicKey>,
    ) -> Self {
        Self {
            inner: Arc::new(VerifierInner {
                issuer: issuer.into(),
                audience: audience.into(),
                keys: RwLock::new(keys.into_iter().map(|k| (k.kid().to_owned(), k)).collect()),
            }),
        }
    }

    /// Adds (or replaces) a key, for rotation.
    pub fn add_key(&self, key: PublicKey) {
        self.inner
            .keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.kid().to_owned(), key);
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// Checks signature, expiry, issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let key = {
            let keys = self.inner.keys.read().unwrap_or_else(|e| e.into_inner());
            match &header.kid {
                Some(kid) => keys.get(kid).cloned(),
                None if keys.len() == 1 => keys.values().next().cloned(),
                None => None,
            }
        }
        .ok_or_else(|| AuthError::Invalid("signed by an unknown key".to_owned()))?;

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
    /// refused with a bad one.
    pub fn caller(&self, metadata: &MetadataMap) -> Result<Caller, AuthError> {
        let Some(value) = metadata.get("authorization") else {
            return Ok(Caller::Anonymous);
        };
        let value = value
            .to_str()
            .map_err(|_| AuthError::Invalid("the authorization header is not text".to_owned()))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| AuthError::Invalid("expected 'Bearer <token>'".to_owned()))?;
        self.verify(token.trim())
            .map(|claims| Caller::User(Arc::new(claims)))
    }
}

/// Server interceptor: verifies the bearer token of every call (refusing
/// a bad one with `Unauthenticated`) and leaves the [`Caller`] in the
/// request's extensions for [`caller_of`].
#[derive(Clone, Debug)]
pub struct Authenticate {
    verifier: Verifier,
}

impl Authenticate {
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

impl tonic::service::Interceptor for Authenticate {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let caller = self
            .verifier
            .caller(request.metadata())
            .map_err(|e| tonic::Status::unauthenticated(e.to_string()))?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The caller [`Authenticate`] identified; anonymous when it did not run.
pub fn caller_of<T>(request: &tonic::Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller::Anonymous)
}
