//! e-CPS, the mobile authentication means: the decisions a professional's device signs
//! (approve or deny a request awaiting them), and their verification.
//!
//! A device holds a P-256 key pair it made itself; coeur knows only the public key. A request
//! awaiting a decision (an approval request: a browser login by e-CPS, or a CIBA
//! authentication request) is shown on the device with its relying party, binding message and
//! level; the device answers by signing the request's [`Challenge`], whose text names the
//! realm, the request, the decision, the client, the binding message, a server nonce and the
//! expiry, so that a signature cannot be replayed for another request, decision or realm.
//!
//! Pure: keys, signatures and the time are values given to these functions.

pub mod contact;

use std::fmt;

/// Seconds an activation code shown after a card login stays usable (one sent by e-mail and SMS:
/// [`contact::CONTACT_ACTIVATION_TTL`]).
pub const ACTIVATION_TTL: i64 = 90;
/// Seconds a request waits for the professional's decision by default.
pub const REQUEST_TTL: i64 = 120;

/// What the professional decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Approve: the login or CIBA request goes on.
    Approve,
    /// Deny: the relying party gets `access_denied`.
    Deny,
}

impl Decision {
    /// As it appears in the signed text and the API (`approve`, `deny`).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }

    /// Parses `approve` or `deny`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "approve" => Some(Decision::Approve),
            "deny" => Some(Decision::Deny),
            _ => None,
        }
    }
}

/// Where a request awaiting a decision comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A browser login on the wallet page (`method=ecps`).
    Wallet,
    /// A CIBA authentication request.
    Ciba,
}

impl Origin {
    /// As stored (`wallet`, `ciba`).
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Wallet => "wallet",
            Origin::Ciba => "ciba",
        }
    }

    /// Parses a stored value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "wallet" => Some(Origin::Wallet),
            "ciba" => Some(Origin::Ciba),
            _ => None,
        }
    }
}

/// How the professional is asked (PSC's CIBA `channel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Pushed to the professional's e-CPS devices.
    Mobile,
    /// Approved by presenting the card on coeur's approval page.
    Card,
}

impl Channel {
    /// As PSC spells it and as stored (`MOBILE`, `CARD`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Mobile => "MOBILE",
            Channel::Card => "CARD",
        }
    }

    /// Parses `MOBILE` or `CARD` (case-insensitive, as PSC's proxy sends either).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("MOBILE") {
            Some(Channel::Mobile)
        } else if s.eq_ignore_ascii_case("CARD") {
            Some(Channel::Card)
        } else {
            None
        }
    }
}

/// Where a request awaiting a decision stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the professional.
    Pending,
    /// Approved; not yet turned into a login or tokens.
    Approved,
    /// Denied.
    Denied,
    /// Approved and used (the login completed, the tokens issued): never again.
    Consumed,
}

impl Status {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Consumed => "consumed",
        }
    }

    /// Parses a stored value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Status::Pending),
            "approved" => Some(Status::Approved),
            "denied" => Some(Status::Denied),
            "consumed" => Some(Status::Consumed),
            _ => None,
        }
    }
}

/// Why a device's answer or key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcpsError {
    /// The public key is not an uncompressed P-256 point.
    #[error("the device key must be an uncompressed P-256 public key (65 bytes)")]
    BadKey,
    /// The request expired before the answer.
    #[error("the request has expired")]
    Expired,
    /// The signature does not verify with the device's key over the challenge.
    #[error("the signature does not verify")]
    BadSignature,
    /// A field of the challenge cannot be signed unambiguously (a line break).
    #[error("{0} contains a line break")]
    Unsignable(&'static str),
}

/// A device's public key: an uncompressed P-256 point (`04 || x || y`, 65 bytes), as WebCrypto
/// exports it (`exportKey("raw")`) and as `coeur ecps` writes it.
#[derive(Clone, PartialEq, Eq)]
pub struct DevicePublicKey(Vec<u8>);

impl DevicePublicKey {
    /// Checks the encoding and that the point is on the curve.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, EcpsError> {
        if bytes.len() != 65 || bytes[0] != 4 {
            return Err(EcpsError::BadKey);
        }
        // A signature check over anything parses the point: an invalid point fails as a key,
        // a valid one as a signature.
        let probe = aws_lc_rs::signature::ParsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            bytes,
        );
        probe.map_err(|_| EcpsError::BadKey)?;
        Ok(DevicePublicKey(bytes.to_vec()))
    }

    /// The encoded point.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublicKey({} bytes)", self.0.len())
    }
}

/// What a device signs to decide on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The realm.
    pub realm: &'a str,
    /// The request's public id.
    pub request_id: &'a str,
    /// The decision.
    pub decision: Decision,
    /// The relying party.
    pub client_id: &'a str,
    /// The binding message shown on both sides, if any.
    pub binding_message: Option<&'a str>,
    /// The server's random nonce for this request.
    pub nonce: &'a str,
    /// When the request expires (Unix seconds).
    pub expires_at: i64,
}

