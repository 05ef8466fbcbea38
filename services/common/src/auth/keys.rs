//! Ed25519 keys: the public keys that verify tokens (with their `kid`) and
//! the private key that signs them; PEM files on disk.

use std::path::Path;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{
    SigningKey, VerifyingKey,
    pkcs8::{
        DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey,
        spki::der::pem::LineEnding,
    },
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::{Digest, Sha256};

use super::Claims;

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

    /// The raw 32-byte key.
    pub fn raw(&self) -> &[u8] {
        self.key.as_bytes()
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

    /// Parses the JWK `x` (base64url of the raw 32-byte key).
    pub fn from_x(x: &str) -> Result<Self, String> {
        let raw = URL_SAFE_NO_PAD
            .decode(x.trim_end_matches('='))
            .map_err(|e| format!("x is not base64url: {e}"))?;
        let raw: [u8; 32] = raw
            .try_into()
            .map_err(|_| "x is not a 32-byte Ed25519 key".to_owned())?;
        VerifyingKey::from_bytes(&raw)
            .map(Self::from_verifying_key)
            .map_err(|e| e.to_string())
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
        self.sign_any(claims)
    }

    /// Signs any claims set (service tokens have their own).
    pub(crate) fn sign_any<T: serde::Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.public.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .expect("signing with a valid Ed25519 key does not fail")
    }

    /// Like [`TokenSigner::load_or_generate`], and writes the public key
    /// beside it as `<name>.pub` when that file is missing.
    pub fn load_or_generate_pair(path: &Path) -> Result<Self, KeyError> {
        let signer = Self::load_or_generate(path)?;
        let public = path.with_extension("pub");
        if !public.exists() {
            write_private(&public, signer.public.to_pem().as_bytes())?;
        }
        Ok(signer)
    }
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
