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

/// Whether the wallet page's button for `method` is disabled.
fn button_disabled(html: &str, method: &str) -> bool {
    let marker = format!("value=\"{method}\"");
    html.split("<button")
        .skip(1)
        .map(|b| &b[..b.find('>').unwrap_or(b.len())])
        .find(|tag| tag.contains(&marker))
        .unwrap_or_else(|| panic!("no button for method {method}"))
        .contains(" disabled")
}

/// The `value` of the input named `name`.
fn input_value(html: &str, name: &str) -> String {
    let i = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no input {name}"));
    let tag = &html[i..i + html[i..].find('>').expect("end of tag")];
    let v = tag.find("value=\"").expect("a value attribute") + 7;
    tag[v..v + tag[v..].find('"').expect("end of value")].to_owned()
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

/// Asserts an error page: HTTP 400, HTML, and no redirect anywhere.
async fn assert_error_page(r: reqwest::Response, what: &str) {
    assert_eq!(r.status(), 400, "{what}: status");
    assert!(
        r.headers().get("location").is_none(),
        "{what}: must not redirect"
    );
    let ct = header(&r, "content-type");
    assert!(
        ct.starts_with("text/html"),
        "{what}: an error page, got {ct}"
    );
    let html = r.text().await.expect("body");
    assert!(!html.contains("code="), "{what}: no code on the page");
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

// ---------------------------------------------------------------- userinfo and introspection

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

async fn introspect(s: &TestServer, token: &str) -> Value {
    let r = reqwest::Client::new()
        .post(s.endpoint("edit", "token/introspect"))
        .basic_auth("rp", Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspection");
    assert_eq!(r.status(), 200);
    r.json().await.expect("JSON")
}

/// `ValidateUserInfoStandardClaims`, for the claims coeur returns.
fn check_standard_claim_types(u: &Value) {
    for k in [
        "name",
        "given_name",
        "family_name",
        "preferred_username",
        "email",
        "phone_number",
    ] {
        if let Some(v) = u.get(k) {
            assert!(v.as_str().is_some_and(|x| !x.is_empty()), "{k}: {v}");
        }
    }
    for k in ["email_verified", "phone_number_verified"] {
        if let Some(v) = u.get(k) {
            assert!(v.is_boolean(), "{k}: {v}");
        }
    }
    if let Some(e) = u.get("email") {
        assert!(e.as_str().is_some_and(|e| e.contains('@')), "email {e}");
    }
    if let Some(a) = u.get("address") {
        let o = a.as_object().expect("address is an object");
        for k in [
            "formatted",
            "street_address",
            "locality",
            "region",
            "postal_code",
            "country",
        ] {
            if let Some(v) = o.get(k) {
                assert!(v.is_string(), "address.{k}: {v}");
            }
        }
    }
}

/// `oidcc-scope-*`: the scope is advertised, granted, and its claims (and only those of the
/// standard scopes that were requested) are in userinfo.
async fn scope_module(db: Db, scope: &str, present: &[&str]) {
    const STANDARD: &[&str] = &[
        "name",
        "given_name",
        "family_name",
        "email",
        "email_verified",
        "phone_number",
        "phone_number_verified",
        "address",
    ];
    let s = start(db).await;
    let d = discovery(&s).await;
    let supported = strings(&d["scopes_supported"]);
    for sc in scope.split(' ') {
        assert!(supported.contains(&sc.to_owned()), "{sc} is advertised");
    }
    let b = s.browser();
    let requested = format!("openid {scope}");
    let f = flow(&s, &b, &RP, &[("scope", requested.as_str())]).await;
    let granted: Vec<&str> = f.tokens["scope"]
        .as_str()
        .expect("scope")
        .split(' ')
        .collect();
    for sc in requested.split(' ') {
        assert!(granted.contains(&sc), "{sc} granted: {granted:?}");
    }
    let u = userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
    check_standard_claim_types(&u);
    for k in present {
        assert!(u.get(*k).is_some(), "{k} with scope {scope}: {u}");
    }
    for k in STANDARD.iter().filter(|k| !present.contains(k)) {
        assert!(u.get(*k).is_none(), "{k} was not requested: {u}");
    }
}

// ================================================================ the modules

// 1. oidcc-server: the happy flow, with every condition the suite runs on it.
both_dbs!(oidcc_server, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    // CheckServerConfiguration and the endpoints the flow uses.
    let d = discovery(&s).await;
    assert_eq!(d["issuer"], s.issuer("edit"));
    assert_eq!(d["authorization_endpoint"], s.endpoint("edit", "auth"));
    assert_eq!(d["token_endpoint"], s.endpoint("edit", "token"));
    assert_eq!(d["userinfo_endpoint"], s.endpoint("edit", "userinfo"));
    assert_eq!(d["jwks_uri"], s.endpoint("edit", "certs"));
    assert!(strings(&d["response_types_supported"]).contains(&"code".to_owned()));
    let methods = strings(&d["token_endpoint_auth_methods_supported"]);
    assert!(methods.contains(&"client_secret_basic".to_owned()));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    // FetchServerKeys, ValidateServerJWKs, CheckForKeyIdInServerJWKs,
    // CheckDistinctKeyIdValueInServerJWKs, CheckServerKeysIsValid.
    let (raw, set) = jwks(&s).await;
    let keys = raw["keys"].as_array().expect("keys");
    assert!(!keys.is_empty());
    let mut kids = HashSet::new();
    for k in keys {
        let kid = k["kid"].as_str().expect("every key has a kid");
        assert!(kids.insert(kid.to_owned()), "kid {kid} is not distinct");
        assert!(k["kty"].is_string(), "kty of {kid}");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
            assert!(k.get(private).is_none(), "{kid} publishes {private}");
        }
        for m in ["n", "e", "x", "y"] {
            if let Some(v) = k.get(m) {
                let v = v.as_str().expect("a string member");
                assert!(
                    v.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
                    "{kid}.{m} is not unpadded base64url"
                );
            }
        }
        if let Some(u) = k.get("use") {
            assert_eq!(u, "sig");
        }
    }
    for jwk in &set.keys {
        jsonwebtoken::DecodingKey::from_jwk(jwk).expect("a valid public key");
    }
    // The flow itself.
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[]).await;
    assert!(f.login_shown, "a fresh browser is asked to log in");
    assert_eq!(f.claims["nonce"], NONCE);
    assert_eq!(f.claims["at_hash"], at_hash(&f.access).as_str());
    assert!(f.refresh.is_some(), "rp may refresh");
    let u = userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
    assert_eq!(u["SubjectNameID"], NATIONAL_ID);
    // EnsureIdTokenDoesNotContainNonRequestedClaims: with scope=openid only, the ID token
    // holds no identity data.
    let f = flow(&s, &b, &RP, &[("scope", "openid")]).await;
    for k in [
        "name",
        "given_name",
        "family_name",
        "email",
        "email_verified",
        "phone_number",
        "phone_number_verified",
        "address",
        "preferred_username",
        "SubjectNameID",
        "SubjectRefPro",
    ] {
        assert!(
            f.claims.get(k).is_none(),
            "{k} was not requested: {}",
            f.claims
        );
    }
});

