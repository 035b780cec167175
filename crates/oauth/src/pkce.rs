//! PKCE (RFC 7636), S256 only: `plain` is refused (RFC 9700 §2.1.1).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// A validated S256 code challenge (43 base64url characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

/// Proof that a token request's `code_verifier` matched the code's challenge. Only
/// [`verify`] makes one.
#[derive(Debug)]
pub struct PkceVerified(());

impl CodeChallenge {
    /// Parses a challenge sent with `code_challenge_method`.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, &'static str> {
        match method {
            Some("S256") => {}
            Some("plain") | None => {
                return Err("code_challenge_method must be S256; plain is not accepted");
            }
            Some(_) => return Err("unsupported code_challenge_method"),
        }
        if challenge.len() != 43 || !is_b64url(challenge) {
            return Err("code_challenge must be a base64url SHA-256 value (43 characters)");
        }
        Ok(Self(challenge.to_owned()))
    }

    /// Rebuilds a stored challenge.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// The challenge.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_b64url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a `code_verifier` against the challenge (RFC 7636 §4.6).
pub fn verify(challenge: &CodeChallenge, verifier: &str) -> Result<PkceVerified, &'static str> {
    if verifier.len() < 43
        || verifier.len() > 128
        || !verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        return Err("code_verifier is malformed");
    }
    let computed = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    if bool::from(computed.as_bytes().ct_eq(challenge.0.as_bytes())) {
        Ok(PkceVerified(()))
    } else {
        Err("code_verifier does not match the code_challenge")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_verifier_matches() {
        // Challenge computed independently: base64url(SHA-256(verifier)).
        let c = CodeChallenge::parse("n7y9mWizNKIm0sx6qNrauhtys1VCoDWiE_BjyLxYGQQ", Some("S256"))
            .unwrap();
        assert!(verify(&c, "k2Vd9pCfQy7rTn3LwXe6uZb1HsGm8JaKo4RiNt0YcMv").is_ok());
        assert!(verify(&c, "k2Vd9pCfQy7rTn3LwXe6uZb1HsGm8JaKo4RiNt0YcMw").is_err());
        assert!(verify(&c, "short").is_err());
    }

    #[test]
    fn plain_is_refused() {
        assert!(
            CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("plain"))
                .is_err()
        );
        assert!(CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", None).is_err());
        assert!(CodeChallenge::parse("short", Some("S256")).is_err());
    }
}
