//! JSON Web Signatures for the tokens coeur issues, and the public JWKS.
//!
//! Signing is written here on aws-lc-rs rather than through `jsonwebtoken::encode`, because
//! the latter re-parses the PKCS#8 key (a public-key computation) on every call; keeping the
//! parsed key pair halves the cost of each ID and access token. Verification of tokens from
//! others (client assertions, hints) goes through `jsonwebtoken`.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
    RsaKeyPair,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A JWS algorithm coeur signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigAlg {
    /// ECDSA P-256 with SHA-256 (the default).
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// HMAC-SHA-256 keyed with the client secret (PSC compatibility).
    HS256,
}

impl SigAlg {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigAlg::ES256 => "ES256",
            SigAlg::RS256 => "RS256",
            SigAlg::PS256 => "PS256",
            SigAlg::HS256 => "HS256",
        }
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(SigAlg::ES256),
            "RS256" => Some(SigAlg::RS256),
            "PS256" => Some(SigAlg::PS256),
            "HS256" => Some(SigAlg::HS256),
            _ => None,
        }
    }
    /// The matching `jsonwebtoken` algorithm.
    pub fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            SigAlg::ES256 => jsonwebtoken::Algorithm::ES256,
            SigAlg::RS256 => jsonwebtoken::Algorithm::RS256,
            SigAlg::PS256 => jsonwebtoken::Algorithm::PS256,
            SigAlg::HS256 => jsonwebtoken::Algorithm::HS256,
        }
    }
}

/// Errors of the signing layer.
#[derive(Debug, thiserror::Error)]
pub enum JoseError {
    /// The key bytes are not a key of the expected type.
    #[error("key rejected: {0}")]
    BadKey(String),
    /// Signing failed.
    #[error("signing failed")]
    Sign,
    /// HS256 keys are not kept in the key ring.
    #[error("HS256 uses the client secret, not a ring key")]
    Symmetric,
}

enum Material {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A private signing key of the realm's ring, parsed once.
pub struct SigningKey {
    kid: String,
    alg: SigAlg,
    material: Material,
    public_jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn b64(b: &[u8]) -> String {
    coeur_common::encoding::b64url(b)
}

impl SigningKey {
    /// Parses a PKCS#8 private key for `alg`.
    pub fn from_pkcs8(kid: &str, alg: SigAlg, pkcs8: &[u8]) -> Result<Self, JoseError> {
        let (material, mut jwk) = match alg {
            SigAlg::ES256 => {
                let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|e| JoseError::BadKey(e.to_string()))?;
                let point = kp.public_key().as_ref().to_vec();
                // Uncompressed point: 0x04 || x (32) || y (32).
                if point.len() != 65 {
                    return Err(JoseError::BadKey("unexpected EC point".into()));
                }
                let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])});
                (Material::Ec(kp), jwk)
            }
            SigAlg::RS256 | SigAlg::PS256 => {
                let kp =
                    RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| JoseError::BadKey(e.to_string()))?;
                let pk = kp.public_key();
                let jwk = json!({
                    "kty": "RSA",
                    "n": b64(pk.modulus().big_endian_without_leading_zero()),
                    "e": b64(pk.exponent().big_endian_without_leading_zero()),
                });
                (Material::Rsa(kp), jwk)
            }
            SigAlg::HS256 => return Err(JoseError::Symmetric),
        };
        if let Some(o) = jwk.as_object_mut() {
            o.insert("kid".into(), kid.into());
            o.insert("use".into(), "sig".into());
            o.insert("alg".into(), alg.as_str().into());
        }
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            material,
            public_jwk: jwk,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }
    /// The algorithm.
    pub fn alg(&self) -> SigAlg {
        self.alg
    }
    /// The public key as a JWK (no private members).
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }

    /// The matching verification key.
    pub fn decoding_key(&self) -> Result<jsonwebtoken::DecodingKey, JoseError> {
        let s = |k: &str| {
            self.public_jwk
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        match self.material {
            Material::Ec(_) => jsonwebtoken::DecodingKey::from_ec_components(&s("x"), &s("y")),
            Material::Rsa(_) => jsonwebtoken::DecodingKey::from_rsa_components(&s("n"), &s("e")),
        }
        .map_err(|e| JoseError::BadKey(e.to_string()))
    }

    /// Signs `claims` as a compact JWS with header `{alg, kid, typ}`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, JoseError> {
        let header = json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": typ});
        let input = signing_input(&header, claims)?;
        let rng = SystemRandom::new();
        let sig = match &self.material {
            Material::Ec(kp) => kp
                .sign(&rng, input.as_bytes())
                .map_err(|_| JoseError::Sign)?
                .as_ref()
                .to_vec(),
            Material::Rsa(kp) => {
                let mut out = vec![0u8; kp.public_modulus_len()];
                let pad = if self.alg == SigAlg::PS256 {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                kp.sign(pad, &rng, input.as_bytes(), &mut out)
                    .map_err(|_| JoseError::Sign)?;
                out
            }
        };
        Ok(format!("{input}.{}", b64(&sig)))
    }
}

fn signing_input<T: Serialize>(
    header: &serde_json::Value,
    claims: &T,
) -> Result<String, JoseError> {
    let h = serde_json::to_vec(header).map_err(|_| JoseError::Sign)?;
    let c = serde_json::to_vec(claims).map_err(|_| JoseError::Sign)?;
    Ok(format!("{}.{}", b64(&h), b64(&c)))
}

