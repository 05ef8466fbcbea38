//! Signed, expiring links to an input file, for remotes that fetch their
//! input (GA4GH WES): the token is the file id and an expiry, sealed with
//! the platform's key (AES-GCM: it cannot be forged or altered).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use fedimpute_common::crypto::Keyring;
use serde::{Deserialize, Serialize};

const CONTEXT: &[u8] = b"fedimpute signed input link";

#[derive(Serialize, Deserialize)]
struct Claims {
    f: String,
    e: i64,
}

/// A token for `file_id`, valid until `expires`.
pub(crate) fn sign(keyring: &Keyring, file_id: &str, expires: DateTime<Utc>) -> String {
    let claims = Claims {
        f: file_id.to_owned(),
        e: expires.timestamp(),
    };
    let sealed = keyring.seal(
        serde_json::to_string(&claims)
            .unwrap_or_default()
            .as_bytes(),
        CONTEXT,
    );
    URL_SAFE_NO_PAD.encode(sealed)
}

/// The file id of a valid, unexpired token.
pub(crate) fn verify(keyring: &Keyring, token: &str, now: DateTime<Utc>) -> Result<String, String> {
    let invalid = || "the link is invalid".to_owned();
    let sealed = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| invalid())?;
    let sealed = String::from_utf8(sealed).map_err(|_| invalid())?;
    let clear = keyring.open(&sealed, CONTEXT).map_err(|_| invalid())?;
    let claims: Claims = serde_json::from_slice(&clear).map_err(|_| invalid())?;
    if claims.e < now.timestamp() {
        return Err("the link has expired".into());
    }
    Ok(claims.f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_cannot_be_altered() {
        let keyring = Keyring::new([7; 32], &[]);
        let now = Utc::now();
        let token = sign(&keyring, "f-1", now + chrono::Duration::hours(1));
        assert_eq!(verify(&keyring, &token, now).unwrap(), "f-1");
        assert_eq!(
            verify(&keyring, &token, now + chrono::Duration::hours(2)).unwrap_err(),
            "the link has expired"
        );
        let mut altered = token.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(verify(&keyring, &String::from_utf8(altered).unwrap(), now).is_err());
        let other = Keyring::new([8; 32], &[]);
        assert!(verify(&other, &token, now).is_err());
    }
}
