//! The flow's offline parts: the authorization URL, the callback's issuer and the ID token's
//! verification, over metadata and tokens built here (HS256 with the client secret).

use super::*;
use openidconnect::core::{CoreGenderClaim, CoreHmacKey};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, AuthenticationContextClass,
    AuthenticationMethodReference, IdToken, IdTokenClaims, StandardClaims, SubjectIdentifier,
};
use std::collections::HashMap;

const ISSUER: &str = "https://idp.example/auth/realms/edit";
const CLIENT: &str = "rp";
const SECRET: &str = "a-client-secret-of-at-least-thirty-two-bytes";
const REDIRECT: &str = "https://rp.example/cb";
const NOW: i64 = 1_800_000_000;

fn metadata(extra: serde_json::Value) -> Metadata {
    let mut m = serde_json::json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{ISSUER}/protocol/openid-connect/auth"),
        "token_endpoint": format!("{ISSUER}/protocol/openid-connect/token"),
        "userinfo_endpoint": format!("{ISSUER}/protocol/openid-connect/userinfo"),
        "jwks_uri": format!("{ISSUER}/protocol/openid-connect/certs"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "HS256"],
    });
    if let (Some(m), serde_json::Value::Object(extra)) = (m.as_object_mut(), extra) {
        m.extend(extra);
    }
    serde_json::from_value(m).expect("metadata")
}

fn rp_with(secret: Option<&str>, extra: serde_json::Value) -> RelyingParty {
    let http = Http::new().expect("http client");
    RelyingParty::from_metadata(metadata(extra), CLIENT, secret, REDIRECT, http)
        .expect("relying party")
        .with_clock(Arc::new(|| NOW))
}

fn rp() -> RelyingParty {
    rp_with(Some(SECRET), serde_json::json!({}))
}

fn params(u: &url::Url) -> HashMap<String, String> {
    u.query_pairs().into_owned().collect()
}

#[test]
fn the_authorization_url_carries_state_nonce_and_an_s256_challenge() {
    let (url, pending) = rp()
        .authorize_url(&["openid", "scope_all"], &[("acr_values", "eidas1")])
        .expect("authorization URL");
    assert!(
        url.as_str()
            .starts_with(&format!("{ISSUER}/protocol/openid-connect/auth?"))
    );
    let p = params(&url);
    assert_eq!(p["response_type"], "code");
    assert_eq!(p["client_id"], CLIENT);
    assert_eq!(p["redirect_uri"], REDIRECT);
    assert_eq!(p["scope"], "openid scope_all");
    assert_eq!(p["acr_values"], "eidas1");
    assert_eq!(p["state"], pending.state);
    assert_eq!(p["nonce"], pending.nonce);
    assert_eq!(p["code_challenge_method"], "S256");
    let expected = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
        pending.pkce_verifier.clone(),
    ));
    assert_eq!(&p["code_challenge"], expected.as_str());
    for secret in [&pending.state, &pending.nonce, &pending.pkce_verifier] {
        assert_eq!(secret.len(), 43, "256 bits, base64url");
    }
    assert!(!url.as_str().contains(&pending.pkce_verifier));
}

#[test]
fn each_login_gets_fresh_secrets() {
    let rp = rp();
    let (_, a) = rp.authorize_url(&[], &[]).expect("first");
    let (_, b) = rp.authorize_url(&[], &[]).expect("second");
    assert_ne!(a.state, b.state);
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.pkce_verifier, b.pkce_verifier);
    assert_ne!(a.state, a.nonce);
}

#[test]
fn injected_randomness_makes_the_secrets() {
    let rp = rp().with_random(Arc::new(|b: &mut [u8]| b.fill(7)));
    let (url, pending) = rp.authorize_url(&[], &[]).expect("authorization URL");
    let seven = URL_SAFE_NO_PAD.encode([7u8; 32]);
    assert_eq!(pending.state, seven);
    assert_eq!(pending.pkce_verifier, seven);
    assert_eq!(params(&url)["scope"], "openid");
}

