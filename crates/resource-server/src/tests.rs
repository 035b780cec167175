//! Unit tests of [`Verifier`] and [`Binding`] against an in-memory [`TokenSource`], with
//! tokens signed by real keys.

use super::*;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coeur_common::random::testing::FixedClock;
use coeur_oauth::claims::Confirmation;
use coeur_oauth::jose::{SigAlg, SigningKey};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const ISSUER: &str = "https://idp.example/realms/test";
const T0: i64 = 1_700_000_000;
const LIFETIME: i64 = 300;
const THUMB: &str = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

fn ec_key(kid: &str) -> SigningKey {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .expect("EC key generation");
    SigningKey::from_pkcs8(kid, SigAlg::ES256, doc.as_ref()).expect("EC key")
}

/// One RSA key (generation is slow), loaded for both RSA algorithms under different kids.
static RSA_DER: LazyLock<Vec<u8>> = LazyLock::new(|| {
    aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .expect("RSA key generation")
        .as_der()
        .expect("RSA key encoding")
        .as_ref()
        .to_vec()
});

fn rsa_key(kid: &str, alg: SigAlg) -> SigningKey {
    SigningKey::from_pkcs8(kid, alg, &RSA_DER).expect("RSA key")
}

fn keys_of(keys: &[&SigningKey]) -> Arc<VerificationKeys> {
    Arc::new(VerificationKeys::new(keys.iter().map(|k| {
        (
            k.kid().to_owned(),
            k.alg().to_jwt(),
            k.decoding_key().expect("decoding key"),
        )
    })))
}

fn claims(jti: &str) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.to_owned(),
        sub: "sub-1".to_owned(),
        aud: "client-1".to_owned(),
        client_id: "client-1".to_owned(),
        exp: T0 + LIFETIME,
        iat: T0,
        jti: jti.to_owned(),
        scope: "openid ca:request".to_owned(),
        auth_time: Some(T0 - 10),
        acr: Some("eidas2".to_owned()),
        sid: Some("sid-1".to_owned()),
        gid: None,
        subject_name_id: Some("899700218896".to_owned()),
        cnf: None,
    }
}

fn bound(jti: &str, thumbprint: &str) -> AccessTokenClaims {
    AccessTokenClaims {
        cnf: Some(Confirmation {
            x5t_s256: thumbprint.to_owned(),
        }),
        ..claims(jti)
    }
}

fn at(key: &SigningKey, c: &AccessTokenClaims) -> String {
    key.sign("at+jwt", c).expect("signing")
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// `header.payload` of a hand-made JWS.
fn signing_input(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(payload).unwrap())
    )
}

/// The three parts of a compact JWS.
fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.');
    let p = (
        it.next().unwrap().to_owned(),
        it.next().unwrap().to_owned(),
        it.next().unwrap().to_owned(),
    );
    assert!(it.next().is_none(), "not a compact JWS: {token}");
    p
}

/// A source with a fixed issuer, swappable keys, keys handed out once by `refresh`, and a
/// revoked-jti set.
struct TestSource {
    issuer: String,
    keys: Mutex<Arc<VerificationKeys>>,
    next: Mutex<Option<Arc<VerificationKeys>>>,
    refreshes: AtomicUsize,
    revoked: Mutex<HashSet<String>>,
    revocation_checks: AtomicUsize,
    fail_keys: AtomicBool,
    fail_revocation: AtomicBool,
}

impl TestSource {
    fn new(keys: Arc<VerificationKeys>) -> Arc<Self> {
        Arc::new(Self {
            issuer: ISSUER.to_owned(),
            keys: Mutex::new(keys),
            next: Mutex::new(None),
            refreshes: AtomicUsize::new(0),
            revoked: Mutex::new(HashSet::new()),
            revocation_checks: AtomicUsize::new(0),
            fail_keys: AtomicBool::new(false),
            fail_revocation: AtomicBool::new(false),
        })
    }
    /// Replaces the current keys: a new key generation.
    fn rotate(&self, keys: Arc<VerificationKeys>) {
        *self.keys.lock().unwrap() = keys;
    }
    /// Keys the next `refresh` learns (once).
    fn publish(&self, keys: Arc<VerificationKeys>) {
        *self.next.lock().unwrap() = Some(keys);
    }
    fn revoke(&self, jti: &str) {
        self.revoked.lock().unwrap().insert(jti.to_owned());
    }
    fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }
}

