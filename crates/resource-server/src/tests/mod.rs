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

mod binding;
mod lifecycle;
mod signatures;