/// Signs `claims` with HS256, keyed with a client secret (OIDC Core §10.1).
pub fn sign_hs256<T: Serialize>(secret: &[u8], typ: &str, claims: &T) -> Result<String, JoseError> {
    let header = json!({"alg": "HS256", "typ": typ});
    let input = signing_input(&header, claims)?;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    Ok(format!("{input}.{}", b64(tag.as_ref())))
}

/// What signs a token meant for one client: the realm's active key of the client's algorithm,
/// or, for HS256, the client's own secret (OIDC Core §10.1).
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// A key of the realm's ring.
    Key(&'a SigningKey),
    /// The client's secret, for HS256.
    Secret(&'a [u8]),
}

impl Signer<'_> {
    /// Signs `claims` as a compact JWS with header `typ`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, JoseError> {
        match self {
            Signer::Key(k) => k.sign(typ, claims),
            Signer::Secret(s) => sign_hs256(s, typ, claims),
        }
    }
}

/// `at_hash` / `c_hash`: base64url of the left half of SHA-256 of the token (all of coeur's
/// algorithms use SHA-256).
pub fn half_hash(token: &str) -> String {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    b64(&d.as_ref()[..16])
}

/// SHA-256 of a string, base64url: how opaque tokens are stored.
pub fn token_hash(token: &str) -> String {
    b64(digest::digest(&digest::SHA256, token.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct C {
        sub: String,
        exp: u64,
    }

    #[test]
    fn es256_round_trip_with_jsonwebtoken() {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let k = SigningKey::from_pkcs8("k1", SigAlg::ES256, doc.as_ref()).unwrap();
        let claims = C {
            sub: "x".into(),
            exp: 4_000_000_000,
        };
        let jws = k.sign("JWT", &claims).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        v.validate_aud = false;
        let got = jsonwebtoken::decode::<C>(&jws, &k.decoding_key().unwrap(), &v).unwrap();
        assert_eq!(got.claims, claims);
        assert_eq!(got.header.kid.as_deref(), Some("k1"));
        assert!(k.public_jwk().get("d").is_none());
    }

    #[test]
    fn hs256_verifies_with_secret() {
        let claims = C {
            sub: "x".into(),
            exp: 4_000_000_000,
        };
        let jws = sign_hs256(b"secret-secret-secret-secret-secret", "JWT", &claims).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.validate_aud = false;
        let key = jsonwebtoken::DecodingKey::from_secret(b"secret-secret-secret-secret-secret");
        assert!(jsonwebtoken::decode::<C>(&jws, &key, &v).is_ok());
        let bad = jsonwebtoken::DecodingKey::from_secret(b"other");
        assert!(jsonwebtoken::decode::<C>(&jws, &bad, &v).is_err());
    }

    #[test]
    fn half_hash_known_value() {
        // OIDC Core example value for access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y".
        assert_eq!(
            half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}

/// Public keys that verify an issuer's JWTs, by `kid`, each with the one algorithm it may
/// be used with (a token whose header names another algorithm is refused: no algorithm
/// confusion). Held in an `Arc`: a new value marks a new key generation.
#[derive(Clone, Default)]
pub struct VerificationKeys {
    keys: std::collections::HashMap<String, (jsonwebtoken::Algorithm, jsonwebtoken::DecodingKey)>,
}

impl VerificationKeys {
    /// Keys from `(kid, algorithm, key)` triples.
    pub fn new(
        keys: impl IntoIterator<Item = (String, jsonwebtoken::Algorithm, jsonwebtoken::DecodingKey)>,
    ) -> Self {
        Self {
            keys: keys.into_iter().map(|(k, a, d)| (k, (a, d))).collect(),
        }
    }

    /// The signature keys of a JWKS document that name their algorithm; others are skipped
    /// (a key without `alg` could be tried with any algorithm, which is how confusion starts).
    pub fn from_jwks(set: &jsonwebtoken::jwk::JwkSet) -> Self {
        let keys = set.keys.iter().filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let alg = match jwk.common.key_algorithm? {
                jsonwebtoken::jwk::KeyAlgorithm::RS256 => jsonwebtoken::Algorithm::RS256,
                jsonwebtoken::jwk::KeyAlgorithm::PS256 => jsonwebtoken::Algorithm::PS256,
                jsonwebtoken::jwk::KeyAlgorithm::ES256 => jsonwebtoken::Algorithm::ES256,
                jsonwebtoken::jwk::KeyAlgorithm::ES384 => jsonwebtoken::Algorithm::ES384,
                jsonwebtoken::jwk::KeyAlgorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
                _ => return None,
            };
            if matches!(
                jwk.common.public_key_use,
                Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
            ) {
                return None;
            }
            let key = jsonwebtoken::DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, alg, key))
        });
        Self::new(keys)
    }

    /// The key of `kid` and its algorithm.
    pub fn get(&self, kid: &str) -> Option<(jsonwebtoken::Algorithm, &jsonwebtoken::DecodingKey)> {
        self.keys.get(kid).map(|(a, d)| (*a, d))
    }

    /// Whether `kid` is known.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }
}