impl TokenSource for TestSource {
    fn issuer(&self) -> &str {
        &self.issuer
    }

    fn keys(&self) -> BoxFuture<'_, anyhow::Result<Arc<VerificationKeys>>> {
        Box::pin(async move {
            if self.fail_keys.load(Ordering::SeqCst) {
                anyhow::bail!("keys unavailable");
            }
            Ok(self.keys.lock().unwrap().clone())
        })
    }

    fn refresh(&self) -> BoxFuture<'_, anyhow::Result<Option<Arc<VerificationKeys>>>> {
        Box::pin(async move {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
            let fresh = self.next.lock().unwrap().take();
            if let Some(k) = &fresh {
                // Like a JWKS fetched again: the learnt keys become the current ones.
                *self.keys.lock().unwrap() = k.clone();
            }
            Ok(fresh)
        })
    }

    fn revoked<'a>(&'a self, claims: &'a AccessTokenClaims) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move {
            self.revocation_checks.fetch_add(1, Ordering::SeqCst);
            if self.fail_revocation.load(Ordering::SeqCst) {
                anyhow::bail!("revocation store unavailable");
            }
            Ok(self.revoked.lock().unwrap().contains(&claims.jti))
        })
    }
}

struct Fixture {
    source: Arc<TestSource>,
    clock: Arc<FixedClock>,
    verifier: Verifier,
}

fn fixture(keys: Arc<VerificationKeys>) -> Fixture {
    let source = TestSource::new(keys);
    let clock = Arc::new(FixedClock::at(T0));
    let verifier = Verifier::new(source.clone(), clock.clone());
    Fixture {
        source,
        clock,
        verifier,
    }
}

/// The description of an `Invalid` refusal; panics on success or an internal error.
#[track_caller]
fn refusal(r: Result<AccessTokenClaims, TokenError>) -> &'static str {
    match r {
        Err(TokenError::Invalid(d)) => d,
        Err(TokenError::Internal(e)) => panic!("expected Invalid, got Internal: {e:#}"),
        Ok(c) => panic!("expected a refusal, token accepted: {c:?}"),
    }
}

#[track_caller]
fn assert_invalid(r: Result<AccessTokenClaims, TokenError>) {
    assert_eq!(refusal(r), INVALID);
}

#[test]
fn descriptions() {
    assert_eq!(INVALID, "the access token is invalid or expired");
    assert_eq!(
        WRONG_CERTIFICATE,
        "the access token is bound to another client certificate"
    );
    assert_eq!(
        TokenError::Invalid(INVALID).to_string(),
        "the access token is invalid or expired"
    );
}

#[tokio::test]
async fn valid_token_is_accepted_with_its_claims() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = claims("jti-1");
    let got = f.verifier.verify(&at(&k, &c), Binding::None).await.unwrap();
    assert_eq!(got, c);
    assert_eq!(f.verifier.issuer(), ISSUER);
    assert_eq!(f.source.refreshes(), 0, "a known kid needs no refresh");
    assert_eq!(f.source.revocation_checks.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rsa_tokens_are_accepted() {
    let rs = rsa_key("rs1", SigAlg::RS256);
    let ps = rsa_key("ps1", SigAlg::PS256);
    let f = fixture(keys_of(&[&rs, &ps]));
    let c = claims("jti-rsa");
    assert_eq!(
        f.verifier
            .verify(&at(&rs, &c), Binding::None)
            .await
            .unwrap(),
        c
    );
    assert_eq!(
        f.verifier
            .verify(&at(&ps, &c), Binding::None)
            .await
            .unwrap(),
        c
    );
}

#[tokio::test]
async fn keys_from_a_jwks_document_verify() {
    let k = ec_key("ec-jwks");
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(json!({ "keys": [k.public_jwk()] })).unwrap();
    let f = fixture(Arc::new(VerificationKeys::from_jwks(&set)));
    let c = claims("jti-jwks");
    assert_eq!(
        f.verifier.verify(&at(&k, &c), Binding::None).await.unwrap(),
        c
    );
}

#[tokio::test]
async fn typ_must_be_at_jwt() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = claims("jti-typ");
    for typ in [
        "JWT",
        "jwt",
        "application/jwt",
        "at+jwt2",
        "",
        "id_token+jwt",
    ] {
        let t = k.sign(typ, &c).unwrap();
        assert_invalid(f.verifier.verify(&t, Binding::None).await);
    }
    // Media types compare case-insensitively, short or full (RFC 9068 §4).
    for typ in ["AT+JWT", "application/at+jwt", "Application/AT+JWT"] {
        let t = k.sign(typ, &c).unwrap();
        assert_eq!(f.verifier.verify(&t, Binding::None).await.unwrap(), c);
    }
}

