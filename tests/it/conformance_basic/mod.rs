//! The OpenID Foundation conformance suite's Basic OP plan
//! (`oidcc-basic-certification-test-plan`), module by module. Each test is named after its
//! module (`oidcc-foo-bar` → `oidcc_foo_bar`) and asserts what the module asserts, including
//! the conditions the suite runs on every happy flow: authorization code strength, `state`,
//! `iss` in the authorization response (RFC 9207), ID token `iss`/`aud`/`exp`/`iat`/`nonce`/
//! `at_hash` and signature against the published JWKS, token response shape, and the
//! hygiene of error redirects.
//!
//! `oidcc-server` runs on the shipped configuration (every realm). The other modules load
//! only the sandbox realm (`realms/edit.toml`, read from the repository): the production
//! realm plays no part in them, and generating its RSA keys would double the start-up time
//! of every test.

use crate::both_dbs;
use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coeur::common::random::Clock as _;
use coeur::oauth::acr::Acr;
use coeur::oauth::client::{ClientSpec, TokenAuthMethod};
use coeur::oauth::jose::SigAlg;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

mod flows;
mod id_token;
mod request_object;
mod request_parameters;
mod tokens;
mod userinfo;

/// The `nonce` of the authorization requests.
const NONCE: &str = "n-0S6_WzA2Mj";
/// The `state` of the authorization requests; it needs URL encoding on the way back.
const STATE: &str = "af0i fj+sl/dkj";
/// Parameters allowed in an error redirect (RFC 6749 §4.1.2.1, RFC 9207).
const ERROR_PARAMS: &[&str] = &["error", "error_description", "error_uri", "state", "iss"];

// ---------------------------------------------------------------- server and clients

/// A server with the sandbox realm only, and the standard client `rp` registered.
struct Op {
    s: TestServer,
    _realms: tempfile::TempDir,
}

impl std::ops::Deref for Op {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.s
    }
}

async fn start(db: Db) -> Op {
    let realms = tempfile::tempdir().expect("realms dir");
    std::fs::copy(
        realms_dir().join("edit.toml"),
        realms.path().join("edit.toml"),
    )
    .expect("copy the sandbox realm");
    let s = TestServer::start_with_realms(db, realms.path()).await;
    s.add_rp("edit").await;
    Op { s, _realms: realms }
}

/// A client as the relying party sees it.
#[derive(Debug, Clone, Copy)]
struct Rp<'a> {
    id: &'a str,
    secret: &'a str,
    /// `client_secret_post` rather than `client_secret_basic`.
    post: bool,
    /// ID tokens are HS256, keyed with the secret.
    hs256: bool,
}

/// The standard confidential client of the harness.
const RP: Rp<'static> = Rp {
    id: "rp",
    secret: SECRET,
    post: false,
    hs256: false,
};

/// Registers a client like `rp`, with another authentication method or ID token algorithm.
async fn register(s: &TestServer, rp: Rp<'_>, alg: Option<SigAlg>) {
    let mut spec = rp_spec(rp.id);
    if rp.post {
        spec.token_endpoint_auth_method = TokenAuthMethod::ClientSecretPost;
    }
    spec.id_token_signed_response_alg = alg;
    s.add_client("edit", spec, Some(rp.secret)).await;
}

// ---------------------------------------------------------------- small helpers

