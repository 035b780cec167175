//! OpenID Connect Back-Channel Logout 1.0: the Logout Token coeur posts to a relying party
//! when a session it took part in ends, what the relying party's answer means, and how often
//! a delivery is tried.

use crate::jose::{JoseError, Signer};
use coeur_common::random::{Random, id128};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `typ` header of a Logout Token (§2.4).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// The one member of a Logout Token's `events` claim (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a Logout Token is valid, in seconds: it is posted at once, retried for a few
/// seconds, and must not be usable later.
pub const LOGOUT_TOKEN_LIFETIME: i64 = 120;

/// The claims of a Logout Token (§2.4). There is no `nonce`: the specification forbids it, so
/// that a Logout Token can never pass for an ID token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutTokenClaims {
    /// Issuer: the realm's.
    pub iss: String,
    /// Subject, as in the session's ID tokens.
    pub sub: String,
    /// Audience: the client id.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// Token id (random).
    pub jti: String,
    /// The session that ended, as the `sid` of its ID tokens.
    pub sid: String,
    /// `{"http://schemas.openid.net/event/backchannel-logout": {}}`.
    pub events: Map<String, Value>,
}

/// A session that ended, as its ID tokens named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSession {
    /// The realm's issuer.
    pub issuer: String,
    /// The user's `sub`.
    pub sub: String,
    /// The session id (`sid`).
    pub sid: String,
}

impl EndedSession {
    /// The claims of the Logout Token telling `client_id` that this session ended, issued at
    /// `now`.
    pub fn claims_for(&self, client_id: &str, now: i64, rng: &dyn Random) -> LogoutTokenClaims {
        let mut events = Map::new();
        events.insert(BACKCHANNEL_LOGOUT_EVENT.into(), Value::Object(Map::new()));
        LogoutTokenClaims {
            iss: self.issuer.clone(),
            sub: self.sub.clone(),
            aud: client_id.to_owned(),
            iat: now,
            exp: now + LOGOUT_TOKEN_LIFETIME,
            jti: id128(rng),
            sid: self.sid.clone(),
            events,
        }
    }

    /// The signed Logout Token for `client_id`, signed as its ID tokens are (§2.4: the same
    /// keys and algorithm).
    pub fn logout_token(
        &self,
        client_id: &str,
        signer: Signer<'_>,
        now: i64,
        rng: &dyn Random,
    ) -> Result<String, JoseError> {
        signer.sign(LOGOUT_TOKEN_TYP, &self.claims_for(client_id, now, rng))
    }
}

/// What a relying party's answer to a logout request means (§2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryAnswer {
    /// 200 or 204: the relying party logged the session out.
    Delivered,
    /// It may succeed later (408, 429, 5xx): try again.
    TryAgain,
    /// It refused the token, or answered something else (a redirect is not followed): trying
    /// again would get the same answer.
    Refused,
}

impl DeliveryAnswer {
    /// The meaning of HTTP status `status`.
    pub fn of(status: u16) -> Self {
        match status {
            200 | 204 => Self::Delivered,
            408 | 429 | 500..=599 => Self::TryAgain,
            _ => Self::Refused,
        }
    }
}

/// How many times a Logout Token is posted, and how long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (at least one).
    pub attempts: u32,
    /// The wait after the first failed attempt, in milliseconds; it doubles after each.
    pub first_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            first_delay_ms: 1000,
        }
    }
}