// 2. oidcc-response-type-missing: an error (redirect or page), never a code.
both_dbs!(oidcc_response_type_missing, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let url = authz_url(&s, "edit", &params("rp", &[("response_type", "")]));
    match b.authorize(&url).await {
        Authz::Redirect(u) => check_error_callback(
            &s,
            &u,
            REDIRECT,
            &["unsupported_response_type", "invalid_request"],
            Some(STATE),
        ),
        Authz::ErrorPage { status, html } => {
            assert_eq!(status, 400);
            assert!(!html.contains("code="), "no code on the page");
        }
        page => panic!("no login without response_type: {page:?}"),
    }
});

// 3. oidcc-idtoken-signature: the default algorithm, and each algorithm a client may
// register, verified against the JWKS (or the client secret for HS256).
both_dbs!(oidcc_idtoken_signature, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[]).await;
    assert_eq!(
        f.header.alg,
        jsonwebtoken::Algorithm::ES256,
        "a client without id_token_signed_response_alg gets the realm default"
    );
    assert!(f.header.kid.is_some());
    // The verifier is not a rubber stamp.
    let (_, set) = jwks(&s).await;
    let key =
        jsonwebtoken::DecodingKey::from_jwk(set.find(f.header.kid.as_deref().unwrap()).unwrap())
            .unwrap();
    let mut v = jsonwebtoken::Validation::new(f.header.alg);
    v.validate_aud = false;
    v.validate_exp = false;
    assert!(jsonwebtoken::decode::<Value>(&f.id_token, &key, &v).is_ok());
    assert!(jsonwebtoken::decode::<Value>(&tamper_signature(&f.id_token), &key, &v).is_err());

    for (id, alg) in [
        ("rp-rs256", SigAlg::RS256),
        ("rp-ps256", SigAlg::PS256),
        ("rp-hs256", SigAlg::HS256),
    ] {
        let secret = format!("{id}-client-secret-0123456789abcdef0123");
        let rp = Rp {
            id,
            secret: &secret,
            post: false,
            hs256: alg == SigAlg::HS256,
        };
        register(&s, rp, Some(alg)).await;
        let f = flow(&s, &b, &rp, &[]).await;
        assert_eq!(f.header.alg, alg.to_jwt(), "{id} gets {}", alg.as_str());
        if alg == SigAlg::HS256 {
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
            v.validate_aud = false;
            v.validate_exp = false;
            let wrong = jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes());
            assert!(
                jsonwebtoken::decode::<Value>(&f.id_token, &wrong, &v).is_err(),
                "the HS256 key is this client's secret, not another's"
            );
        } else {
            assert!(f.header.kid.is_some(), "{id}: kid");
        }
    }
});