impl Challenge<'_> {
    /// The text signed: a version line, then one field per line, in a fixed order.
    pub fn signed_text(&self) -> Result<String, EcpsError> {
        let fields = [
            ("realm", self.realm),
            ("request id", self.request_id),
            ("client id", self.client_id),
            ("binding message", self.binding_message.unwrap_or_default()),
            ("nonce", self.nonce),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, v)| v.contains(['\n', '\r'])) {
            return Err(EcpsError::Unsignable(name));
        }
        Ok(format!(
            "coeur-ecps-v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.realm,
            self.request_id,
            self.decision.as_str(),
            self.client_id,
            self.binding_message.unwrap_or_default(),
            self.nonce,
            self.expires_at
        ))
    }
}

/// A decision whose signature verified, before its expiry: the only way to record one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionVerified {
    /// The decision.
    pub decision: Decision,
}

/// Verifies a device's `signature` (ECDSA P-256 with SHA-256; raw `r || s` as WebCrypto makes
/// it, or DER) over `challenge` at `now`.
pub fn verify(
    key: &DevicePublicKey,
    challenge: &Challenge<'_>,
    signature: &[u8],
    now: i64,
) -> Result<DecisionVerified, EcpsError> {
    if now >= challenge.expires_at {
        return Err(EcpsError::Expired);
    }
    let text = challenge.signed_text()?;
    let alg = if signature.len() == 64 {
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED
    } else {
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1
    };
    aws_lc_rs::signature::UnparsedPublicKey::new(alg, key.as_bytes())
        .verify(text.as_bytes(), signature)
        .map_err(|_| EcpsError::BadSignature)?;
    Ok(DecisionVerified {
        decision: challenge.decision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};

    fn device() -> (EcdsaKeyPair, DevicePublicKey) {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let key = DevicePublicKey::from_sec1(pair.public_key().as_ref()).unwrap();
        (pair, key)
    }

    fn challenge(decision: Decision) -> Challenge<'static> {
        Challenge {
            realm: "edit",
            request_id: "req-1",
            decision,
            client_id: "rp",
            binding_message: Some("42"),
            nonce: "n0nce",
            expires_at: 1_000,
        }
    }

    fn sign(pair: &EcdsaKeyPair, c: &Challenge<'_>) -> Vec<u8> {
        pair.sign(&SystemRandom::new(), c.signed_text().unwrap().as_bytes())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn a_signed_decision_verifies_until_expiry() {
        let (pair, key) = device();
        let c = challenge(Decision::Approve);
        let sig = sign(&pair, &c);
        assert_eq!(
            verify(&key, &c, &sig, 999),
            Ok(DecisionVerified {
                decision: Decision::Approve
            })
        );
        assert_eq!(verify(&key, &c, &sig, 1_000), Err(EcpsError::Expired));
    }

    #[test]
    fn a_signature_is_for_one_request_decision_and_device() {
        let (pair, key) = device();
        let approve = challenge(Decision::Approve);
        let sig = sign(&pair, &approve);
        let deny = challenge(Decision::Deny);
        assert_eq!(verify(&key, &deny, &sig, 0), Err(EcpsError::BadSignature));
        let other = Challenge {
            request_id: "req-2",
            ..approve.clone()
        };
        assert_eq!(verify(&key, &other, &sig, 0), Err(EcpsError::BadSignature));
        let realm = Challenge {
            realm: "esante-wallet",
            ..approve.clone()
        };
        assert_eq!(verify(&key, &realm, &sig, 0), Err(EcpsError::BadSignature));
        let (_, another_key) = device();
        assert_eq!(
            verify(&another_key, &approve, &sig, 0),
            Err(EcpsError::BadSignature)
        );
    }

    #[test]
    fn fields_with_line_breaks_cannot_be_signed() {
        let c = Challenge {
            binding_message: Some("a\nb"),
            ..challenge(Decision::Approve)
        };
        assert_eq!(
            c.signed_text(),
            Err(EcpsError::Unsignable("binding message"))
        );
    }

    #[test]
    fn only_uncompressed_p256_points_are_keys() {
        let (_, key) = device();
        assert!(DevicePublicKey::from_sec1(key.as_bytes()).is_ok());
        assert_eq!(
            DevicePublicKey::from_sec1(&key.as_bytes()[1..]),
            Err(EcpsError::BadKey)
        );
        let mut off_curve = key.as_bytes().to_vec();
        off_curve[64] ^= 1;
        assert_eq!(
            DevicePublicKey::from_sec1(&off_curve),
            Err(EcpsError::BadKey)
        );
        for s in ["MOBILE", "mobile", "CARD"] {
            assert!(Channel::parse(s).is_some(), "{s}");
        }
        assert_eq!(Channel::parse("SMS"), None);
    }
}
