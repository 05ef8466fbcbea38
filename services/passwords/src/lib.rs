//! Password hashing and the password policy.
//!
//! New passwords are hashed with bcrypt ([`hash`]). [`verify`] accepts bcrypt
//! hashes and the legacy Django `pbkdf2_sha256` hashes imported from the
//! original platform, and says when a hash should be replaced
//! ([`Verified::needs_rehash`]). [`dummy_verify`] does the same work for
//! unknown users, so that login timing does not reveal which users exist.
//! [`Policy`] decides whether a new password is acceptable.
//!
//! bcrypt only uses the first [`MAX_PASSWORD_BYTES`] bytes of a password:
//! [`hash`] and [`Policy::check`] refuse longer passwords instead of silently
//! truncating them.

mod error;
mod hashing;
mod policy;
mod stored;

pub use error::PasswordError;
pub use hashing::{Verified, dummy_verify, hash, verify};
pub use policy::{Policy, PolicyContext};
pub use stored::StoredHash;

/// The longest password, in bytes, that bcrypt hashes without truncating it.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// The bcrypt costs accepted by [`hash`] and [`verify`].
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// The largest PBKDF2 iteration count accepted in a stored Django hash.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