// 4. oidcc-idtoken-unsigned: skipped by the suite because discovery does not advertise
// `none`; and no client can get an unsigned ID token.
both_dbs!(oidcc_idtoken_unsigned, |db| async move {
    let s = start(db).await;
    let d = discovery(&s).await;
    for k in [
        "id_token_signing_alg_values_supported",
        "userinfo_signing_alg_values_supported",
    ] {
        let algs = strings(&d[k]);
        assert!(!algs.is_empty(), "{k}");
        assert!(
            !algs.iter().any(|a| a.eq_ignore_ascii_case("none")),
            "{k} advertises none"
        );
    }
    // A registration asking for `none` is not a valid registration.
    let mut spec = serde_json::to_value(rp_spec("rp-none")).unwrap();
    spec["id_token_signed_response_alg"] = "none".into();
    assert!(serde_json::from_value::<ClientSpec>(spec.clone()).is_err());
    // Even stored behind the registration's back, it yields no code.
    let row = coeur::provider::store::ClientRow {
        spec: spec.to_string(),
        secret_hash: Some(
            coeur::oauth::secret::SecretHash::new(SECRET, &[7; 16])
                .as_str()
                .to_owned(),
        ),
        secret_sealed: None,
    };
    let stored = s
        .state
        .store
        .add_client("edit", "rp-none", &row, s.clock.now())
        .await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[]).await;
    if stored.is_ok() {
        let url = authz_url(&s, "edit", &params("rp-none", &[]));
        match b.authorize(&url).await {
            Authz::Redirect(u) => {
                assert_eq!(param(&u, "code"), None, "no code for a none client: {u}")
            }
            Authz::ErrorPage { html, .. } => assert!(!html.contains("code=")),
            page => panic!("no login for a none client: {page:?}"),
        }
    }
    // What the default client gets is signed.
    let parts: Vec<&str> = f.id_token.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(!parts[2].is_empty(), "a signature");
    // An unsigned copy of a real ID token is not accepted as id_token_hint.
    let payload = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    let forged = unsigned_jwt(&claims);
    let url = authz_url(
        &s,
        "edit",
        &params(
            "rp",
            &[("prompt", "none"), ("id_token_hint", forged.as_str())],
        ),
    );
    let u = b.authorize(&url).await.redirect();
    check_error_callback(
        &s,
        &u,
        REDIRECT,
        &["login_required", "invalid_request", "interaction_required"],
        Some(STATE),
    );
});

// 5. oidcc-userinfo-get
both_dbs!(oidcc_userinfo_get, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[]).await;
    let u = userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
    assert_eq!(u["SubjectNameID"], NATIONAL_ID);
    check_standard_claim_types(&u);
    // Without a token: a Bearer challenge; with a bad one: invalid_token.
    let r = reqwest::get(s.endpoint("edit", "userinfo")).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(header(&r, "www-authenticate").starts_with("Bearer"));
    assert_bearer_refused(userinfo_get(&s, &tamper_signature(&f.access)).await).await;
});

// 6. oidcc-userinfo-post-header
both_dbs!(oidcc_userinfo_post_header, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[]).await;
    let r = reqwest::Client::new()
        .post(s.endpoint("edit", "userinfo"))
        .bearer_auth(&f.access)
        .send()
        .await
        .unwrap();
    let u = userinfo_ok(r, &f).await;
    assert_eq!(u["SubjectNameID"], NATIONAL_ID);
});

