//! Hashing and verifying passwords.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Mutex, OnceLock, PoisonError};

use sha2_11::Sha256;
use subtle::ConstantTimeEq as _;

use crate::stored::DJANGO_KEY_LEN;
use crate::{BCRYPT_COSTS, MAX_PASSWORD_BYTES, PasswordError, StoredHash};

/// The outcome of [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Verified {
    /// Whether the password matches the stored hash.
    pub matches: bool,
    /// Whether the caller should store a fresh [`hash`] of the password: the
    /// password matched and the stored hash is a legacy Django hash or a
    /// bcrypt hash of another cost than the one wanted. Never set when the
    /// password did not match.
    pub needs_rehash: bool,
}

/// Hashes a password with bcrypt at `cost` (4..=31).
///
/// Refuses passwords longer than [`MAX_PASSWORD_BYTES`] rather than letting
/// bcrypt silently ignore the rest.
pub fn hash(password: &str, cost: u32) -> Result<String, PasswordError> {
    check_cost(cost)?;
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::PasswordTooLong(password.len()));
    }
    bcrypt::hash(password, cost).map_err(PasswordError::Bcrypt)
}

/// Verifies a password against a stored bcrypt or Django `pbkdf2_sha256`
/// hash; `wanted_cost` is the bcrypt cost new hashes are made with (4..=31).
///
/// Errors only when the stored hash (or `wanted_cost`) is unusable, never
/// because the password is wrong.
pub fn verify(password: &str, stored: &str, wanted_cost: u32) -> Result<Verified, PasswordError> {
    check_cost(wanted_cost)?;
    let stored_hash = StoredHash::parse(stored)?;
    let cost = stored_hash.bcrypt_cost();
    let (matches, legacy) = match stored_hash {
        StoredHash::Bcrypt(hash) => {
            let matches = bcrypt::verify(password, &hash).map_err(PasswordError::Bcrypt)?;
            // bcrypt ignores bytes past the 72nd, and `hash` never hashes
            // such passwords: a longer password cannot be the right one.
            (matches && password.len() <= MAX_PASSWORD_BYTES, false)
        }
        StoredHash::DjangoPbkdf2 {
            iterations,
            salt,
            hash,
        } => {
            let derived = pbkdf2::pbkdf2_hmac_array::<Sha256, DJANGO_KEY_LEN>(
                password.as_bytes(),
                salt.as_bytes(),
                iterations,
            );
            (bool::from(derived.ct_eq(hash.as_slice())), true)
        }
    };
    Ok(Verified {
        matches,
        needs_rehash: matches && (legacy || cost != Some(wanted_cost)),
    })
}

/// Does the work of [`verify`] against a bcrypt hash of `cost` and discards
/// the result: call it for unknown users so that the response time does not
/// reveal whether a user exists.
///
/// The dummy hash is made once per cost, from a random password. A cost
/// outside 4..=31 is clamped into that range.
pub fn dummy_verify(password: &str, cost: u32) {
    let cost = cost.clamp(*BCRYPT_COSTS.start(), *BCRYPT_COSTS.end());
    match dummy_hash(cost) {
        Some(dummy) => {
            black_box(bcrypt::verify(password, &dummy).ok());
        }
        // Only if the OS random source failed: still do the same work.
        None => {
            black_box(bcrypt::hash_with_salt(password, cost, [0; 16]).ok());
        }
    }
}

