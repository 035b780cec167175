//! JSON Web Encryption (RFC 7516), compact serialisation, decryption only, on aws-lc-rs: what
//! FranceConnect+ sends (an ID token or userinfo answer signed, then encrypted to the relying
//! party's public key).
//!
//! Supported, and nothing else (a header naming another algorithm is refused):
//! - key management `RSA-OAEP-256` (RSAES-OAEP, SHA-256 and MGF1-SHA-256) and `RSA-OAEP`
//!   (SHA-1), RFC 7518 §4.3;
//! - `ECDH-ES` on P-256 in direct key agreement mode, RFC 7518 §4.6: the content key is the
//!   Concat KDF (NIST SP 800-56A §5.8.1, SHA-256) of the shared secret, with `AlgorithmID` the
//!   `enc` value, `PartyUInfo`/`PartyVInfo` from `apu`/`apv`, `SuppPubInfo` the key length in
//!   bits. aws-lc-rs checks that the sender's ephemeral point is on the curve (no
//!   invalid-curve attack);
//! - content encryption `A256GCM`, RFC 7518 §5.3: 96-bit IV, 128-bit tag, the additional data
//!   being the ASCII of the encoded protected header.
//!
//! No `zip`, no `crit`. Interoperability is tested against panva's `jose` (npm), through
//! `oidc-provider`, in coeur's integration tests.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, UnparsedPublicKey};
use aws_lc_rs::digest;
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RsaKeyPair,
};
use base64::Engine as _;
use coeur_common::encoding::b64url;
use serde_json::{Value, json};

/// Why a JWE could not be decrypted. Deliberately coarse: a decryption oracle learns nothing
/// from which step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JweError {
    /// Not five base64url parts with a JSON header.
    #[error("not a compact JWE")]
    Malformed,
    /// `alg`, `enc`, `zip` or `crit` not supported.
    #[error("unsupported JWE header: {0}")]
    Unsupported(String),
    /// No key of ours for this header (`kid` unknown, or key of another type).
    #[error("no decryption key for this JWE")]
    NoKey,
    /// The key could not be unwrapped or agreed, or the content does not authenticate.
    #[error("the JWE does not decrypt")]
    Decrypt,
    /// A key file that is not a usable private key.
    #[error("bad decryption key: {0}")]
    BadKey(String),
}

enum Material {
    Rsa(OaepPrivateDecryptingKey),
    Ec(agreement::PrivateKey),
}

/// A private key coeur decrypts with, with its public JWK (`use` `enc`) to publish.
pub struct DecryptionKey {
    kid: String,
    material: Material,
    public_jwk: Value,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl DecryptionKey {
    /// A PKCS#8 private key (RSA, 2048 bits or more, or EC P-256), published as `kid`.
    pub fn from_pkcs8(kid: &str, pkcs8: &[u8]) -> Result<Self, JweError> {
        let bad = |e: &dyn std::fmt::Display| JweError::BadKey(e.to_string());
        let (material, mut jwk) = if let Ok(kp) =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
        {
            let point = kp.public_key().as_ref();
            if point.len() != 65 {
                return Err(JweError::BadKey("unexpected EC point".into()));
            }
            let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64url(&point[1..33]), "y": b64url(&point[33..65]), "alg": "ECDH-ES"});
            let key = agreement::PrivateKey::from_private_key_der(&ECDH_P256, pkcs8)
                .map_err(|e| bad(&e))?;
            (Material::Ec(key), jwk)
        } else {
            let kp = RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| bad(&e))?;
            if kp.public_modulus_len() < 256 {
                return Err(JweError::BadKey("RSA keys have 2048 bits at least".into()));
            }
            let pk = kp.public_key();
            let jwk = json!({
                "kty": "RSA",
                "n": b64url(pk.modulus().big_endian_without_leading_zero()),
                "e": b64url(pk.exponent().big_endian_without_leading_zero()),
                "alg": "RSA-OAEP-256",
            });
            let key = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|e| bad(&e))?;
            let key = OaepPrivateDecryptingKey::new(key).map_err(|e| bad(&e))?;
            (Material::Rsa(key), jwk)
        };
        if let Some(o) = jwk.as_object_mut() {
            o.insert("kid".into(), kid.into());
            o.insert("use".into(), "enc".into());
        }
        Ok(Self {
            kid: kid.to_owned(),
            material,
            public_jwk: jwk,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    fn accepts(&self, alg: &str) -> bool {
        match self.material {
            Material::Rsa(_) => alg == "RSA-OAEP-256" || alg == "RSA-OAEP",
            Material::Ec(_) => alg == "ECDH-ES",
        }
    }
}

fn b64url_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s)
}

/// Whether `token` is a compact JWE (five parts) rather than a JWS (three).
pub fn is_jwe(token: &str) -> bool {
    token.split('.').count() == 5
}