// 7. oidcc-userinfo-post-body (RFC 6750 §2.2)
both_dbs!(oidcc_userinfo_post_body, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[]).await;
    let r = reqwest::Client::new()
        .post(s.endpoint("edit", "userinfo"))
        .form(&[("access_token", f.access.as_str())])
        .send()
        .await
        .unwrap();
    let u = userinfo_ok(r, &f).await;
    assert_eq!(u["SubjectNameID"], NATIONAL_ID);
    // RFC 6750 §2: one method only.
    let r = reqwest::Client::new()
        .post(s.endpoint("edit", "userinfo"))
        .bearer_auth(&f.access)
        .form(&[("access_token", f.access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
});

// 8. oidcc-ensure-request-without-nonce-succeeds-for-code-flow
both_dbs!(
    oidcc_ensure_request_without_nonce_succeeds_for_code_flow,
    |db| async move {
        let s = start(db).await;
        let b = s.browser();
        let f = flow(&s, &b, &RP, &[("nonce", "")]).await;
        assert!(f.claims.get("nonce").is_none());
    }
);

// 9–13. oidcc-scope-*
both_dbs!(oidcc_scope_profile, |db| async move {
    scope_module(db, "profile", &["name", "given_name", "family_name"]).await;
});

both_dbs!(oidcc_scope_email, |db| async move {
    scope_module(db, "email", &["email", "email_verified"]).await;
});

both_dbs!(oidcc_scope_address, |db| async move {
    scope_module(db, "address", &["address"]).await;
});

both_dbs!(oidcc_scope_phone, |db| async move {
    scope_module(db, "phone", &["phone_number", "phone_number_verified"]).await;
});

both_dbs!(oidcc_scope_all, |db| async move {
    scope_module(
        db,
        "address email phone profile",
        &[
            "name",
            "given_name",
            "family_name",
            "email",
            "email_verified",
            "phone_number",
            "phone_number_verified",
            "address",
        ],
    )
    .await;
});

// 14. oidcc-alternate-happy-flow: scopes reversed, parameters reordered.
both_dbs!(oidcc_alternate_happy_flow, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let p = [
        ("nonce", NONCE),
        ("state", STATE),
        ("redirect_uri", REDIRECT),
        ("scope", "scope_all openid"),
        ("response_type", "code"),
        ("client_id", "rp"),
    ];
    let f = flow_params(&s, &b, &RP, &p, &[]).await;
    assert!(f.login_shown);
    let granted: Vec<&str> = f.tokens["scope"].as_str().unwrap().split(' ').collect();
    assert!(granted.contains(&"openid") && granted.contains(&"scope_all"));
    let u = userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
    assert_eq!(u["SubjectNameID"], NATIONAL_ID);
});

// 15. oidcc-display-page
both_dbs!(oidcc_display_page, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[("display", "page")]).await;
    assert!(f.login_shown);
});

// 16. oidcc-display-popup
both_dbs!(oidcc_display_popup, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[("display", "popup")]).await;
    assert!(f.login_shown);
});

// 17. oidcc-prompt-login: the user logs in again; auth_time moves.
both_dbs!(oidcc_prompt_login, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f1 = flow(&s, &b, &RP, &[]).await;
    assert!(f1.login_shown);
    s.clock.advance(5);
    let f2 = flow(&s, &b, &RP, &[("prompt", "login")]).await;
    assert!(f2.login_shown, "prompt=login asks for a new login");
    let t1 = f1.claims["auth_time"].as_i64().expect("auth_time");
    let t2 = f2.claims["auth_time"].as_i64().expect("auth_time");
    assert_eq!(t2, t1 + 5, "auth_time is the time of the second login");
    assert_eq!(t2, s.clock.now());
    assert_eq!(f1.claims["sub"], f2.claims["sub"]);
});

// 18. oidcc-prompt-none-not-logged-in: login_required, by redirect.
both_dbs!(oidcc_prompt_none_not_logged_in, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let url = authz_url(&s, "edit", &params("rp", &[("prompt", "none")]));
    let u = b.authorize(&url).await.redirect();
    check_error_callback(&s, &u, REDIRECT, &["login_required"], Some(STATE));
});

// 19. oidcc-prompt-none-logged-in: no page, same user, same authentication.
both_dbs!(oidcc_prompt_none_logged_in, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f1 = flow(&s, &b, &RP, &[]).await;
    s.clock.advance(1);
    let f2 = flow(&s, &b, &RP, &[("prompt", "none")]).await;
    assert!(!f2.login_shown, "prompt=none never shows a page");
    assert_eq!(f1.claims["sub"], f2.claims["sub"]);
    assert_eq!(f1.claims["auth_time"], f2.claims["auth_time"]);
});

// 20. oidcc-max-age-1: the authentication is too old; the user logs in again.
both_dbs!(oidcc_max_age_1, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f1 = flow(&s, &b, &RP, &[]).await;
    s.clock.advance(2);
    let f2 = flow(&s, &b, &RP, &[("max_age", "1")]).await;
    assert!(f2.login_shown, "a 2 s old login does not satisfy max_age=1");
    let t1 = f1.claims["auth_time"].as_i64().unwrap();
    let t2 = f2.claims["auth_time"]
        .as_i64()
        .expect("auth_time is required with max_age");
    assert_eq!(t2, t1 + 2);
    assert_eq!(f1.claims["sub"], f2.claims["sub"]);
});

// Not a module of the plan, but the rule max-age-1 rests on: "max_age=0 is equivalent to
// prompt=login" (OIDC Core §3.1.2.1), even when the session is less than a second old.
both_dbs!(max_age_0_is_prompt_login, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f1 = flow(&s, &b, &RP, &[]).await;
    assert!(f1.login_shown);
    let url = authz_url(&s, "edit", &params("rp", &[("max_age", "0")]));
    let page = b.authorize(&url).await;
    assert!(
        matches!(page, Authz::LoginPage { .. }),
        "max_age=0 asks for a new login: {page:?}"
    );
    let url = authz_url(
        &s,
        "edit",
        &params("rp", &[("max_age", "0"), ("prompt", "none")]),
    );
    let u = b.authorize(&url).await.redirect();
    check_error_callback(&s, &u, REDIRECT, &["login_required"], Some(STATE));
});