#[tokio::test]
async fn missing_typ_is_refused() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = serde_json::to_value(claims("jti-notyp")).unwrap();
    // The same key signs a header without `typ`: only the header check can refuse it.
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
    let own = SigningKey::from_pkcs8("own", SigAlg::ES256, doc.as_ref()).unwrap();
    let f2 = fixture(keys_of(&[&own]));
    let sign = |header: Value| {
        let input = signing_input(&header, &c);
        let sig = kp.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    };
    let with_typ = sign(json!({"alg": "ES256", "kid": "own", "typ": "at+jwt"}));
    assert!(
        f2.verifier.verify(&with_typ, Binding::None).await.is_ok(),
        "the hand-made token is otherwise valid"
    );
    let without = sign(json!({"alg": "ES256", "kid": "own"}));
    assert_invalid(f2.verifier.verify(&without, Binding::None).await);
    // Not a JWT at all.
    for junk in ["", "abc", "a.b.c", "..", "eyJhbGciOiJFUzI1NiJ9.e30."] {
        assert_invalid(f.verifier.verify(junk, Binding::None).await);
    }
}

#[tokio::test]
async fn missing_kid_is_refused() {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
    let own = SigningKey::from_pkcs8("own", SigAlg::ES256, doc.as_ref()).unwrap();
    let f = fixture(keys_of(&[&own]));
    let input = signing_input(
        &json!({"alg": "ES256", "typ": "at+jwt"}),
        &serde_json::to_value(claims("jti-nokid")).unwrap(),
    );
    let sig = kp.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    let t = format!("{input}.{}", b64(sig.as_ref()));
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_eq!(f.source.refreshes(), 0);
}

#[tokio::test]
async fn unknown_kid_is_refused_when_refresh_learns_nothing() {
    let k1 = ec_key("ec1");
    let k2 = ec_key("ec2");
    let f = fixture(keys_of(&[&k1]));
    let t = at(&k2, &claims("jti-unknown"));
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_eq!(
        f.source.refreshes(),
        1,
        "an unknown kid asks the source once"
    );
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_eq!(f.source.refreshes(), 2);
}

#[tokio::test]
async fn unknown_kid_is_accepted_after_refresh_supplies_it() {
    let k1 = ec_key("ec1");
    let k2 = ec_key("ec2");
    let f = fixture(keys_of(&[&k1]));
    f.source.publish(keys_of(&[&k1, &k2]));
    let c = claims("jti-rotated");
    let t = at(&k2, &c);
    assert_eq!(f.verifier.verify(&t, Binding::None).await.unwrap(), c);
    assert_eq!(f.source.refreshes(), 1);
    // Now known: no further refresh, for this token or another one of the new key.
    assert_eq!(f.verifier.verify(&t, Binding::None).await.unwrap(), c);
    let c2 = claims("jti-rotated-2");
    assert_eq!(
        f.verifier
            .verify(&at(&k2, &c2), Binding::None)
            .await
            .unwrap(),
        c2
    );
    // The old key still verifies too.
    assert!(
        f.verifier
            .verify(&at(&k1, &claims("jti-old")), Binding::None)
            .await
            .is_ok()
    );
    assert_eq!(f.source.refreshes(), 1);
}

#[tokio::test]
async fn refreshed_keys_without_the_kid_still_refuse() {
    let k1 = ec_key("ec1");
    let k2 = ec_key("ec2");
    let k3 = ec_key("ec3");
    let f = fixture(keys_of(&[&k1]));
    f.source.publish(keys_of(&[&k1, &k2]));
    assert_invalid(
        f.verifier
            .verify(&at(&k3, &claims("jti-k3")), Binding::None)
            .await,
    );
    assert_eq!(f.source.refreshes(), 1);
}

