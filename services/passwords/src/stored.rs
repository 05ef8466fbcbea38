//! Parsing stored password hashes.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{BCRYPT_COSTS, MAX_PBKDF2_ITERATIONS, PasswordError};

const DJANGO_PBKDF2: &str = "pbkdf2_sha256";
/// Length of a PBKDF2-HMAC-SHA256 derived key as Django stores it.
pub(crate) const DJANGO_KEY_LEN: usize = 32;

/// A stored password hash, parsed.
///
/// Its `Debug` output leaves out the salt and the hash itself.
#[derive(Clone, PartialEq, Eq)]
pub enum StoredHash {
    /// A bcrypt hash (`$2a$`, `$2b$` or `$2y$`), kept as stored.
    Bcrypt(String),
    /// A legacy Django hash:
    /// `pbkdf2_sha256$<iterations>$<salt>$<base64 of the derived key>`.
    DjangoPbkdf2 {
        /// PBKDF2 iteration count (1..=10 000 000).
        iterations: u32,
        /// The salt, used as its UTF-8 bytes.
        salt: String,
        /// The 32-byte PBKDF2-HMAC-SHA256 derived key.
        hash: Vec<u8>,
    },
}

impl StoredHash {
    /// Parses a stored hash. Errors name the scheme but never echo the hash.
    pub fn parse(stored: &str) -> Result<Self, PasswordError> {
        if let Some(rest) = stored.strip_prefix('$') {
            let scheme = rest.split('$').next().unwrap_or_default();
            return match scheme {
                "2a" | "2b" | "2y" => parse_bcrypt(stored),
                _ => Err(unsupported(scheme)),
            };
        }
        match stored.split_once('$') {
            Some((DJANGO_PBKDF2, rest)) => parse_django_pbkdf2(rest),
            Some((scheme, _)) => Err(unsupported(scheme)),
            None => Err(PasswordError::UnrecognisedFormat),
        }
    }

    /// The bcrypt cost of a bcrypt hash, `None` for other schemes.
    pub(crate) fn bcrypt_cost(&self) -> Option<u32> {
        match self {
            Self::Bcrypt(hash) => hash.get(4..6).and_then(|cost| cost.parse().ok()),
            Self::DjangoPbkdf2 { .. } => None,
        }
    }
}

impl FromStr for StoredHash {
    type Err = PasswordError;

    fn from_str(stored: &str) -> Result<Self, Self::Err> {
        Self::parse(stored)
    }
}

impl fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bcrypt(_) => f
                .debug_struct("Bcrypt")
                .field("cost", &self.bcrypt_cost())
                .finish_non_exhaustive(),
            Self::DjangoPbkdf2 { iterations, .. } => f
                .debug_struct("DjangoPbkdf2")
                .field("iterations", iterations)
                .finish_non_exhaustive(),
        }
    }
}

/// The error for an unsupported scheme, naming it only if it looks like a
/// scheme name (so that a garbled hash is never echoed).
fn unsupported(scheme: &str) -> PasswordError {
    let plausible = (1..=32).contains(&scheme.len())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plausible {
        PasswordError::UnsupportedScheme(scheme.to_owned())
    } else {
        PasswordError::UnrecognisedFormat
    }
}

fn malformed(scheme: &'static str, reason: &'static str) -> PasswordError {
    PasswordError::MalformedHash { scheme, reason }
}

fn parse_bcrypt(stored: &str) -> Result<StoredHash, PasswordError> {
    // The bcrypt crate checks the layout and the base64 of salt and hash; its
    // error messages are fixed strings, never the hash.
    let parts = bcrypt::HashParts::from_str(stored).map_err(|err| match err {
        bcrypt::BcryptError::InvalidHash(reason) => malformed("bcrypt", reason),
        bcrypt::BcryptError::CostNotAllowed(_)
        | bcrypt::BcryptError::Rand(_)
        | bcrypt::BcryptError::Truncation(_) => malformed("bcrypt", "invalid hash"),
    })?;
    let cost = parts.get_cost();
    if !BCRYPT_COSTS.contains(&cost) {
        return Err(PasswordError::CostOutOfRange(cost));
    }
    Ok(StoredHash::Bcrypt(stored.to_owned()))
}