// 21. oidcc-max-age-10000: auth_time present; the session is reused.
both_dbs!(oidcc_max_age_10000, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f1 = flow(&s, &b, &RP, &[("max_age", "15000")]).await;
    let t1 = f1.claims["auth_time"]
        .as_i64()
        .expect("auth_time is required with max_age");
    s.clock.advance(1);
    let f2 = flow(&s, &b, &RP, &[("max_age", "10000")]).await;
    assert!(!f2.login_shown, "a 1 s old login satisfies max_age=10000");
    assert_eq!(f2.claims["auth_time"].as_i64(), Some(t1));
    assert_eq!(f1.claims["sub"], f2.claims["sub"]);
});

// 22. oidcc-ensure-request-with-unknown-parameter-succeeds
both_dbs!(
    oidcc_ensure_request_with_unknown_parameter_succeeds,
    |db| async move {
        let s = start(db).await;
        let b = s.browser();
        let cb = login_code(&s, &b, &[("extra", "foobar")]).await;
        let code = check_code_callback(&s, &cb, REDIRECT, Some("st"));
        let t = token_ok(redeem(&s, &code, &[]).await).await;
        verify_id_token(
            &s,
            t["id_token"].as_str().expect("an ID token"),
            &RP,
            Nonce::Is(NONCE),
            t["access_token"].as_str(),
        )
        .await;
    }
);

// 23. oidcc-id-token-hint: prompt=none with the previous ID token succeeds.
both_dbs!(oidcc_id_token_hint, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f1 = flow(&s, &b, &RP, &[]).await;
    let f2 = flow(
        &s,
        &b,
        &RP,
        &[("prompt", "none"), ("id_token_hint", f1.id_token.as_str())],
    )
    .await;
    assert!(!f2.login_shown);
    assert_eq!(f1.claims["sub"], f2.claims["sub"]);
    // A hint whose signature does not verify does not count as one.
    let forged = tamper_signature(&f1.id_token);
    let url = authz_url(
        &s,
        "edit",
        &params(
            "rp",
            &[("prompt", "none"), ("id_token_hint", forged.as_str())],
        ),
    );
    let u = b.authorize(&url).await.redirect();
    check_error_callback(
        &s,
        &u,
        REDIRECT,
        &["login_required", "invalid_request", "interaction_required"],
        Some(STATE),
    );
});

// 24. oidcc-login-hint: pre-fills the national identifier; a hint of another shape is
// harmless.
both_dbs!(oidcc_login_hint, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let url = authz_url(&s, "edit", &params("rp", &[("login_hint", NATIONAL_ID)]));
    let page = b.authorize(&url).await;
    let Authz::LoginPage { html, .. } = &page else {
        panic!("a login page: {page:?}")
    };
    assert_eq!(input_value(html, "national_id"), NATIONAL_ID);
    // The login form is bound to an unguessable request.
    assert_strong("login request id", &page.request_id());
    let cb = login(&s, &b, &page).await;
    check_code_callback(&s, &cb, REDIRECT, Some(STATE));

    let b = s.browser();
    let buffy = format!(
        "buffy@{}",
        url::Url::parse(&s.base).unwrap().host_str().unwrap()
    );
    let f = flow(&s, &b, &RP, &[("login_hint", buffy.as_str())]).await;
    assert!(f.login_shown);
});

// 25. oidcc-ui-locales
both_dbs!(oidcc_ui_locales, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[("ui_locales", "se")]).await;
    assert!(f.login_shown);
});

// 26. oidcc-claims-locales
both_dbs!(oidcc_claims_locales, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[("claims_locales", "se")]).await;
    assert!(f.login_shown);
    userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
});