#[tokio::test]
async fn header_algorithm_must_be_the_keys_one() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let payload = serde_json::to_value(claims("jti-confused")).unwrap();

    // HS256 keyed with the public key, in the forms an attacker could find it.
    let jwk = k.public_jwk();
    let coord = |n: &str| URL_SAFE_NO_PAD.decode(jwk[n].as_str().unwrap()).unwrap();
    let mut point = vec![4u8];
    point.extend(coord("x"));
    point.extend(coord("y"));
    let jwk_text = serde_json::to_vec(jwk).unwrap();
    for secret in [point.as_slice(), jwk_text.as_slice()] {
        let input = signing_input(
            &json!({"alg": "HS256", "kid": "ec1", "typ": "at+jwt"}),
            &payload,
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        let t = format!("{input}.{}", b64(tag.as_ref()));
        assert_invalid(f.verifier.verify(&t, Binding::None).await);
    }

    // `alg: none` with no signature.
    let input = signing_input(
        &json!({"alg": "none", "kid": "ec1", "typ": "at+jwt"}),
        &payload,
    );
    assert_invalid(f.verifier.verify(&format!("{input}."), Binding::None).await);

    // A valid ES256 signature under a header relabelled ES384.
    let (_, p, s) = parts(&at(&k, &claims("jti-relabel")));
    let h = b64(br#"{"alg":"ES384","kid":"ec1","typ":"at+jwt"}"#);
    assert_invalid(
        f.verifier
            .verify(&format!("{h}.{p}.{s}"), Binding::None)
            .await,
    );
}

#[tokio::test]
async fn rsa_key_is_bound_to_its_one_padding() {
    // The same RSA key is registered for RS256 only; a genuine PS256 signature by it under
    // the RS256 kid is refused.
    let rs = rsa_key("rsa1", SigAlg::RS256);
    let ps_same_kid = rsa_key("rsa1", SigAlg::PS256);
    let f = fixture(keys_of(&[&rs]));
    let c = claims("jti-pss");
    assert_invalid(
        f.verifier
            .verify(&at(&ps_same_kid, &c), Binding::None)
            .await,
    );
    assert_eq!(
        f.verifier
            .verify(&at(&rs, &c), Binding::None)
            .await
            .unwrap(),
        c
    );
}

#[tokio::test]
async fn bad_signature_is_refused() {
    let k = ec_key("ec1");
    let impostor = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = claims("jti-sig");
    // Another key under the same kid.
    assert_invalid(f.verifier.verify(&at(&impostor, &c), Binding::None).await);

    let good = at(&k, &c);
    let (h, p, s) = parts(&good);
    // A flipped signature byte.
    let mut sig = URL_SAFE_NO_PAD.decode(&s).unwrap();
    sig[10] ^= 1;
    assert_invalid(
        f.verifier
            .verify(&format!("{h}.{p}.{}", b64(&sig)), Binding::None)
            .await,
    );
    // An empty or truncated signature.
    assert_invalid(f.verifier.verify(&format!("{h}.{p}."), Binding::None).await);
    assert_invalid(
        f.verifier
            .verify(&format!("{h}.{p}.{}", b64(&sig[..32])), Binding::None)
            .await,
    );
    // Altered claims under the original signature (a wider scope).
    let mut altered = serde_json::to_value(&c).unwrap();
    altered["scope"] = json!("openid ca:request ca:admin");
    let p2 = b64(&serde_json::to_vec(&altered).unwrap());
    assert_invalid(
        f.verifier
            .verify(&format!("{h}.{p2}.{s}"), Binding::None)
            .await,
    );
    // The untouched token still passes: the refusals above are about the changes.
    assert_eq!(f.verifier.verify(&good, Binding::None).await.unwrap(), c);
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    for iss in [
        "https://evil.example/realms/test",
        "https://idp.example/realms/test/",
        "https://idp.example/realms/other",
        "",
    ] {
        let c = AccessTokenClaims {
            iss: iss.to_owned(),
            ..claims("jti-iss")
        };
        assert_invalid(f.verifier.verify(&at(&k, &c), Binding::None).await);
        assert_invalid(f.verifier.verify_unbound(&at(&k, &c)).await);
    }
}

#[tokio::test]
async fn expiry_is_checked_on_every_use() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = claims("jti-exp");
    let t = at(&k, &c);
    assert!(f.verifier.verify(&t, Binding::None).await.is_ok());
    f.clock.advance(LIFETIME - 1);
    assert!(
        f.verifier.verify(&t, Binding::None).await.is_ok(),
        "one second before exp"
    );
    f.clock.advance(1);
    // exp == now: expired, though the signature was remembered.
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_invalid(f.verifier.verify_unbound(&t).await);
    f.clock.advance(3600);
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
}