async fn get_json(url: &str) -> Value {
    let r = reqwest::get(url).await.expect("GET");
    assert_eq!(r.status(), 200, "GET {url}");
    let ct = header(&r, "content-type");
    assert!(
        ct.starts_with("application/json"),
        "{url}: content type {ct}"
    );
    r.json().await.expect("JSON body")
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn discovery(s: &TestServer) -> Value {
    get_json(&format!(
        "{}/.well-known/openid-configuration",
        s.issuer("edit")
    ))
    .await
}

/// The realm's JWKS, raw and parsed.
async fn jwks(s: &TestServer) -> (Value, JwkSet) {
    let raw = get_json(&s.endpoint("edit", "certs")).await;
    let set: JwkSet = serde_json::from_value(raw.clone()).expect("a JWK set");
    (raw, set)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

/// `at_hash` of an access token for the SHA-256 family (every algorithm coeur signs with).
fn at_hash(token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    b64(&d.as_ref()[..16])
}

/// Shannon entropy per character of `samples` (pooled), times `len`: the suite's estimate.
fn estimated_bits(samples: &[String], len: usize) -> f64 {
    let mut counts: HashMap<char, usize> = HashMap::new();
    let mut total = 0usize;
    for s in samples {
        for c in s.chars() {
            *counts.entry(c).or_default() += 1;
            total += 1;
        }
    }
    let per_char: f64 = counts
        .values()
        .map(|&n| {
            let p = n as f64 / total as f64;
            -p * p.log2()
        })
        .sum();
    per_char * len as f64
}

/// The suite's `EnsureMinimum…Length` / `…Entropy` on one opaque token, at 128 bits: only
/// RFC 6749 VSCHARs, at least 128 bits of length even if every character is one of the 64
/// base64url symbols, and at least 128 bits of estimated entropy.
fn assert_strong(what: &str, t: &str) {
    assert!(
        t.bytes().all(|c| (0x20..=0x7e).contains(&c)),
        "{what} has characters outside VSCHAR: {t:?}"
    );
    assert!(t.len() * 6 >= 128, "{what} is too short: {t:?}");
    let bits = estimated_bits(&[t.to_owned()], t.len());
    assert!(
        bits >= 128.0,
        "{what} has ~{bits:.0} bits of entropy: {t:?}"
    );
}

/// The URL without its query and fragment.
fn base(u: &url::Url) -> String {
    let mut c = u.clone();
    c.set_query(None);
    c.set_fragment(None);
    c.to_string()
}

/// A copy of a JWS with one signature character changed.
fn tamper_signature(jwt: &str) -> String {
    let (input, sig) = jwt.rsplit_once('.').expect("a JWS");
    let mut sig: Vec<char> = sig.chars().collect();
    sig[0] = if sig[0] == 'A' { 'B' } else { 'A' };
    format!("{input}.{}", sig.into_iter().collect::<String>())
}

/// An unsigned JWT (`alg: none`).
fn unsigned_jwt(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

// ---------------------------------------------------------------- authorization endpoint

/// The standard request of client `client_id`; `over` replaces parameters (an empty value
/// removes one) or adds them.
fn params<'a>(client_id: &'a str, over: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("client_id", client_id),
        ("response_type", "code"),
        ("scope", "openid scope_all"),
        ("redirect_uri", REDIRECT),
        ("state", STATE),
        ("nonce", NONCE),
    ];
    for &(k, v) in over {
        p.retain(|(n, _)| *n != k);
        if !v.is_empty() {
            p.push((k, v));
        }
    }
    p
}

fn get<'a>(p: &[(&'a str, &'a str)], k: &str) -> Option<&'a str> {
    p.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
}

/// Logs the test identity in on a wallet page; returns the callback.
async fn login(s: &TestServer, b: &Browser, page: &Authz) -> url::Url {
    let r = b.login(&s.base, page, NATIONAL_ID, "test").await;
    assert_eq!(r.status().as_u16(), 303, "the login is accepted");
    location(&r)
}

/// Sends an authorization request; logs in if the wallet page is shown. Returns the redirect
/// and whether the page was shown.
async fn authorize(s: &TestServer, b: &Browser, p: &[(&str, &str)]) -> (url::Url, bool) {
    match b.authorize(&authz_url(s, "edit", p)).await {
        Authz::Redirect(u) => (u, false),
        page @ Authz::LoginPage { .. } => (login(s, b, &page).await, true),
        other => panic!("unexpected answer to {p:?}: {other:?}"),
    }
}

/// Checks a successful authorization response (`CheckMatchingStateParameter`,
/// `ValidateIssIfPresentInAuthorizationResponse`, `EnsureMinimumAuthorizationCode…`) and
/// returns the code.
fn check_code_callback(
    s: &TestServer,
    cb: &url::Url,
    redirect: &str,
    state: Option<&str>,
) -> String {
    assert_eq!(base(cb), redirect, "sent to the requested redirect URI");
    assert_eq!(param(cb, "error"), None, "no error: {cb}");
    assert_eq!(param(cb, "iss"), Some(s.issuer("edit")), "RFC 9207 iss");
    assert_eq!(param(cb, "state").as_deref(), state, "state round trip");
    let code = param(cb, "code").expect("a code");
    assert_strong("authorization code", &code);
    code
}

/// Checks an error redirect: to the registered URI, with one of `errors`, the state and
/// `iss`, no code, only the parameters RFC 6749 §4.1.2.1 and RFC 9207 define, and an
/// `error_description` made of the characters RFC 6749 allows (no CR, LF or TAB).
fn check_error_callback(
    s: &TestServer,
    u: &url::Url,
    redirect: &str,
    errors: &[&str],
    state: Option<&str>,
) {
    assert_eq!(
        base(u),
        redirect,
        "error sent to the registered redirect URI"
    );
    let e = param(u, "error").unwrap_or_else(|| panic!("an error: {u}"));
    assert!(
        errors.contains(&e.as_str()),
        "error {e}, expected one of {errors:?}"
    );
    assert_eq!(param(u, "state").as_deref(), state, "state round trip");
    assert_eq!(param(u, "iss"), Some(s.issuer("edit")), "RFC 9207 iss");
    assert_eq!(param(u, "code"), None, "no code with an error");
    for (k, _) in u.query_pairs() {
        assert!(
            ERROR_PARAMS.contains(&k.as_ref()),
            "unexpected parameter {k} in {u}"
        );
    }
    if let Some(d) = param(u, "error_description") {
        assert!(
            d.chars()
                .all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')),
            "error_description has forbidden characters: {d:?}"
        );
    }
}

// ---------------------------------------------------------------- token endpoint

async fn token_req(s: &TestServer, rp: &Rp<'_>, form: &[(&str, &str)]) -> reqwest::Response {
    let mut form = form.to_vec();
    let req = reqwest::Client::new().post(s.endpoint("edit", "token"));
    let req = if rp.post {
        form.push(("client_id", rp.id));
        form.push(("client_secret", rp.secret));
        req
    } else {
        req.basic_auth(rp.id, Some(rp.secret))
    };
    req.form(&form).send().await.expect("token request")
}

async fn refresh(s: &TestServer, rp: &Rp<'_>, token: &str) -> reqwest::Response {
    token_req(
        s,
        rp,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// A successful token response (`CheckTokenEndpointHttpStatus200`, JSON content type, cache
/// headers, `CheckTokenTypeIsBearer`, `ValidateExpiresIn`, access token characters).
async fn token_ok(r: reqwest::Response) -> Value {
    let status = r.status();
    let cc = header(&r, "cache-control");
    let ct = header(&r, "content-type");
    let body = r.text().await.expect("body");
    assert_eq!(status, 200, "token response: {body}");
    assert!(ct.starts_with("application/json"), "content type {ct}");
    assert!(cc.contains("no-store"), "Cache-Control: {cc}");
    let t: Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        t["token_type"]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case("bearer")),
        "token_type: {t}"
    );
    assert!(
        t["expires_in"].as_u64().is_some_and(|n| n > 0),
        "expires_in: {t}"
    );
    let at = t["access_token"].as_str().expect("access_token");
    assert!(
        !at.is_empty() && at.bytes().all(|c| (0x20..=0x7e).contains(&c)),
        "access token characters"
    );
    assert!(estimated_bits(&[at.to_owned()], at.len()) >= 128.0);
    t
}

/// A token error response with `error`.
async fn token_err(r: reqwest::Response, error: &str) {
    let status = r.status();
    let body = r.text().await.expect("body");
    assert_eq!(status, 400, "expected {error}: {body}");
    let v: Value = serde_json::from_str(&body).expect("JSON error");
    assert_eq!(v["error"], error, "{body}");
}

// ---------------------------------------------------------------- ID tokens

/// What the ID token must say about the nonce.
#[derive(Debug, Clone, Copy)]
enum Nonce<'a> {
    /// Exactly this value.
    Is(&'a str),
    /// No `nonce` claim.
    Absent,
    /// Absent, or this value (refreshed ID tokens: OIDC Core §12.2 leaves the nonce of the
    /// original authentication optional).
    AbsentOr(&'a str),
}

/// Validates an ID token as `ValidateIdToken`, `ValidateIdTokenNonce`,
/// `ValidateIdTokenSignature(UsingKid)`, `CheckForSubjectInIdToken` and `ValidateAtHash` do:
/// algorithm advertised in discovery, signature verified with the published key of its
/// `kid` (or, for HS256, with the client secret), `iss` the discovered issuer, `aud` the
/// client, `exp` in the future and `iat` within the last 5 minutes on the server's clock.
async fn verify_id_token(
    s: &TestServer,
    jwt: &str,
    rp: &Rp<'_>,
    nonce: Nonce<'_>,
    access_token: Option<&str>,
) -> (jsonwebtoken::Header, Value) {
    let d = discovery(s).await;
    let issuer = d["issuer"].as_str().expect("issuer").to_owned();
    let header = jsonwebtoken::decode_header(jwt).expect("a signed JWS");
    let alg = serde_json::to_value(header.alg).expect("alg");
    let alg = alg.as_str().expect("alg name");
    assert!(
        strings(&d["id_token_signing_alg_values_supported"]).contains(&alg.to_owned()),
        "{alg} is advertised"
    );
    let key = if header.alg == jsonwebtoken::Algorithm::HS256 {
        assert!(rp.hs256, "HS256 only for a client registered for it");
        jsonwebtoken::DecodingKey::from_secret(rp.secret.as_bytes())
    } else {
        let kid = header.kid.clone().expect("EnsureIdTokenContainsKid");
        let (raw, set) = jwks(s).await;
        let published = raw["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .unwrap_or_else(|| panic!("kid {kid} is published"));
        if let Some(a) = published.get("alg") {
            assert_eq!(a, alg, "the key of {kid} is for {alg}");
        }
        jsonwebtoken::DecodingKey::from_jwk(set.find(&kid).expect("kid")).expect("a usable key")
    };
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_exp = false; // checked below against the server's clock
    v.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
    v.set_issuer(&[&issuer]);
    v.set_audience(&[rp.id]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .expect("signature, iss and aud verify")
        .claims;
    let now = s.clock.now();
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(issuer, s.issuer("edit"));
    match &claims["aud"] {
        Value::String(a) => assert_eq!(a, rp.id),
        Value::Array(a) => {
            assert!(a.iter().any(|x| x == rp.id));
            if a.len() > 1 {
                assert_eq!(claims["azp"], rp.id);
            }
        }
        other => panic!("aud {other}"),
    }
    if let Some(azp) = claims.get("azp") {
        assert_eq!(azp, rp.id, "azp");
    }
    let exp = claims["exp"].as_i64().expect("exp is a number");
    assert!(exp > now, "exp {exp} is in the future (now {now})");
    let iat = claims["iat"].as_i64().expect("iat is a number");
    assert!(iat <= now && iat >= now - 300, "iat {iat}, now {now}");
    assert!(
        claims["sub"].as_str().is_some_and(|x| !x.is_empty()),
        "sub: {claims}"
    );
    if let Some(t) = claims.get("auth_time") {
        assert!(t.as_i64().is_some_and(|t| t <= now), "auth_time {t}");
    }
    match nonce {
        Nonce::Is(n) => assert_eq!(claims["nonce"], n, "nonce"),
        Nonce::Absent => assert!(claims.get("nonce").is_none(), "no nonce was sent"),
        Nonce::AbsentOr(n) => {
            if let Some(v) = claims.get("nonce") {
                assert_eq!(
                    v, n,
                    "a refreshed ID token keeps the original nonce, if any"
                );
            }
        }
    }
    if let Some(at) = access_token
        && let Some(h) = claims.get("at_hash")
    {
        assert_eq!(h, &Value::String(at_hash(at)), "at_hash");
    }
    (header, claims)
}

/// One authorization code flow: authorization (with a login if the page is shown), response
/// checks, redemption, token response checks, ID token validation.
#[derive(Debug)]
struct Flow {
    code: String,
    login_shown: bool,
    tokens: Value,
    access: String,
    refresh: Option<String>,
    id_token: String,
    header: jsonwebtoken::Header,
    claims: Value,
}

async fn flow_params(
    s: &TestServer,
    b: &Browser,
    rp: &Rp<'_>,
    p: &[(&str, &str)],
    token_extra: &[(&str, &str)],
) -> Flow {
    let (cb, login_shown) = authorize(s, b, p).await;
    let redirect = get(p, "redirect_uri").unwrap_or(REDIRECT);
    let code = check_code_callback(s, &cb, redirect, get(p, "state"));
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
    ];
    if let Some(r) = get(p, "redirect_uri") {
        form.push(("redirect_uri", r));
    }
    form.extend_from_slice(token_extra);
    let tokens = token_ok(token_req(s, rp, &form).await).await;
    let access = tokens["access_token"].as_str().expect("AT").to_owned();
    let refresh = tokens["refresh_token"].as_str().map(str::to_owned);
    if let Some(r) = &refresh {
        assert_strong("refresh token", r);
    }
    let id_token = tokens["id_token"]
        .as_str()
        .expect("an ID token for scope openid")
        .to_owned();
    let nonce = get(p, "nonce").map_or(Nonce::Absent, Nonce::Is);
    let (header, claims) = verify_id_token(s, &id_token, rp, nonce, Some(&access)).await;
    assert!(
        claims.get("at_hash").is_some(),
        "at_hash is present, so ValidateAtHash ran"
    );
    Flow {
        code,
        login_shown,
        tokens,
        access,
        refresh,
        id_token,
        header,
        claims,
    }
}

async fn flow(s: &TestServer, b: &Browser, rp: &Rp<'_>, over: &[(&str, &str)]) -> Flow {
    flow_params(s, b, rp, &params(rp.id, over), &[]).await
}

// ---------------------------------------------------------------- userinfo

async fn userinfo_get(s: &TestServer, at: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(s.endpoint("edit", "userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .expect("userinfo")
}

/// A successful userinfo response (`EnsureUserInfoContainsSub`, same `sub` as the ID token).
async fn userinfo_ok(r: reqwest::Response, f: &Flow) -> Value {
    let status = r.status();
    let ct = header(&r, "content-type");
    let body = r.text().await.expect("body");
    assert_eq!(status, 200, "userinfo: {body}");
    assert!(ct.starts_with("application/json"), "content type {ct}");
    let u: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(u["sub"], f.claims["sub"], "same sub as the ID token");
    u
}

/// The bearer token was refused (RFC 6750 §3.1).
async fn assert_bearer_refused(r: reqwest::Response) {
    assert_eq!(r.status(), 401);
    let www = header(&r, "www-authenticate");
    assert!(
        www.starts_with("Bearer") && www.contains("invalid_token"),
        "WWW-Authenticate: {www}"
    );
}
