//! Client secrets: stored as salted SHA-256 hashes, compared in constant time.
//!
//! A fast hash is right here because coeur only accepts high-entropy client secrets
//! (at least 32 characters, generated ones carry 256 bits): a password hash such as Argon2
//! would cost milliseconds on every token request without adding security for such secrets.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// Minimum length of a client secret.
pub const MIN_SECRET_LEN: usize = 32;

/// A stored secret hash, `sha256$<salt>$<hash>` (base64url).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHash(String);

/// Proof that a presented secret matched. Only [`SecretHash::verify`] makes one.
#[derive(Debug)]
pub struct SecretMatched(());

impl SecretHash {
    /// Hashes `secret` with `salt` (16 random bytes from the caller).
    pub fn new(secret: &str, salt: &[u8; 16]) -> Self {
        let h = hash(salt, secret);
        Self(format!(
            "sha256${}${}",
            URL_SAFE_NO_PAD.encode(salt),
            URL_SAFE_NO_PAD.encode(h)
        ))
    }

    /// Reads a stored hash.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let mut it = s.split('$');
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some("sha256"), Some(salt), Some(h), None)
                if URL_SAFE_NO_PAD.decode(salt).is_ok_and(|v| v.len() == 16)
                    && URL_SAFE_NO_PAD.decode(h).is_ok_and(|v| v.len() == 32) =>
            {
                Ok(Self(s.to_owned()))
            }
            _ => Err("a secret hash has the form sha256$<salt>$<hash>"),
        }
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks a presented secret.
    pub fn verify(&self, presented: &str) -> Option<SecretMatched> {
        let mut it = self.0.split('$').skip(1);
        let salt = URL_SAFE_NO_PAD.decode(it.next()?).ok()?;
        let expected = URL_SAFE_NO_PAD.decode(it.next()?).ok()?;
        let got = hash(&salt, presented);
        bool::from(got.as_slice().ct_eq(expected.as_slice())).then_some(SecretMatched(()))
    }
}

fn hash(salt: &[u8], secret: &str) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(salt);
    ctx.update(secret.as_bytes());
    ctx.finish().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = SecretHash::new("a-very-long-client-secret-0123456789", &[7; 16]);
        let again = SecretHash::parse(h.as_str()).unwrap();
        assert!(
            again
                .verify("a-very-long-client-secret-0123456789")
                .is_some()
        );
        assert!(
            again
                .verify("a-very-long-client-secret-012345678")
                .is_none()
        );
        assert!(SecretHash::parse("plain").is_err());
    }
}