#[tokio::test]
async fn token_expired_at_issue_is_refused() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = AccessTokenClaims {
        exp: T0 - 1,
        ..claims("jti-old")
    };
    assert_invalid(f.verifier.verify(&at(&k, &c), Binding::None).await);
}

#[tokio::test]
async fn revoked_token_is_refused_even_when_remembered() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let t = at(&k, &claims("jti-rev"));
    let other = at(&k, &claims("jti-kept"));
    assert!(f.verifier.verify(&t, Binding::None).await.is_ok());
    f.source.revoke("jti-rev");
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_invalid(f.verifier.verify_unbound(&t).await);
    assert!(
        f.verifier.verify(&other, Binding::None).await.is_ok(),
        "only the revoked jti is refused"
    );
}

#[tokio::test]
async fn revocation_is_not_asked_for_refused_tokens() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = AccessTokenClaims {
        exp: T0,
        ..claims("jti-exp-rev")
    };
    assert_invalid(f.verifier.verify(&at(&k, &c), Binding::None).await);
    assert_invalid(
        f.verifier
            .verify(&at(&ec_key("ec1"), &claims("x")), Binding::None)
            .await,
    );
    assert_eq!(f.source.revocation_checks.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn certificate_bound_token_needs_its_certificate() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = bound("jti-cnf", THUMB);
    let t = at(&k, &c);
    assert_eq!(
        refusal(f.verifier.verify(&t, Binding::None).await),
        WRONG_CERTIFICATE
    );
    assert_eq!(
        refusal(
            f.verifier
                .verify(
                    &t,
                    Binding::Mtls("AAAAQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU")
                )
                .await
        ),
        WRONG_CERTIFICATE
    );
    // A DPoP key thumbprint is no certificate, even with the same text.
    assert_eq!(
        refusal(f.verifier.verify(&t, Binding::Dpop(THUMB)).await),
        WRONG_CERTIFICATE
    );
    assert_eq!(
        f.verifier.verify(&t, Binding::Mtls(THUMB)).await.unwrap(),
        c
    );
    // Introspection: everything but the binding, the cnf claim reported back.
    let got = f.verifier.verify_unbound(&t).await.unwrap();
    assert_eq!(got.cnf.as_ref().unwrap().x5t_s256, THUMB);
    assert_eq!(got, c);
}

#[tokio::test]
async fn binding_is_checked_after_validity() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let t = at(&k, &bound("jti-cnf-exp", THUMB));
    f.clock.advance(LIFETIME);
    // Expired and presented without certificate: reported as invalid, not as a binding error.
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_invalid(f.verifier.verify(&t, Binding::Mtls(THUMB)).await);
}

#[tokio::test]
async fn unbound_token_is_accepted_with_a_certificate() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = claims("jti-unbound");
    assert_eq!(
        f.verifier
            .verify(&at(&k, &c), Binding::Mtls(THUMB))
            .await
            .unwrap(),
        c
    );
}

#[tokio::test]
async fn dpop_confirmation_is_not_taken_for_unbound() {
    // A `cnf` with only `jkt` (RFC 9449) must not pass as a token bound to nothing.
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let mut c = serde_json::to_value(claims("jti-jkt")).unwrap();
    c["cnf"] = json!({"jkt": THUMB});
    let t = k.sign("at+jwt", &c).unwrap();
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_invalid(f.verifier.verify(&t, Binding::Dpop(THUMB)).await);
}

#[tokio::test]
async fn key_rotation_invalidates_remembered_signatures() {
    let k1 = ec_key("ec1");
    let k2 = ec_key("ec2");
    let f = fixture(keys_of(&[&k1]));
    let c = claims("jti-gen");
    let t = at(&k1, &c);
    assert_eq!(f.verifier.verify(&t, Binding::None).await.unwrap(), c);
    // A new generation that dropped ec1: the remembered signature no longer counts.
    f.source.rotate(keys_of(&[&k2]));
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_invalid(f.verifier.verify_unbound(&t).await);
    assert_eq!(
        f.source.refreshes(),
        2,
        "ec1 is unknown to the new generation"
    );
    // Restoring a generation with ec1 makes it valid again (verified afresh).
    f.source.rotate(keys_of(&[&k1, &k2]));
    assert_eq!(f.verifier.verify(&t, Binding::None).await.unwrap(), c);
}