/// Decrypts a compact JWE with one of `keys` (the one its `kid` names, or each that fits its
/// `alg` when it names none): the plaintext.
pub fn decrypt(token: &str, keys: &[DecryptionKey]) -> Result<Vec<u8>, JweError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, ek_b64, iv_b64, ct_b64, tag_b64] = parts[..] else {
        return Err(JweError::Malformed);
    };
    let d = |s: &str| b64url_decode(s).map_err(|_| JweError::Malformed);
    let header: Value = serde_json::from_slice(&d(header_b64)?).map_err(|_| JweError::Malformed)?;
    let (ek, iv, ct, tag) = (d(ek_b64)?, d(iv_b64)?, d(ct_b64)?, d(tag_b64)?);
    let alg = header["alg"].as_str().unwrap_or_default();
    let enc = header["enc"].as_str().unwrap_or_default();
    if enc != "A256GCM" {
        return Err(JweError::Unsupported(format!("enc {enc:?}")));
    }
    if !matches!(alg, "RSA-OAEP-256" | "RSA-OAEP" | "ECDH-ES") {
        return Err(JweError::Unsupported(format!("alg {alg:?}")));
    }
    if header.get("zip").is_some() || header.get("crit").is_some() {
        return Err(JweError::Unsupported("zip or crit".into()));
    }
    if iv.len() != 12 || tag.len() != 16 {
        return Err(JweError::Malformed);
    }
    let kid = header["kid"].as_str();
    let candidates: Vec<&DecryptionKey> = keys
        .iter()
        .filter(|k| k.accepts(alg) && kid.is_none_or(|id| id == k.kid))
        .collect();
    if candidates.is_empty() {
        return Err(JweError::NoKey);
    }
    for key in candidates {
        let Ok(cek) = content_key(key, alg, enc, &header, &ek) else {
            continue;
        };
        let Ok(unbound) = UnboundKey::new(&AES_256_GCM, &cek) else {
            continue;
        };
        let aead = LessSafeKey::new(unbound);
        let nonce = Nonce::try_assume_unique_for_key(&iv).map_err(|_| JweError::Malformed)?;
        let mut buf = [ct.as_slice(), tag.as_slice()].concat();
        if let Ok(plain) = aead.open_in_place(nonce, Aad::from(header_b64.as_bytes()), &mut buf) {
            return Ok(plain.to_vec());
        }
    }
    Err(JweError::Decrypt)
}

/// The content encryption key of a JWE for `key`.
fn content_key(
    key: &DecryptionKey,
    alg: &str,
    enc: &str,
    header: &Value,
    ek: &[u8],
) -> Result<Vec<u8>, JweError> {
    match &key.material {
        Material::Rsa(k) => {
            let oaep = if alg == "RSA-OAEP-256" {
                &OAEP_SHA256_MGF1SHA256
            } else {
                &OAEP_SHA1_MGF1SHA1
            };
            let mut out = vec![0u8; k.min_output_size()];
            let cek = k
                .decrypt(oaep, ek, &mut out, None)
                .map_err(|_| JweError::Decrypt)?;
            if cek.len() != 32 {
                return Err(JweError::Decrypt);
            }
            Ok(cek.to_vec())
        }
        Material::Ec(k) => {
            // Direct key agreement: no encrypted key.
            if !ek.is_empty() {
                return Err(JweError::Malformed);
            }
            let epk = &header["epk"];
            if epk["kty"] != "EC" || epk["crv"] != "P-256" {
                return Err(JweError::Unsupported("epk".into()));
            }
            let coord = |n: &str| {
                epk[n]
                    .as_str()
                    .and_then(|s| b64url_decode(s).ok())
                    .filter(|b| b.len() == 32)
                    .ok_or(JweError::Malformed)
            };
            let mut point = vec![4u8];
            point.extend(coord("x")?);
            point.extend(coord("y")?);
            let info = |n: &str| -> Result<Vec<u8>, JweError> {
                match header.get(n) {
                    None => Ok(Vec::new()),
                    Some(v) => v
                        .as_str()
                        .and_then(|s| b64url_decode(s).ok())
                        .ok_or(JweError::Malformed),
                }
            };
            let (apu, apv) = (info("apu")?, info("apv")?);
            agreement::agree(
                k,
                UnparsedPublicKey::new(&ECDH_P256, &point),
                JweError::Decrypt,
                |z| Ok(concat_kdf(z, enc, &apu, &apv, 256)),
            )
        }
    }
}

/// Concat KDF (NIST SP 800-56A §5.8.1) with SHA-256 as RFC 7518 §4.6.2 uses it, for a key of
/// `bits` bits (at most 256: one round).
fn concat_kdf(z: &[u8], alg_id: &str, apu: &[u8], apv: &[u8], bits: u32) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&1u32.to_be_bytes());
    ctx.update(z);
    for field in [alg_id.as_bytes(), apu, apv] {
        ctx.update(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
        ctx.update(field);
    }
    ctx.update(&bits.to_be_bytes());
    let out = ctx.finish();
    out.as_ref()[..(bits as usize / 8)].to_vec()
}

#[cfg(test)]
#[path = "jwe_tests.rs"]
pub(crate) mod tests;