/// The dummy bcrypt hash for `cost`, made on first use.
fn dummy_hash(cost: u32) -> Option<String> {
    static DUMMIES: OnceLock<Mutex<HashMap<u32, String>>> = OnceLock::new();
    let dummies = DUMMIES.get_or_init(Mutex::default);
    if let Some(dummy) = lock(dummies).get(&cost) {
        return Some(dummy.clone());
    }
    // Hash outside the lock: a concurrent first call may hash too, harmlessly.
    // The random password is the salt of a fresh bcrypt hash, which is 16
    // bytes from the OS random source.
    let random_password = bcrypt::hash_with_result([], *BCRYPT_COSTS.start())
        .ok()?
        .get_salt();
    let dummy = bcrypt::hash(random_password, cost).ok()?;
    Some(lock(dummies).entry(cost).or_insert(dummy).clone())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn check_cost(cost: u32) -> Result<(), PasswordError> {
    if BCRYPT_COSTS.contains(&cost) {
        Ok(())
    } else {
        Err(PasswordError::CostOutOfRange(cost))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Legacy hashes from the original platform's dump.
    const TEST_HASH: &str =
        "pbkdf2_sha256$600000$NgJBgULDh0tgNPb8sdZcmh$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg//4=";
    const ADMIN_HASH: &str =
        "pbkdf2_sha256$600000$nQ1AKHsJ5JAAZQrJcl302r$pvr5ZFO+vs22YMmRqlp21Nm/4V5/fKWnkYGFvURBfZI=";

    const MISMATCH: Verified = Verified {
        matches: false,
        needs_rehash: false,
    };

    #[test]
    fn legacy_django_hashes_verify_and_need_rehash() {
        for (stored, password, wrong) in [
            (TEST_HASH, "test_password", "admin_password"),
            (ADMIN_HASH, "admin_password", "test_password"),
        ] {
            let ok = verify(password, stored, 4).unwrap();
            assert_eq!(
                ok,
                Verified {
                    matches: true,
                    needs_rehash: true
                },
                "{password}"
            );
            assert_eq!(verify(wrong, stored, 4).unwrap(), MISMATCH, "{wrong}");
        }
    }

    #[test]
    fn bcrypt_round_trip() {
        let stored = hash("correct horse battery staple", 4).unwrap();
        assert!(stored.starts_with("$2b$04$"), "{stored}");
        let ok = verify("correct horse battery staple", &stored, 4).unwrap();
        assert_eq!(
            ok,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
        assert_eq!(
            verify("correct horse battery stapl", &stored, 4).unwrap(),
            MISMATCH
        );
        assert_eq!(verify("", &stored, 4).unwrap(), MISMATCH);
        // Same hash with the other accepted version prefixes.
        for prefix in ["$2a$", "$2y$"] {
            let other = format!("{prefix}{}", &stored[4..]);
            assert!(
                verify("correct horse battery staple", &other, 4)
                    .unwrap()
                    .matches
            );
        }
    }

    #[test]
    fn needs_rehash_when_cost_differs() {
        let stored = hash("Xk3!vR9#tq2L", 4).unwrap();
        let ok = verify("Xk3!vR9#tq2L", &stored, 5).unwrap();
        assert!(ok.matches && ok.needs_rehash);
        assert_eq!(verify("Xk3!vR9#tq2l", &stored, 5).unwrap(), MISMATCH);
    }

    #[test]
    fn costs_are_checked() {
        for cost in [0, 3, 32] {
            assert!(matches!(hash("x", cost), Err(PasswordError::CostOutOfRange(c)) if c == cost));
            assert!(matches!(
                verify("x", TEST_HASH, cost),
                Err(PasswordError::CostOutOfRange(c)) if c == cost
            ));
        }
    }

    #[test]
    fn long_passwords_are_not_truncated() {
        let max = "é".repeat(MAX_PASSWORD_BYTES / 2);
        let stored = hash(&max, 4).unwrap();
        assert!(verify(&max, &stored, 4).unwrap().matches);
        // Same first 72 bytes: bcrypt alone would accept it.
        let longer = format!("{max}x");
        assert!(matches!(
            hash(&longer, 4),
            Err(PasswordError::PasswordTooLong(73))
        ));
        assert_eq!(verify(&longer, &stored, 4).unwrap(), MISMATCH);
    }

    #[test]
    fn verify_rejects_malformed_hashes_without_echo() {
        let stored =
            "pbkdf2_sha256$600000$NgJBgULDh0tgNPb8sdZcmh$KAPw1KEECmieHeMUc5hDHIi7XyKe3EROiysOp4Pg";
        let message = verify("test_password", stored, 4).unwrap_err().to_string();
        assert!(!message.contains(stored), "{message}");
        assert!(!message.contains("NgJBgULDh0tgNPb8sdZcmh"), "{message}");
        assert!(!message.contains("test_password"), "{message}");
    }

    #[test]
    fn dummy_verify_uses_one_random_hash_per_cost() {
        dummy_verify("whatever", 4);
        dummy_verify("whatever", 0); // clamped to 4
        let first = dummy_hash(4).unwrap();
        assert!(first.starts_with("$2b$04$"), "{first}");
        assert_eq!(dummy_hash(4).unwrap(), first);
        assert!(!verify("", &first, 4).unwrap().matches);
        assert!(!verify("whatever", &first, 4).unwrap().matches);
    }
}
