//! Secrets at rest: AES-256-GCM under a keyring. Each sealed value names the
//! key that sealed it, so the current key can rotate while older values stay
//! readable (old keys kept for decryption only).
//!
//! Sealed form: `v1.<kid>.<base64(nonce || ciphertext)>`.

use std::{collections::HashMap, path::Path};

use aes_gcm::{
    Aes256Gcm, Key, Nonce,
    aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};

use crate::auth::{KeyError, write_private};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with key '{0}', which is not in the keyring")]
    UnknownKey(String),
    #[error("sealed value failed authentication (wrong key or tampered)")]
    Tampered,
}

/// AES-256-GCM keys by id; the first is used to seal.
#[derive(Clone)]
pub struct Keyring {
    current: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Keyring {
    /// `current` seals; `older` only open.
    pub fn new(current: [u8; 32], older: &[[u8; 32]]) -> Self {
        let mut keys = HashMap::new();
        let current_id = Self::key_id(&current);
        keys.insert(
            current_id.clone(),
            Aes256Gcm::new(&Key::<Aes256Gcm>::from(current)),
        );
        for key in older {
            keys.insert(
                Self::key_id(key),
                Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)),
            );
        }
        Self {
            current: current_id,
            keys,
        }
    }

    fn key_id(key: &[u8; 32]) -> String {
        let digest = Sha256::digest(key);
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A fresh random key, base64, as key files hold it.
    pub fn generate_key_file_contents() -> String {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        STANDARD.encode(key)
    }

    /// Reads a key file: base64 of 32 bytes.
    pub fn read_key(path: &Path) -> Result<[u8; 32], KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let parse_error = |reason: String| KeyError::Parse {
            path: path.display().to_string(),
            kind: "AES-256",
            reason,
        };
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| parse_error(format!("not base64: {e}")))?;
        bytes
            .try_into()
            .map_err(|b: Vec<u8>| parse_error(format!("expected 32 bytes, found {}", b.len())))
    }

    /// Loads the current key and any older ones.
    pub fn load(current: &Path, older: &[impl AsRef<Path>]) -> Result<Self, KeyError> {
        let current = Self::read_key(current)?;
        let older = older
            .iter()
            .map(|p| Self::read_key(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(current, &older))
    }

    /// Loads `path`, creating it (mode 0600) when absent: development only.
    pub fn load_or_generate(path: &Path) -> Result<Self, KeyError> {
        if !path.exists() {
            write_private(path, Self::generate_key_file_contents().as_bytes())?;
            tracing::info!(path = %path.display(), "generated a development encryption key");
        }
        Self::load(path, &[] as &[&Path])
    }

    /// Seals `plaintext`, bound to `context` (authenticated, not stored).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> String {
        let cipher = &self.keys[&self.current];
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer does not fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("v1.{}.{}", self.current, STANDARD.encode(blob))
    }

    /// Opens a value sealed by any key of the ring with the same `context`.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(kid), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Malformed);
        };
        let cipher = self
            .keys
            .get(kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.to_owned()))?;
        let blob = STANDARD.decode(data).map_err(|_| CryptoError::Malformed)?;
        if blob.len() < 12 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| CryptoError::Tampered)
    }

    /// Whether `sealed` was sealed by an older key and should be re-sealed.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) != Some(self.current.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_across_rotation() {
        let old = Keyring::new([1; 32], &[]);
        let sealed = old.seal(b"cloudgene-token", b"ctx");
        assert!(!sealed.contains("cloudgene-token"));
        assert_eq!(old.open(&sealed, b"ctx").unwrap(), b"cloudgene-token");
        assert!(matches!(
            old.open(&sealed, b"other"),
            Err(CryptoError::Tampered)
        ));

        let rotated = Keyring::new([2; 32], &[[1; 32]]);
        assert_eq!(rotated.open(&sealed, b"ctx").unwrap(), b"cloudgene-token");
        assert!(rotated.needs_reseal(&sealed));
        let new_only = Keyring::new([2; 32], &[]);
        assert!(matches!(
            new_only.open(&sealed, b"ctx"),
            Err(CryptoError::UnknownKey(_))
        ));
    }
}