#[tokio::test]
async fn key_rotation_with_the_same_kid_reverifies() {
    // Same kid, other key material: only a cache keyed by generation notices.
    let k1 = ec_key("ec1");
    let replacement = ec_key("ec1");
    let f = fixture(keys_of(&[&k1]));
    let t = at(&k1, &claims("jti-samekid"));
    assert!(f.verifier.verify(&t, Binding::None).await.is_ok());
    f.source.rotate(keys_of(&[&replacement]));
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_eq!(f.source.refreshes(), 0, "the kid is known");
}

#[tokio::test]
async fn source_failures_are_internal_errors() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let t = at(&k, &claims("jti-int"));
    f.source.fail_keys.store(true, Ordering::SeqCst);
    match f.verifier.verify(&t, Binding::None).await {
        Err(TokenError::Internal(e)) => assert_eq!(e.to_string(), "keys unavailable"),
        other => panic!("expected Internal, got {other:?}"),
    }
    f.source.fail_keys.store(false, Ordering::SeqCst);
    f.source.fail_revocation.store(true, Ordering::SeqCst);
    match f.verifier.verify_unbound(&t).await {
        Err(TokenError::Internal(e)) => {
            assert_eq!(e.to_string(), "revocation store unavailable")
        }
        other => panic!("expected Internal, got {other:?}"),
    }
    f.source.fail_revocation.store(false, Ordering::SeqCst);
    assert!(f.verifier.verify(&t, Binding::None).await.is_ok());
}

#[tokio::test]
async fn default_refresh_learns_nothing() {
    struct Static(Arc<VerificationKeys>);
    impl TokenSource for Static {
        fn issuer(&self) -> &str {
            ISSUER
        }
        fn keys(&self) -> BoxFuture<'_, anyhow::Result<Arc<VerificationKeys>>> {
            Box::pin(async move { Ok(self.0.clone()) })
        }
        fn revoked<'a>(&'a self, _: &'a AccessTokenClaims) -> BoxFuture<'a, anyhow::Result<bool>> {
            Box::pin(async { Ok(false) })
        }
    }
    let k1 = ec_key("ec1");
    let k2 = ec_key("ec2");
    let s = Static(keys_of(&[&k1]));
    assert!(s.refresh().await.unwrap().is_none());
    let v = Verifier::new(Arc::new(s), Arc::new(FixedClock::at(T0)));
    assert!(
        v.verify(&at(&k1, &claims("a")), Binding::None)
            .await
            .is_ok()
    );
    assert_invalid(v.verify(&at(&k2, &claims("b")), Binding::None).await);
}

#[tokio::test]
async fn verifier_is_shareable_across_tasks() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let v = Arc::new(f.verifier);
    let t = Arc::new(at(&k, &claims("jti-shared")));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (v, t) = (v.clone(), t.clone());
            tokio::spawn(async move { v.verify(&t, Binding::None).await.map(|c| c.jti) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "jti-shared");
    }
}

#[test]
fn binding_of_certificate() {
    assert_eq!(Binding::of_certificate(None), Binding::None);
    assert_eq!(Binding::of_certificate(Some(THUMB)), Binding::Mtls(THUMB));
    assert_ne!(Binding::of_certificate(Some(THUMB)), Binding::Dpop(THUMB));
    assert_ne!(Binding::of_certificate(Some("")), Binding::None);
}

#[tokio::test]
async fn certificate_thumbprint_binds_end_to_end() {
    let cert_der = b"not really DER, but any bytes have a thumbprint";
    let thumb = coeur_common::encoding::x5t_s256(cert_der);
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = bound("jti-e2e", &thumb);
    let t = at(&k, &c);
    assert_eq!(
        f.verifier
            .verify(&t, Binding::of_certificate(Some(&thumb)))
            .await
            .unwrap(),
        c
    );
    let other = coeur_common::encoding::x5t_s256(b"another certificate");
    assert_eq!(
        refusal(
            f.verifier
                .verify(&t, Binding::of_certificate(Some(&other)))
                .await
        ),
        WRONG_CERTIFICATE
    );
    assert_eq!(
        refusal(f.verifier.verify(&t, Binding::of_certificate(None)).await),
        WRONG_CERTIFICATE
    );
}