#[test]
fn extra_parameters_may_not_override_the_flow() {
    for name in [
        "state",
        "nonce",
        "code_challenge_method",
        "redirect_uri",
        "scope",
    ] {
        match rp().authorize_url(&[], &[(name, "x")]) {
            Err(RpError::ReservedParameter(n)) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn the_callback_issuer_must_match_and_be_there_when_announced() {
    let lax = rp();
    assert!(lax.check_callback_issuer(Some(ISSUER)).is_ok());
    assert!(lax.check_callback_issuer(None).is_ok());
    assert!(matches!(
        lax.check_callback_issuer(Some("https://evil.example")),
        Err(RpError::CallbackIssuer)
    ));
    let strict = rp_with(
        Some(SECRET),
        serde_json::json!({ "authorization_response_iss_parameter_supported": true }),
    );
    assert!(strict.check_callback_issuer(Some(ISSUER)).is_ok());
    assert!(matches!(
        strict.check_callback_issuer(None),
        Err(RpError::CallbackIssuer)
    ));
}

// ---------------------------------------------------------------- ID token verification

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Psc {
    #[serde(rename = "authMode")]
    auth_mode: String,
}
impl AdditionalClaims for Psc {}

type PscIdToken =
    IdToken<Psc, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

fn time(t: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(t, 0).expect("time")
}

/// What the test token says; each test changes one thing.
struct Issued {
    issuer: &'static str,
    audience: &'static str,
    nonce: &'static str,
    exp: i64,
    at_hash_of: &'static str,
}

impl Default for Issued {
    fn default() -> Self {
        Issued {
            issuer: ISSUER,
            audience: CLIENT,
            nonce: "the-nonce",
            exp: NOW + 60,
            at_hash_of: "the-access-token",
        }
    }
}

/// A token response whose access token is `the-access-token` and whose ID token is `issued`,
/// signed HS256 with the client secret.
fn token_response(issued: Issued) -> CoreTokenResponse {
    let claims = IdTokenClaims::new(
        IssuerUrl::new(issued.issuer.into()).expect("issuer"),
        vec![Audience::new(issued.audience.into())],
        time(issued.exp),
        time(NOW - 5),
        StandardClaims::new(SubjectIdentifier::new("f:x:899700218896".into())),
        Psc {
            auth_mode: "TEST".into(),
        },
    )
    .set_nonce(Some(Nonce::new(issued.nonce.into())))
    .set_auth_context_ref(Some(AuthenticationContextClass::new("eidas1".into())))
    .set_auth_method_refs(Some(vec![AuthenticationMethodReference::new("pop".into())]))
    .set_auth_time(Some(time(NOW - 10)));
    let id_token = PscIdToken::new(
        claims,
        &CoreHmacKey::new(SECRET.as_bytes().to_vec()),
        CoreJwsSigningAlgorithm::HmacSha256,
        Some(&AccessToken::new(issued.at_hash_of.into())),
        None,
    )
    .expect("signed ID token");
    serde_json::from_value(serde_json::json!({
        "access_token": "the-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "refresh_token": "the-refresh-token",
        "scope": "openid scope_all",
        "id_token": id_token.to_string(),
    }))
    .expect("token response")
}

fn pending() -> PendingLogin {
    PendingLogin {
        state: "the-state".into(),
        nonce: "the-nonce".into(),
        pkce_verifier: "v".repeat(43),
    }
}

#[test]
fn a_valid_id_token_gives_the_login() {
    let token = token_response(Issued::default());
    let login = rp().verify(&token, &pending()).expect("verified");
    assert_eq!(login.claims.sub, "f:x:899700218896");
    assert_eq!(login.claims.acr.as_deref(), Some("eidas1"));
    assert_eq!(login.claims.amr, ["pop"]);
    assert_eq!(login.claims.auth_time, Some(NOW - 10));
    assert_eq!(login.claims.extra["authMode"], "TEST");
    assert_eq!(login.claims.all["nonce"], "the-nonce");
    assert_eq!(login.claims.all["iss"], ISSUER);
    assert_eq!(login.access_token, "the-access-token");
    assert_eq!(login.refresh_token.as_deref(), Some("the-refresh-token"));
    assert_eq!(login.expires_in, Some(std::time::Duration::from_secs(300)));
    assert_eq!(
        login.scopes,
        Some(vec!["openid".to_owned(), "scope_all".to_owned()])
    );
    assert_eq!(login.id_token.split('.').count(), 3);
    let debug = format!("{login:?}");
    assert!(!debug.contains("the-access-token") && !debug.contains("the-refresh-token"));
}

#[test]
fn another_nonce_is_a_mismatch() {
    let token = token_response(Issued {
        nonce: "another-nonce",
        ..Issued::default()
    });
    assert!(matches!(
        rp().verify(&token, &pending()),
        Err(RpError::NonceMismatch)
    ));
}

#[test]
fn expiry_is_checked_against_the_injected_clock() {
    let token = token_response(Issued::default());
    assert!(rp().verify(&token, &pending()).is_ok());
    let later = rp().with_clock(Arc::new(|| NOW + 61));
    assert!(matches!(
        later.verify(&token, &pending()),
        Err(RpError::IdToken(_))
    ));
}

#[test]
fn another_issuer_or_audience_is_refused() {
    for issued in [
        Issued {
            issuer: "https://evil.example",
            ..Issued::default()
        },
        Issued {
            audience: "another-rp",
            ..Issued::default()
        },
    ] {
        let token = token_response(issued);
        assert!(matches!(
            rp().verify(&token, &pending()),
            Err(RpError::IdToken(_))
        ));
    }
}

#[test]
fn an_at_hash_of_another_access_token_is_refused() {
    let token = token_response(Issued {
        at_hash_of: "another-access-token",
        ..Issued::default()
    });
    match rp().verify(&token, &pending()) {
        Err(RpError::IdToken(m)) => assert!(m.contains("at_hash"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_token_signed_with_another_secret_is_refused() {
    let token = token_response(Issued::default());
    let other = RelyingParty::from_metadata(
        metadata(serde_json::json!({})),
        CLIENT,
        Some("another-secret-of-at-least-thirty-two-bytes!"),
        REDIRECT,
        Http::new().expect("http client"),
    )
    .expect("relying party")
    .with_clock(Arc::new(|| NOW));
    assert!(matches!(
        other.verify(&token, &pending()),
        Err(RpError::IdToken(_))
    ));
}

#[test]
fn a_public_client_accepts_no_hmac_signed_token() {
    let token = token_response(Issued::default());
    let public = rp_with(None, serde_json::json!({}));
    assert!(matches!(
        public.verify(&token, &pending()),
        Err(RpError::IdToken(_))
    ));
}

#[test]
fn a_token_response_without_id_token_is_refused() {
    let token: CoreTokenResponse = serde_json::from_value(serde_json::json!({
        "access_token": "at", "token_type": "Bearer",
    }))
    .expect("token response");
    assert!(matches!(
        rp().verify(&token, &pending()),
        Err(RpError::NoIdToken)
    ));
}

#[test]
fn the_end_session_endpoint_comes_from_the_metadata() {
    assert_eq!(rp().end_session_endpoint(), None);
    let with = rp_with(
        None,
        serde_json::json!({ "end_session_endpoint": "https://idp.example/logout" }),
    );
    assert_eq!(
        with.end_session_endpoint().map(url::Url::as_str),
        Some("https://idp.example/logout")
    );
}
