//! Identity from verified tokens only. Access tokens are JWTs signed with
//! Ed25519 (EdDSA) by the Users service; every component verifies them with
//! the public keys, chosen by the token's `kid`. A request without a token
//! is anonymous; a request with a bad token is refused, never downgraded.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, RwLock},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{
    SigningKey, VerifyingKey,
    pkcs8::{
        DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey,
        spki::der::pem::LineEnding,
    },
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tonic::metadata::MetadataMap;

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
}

impl Caller {
    /// The verified claims, or `Unauthenticated`.
    pub fn user(&self) -> Result<&Claims, AuthError> {
        match self {
            Self::User(claims) => Ok(claims),
            Self::Anonymous => Err(AuthError::Missing),
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

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {path} is not a valid Ed25519 {kind} key in PEM: {reason}")]
    Parse {
        path: String,
        kind: &'static str,
        reason: String,
    },
}

/// An Ed25519 public key with its key id.
#[derive(Clone)]
pub struct PublicKey {
    kid: String,
    key: VerifyingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey").field("kid", &self.kid).finish()
    }
}

impl PublicKey {
    pub fn from_verifying_key(key: VerifyingKey) -> Self {
        Self {
            kid: key_id(&key),
            key,
        }
    }

    /// Parses a PEM `PUBLIC KEY` (SPKI).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        VerifyingKey::from_public_key_pem(pem)
            .map(Self::from_verifying_key)
            .map_err(|e| e.to_string())
    }

    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let pem = read(path)?;
        Self::from_pem(&pem).map_err(|reason| KeyError::Parse {
            path: path.display().to_string(),
            kind: "public",
            reason,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The raw 32-byte key, base64url (the JWK `x`).
    pub fn x(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.as_bytes())
    }

    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .expect("an Ed25519 public key always encodes")
    }
}

/// The key id: the first 16 base64url characters of SHA-256(public key).
fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)[..16].to_owned()
}

/// An Ed25519 private key that signs access tokens.
pub struct TokenSigner {
    key: SigningKey,
    encoding: EncodingKey,
    public: PublicKey,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A new random key.
    pub fn generate() -> Self {
        Self::from_signing_key(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    fn from_signing_key(key: SigningKey) -> Self {
        let der = key
            .to_pkcs8_der()
            .expect("an Ed25519 private key always encodes");
        Self {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            public: PublicKey::from_verifying_key(key.verifying_key()),
            key,
        }
    }

    /// Parses a PEM `PRIVATE KEY` (PKCS#8).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        SigningKey::from_pkcs8_pem(pem)
            .map(Self::from_signing_key)
            .map_err(|e| e.to_string())
    }

    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let pem = read(path)?;
        Self::from_pem(&pem).map_err(|reason| KeyError::Parse {
            path: path.display().to_string(),
            kind: "private",
            reason,
        })
    }

    /// Loads the key at `path`, or creates it (mode 0600) when absent: for
    /// development only.
    pub fn load_or_generate(path: &Path) -> Result<Self, KeyError> {
        if path.exists() {
            return Self::load(path);
        }
        let signer = Self::generate();
        let pem = signer
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("an Ed25519 private key always encodes");
        write_private(path, pem.as_bytes())?;
        tracing::info!(path = %path.display(), kid = %signer.public.kid, "generated a development token-signing key");
        Ok(signer)
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `claims` with this key's `kid` in the header.
    pub fn sign(&self, claims: &Claims) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.public.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .expect("signing with a valid Ed25519 key does not fail")
    }
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
                keys: RwLock::new(keys.into_iter().map(|k| (k.kid.clone(), k)).collect()),
            }),
        }
    }

    /// Adds (or replaces) a key, for rotation.
    pub fn add_key(&self, key: PublicKey) {
        self.inner
            .keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.kid.clone(), key);
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
        let decoding = DecodingKey::from_ed_der(key.key.as_bytes());
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

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Writes a secret file readable only by its owner, creating its directory.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let err = |source| KeyError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    std::io::Write::write_all(&mut file, contents).map_err(err)
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
