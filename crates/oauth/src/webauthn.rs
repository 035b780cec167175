//! Passkeys (WebAuthn Level 2): the checks of a registration and of an assertion, for a
//! professional's e-CPS kept as a passkey with user verification (beyond PSC: same-device,
//! phishing-resistant login).
//!
//! Written here rather than with a WebAuthn crate: `webauthn-rs` (the well-kept one) verifies
//! through OpenSSL, which would bring a second crypto backend next to aws-lc-rs; the others
//! seen build on `ring` or RustCrypto's `p256`. What coeur needs is small: ES256 credentials
//! only, attestation `none` (or `packed` self-attestation, signed by the credential itself),
//! since coeur trusts the professional's enrolment (an e-CPS device signed in) rather than an
//! authenticator model. CBOR is read with `ciborium`; signatures are verified with aws-lc-rs.
//!
//! Checked, per WebAuthn §7.1 and §7.2: the client data's `type`, `challenge` (the server's,
//! base64url) and `origin` (exactly coeur's), not cross-origin; the authenticator data's RP ID
//! hash (SHA-256 of coeur's host), the flags user present (UP) and user verified (UV); at
//! registration, the attested credential (an EC2 P-256 ES256 COSE key); at login, the
//! signature over `authenticatorData || SHA-256(clientDataJSON)` with the registered key and
//! the signature counter, which must grow unless the authenticator keeps none (zero both
//! times; a synced passkey reports zero).
//!
//! Pure: challenges, keys and counters are values given to these functions.

use crate::ecps::DevicePublicKey;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use ciborium::Value;
use serde::Deserialize;

/// The authenticator data flag: user present.
const UP: u8 = 0x01;
/// User verified.
const UV: u8 = 0x04;
/// Attested credential data included.
const AT: u8 = 0x40;
/// Extension data included.
const ED: u8 = 0x80;
/// COSE algorithm ES256.
const ES256: i128 = -7;

/// Who the credentials are for: coeur's host (the RP ID) and its exact origin.
#[derive(Debug, Clone, Copy)]
pub struct RelyingParty<'a> {
    /// The RP ID: coeur's host name (or IP address).
    pub id: &'a str,
    /// The origin pages run at, e.g. `https://auth.example`.
    pub origin: &'a str,
}

/// Why a registration or an assertion is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebAuthnError {
    /// Not the structure WebAuthn defines.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// `webauthn.create` expected at registration, `webauthn.get` at login.
    #[error("the client data is not of the expected type")]
    WrongType,
    /// Not the challenge coeur gave.
    #[error("the challenge is not the one given")]
    WrongChallenge,
    /// Made for another origin (or in a cross-origin frame).
    #[error("the credential was used on another origin")]
    WrongOrigin,
    /// The authenticator data is for another RP ID.
    #[error("the authenticator data is for another relying party")]
    WrongRpId,
    /// The user was not present.
    #[error("the user was not present")]
    UserNotPresent,
    /// The authenticator did not verify the user (PIN or biometrics).
    #[error("the authenticator did not verify the user")]
    UserNotVerified,
    /// Not an ES256 P-256 key, or an attestation other than `none` or `packed` self.
    #[error("unsupported {0}")]
    Unsupported(&'static str),
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The signature counter did not grow: a cloned authenticator, or a replay.
    #[error("the signature counter did not grow")]
    CounterRegression,
}

/// A credential whose registration was checked: to be stored for the professional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRegistered {
    /// The credential id the authenticator chose.
    pub credential_id: Vec<u8>,
    /// Its public key.
    pub public_key: DevicePublicKey,
    /// Its signature counter.
    pub sign_count: u32,
}

/// An assertion that verified: the only way to log in with a passkey. Its counter is to be
/// stored in place of the previous one (compare-and-set, so that a concurrent replay fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssertionVerified {
    sign_count: u32,
}

impl AssertionVerified {
    /// The authenticator's counter now.
    pub fn sign_count(&self) -> u32 {
        self.sign_count
    }
}

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: bool,
}

/// Checks the client data (type, challenge, origin); its SHA-256.
fn client_data(
    rp: &RelyingParty<'_>,
    kind: &str,
    challenge: &str,
    json: &[u8],
) -> Result<[u8; 32], WebAuthnError> {
    let c: ClientData =
        serde_json::from_slice(json).map_err(|_| WebAuthnError::Malformed("client data"))?;
    if c.kind != kind {
        return Err(WebAuthnError::WrongType);
    }
    if c.challenge != challenge {
        return Err(WebAuthnError::WrongChallenge);
    }
    if c.origin != rp.origin || c.cross_origin {
        return Err(WebAuthnError::WrongOrigin);
    }
    let mut h = [0u8; 32];
    h.copy_from_slice(digest(&SHA256, json).as_ref());
    Ok(h)
}

/// The fixed part of authenticator data, checked: RP ID hash, UP and UV; the flags and
/// counter.
fn auth_data_head(rp: &RelyingParty<'_>, data: &[u8]) -> Result<(u8, u32), WebAuthnError> {
    if data.len() < 37 {
        return Err(WebAuthnError::Malformed("authenticator data"));
    }
    if data[..32] != *digest(&SHA256, rp.id.as_bytes()).as_ref() {
        return Err(WebAuthnError::WrongRpId);
    }
    let flags = data[32];
    if flags & UP == 0 {
        return Err(WebAuthnError::UserNotPresent);
    }
    if flags & UV == 0 {
        return Err(WebAuthnError::UserNotVerified);
    }
    let count = u32::from_be_bytes([data[33], data[34], data[35], data[36]]);
    Ok((flags, count))
}