// 27. oidcc-ensure-request-with-acr-values-succeeds: the advertised values succeed and the
// returned acr meets them; a level the test method cannot reach is refused.
both_dbs!(
    oidcc_ensure_request_with_acr_values_succeeds,
    |db| async move {
        let s = start(db).await;
        let d = discovery(&s).await;
        let advertised = strings(&d["acr_values_supported"]);
        assert!(advertised.contains(&"eidas1".to_owned()));
        let b = s.browser();
        let url = authz_url(&s, "edit", &params("rp", &[("acr_values", "eidas1")]));
        let page = b.authorize(&url).await;
        let Authz::LoginPage { html, .. } = &page else {
            panic!("a login page: {page:?}")
        };
        assert!(!button_disabled(html, "test"));
        let cb = login(&s, &b, &page).await;
        let code = check_code_callback(&s, &cb, REDIRECT, Some(STATE));
        let t = token_ok(redeem(&s, &code, &[]).await).await;
        let (_, claims) = verify_id_token(
            &s,
            t["id_token"].as_str().unwrap(),
            &RP,
            Nonce::Is(NONCE),
            t["access_token"].as_str(),
        )
        .await;
        let acr = Acr::parse(claims["acr"].as_str().expect("acr")).expect("a known acr");
        assert!(acr >= Acr::Eidas1, "acr {acr}");
        // The suite's request: every advertised value.
        let all = advertised.join(" ");
        let f = flow(&s, &b, &RP, &[("acr_values", all.as_str())]).await;
        let acr = Acr::parse(f.claims["acr"].as_str().unwrap()).unwrap();
        assert!(
            advertised
                .iter()
                .any(|a| Acr::parse(a).is_some_and(|a| acr >= a))
        );

        // eidas3: the test method (eidas1) cannot meet it.
        let b = s.browser();
        let url = authz_url(&s, "edit", &params("rp", &[("acr_values", "eidas3")]));
        let page = b.authorize(&url).await;
        let Authz::LoginPage { html, .. } = &page else {
            panic!("a login page: {page:?}")
        };
        assert!(button_disabled(html, "test"), "the test button is disabled");
        let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
        assert_eq!(r.status(), 400, "posting the disabled method is refused");
        assert!(r.headers().get("location").is_none());
        // No session was created by the refused login.
        let url = authz_url(&s, "edit", &params("rp", &[("prompt", "none")]));
        let u = b.authorize(&url).await.redirect();
        check_error_callback(&s, &u, REDIRECT, &["login_required"], Some(STATE));
    }
);

/// `oidcc-codereuse(-30seconds)`: the second redemption fails and revokes what the first
/// one issued.
async fn code_reuse_module(db: Db, wait: i64) {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[]).await;
    let rt = f.refresh.clone().expect("a refresh token");
    assert_eq!(introspect(&s, &f.access).await["active"], true);
    s.clock.advance(wait);
    userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
    token_err(redeem(&s, &f.code, &[]).await, "invalid_grant").await;
    assert_bearer_refused(userinfo_get(&s, &f.access).await).await;
    assert_eq!(introspect(&s, &f.access).await["active"], false);
    assert_eq!(introspect(&s, &rt).await["active"], false);
    token_err(refresh(&s, &RP, &rt).await, "invalid_grant").await;
}

// 28. oidcc-codereuse
both_dbs!(oidcc_codereuse, |db| async move {
    code_reuse_module(db, 0).await;
});

// 29. oidcc-codereuse-30seconds
both_dbs!(oidcc_codereuse_30seconds, |db| async move {
    code_reuse_module(db, 30).await;
});

// 30. oidcc-ensure-registered-redirect-uri, with the usual bypass variants (exact string
// matching, RFC 9700 §4.1.3; the Dynamic plan's query-added and missing-URI modules): an error
// page, never a redirect.
both_dbs!(oidcc_ensure_registered_redirect_uri, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    // Logged in, so that a silent answer would be possible.
    flow(&s, &b, &RP, &[]).await;
    for (what, uri) in [
        ("unregistered", "https://evil.example/cb"),
        ("query added", "https://rp.example/cb?foo=bar"),
        ("path case changed", "https://rp.example/CB"),
        ("host case changed", "https://RP.EXAMPLE/cb"),
        ("trailing slash", "https://rp.example/cb/"),
        ("fragment", "https://rp.example/cb#x"),
        ("user information", "https://rp.example@evil.example/cb"),
        ("path parameter", "https://rp.example/cb/..;/evil"),
        (
            "javascript scheme",
            "javascript:alert(document.domain)//https://rp.example/cb",
        ),
        ("data scheme", "data:text/html,<script>alert(1)</script>"),
        ("missing, two registered", ""),
    ] {
        let url = authz_url(&s, "edit", &params("rp", &[("redirect_uri", uri)]));
        let r = b.http.get(&url).send().await.unwrap();
        assert_error_page(r, what).await;
    }
    // The second registered URI is fine.
    let f = flow(&s, &b, &RP, &[("redirect_uri", REDIRECT2)]).await;
    assert!(!f.login_shown);
});

// 31. oidcc-ensure-post-request-succeeds
both_dbs!(oidcc_ensure_post_request_succeeds, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let p = params("rp", &[]);
    let page = b.authorize_post(&s.endpoint("edit", "auth"), &p).await;
    assert!(matches!(page, Authz::LoginPage { .. }), "{page:?}");
    let cb = login(&s, &b, &page).await;
    let code = check_code_callback(&s, &cb, REDIRECT, Some(STATE));
    let t = token_ok(redeem(&s, &code, &[]).await).await;
    verify_id_token(
        &s,
        t["id_token"].as_str().unwrap(),
        &RP,
        Nonce::Is(NONCE),
        t["access_token"].as_str(),
    )
    .await;
});