impl RetryPolicy {
    /// How long to wait after failed attempt `attempt` (1 for the first) before the next one;
    /// `None` when it was the last.
    pub fn delay_after(&self, attempt: u32) -> Option<u64> {
        (attempt < self.attempts).then(|| {
            self.first_delay_ms
                .saturating_mul(1u64 << (attempt.saturating_sub(1)).min(16))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{SigAlg, SigningKey};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use coeur_common::random::testing::SeededRandom;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    fn ended() -> EndedSession {
        EndedSession {
            issuer: "https://idp.example/auth/realms/edit".into(),
            sub: "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:899700218896".into(),
            sid: "5f1c0e7a9d3b4c2e8a6f1b0d9c7e5a31".into(),
        }
    }

    fn validation(alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.set_audience(&["rp"]);
        v.set_issuer(&["https://idp.example/auth/realms/edit"]);
        v.set_required_spec_claims(&["iss", "aud", "iat", "exp", "sub"]);
        // The test's clock is fixed in the past.
        v.validate_exp = false;
        v
    }

    /// Checks what a relying party checks (§2.6) on the payload and header of `jwt`.
    fn check_claims(jwt: &str, claims: &Value) {
        let header = jsonwebtoken::decode_header(jwt).expect("header");
        assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
        assert_eq!(claims["sid"], ended().sid.as_str());
        assert_eq!(claims["sub"], ended().sub.as_str());
        assert_eq!(claims["aud"], "rp");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_000_000 + LOGOUT_TOKEN_LIFETIME);
        assert_eq!(claims["jti"].as_str().map(str::len), Some(32));
        assert_eq!(
            claims["events"],
            serde_json::json!({ "http://schemas.openid.net/event/backchannel-logout": {} })
        );
        assert!(claims.get("nonce").is_none(), "a Logout Token has no nonce");
        let names: Vec<&String> = claims.as_object().expect("object").keys().collect();
        assert_eq!(names.len(), 8, "{names:?}");
    }

    #[test]
    fn logout_token_signed_with_a_ring_key_verifies_and_says_what_ended() {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let key = SigningKey::from_pkcs8("k1", SigAlg::ES256, doc.as_ref()).unwrap();
        let rng = SeededRandom::new(7);
        let jwt = ended()
            .logout_token("rp", Signer::Key(&key), 1_700_000_000, &rng)
            .unwrap();
        let got = jsonwebtoken::decode::<Value>(
            &jwt,
            &key.decoding_key().unwrap(),
            &validation(Algorithm::ES256),
        )
        .expect("verifies with the realm key");
        assert_eq!(got.header.kid.as_deref(), Some("k1"));
        check_claims(&jwt, &got.claims);
        // Randomness is injected: each token has its own jti.
        let again = ended().claims_for("rp", 1_700_000_000, &rng);
        assert_ne!(again.jti, got.claims["jti"].as_str().unwrap());
    }

    #[test]
    fn logout_token_of_an_hs256_client_is_keyed_with_its_secret() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let jwt = ended()
            .logout_token(
                "rp",
                Signer::Secret(secret),
                1_700_000_000,
                &SeededRandom::new(1),
            )
            .unwrap();
        let got = jsonwebtoken::decode::<Value>(
            &jwt,
            &DecodingKey::from_secret(secret),
            &validation(Algorithm::HS256),
        )
        .expect("verifies with the client secret");
        check_claims(&jwt, &got.claims);
        assert!(
            jsonwebtoken::decode::<Value>(
                &jwt,
                &DecodingKey::from_secret(b"another secret, another secret!!"),
                &validation(Algorithm::HS256),
            )
            .is_err()
        );
    }

    #[test]
    fn answers_and_retries() {
        assert_eq!(DeliveryAnswer::of(200), DeliveryAnswer::Delivered);
        assert_eq!(DeliveryAnswer::of(204), DeliveryAnswer::Delivered);
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(DeliveryAnswer::of(s), DeliveryAnswer::TryAgain, "{s}");
        }
        for s in [201, 302, 400, 401, 404] {
            assert_eq!(DeliveryAnswer::of(s), DeliveryAnswer::Refused, "{s}");
        }
        let p = RetryPolicy::default();
        assert_eq!(p.delay_after(1), Some(1000));
        assert_eq!(p.delay_after(2), Some(2000));
        assert_eq!(p.delay_after(3), None);
        let once = RetryPolicy {
            attempts: 1,
            first_delay_ms: 10,
        };
        assert_eq!(once.delay_after(1), None);
    }
}