fn map_get<'v>(map: &'v [(Value, Value)], key: &Value) -> Option<&'v Value> {
    map.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn int(v: Option<&Value>) -> Option<i128> {
    v.and_then(Value::as_integer).map(i128::from)
}

/// An EC2 P-256 ES256 COSE key (RFC 9053 §7.1.1) as an uncompressed point.
fn cose_p256(key: &Value) -> Result<DevicePublicKey, WebAuthnError> {
    let unsupported = WebAuthnError::Unsupported("credential key (ES256 P-256 only)");
    let map = key
        .as_map()
        .ok_or(WebAuthnError::Malformed("credential key"))?;
    let at = |k: i64| map_get(map, &Value::Integer(k.into()));
    if int(at(1)) != Some(2) || int(at(3)) != Some(ES256) || int(at(-1)) != Some(1) {
        return Err(unsupported);
    }
    let coord = |k| {
        at(k)
            .and_then(Value::as_bytes)
            .filter(|b| b.len() == 32)
            .ok_or(WebAuthnError::Malformed("credential key"))
    };
    let mut point = vec![4u8];
    point.extend_from_slice(coord(-2)?);
    point.extend_from_slice(coord(-3)?);
    DevicePublicKey::from_sec1(&point).map_err(|_| unsupported)
}

/// Checks a registration (`navigator.credentials.create`): the client data for `challenge`
/// at `rp`, the attestation object (`none`, or `packed` self-attestation), the credential.
pub fn verify_registration(
    rp: &RelyingParty<'_>,
    challenge: &str,
    client_data_json: &[u8],
    attestation_object: &[u8],
) -> Result<PasskeyRegistered, WebAuthnError> {
    let hash = client_data(rp, "webauthn.create", challenge, client_data_json)?;
    let malformed = || WebAuthnError::Malformed("attestation object");
    let att: Value = ciborium::from_reader(attestation_object).map_err(|_| malformed())?;
    let att = att.as_map().ok_or_else(malformed)?;
    let field = |k: &str| map_get(att, &Value::Text(k.to_owned()));
    let fmt = field("fmt")
        .and_then(Value::as_text)
        .ok_or_else(malformed)?;
    let stmt = field("attStmt")
        .and_then(Value::as_map)
        .ok_or_else(malformed)?;
    let data = field("authData")
        .and_then(Value::as_bytes)
        .ok_or_else(malformed)?;
    let (flags, sign_count) = auth_data_head(rp, data)?;
    if flags & AT == 0 || data.len() < 55 {
        return Err(WebAuthnError::Malformed("attested credential data"));
    }
    let id_len = usize::from(u16::from_be_bytes([data[53], data[54]]));
    let id_end = 55 + id_len;
    let credential_id = data
        .get(55..id_end)
        .ok_or(WebAuthnError::Malformed("attested credential data"))?
        .to_vec();
    let mut rest = &data[id_end..];
    let key: Value =
        ciborium::from_reader(&mut rest).map_err(|_| WebAuthnError::Malformed("credential key"))?;
    if flags & ED == 0 && !rest.is_empty() {
        return Err(WebAuthnError::Malformed("authenticator data"));
    }
    let public_key = cose_p256(&key)?;
    match fmt {
        "none" if stmt.is_empty() => {}
        "packed" => {
            // Self-attestation only: signed by the credential's own key, no certificate.
            let text = |k: &str| Value::Text(k.to_owned());
            if map_get(stmt, &text("x5c")).is_some() {
                return Err(WebAuthnError::Unsupported("attestation (certificates)"));
            }
            if int(map_get(stmt, &text("alg"))) != Some(ES256) {
                return Err(WebAuthnError::Unsupported("attestation algorithm"));
            }
            let sig = map_get(stmt, &text("sig"))
                .and_then(Value::as_bytes)
                .ok_or_else(malformed)?;
            verify_es256(&public_key, &[data.as_slice(), &hash].concat(), sig)?;
        }
        _ => return Err(WebAuthnError::Unsupported("attestation format")),
    }
    Ok(PasskeyRegistered {
        credential_id,
        public_key,
        sign_count,
    })
}

fn verify_es256(key: &DevicePublicKey, msg: &[u8], sig: &[u8]) -> Result<(), WebAuthnError> {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.as_bytes())
        .verify(msg, sig)
        .map_err(|_| WebAuthnError::BadSignature)
}

/// Checks an assertion (`navigator.credentials.get`) by the credential whose `key` and
/// `stored_count` coeur keeps, for `challenge` at `rp`.
pub fn verify_assertion(
    rp: &RelyingParty<'_>,
    challenge: &str,
    key: &DevicePublicKey,
    stored_count: u32,
    client_data_json: &[u8],
    authenticator_data: &[u8],
    signature: &[u8],
) -> Result<AssertionVerified, WebAuthnError> {
    let hash = client_data(rp, "webauthn.get", challenge, client_data_json)?;
    let (_, sign_count) = auth_data_head(rp, authenticator_data)?;
    verify_es256(key, &[authenticator_data, &hash].concat(), signature)?;
    if (sign_count != 0 || stored_count != 0) && sign_count <= stored_count {
        return Err(WebAuthnError::CounterRegression);
    }
    Ok(AssertionVerified { sign_count })
}

#[cfg(test)]
#[path = "webauthn_tests.rs"]
mod tests;
