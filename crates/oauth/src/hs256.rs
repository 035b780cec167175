//! HS256 JWS verification (FranceConnect v1: ID tokens signed with HMAC-SHA256 over coeur's
//! client secret), on aws-lc-rs, whose `hmac::verify` compares in constant time.
//!
//! Only `alg: "HS256"` is accepted: `none`, asymmetric algorithms and other HMACs are refused
//! before any MAC is computed, so a token signed otherwise never passes for one signed with
//! the client secret.

use crate::upstream::UpstreamRefusal;
use aws_lc_rs::hmac;
use base64::Engine as _;
use serde_json::{Map, Value};

fn b64(part: &str) -> Result<Vec<u8>, UpstreamRefusal> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| UpstreamRefusal::Malformed("not base64url".into()))
}

fn object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, UpstreamRefusal> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(UpstreamRefusal::Malformed(format!(
            "the {what} is not a JSON object"
        ))),
    }
}

/// The claims of `jws` if it is a compact JWS with `alg: "HS256"` whose MAC, over `secret`,
/// is right.
pub fn verify(jws: &str, secret: &[u8]) -> Result<Map<String, Value>, UpstreamRefusal> {
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(UpstreamRefusal::Malformed("not a compact JWS".into()));
    };
    let header = object(&b64(h)?, "header")?;
    match header.get("alg").and_then(Value::as_str) {
        Some("HS256") => {}
        other => {
            return Err(UpstreamRefusal::Signature(format!(
                "{:?} where HS256 with the client secret is expected",
                other.unwrap_or("no alg")
            )));
        }
    }
    if header.contains_key("crit") {
        return Err(UpstreamRefusal::Malformed("unsupported crit header".into()));
    }
    let mac = b64(s)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let signed_len = h.len() + 1 + p.len();
    hmac::verify(&key, &jws.as_bytes()[..signed_len], &mac)
        .map_err(|_| UpstreamRefusal::Signature("HS256 MAC does not verify".into()))?;
    object(&b64(p)?, "payload")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    /// A token MACed with `secret` under the header `alg` (the MAC is HS256's whatever `alg`
    /// says).
    pub(crate) fn hs256(alg: &str, claims: &Value, secret: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            enc(&json!({"alg": alg, "typ": "JWT"})),
            enc(claims)
        );
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
        format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    #[test]
    fn the_right_mac_verifies_and_nothing_else() {
        let c = json!({"sub": "s"});
        let t = hs256("HS256", &c, b"0123456789abcdef0123456789abcdef");
        assert_eq!(
            verify(&t, b"0123456789abcdef0123456789abcdef").unwrap()["sub"],
            "s"
        );
        assert!(matches!(
            verify(&t, b"another secret of thirty-two bytes!"),
            Err(UpstreamRefusal::Signature(_))
        ));
        // The payload changed, the MAC kept.
        let mut parts: Vec<&str> = t.split('.').collect();
        let other = enc(&json!({"sub": "t"}));
        parts[1] = &other;
        assert!(verify(&parts.join("."), b"0123456789abcdef0123456789abcdef").is_err());
        // Other algorithms, even with the right MAC, and `none`.
        for alg in ["HS384", "RS256", "ES256", "none", "hs256"] {
            let t = hs256(alg, &c, b"0123456789abcdef0123456789abcdef");
            assert!(
                matches!(
                    verify(&t, b"0123456789abcdef0123456789abcdef"),
                    Err(UpstreamRefusal::Signature(_))
                ),
                "{alg}"
            );
        }
        let none = format!("{}.{}.", enc(&json!({"alg": "none"})), enc(&c));
        assert!(verify(&none, b"0123456789abcdef0123456789abcdef").is_err());
        assert!(verify("a.b", b"k").is_err());
        assert!(verify("a.b.c.d", b"k").is_err());
    }
}
