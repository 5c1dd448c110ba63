//! Secrets: random tokens from the kernel, SHA-256 digests of bearer tokens and
//! session ids (only digests are stored), argon2id password hashes (PHC strings, the
//! crate's default parameters: 19 MiB, 2 passes, 1 lane), and comparison without an
//! early exit.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};
use std::io::Read;

/// The prefix of every API token, so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "levee_";

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
/// Longest password accepted (argon2 takes any length; a bound keeps a login cheap to
/// refuse).
pub const MAX_PASSWORD: usize = 1024;

/// Why a secret could not be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The kernel's random source failed.
    #[error("cannot read random bytes from /dev/urandom: {0}")]
    Random(#[from] std::io::Error),
    /// The password is too short or too long.
    #[error("a password must be {MIN_PASSWORD} to {MAX_PASSWORD} bytes long")]
    PasswordLength,
    /// argon2 refused (never expected with the default parameters).
    #[error("argon2: {0}")]
    Hash(String),
}

/// `n` random bytes from the kernel.
pub fn random<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut b = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b)
}

/// A new random secret: 32 bytes as hex.
pub fn new_secret() -> Result<String, SecretError> {
    Ok(crate::human::hex(&random::<32>()?))
}

/// A new API token: [`TOKEN_PREFIX`] and 32 random bytes as hex.
pub fn new_token() -> Result<String, SecretError> {
    Ok(format!("{TOKEN_PREFIX}{}", new_secret()?))
}

/// A generated password: 20 random bytes as hex (160 bits).
pub fn new_password() -> Result<String, SecretError> {
    Ok(crate::human::hex(&random::<20>()?))
}

/// The SHA-256 of a token or session id, as hex: what is stored and looked up.
pub fn digest(secret: &str) -> String {
    crate::human::hex(&Sha256::digest(secret.as_bytes()))
}

/// An argon2id hash of `password` with a fresh 16-byte salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, SecretError> {
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&password.len()) {
        return Err(SecretError::PasswordLength);
    }
    let salt = random::<16>()?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SecretError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash or an
/// over-long password).
pub fn verify_password(password: &str, hash: &str) -> bool {
    password.len() <= MAX_PASSWORD
        && Argon2::default()
            .verify_password(password.as_bytes(), hash)
            .is_ok()
}

/// Compares without an early exit, so timing does not tell how much matched.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
        let again = hash_password("correct horse battery").unwrap();
        assert_ne!(h, again, "fresh salt each time");
        assert!(matches!(
            hash_password("short"),
            Err(SecretError::PasswordLength)
        ));
    }

    #[test]
    fn tokens_are_random_and_only_their_digest_is_kept() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
        assert!(same(&digest(&a), &digest(&a)));
        assert!(!same(&digest(&a), &digest(&b)));
    }
}