// 32. oidcc-server-client-secret-post
both_dbs!(oidcc_server_client_secret_post, |db| async move {
    let s = start(db).await;
    let d = discovery(&s).await;
    assert!(
        strings(&d["token_endpoint_auth_methods_supported"])
            .contains(&"client_secret_post".to_owned())
    );
    let rp = Rp {
        id: "rp-post",
        secret: "rp-post-client-secret-0123456789abcdef012345",
        post: true,
        hs256: false,
    };
    register(&s, rp, None).await;
    let b = s.browser();
    let f = flow(&s, &b, &rp, &[]).await;
    assert!(f.login_shown);
    userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
});

// 33. oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported
both_dbs!(
    oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported,
    |db| async move {
        let s = start(db).await;
        let d = discovery(&s).await;
        assert_eq!(d["request_uri_parameter_supported"], false);
        let b = s.browser();
        let url = authz_url(
            &s,
            "edit",
            &params("rp", &[("request_uri", "https://rp.example/request.jwt")]),
        );
        let u = b.authorize(&url).await.redirect();
        check_error_callback(
            &s,
            &u,
            REDIRECT,
            &["request_uri_not_supported"],
            Some(STATE),
        );
    }
);

/// An unsigned request object for `rp`.
fn request_object(s: &TestServer, redirect: &str) -> String {
    unsigned_jwt(&json!({
        "iss": "rp",
        "aud": s.issuer("edit"),
        "client_id": "rp",
        "response_type": "code",
        "scope": "openid scope_all",
        "redirect_uri": redirect,
        "state": STATE,
        "nonce": NONCE,
    }))
}

// 34. oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported
both_dbs!(
    oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported,
    |db| async move {
        let s = start(db).await;
        let d = discovery(&s).await;
        assert_eq!(d["request_parameter_supported"], false);
        let b = s.browser();
        let ro = request_object(&s, REDIRECT);
        let url = authz_url(&s, "edit", &params("rp", &[("request", ro.as_str())]));
        let u = b.authorize(&url).await.redirect();
        check_error_callback(&s, &u, REDIRECT, &["request_not_supported"], Some(STATE));
    }
);

// 35. oidcc-claims-essential: a `claims` parameter does not break the flow.
both_dbs!(oidcc_claims_essential, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let claims = json!({"userinfo": {"name": {"essential": true}}}).to_string();
    let f = flow(&s, &b, &RP, &[("claims", claims.as_str())]).await;
    assert!(f.login_shown);
    userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
});

// 36. oidcc-ensure-request-object-with-redirect-uri: rejected, to the redirect URI of the
// plain parameters.
both_dbs!(
    oidcc_ensure_request_object_with_redirect_uri,
    |db| async move {
        let s = start(db).await;
        let b = s.browser();
        let ro = request_object(&s, REDIRECT2);
        let url = authz_url(&s, "edit", &params("rp", &[("request", ro.as_str())]));
        let u = b.authorize(&url).await.redirect();
        check_error_callback(&s, &u, REDIRECT, &["request_not_supported"], Some(STATE));
    }
);

// 37. oidcc-refresh-token: works, rotates, keeps the original authentication, and is bound
// to its client.
both_dbs!(oidcc_refresh_token, |db| async move {
    let s = start(db).await;
    let d = discovery(&s).await;
    assert!(strings(&d["grant_types_supported"]).contains(&"refresh_token".to_owned()));
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[]).await;
    let rt = f.refresh.clone().expect("a refresh token");
    s.clock.advance(1);
    let r = token_req(
        &s,
        &RP,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("scope", "openid scope_all"),
        ],
    )
    .await;
    let t = token_ok(r).await;
    let at2 = t["access_token"].as_str().unwrap();
    assert_ne!(at2, f.access, "a new access token");
    let rt2 = t["refresh_token"]
        .as_str()
        .expect("a rotated refresh token");
    assert_ne!(rt2, rt, "rotation");
    assert_strong("refresh token", rt2);
    // CompareIdTokenClaims (OIDC Core §12.2).
    let (_, c2) = verify_id_token(
        &s,
        t["id_token"].as_str().expect("an ID token"),
        &RP,
        Nonce::AbsentOr(NONCE),
        Some(at2),
    )
    .await;
    for k in ["iss", "sub", "aud", "azp", "auth_time"] {
        assert_eq!(c2.get(k), f.claims.get(k), "{k} is kept");
    }
    assert_eq!(
        c2["iat"].as_i64(),
        Some(s.clock.now()),
        "iat is the new time"
    );
    assert_ne!(c2["iat"], f.claims["iat"]);
    let u = userinfo_get(&s, at2).await;
    assert_eq!(u.status(), 200, "the refreshed access token works");

    // Binding to the client, both ways.
    let rp2 = Rp {
        id: "rp2",
        secret: "second-client-secret-0123456789abcdef0123456",
        post: false,
        hs256: false,
    };
    register(&s, rp2, None).await;
    let f2 = flow(&s, &b, &rp2, &[]).await;
    let rt_other = f2.refresh.clone().expect("rp2's refresh token");
    token_err(refresh(&s, &RP, &rt_other).await, "invalid_grant").await;
    token_err(refresh(&s, &rp2, rt2).await, "invalid_grant").await;
    // Each still works for its own client.
    let t3 = token_ok(refresh(&s, &RP, rt2).await).await;
    token_ok(refresh(&s, &rp2, &rt_other).await).await;

    // Replaying a rotated-out refresh token (after the concurrency window) fails and
    // revokes the family (RFC 9700 §4.14.2).
    s.clock.advance(5);
    token_err(refresh(&s, &RP, &rt).await, "invalid_grant").await;
    let rt3 = t3["refresh_token"].as_str().expect("a refresh token");
    token_err(refresh(&s, &RP, rt3).await, "invalid_grant").await;
});

