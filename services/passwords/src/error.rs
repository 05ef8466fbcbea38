//! The crate's error type.

/// Why a password could not be hashed or verified.
///
/// No variant ever contains the password or the stored hash (only, at most,
/// the name of the hash scheme and its cost parameter).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The stored hash uses a scheme this crate does not verify.
    #[error("unsupported password hash scheme `{0}`")]
    UnsupportedScheme(String),
    /// The stored hash does not start with a recognisable scheme name.
    #[error("unrecognised password hash format (no scheme name)")]
    UnrecognisedFormat,
    /// The stored hash names a supported scheme but is malformed.
    #[error("malformed {scheme} password hash: {reason}")]
    MalformedHash {
        /// The scheme the hash claims to use (`bcrypt` or `pbkdf2_sha256`).
        scheme: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A stored PBKDF2 hash has an iteration count of 0 or above
    /// [`MAX_PBKDF2_ITERATIONS`](crate::MAX_PBKDF2_ITERATIONS).
    #[error("PBKDF2 iteration count {0} is out of range (1..={max})", max = crate::MAX_PBKDF2_ITERATIONS)]
    IterationsOutOfRange(u32),
    /// A bcrypt cost (requested, or in a stored hash) is outside 4..=31.
    #[error("bcrypt cost {0} is out of range (4..=31)")]
    CostOutOfRange(u32),
    /// The password is longer than bcrypt can hash without truncating it.
    #[error(
        "the password is {0} bytes long; bcrypt uses at most {max} bytes",
        max = crate::MAX_PASSWORD_BYTES
    )]
    PasswordTooLong(usize),
    /// bcrypt itself failed (for example, the OS random source is unavailable).
    #[error("bcrypt failed: {0}")]
    Bcrypt(bcrypt::BcryptError),
}
