//! Every refusal of the provider, each checked on SQLite and PostgreSQL: what must be refused
//! is refused, with the right error, and never with a redirect or a token it should not give.
//! Each test also runs the matching success path, so that a refusal cannot pass by accident.

use crate::both_dbs;
use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use coeur::common::random::Clock as _;
use coeur::oauth::client::{ClientSpec, GrantType, SecretMethods, TokenAuthMethod};
use coeur::oauth::keyring::KeyStatus;
use coeur::oauth::secret::MIN_SECRET_LEN;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

mod access_tokens;
mod authorize;
mod cli;
mod client_auth;
mod logout;
mod realms;
mod token;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// ---------------------------------------------------------------- helpers

/// Asserts an HTML refusal: the status, no `Location`, no code anywhere.
async fn expect_page(r: reqwest::Response, status: u16, what: &str) -> String {
    assert_eq!(r.status().as_u16(), status, "{what}: status");
    assert!(
        r.headers().get("location").is_none(),
        "{what}: must not redirect"
    );
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("text/html"), "{what}: an HTML page ({ct})");
    let html = r.text().await.unwrap_or_default();
    assert!(!html.contains("code="), "{what}: no code in the page");
    html
}

/// Asserts that the authorization endpoint showed an error page and did not redirect.
fn expect_authz_page(a: Authz, what: &str) {
    match a {
        Authz::ErrorPage { status, html } => {
            assert!((400..500).contains(&status), "{what}: status {status}");
            assert!(html.contains("<html"), "{what}: an HTML error page");
            assert!(!html.contains("code="), "{what}: no code in the page");
        }
        other => panic!("{what}: expected an error page, got {other:?}"),
    }
}

/// Asserts an error redirect to the registered URI, carrying only the allowed parameters.
fn expect_authz_error(a: Authz, s: &TestServer, realm: &str, code: &str, what: &str) {
    let u = match a {
        Authz::Redirect(u) => u,
        other => panic!("{what}: expected an error redirect, got {other:?}"),
    };
    assert!(
        u.as_str().starts_with(&format!("{REDIRECT}?")),
        "{what}: redirect to the registered URI only: {u}"
    );
    assert_eq!(param(&u, "error").as_deref(), Some(code), "{what}: {u}");
    assert_eq!(param(&u, "iss"), Some(s.issuer(realm)), "{what}: iss");
    for (k, v) in u.query_pairs() {
        assert!(
            ["error", "error_description", "error_uri", "state", "iss"].contains(&k.as_ref()),
            "{what}: unexpected parameter {k} in {u}"
        );
        assert!(
            !v.contains(['\r', '\n', '\t']),
            "{what}: control characters in {k}"
        );
    }
}

/// A realm's authorization URL for client `client_id` with the usual parameters, `extra`
/// replacing or adding to them.
fn authz(s: &TestServer, realm: &str, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("client_id", client_id),
        ("response_type", "code"),
        ("scope", "openid scope_all"),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("nonce", "n-0S6_WzA2Mj"),
    ];
    for (k, v) in extra {
        params.retain(|(n, _)| n != k);
        params.push((k, v));
    }
    authz_url(s, realm, &params)
}

/// A code for client `rp` in realm `edit`, through the browser's session or the wallet page.
async fn code(s: &TestServer, b: &Browser, extra: &[(&str, &str)]) -> String {
    let cb = login_code(s, b, extra).await;
    param(&cb, "code").unwrap_or_else(|| panic!("no code in {cb}"))
}

/// Logs in and redeems a code for client `rp`: the token response.
async fn tokens(s: &TestServer, b: &Browser) -> Value {
    let c = code(s, b, &[]).await;
    let r = redeem(s, &c, &[]).await;
    assert_eq!(r.status(), 200, "code redemption");
    r.json().await.expect("token JSON")
}

/// A refresh request in realm `edit` by `client` (authenticated with [`SECRET`]).
async fn refresh(s: &TestServer, client: &str, rt: &str) -> reqwest::Response {
    post(
        &s.endpoint("edit", "token"),
        Some((client, SECRET)),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

/// Calls userinfo of `realm` with a bearer token.
async fn userinfo(s: &TestServer, realm: &str, token: &str) -> reqwest::Response {
    http()
        .get(s.endpoint(realm, "userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .expect("userinfo")
}

/// `url` with `params` appended to its query.
fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(url).expect("URL");
    u.query_pairs_mut().extend_pairs(params);
    u.to_string()
}

fn www_authenticate(h: &HeaderMap) -> String {
    h.get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The decoded header and claims of a compact JWS.
fn jwt_parts(jwt: &str) -> (Value, Value) {
    let mut it = jwt.split('.');
    let mut part = || -> Value {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(it.next().expect("part"))
                .expect("b64"),
        )
        .expect("JSON")
    };
    let h = part();
    let c = part();
    (h, c)
}

/// An unsecured JWS (`alg` as given, empty signature).
fn unsigned_jwt(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// An HS256 JWS keyed with `secret`.
fn hs256_jwt(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

fn public_spec(id: &str) -> ClientSpec {
    ClientSpec {
        public: true,
        token_endpoint_auth_method: TokenAuthMethod::None,
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        ..rp_spec(id)
    }
}