/// Parses what follows `pbkdf2_sha256$`.
fn parse_django_pbkdf2(rest: &str) -> Result<StoredHash, PasswordError> {
    let bad = |reason| malformed(DJANGO_PBKDF2, reason);
    let mut fields = rest.split('$');
    let (Some(iterations), Some(salt), Some(hash), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(bad("expected iterations, salt and hash separated by `$`"));
    };
    if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the iteration count is not a number"));
    }
    let iterations: u32 = iterations
        .parse()
        .map_err(|_| bad("the iteration count is out of range"))?;
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return Err(PasswordError::IterationsOutOfRange(iterations));
    }
    if salt.is_empty() {
        return Err(bad("the salt is empty"));
    }
    let hash = STANDARD
        .decode(hash)
        .map_err(|_| bad("the hash is not valid base64"))?;
    if hash.len() != DJANGO_KEY_LEN {
        return Err(bad("the hash is not 32 bytes long"));
    }
    Ok(StoredHash::DjangoPbkdf2 {
        iterations,
        salt: salt.to_owned(),
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_HASH: &str =
        "pbkdf2_sha256$600000$NgJBgULDh0tgNPb8sdZcmh$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg//4=";
    const BCRYPT_HASH: &str = "$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie";

    #[test]
    fn parses_django_pbkdf2() {
        let StoredHash::DjangoPbkdf2 {
            iterations,
            salt,
            hash,
        } = StoredHash::parse(TEST_HASH).unwrap()
        else {
            panic!("not a Django hash");
        };
        assert_eq!(iterations, 600_000);
        assert_eq!(salt, "NgJBgULDh0tgNPb8sdZcmh");
        assert_eq!(hash.len(), 32);
    }

    #[test]
    fn parses_bcrypt_versions() {
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let stored = format!("{prefix}{}", &BCRYPT_HASH[4..]);
            let parsed: StoredHash = stored.parse().unwrap();
            assert_eq!(parsed, StoredHash::Bcrypt(stored));
            assert_eq!(parsed.bcrypt_cost(), Some(4));
        }
    }

    #[test]
    fn debug_hides_salt_and_hash() {
        let debug = format!("{:?}", StoredHash::parse(TEST_HASH).unwrap());
        assert!(debug.contains("600000"), "{debug}");
        assert!(!debug.contains("NgJBgULDh0tgNPb8sdZcmh"), "{debug}");
        let debug = format!("{:?}", StoredHash::parse(BCRYPT_HASH).unwrap());
        assert!(!debug.contains(&BCRYPT_HASH[7..]), "{debug}");
    }

    #[test]
    fn malformed_hashes_are_rejected_without_echo() {
        let cases = [
            ("", "unrecognised"),
            ("plaintextpassword", "unrecognised"),
            ("5f4dcc3b5aa765d61d8327deb882cf99", "unrecognised"),
            (
                "argon2$argon2id$v=19$m=102400,t=2,p=8$c29tZXNhbHQ$aGFzaA",
                "`argon2`",
            ),
            (
                "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$aGFzaA",
                "`argon2id`",
            ),
            (
                "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/",
                "`6`",
            ),
            (
                "$2x$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie",
                "`2x`",
            ),
            (
                "pbkdf2_sha1$260000$NgJBgULDh0tgNPb8sdZcmh$KAPw1KEECmieHeMUc5hDHIi7Xy",
                "`pbkdf2_sha1`",
            ),
            (
                "bcrypt_sha256$$2b$12$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie",
                "`bcrypt_sha256`",
            ),
            ("secret password with spaces$x", "unrecognised"),
            (
                "$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxci",
                "malformed bcrypt",
            ),
            (
                "$2b$xx$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie",
                "malformed bcrypt",
            ),
            (
                "$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvd!cie",
                "malformed bcrypt",
            ),
            (
                "$2b$03$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie",
                "cost 3",
            ),
            (
                "$2b$32$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie",
                "cost 32",
            ),
            (
                "pbkdf2_sha256$600000$NgJBgULDh0tgNPb8sdZcmh",
                "malformed pbkdf2_sha256",
            ),
            (
                "pbkdf2_sha256$600000$NgJB$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg//4=$x",
                "malformed pbkdf2_sha256",
            ),
            (
                "pbkdf2_sha256$+600$NgJBgULDh0tgNPb8sdZcmh$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg//4=",
                "not a number",
            ),
            (
                "pbkdf2_sha256$0$NgJBgULDh0tgNPb8sdZcmh$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg//4=",
                "count 0",
            ),
            (
                "pbkdf2_sha256$10000001$NgJBgULDh0tgNPb8sdZcmh$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg//4=",
                "count 10000001",
            ),
            (
                "pbkdf2_sha256$99999999999$NgJBgULDh0tgNPb8sdZcmh$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg//4=",
                "out of range",
            ),
            (
                "pbkdf2_sha256$600000$$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg//4=",
                "salt is empty",
            ),
            (
                "pbkdf2_sha256$600000$NgJBgULDh0tgNPb8sdZcmh$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg//4",
                "not valid base64",
            ),
            (
                "pbkdf2_sha256$600000$NgJBgULDh0tgNPb8sdZcmh$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg",
                "not 32 bytes",
            ),
        ];
        for (stored, expected) in cases {
            let message = StoredHash::parse(stored).unwrap_err().to_string();
            assert!(message.contains(expected), "{stored:?}: {message}");
            if !stored.is_empty() {
                assert!(!message.contains(stored), "{stored:?}: {message}");
            }
            for secret in ["NgJBgULDh0tgNPb8sdZcmh", "KAPw1KEECmie", "EGdrhbKUv8Oc9v"] {
                assert!(!message.contains(secret), "{stored:?}: {message}");
            }
        }
    }
}