// 38. oidcc-ensure-request-with-valid-pkce-succeeds
both_dbs!(
    oidcc_ensure_request_with_valid_pkce_succeeds,
    |db| async move {
        let s = start(db).await;
        let d = discovery(&s).await;
        assert!(strings(&d["code_challenge_methods_supported"]).contains(&"S256".to_owned()));
        let b = s.browser();
        let (verifier, challenge) = pkce();
        let p = params(
            "rp",
            &[
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        );
        let f = flow_params(&s, &b, &RP, &p, &[("code_verifier", verifier.as_str())]).await;
        assert!(f.login_shown);
        // A wrong verifier is refused.
        let (_, challenge) = pkce();
        let p = params(
            "rp",
            &[
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        );
        let (cb, _) = authorize(&s, &b, &p).await;
        let code = check_code_callback(&s, &cb, REDIRECT, Some(STATE));
        token_err(
            redeem(&s, &code, &[("code_verifier", verifier.as_str())]).await,
            "invalid_grant",
        )
        .await;
    }
);

// Entropy of what the server hands out (the suite's `EnsureMinimum…Entropy`, at the 128 bits
// RFC 6749 §10.10 asks for, on a sample): 200 codes, access tokens and refresh tokens, no
// repeats, ≥ 128 bits estimated for codes and refresh tokens.
both_dbs!(token_entropy, |db| async move {
    const N: usize = 200;
    const WORKERS: usize = 4;
    let s = start(db).await;
    let b = s.browser();
    flow(&s, &b, &RP, &[]).await;
    let auth = authz_url(
        &s,
        "edit",
        &[
            ("client_id", "rp"),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", REDIRECT),
        ],
    );
    let token_url = s.endpoint("edit", "token");
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (http, auth, token_url) = (b.http.clone(), auth.clone(), token_url.clone());
        set.spawn(async move {
            let api = reqwest::Client::new();
            let mut out = Vec::new();
            for _ in 0..N / WORKERS {
                let r = http.get(&auth).send().await.expect("authorize");
                let code = param(&location(&r), "code").expect("a code from the session");
                let t: Value = api
                    .post(&token_url)
                    .basic_auth("rp", Some(SECRET))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", REDIRECT),
                    ])
                    .send()
                    .await
                    .expect("token")
                    .json()
                    .await
                    .expect("JSON");
                let at = t["access_token"].as_str().expect("AT").to_owned();
                let rt = t["refresh_token"].as_str().expect("RT").to_owned();
                out.push((code, at, rt));
            }
            out
        });
    }
    let mut codes = Vec::new();
    let mut ats = Vec::new();
    let mut rts = Vec::new();
    while let Some(r) = set.join_next().await {
        for (c, a, r) in r.expect("worker") {
            codes.push(c);
            ats.push(a);
            rts.push(r);
        }
    }
    for (what, v) in [
        ("codes", &codes),
        ("access tokens", &ats),
        ("refresh tokens", &rts),
    ] {
        assert_eq!(v.len(), N);
        let distinct: HashSet<&String> = v.iter().collect();
        assert_eq!(distinct.len(), N, "{what} repeat");
    }
    let all: HashSet<&String> = codes.iter().chain(&rts).collect();
    assert_eq!(all.len(), 2 * N, "a code is never a refresh token");
    for (what, v) in [("codes", &codes), ("refresh tokens", &rts)] {
        let len = v.iter().map(String::len).min().unwrap();
        let bits = estimated_bits(v, len);
        assert!(bits >= 128.0, "{what}: ~{bits:.0} bits estimated");
    }
    // What is stored is a hash: the SQLite files hold none of these values.
    if db == Db::Sqlite {
        let mut stored = Vec::new();
        for e in std::fs::read_dir(s.dir.path()).expect("server dir") {
            let p = e.expect("entry").path();
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("coeur.db"))
            {
                stored.extend(std::fs::read(&p).expect("database file"));
            }
        }
        assert!(
            !stored.is_empty(),
            "the SQLite database is in the server dir"
        );
        let stored = String::from_utf8_lossy(&stored);
        for t in codes.iter().chain(&rts) {
            assert!(!stored.contains(t.as_str()), "{t} is stored in clear");
        }
    }
});
