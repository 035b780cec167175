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

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// ---------------------------------------------------------------- helpers

/// An HTTP client that does not follow redirects and keeps no cookies.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// POSTs `form` to a realm endpoint, with Basic credentials when given.
pub(crate) async fn post(
    url: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = http().post(url).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    req.send().await.expect("POST")
}

/// Asserts a JSON OAuth error (RFC 6749 §5.2) and returns the headers.
pub(crate) async fn expect_error(
    r: reqwest::Response,
    status: u16,
    code: &str,
    what: &str,
) -> HeaderMap {
    let got = r.status().as_u16();
    let headers = r.headers().clone();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{what}: status (body {body})");
    assert_eq!(body["error"], code, "{what}: error code (body {body})");
    assert!(
        body.get("access_token").is_none(),
        "{what}: no token with an error"
    );
    headers
}

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

/// A client's ES256 key pair.
pub(crate) struct ClientKey {
    pkcs8: Vec<u8>,
    pub(crate) jwk: Value,
}

impl ClientKey {
    pub(crate) fn generate(kid: &str) -> Self {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let doc = EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .expect("EC key");
        let pkcs8 = doc.as_ref().to_vec();
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(
            &jsonwebtoken::EncodingKey::from_ec_der(&pkcs8),
            jsonwebtoken::Algorithm::ES256,
        )
        .expect("JWK");
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            pkcs8,
            jwk: serde_json::to_value(&jwk).expect("JWK JSON"),
        }
    }

    /// Signs `claims` with ES256, header `kid` as given.
    pub(crate) fn sign(&self, kid: &str, claims: &Value) -> String {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(
            &h,
            claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8),
        )
        .expect("sign")
    }

    /// Encodings of the public key an attacker could try as an HMAC secret.
    fn public_encodings(&self) -> Vec<Vec<u8>> {
        let coord = |k: &str| {
            URL_SAFE_NO_PAD
                .decode(self.jwk[k].as_str().expect("coordinate"))
                .expect("b64")
        };
        let mut point = vec![4u8];
        point.extend(coord("x"));
        point.extend(coord("y"));
        // SubjectPublicKeyInfo of a P-256 key: fixed prefix, then the point.
        let mut spki = hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");
        spki.extend_from_slice(&point);
        let body = STANDARD.encode(&spki);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        );
        vec![
            point,
            spki,
            pem.into_bytes(),
            self.jwk.to_string().into_bytes(),
        ]
    }
}

fn hex_bytes(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The Luhn check digit that completes `digits`.
fn luhn_key(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

fn public_spec(id: &str) -> ClientSpec {
    ClientSpec {
        public: true,
        token_endpoint_auth_method: TokenAuthMethod::None,
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        ..rp_spec(id)
    }
}

// ---------------------------------------------------------------- production realm

both_dbs!(production_realm_refuses_test_logins, |db| async move {
    let s = TestServer::start(db).await;
    s.add_client("esante-wallet", rp_spec("rp"), Some(SECRET))
        .await;
    // Even an identity the realm knows and that is active cannot use the test method.
    let known = s
        .state
        .store
        .identity("edit", NATIONAL_ID)
        .await
        .expect("store")
        .expect("sandbox identity");
    assert!(known.active);
    s.state
        .store
        .put_identities("esante-wallet", &[known], s.clock.now())
        .await
        .expect("identity");

    // The sandbox shows the test button: the check below can fail.
    let b = s.browser();
    s.add_rp("edit").await;
    let sandbox_page = b.authorize(&authz(&s, "edit", "rp", &[])).await;
    let Authz::LoginPage { html, .. } = &sandbox_page else {
        panic!("sandbox login page: {sandbox_page:?}")
    };
    assert!(html.contains("value=\"test\""), "sandbox offers test");

    let b = s.browser();
    let page = b.authorize(&authz(&s, "esante-wallet", "rp", &[])).await;
    let Authz::LoginPage { html, .. } = &page else {
        panic!("production login page: {page:?}")
    };
    assert!(
        !html.contains("value=\"test\""),
        "no test button in production"
    );
    assert!(
        html.contains("value=\"card\""),
        "the real methods are shown"
    );
    let mut statuses = Vec::new();
    for national_id in [NATIONAL_ID, "", "899700218897", "not-an-id"] {
        let r = b.login(&s.base, &page, national_id, "test").await;
        let status = r.status().as_u16();
        let what = format!("method=test with {national_id:?}");
        expect_page(r, status, &what).await;
        statuses.push((what, status));
    }
    // Extra or repeated fields change nothing.
    let Authz::LoginPage {
        request_id, action, ..
    } = &page
    else {
        unreachable!()
    };
    let r = b
        .http
        .post(format!("{}{action}", s.base))
        .form(&[
            ("request_id", request_id.as_str()),
            ("national_id", NATIONAL_ID),
            ("method", "test"),
            ("method", "card"),
            ("sandbox", "true"),
        ])
        .send()
        .await
        .expect("login");
    let status = r.status().as_u16();
    expect_page(r, status, "method=test with extra fields").await;
    statuses.push(("method=test with extra fields".to_owned(), status));
    // Posted without a pending request at all.
    let r = b
        .http
        .post(format!("{}{action}", s.base))
        .form(&[("national_id", NATIONAL_ID), ("method", "test")])
        .send()
        .await
        .expect("login");
    expect_page(r, 400, "method=test without request_id").await;
    // The page is still the production page: nothing was logged in.
    let again = b.authorize(&authz(&s, "esante-wallet", "rp", &[])).await;
    assert!(
        matches!(again, Authz::LoginPage { .. }),
        "no session: {again:?}"
    );
    let prompt_none = b
        .authorize(&authz(&s, "esante-wallet", "rp", &[("prompt", "none")]))
        .await;
    expect_authz_error(
        prompt_none,
        &s,
        "esante-wallet",
        "login_required",
        "no session",
    );
    // The refusal says what it is: test logins are forbidden here (403), not a malformed
    // form (400).
    for (what, status) in statuses {
        assert_eq!(status, 403, "{what}");
    }
});

// ---------------------------------------------------------------- authorization endpoint

both_dbs!(authorization_endpoint_refusals, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    s.add_client("edit", public_spec("pub"), None).await;
    let b = s.browser();
    let (_, challenge) = pkce();

    // Unknown realm: a 404 page, never a redirect.
    let r = http()
        .get(
            authz(&s, "edit", "rp", &[])
                .replace("/realms/edit/", "/realms/nope/")
                .as_str(),
        )
        .send()
        .await
        .expect("GET");
    expect_page(r, 404, "unknown realm").await;
    for name in [
        ".well-known/openid-configuration",
        "protocol/openid-connect/certs",
    ] {
        let r = http()
            .get(format!("{}/auth/realms/nope/{name}", s.base))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), 404, "unknown realm: {name}");
    }
    let r = post(
        &s.endpoint("nope", "token"),
        Some(("rp", SECRET)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    expect_error(
        r,
        400,
        "invalid_request",
        "token endpoint of an unknown realm",
    )
    .await;

    // Unknown or missing client, unregistered or ambiguous redirect URI: error page.
    let cases: Vec<(&str, String)> = vec![
        ("unknown client", authz(&s, "edit", "nobody", &[])),
        (
            "client of another realm",
            authz(&s, "esante-wallet", "rp", &[]),
        ),
        (
            "missing client_id",
            authz_url(
                &s,
                "edit",
                &[
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("redirect_uri", REDIRECT),
                ],
            ),
        ),
        (
            "unregistered redirect_uri",
            authz(
                &s,
                "edit",
                "rp",
                &[("redirect_uri", "https://evil.example/cb")],
            ),
        ),
        (
            "query added to redirect_uri",
            authz(
                &s,
                "edit",
                "rp",
                &[("redirect_uri", "https://rp.example/cb?x=1")],
            ),
        ),
        (
            "redirect_uri with another case",
            authz(
                &s,
                "edit",
                "rp",
                &[("redirect_uri", "https://RP.example/cb")],
            ),
        ),
        (
            "redirect_uri with a trailing slash",
            authz(
                &s,
                "edit",
                "rp",
                &[("redirect_uri", "https://rp.example/cb/")],
            ),
        ),
        (
            "redirect_uri with userinfo",
            authz(
                &s,
                "edit",
                "rp",
                &[("redirect_uri", "https://rp.example@evil.example/cb")],
            ),
        ),
        (
            "redirect_uri missing with two registered",
            authz_url(
                &s,
                "edit",
                &[
                    ("client_id", "rp"),
                    ("response_type", "code"),
                    ("scope", "openid"),
                ],
            ),
        ),
        (
            "prompt=none for an unknown client",
            authz(&s, "edit", "nobody", &[("prompt", "none")]),
        ),
    ];
    for (what, url) in &cases {
        expect_authz_page(b.authorize(url).await, what);
    }
    // The same through POST.
    let a = b
        .authorize_post(
            &s.endpoint("edit", "auth"),
            &[
                ("client_id", "rp"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", "https://evil.example/cb"),
            ],
        )
        .await;
    expect_authz_page(a, "unregistered redirect_uri by POST");
    // Repeated client_id or redirect_uri: the request cannot be trusted, no redirect.
    let base = authz(&s, "edit", "rp", &[]);
    expect_authz_page(
        b.authorize(&format!("{base}&client_id=rp")).await,
        "repeated client_id",
    );
    expect_authz_page(
        b.authorize(&format!(
            "{base}&redirect_uri=https%3A%2F%2Frp.example%2Fcb2"
        ))
        .await,
        "repeated redirect_uri",
    );

    // Errors once client and redirect URI are known: redirect with error, state and iss.
    let redirects: Vec<(&str, String, &str)> = vec![
        (
            "public client without PKCE",
            authz(&s, "edit", "pub", &[]),
            "invalid_request",
        ),
        (
            "plain PKCE (public client)",
            authz(
                &s,
                "edit",
                "pub",
                &[
                    ("code_challenge", challenge.as_str()),
                    ("code_challenge_method", "plain"),
                ],
            ),
            "invalid_request",
        ),
        (
            "PKCE without a method (plain by default)",
            authz(&s, "edit", "pub", &[("code_challenge", challenge.as_str())]),
            "invalid_request",
        ),
        (
            "plain PKCE (confidential client)",
            authz(
                &s,
                "edit",
                "rp",
                &[
                    ("code_challenge", challenge.as_str()),
                    ("code_challenge_method", "plain"),
                ],
            ),
            "invalid_request",
        ),
        (
            "malformed S256 challenge",
            authz(
                &s,
                "edit",
                "pub",
                &[
                    ("code_challenge", "short"),
                    ("code_challenge_method", "S256"),
                ],
            ),
            "invalid_request",
        ),
        (
            "repeated scope",
            format!("{base}&scope=profile"),
            "invalid_request",
        ),
        (
            "repeated response_type",
            format!("{base}&response_type=code"),
            "invalid_request",
        ),
        (
            "missing response_type",
            authz_url(
                &s,
                "edit",
                &[
                    ("client_id", "rp"),
                    ("scope", "openid"),
                    ("redirect_uri", REDIRECT),
                    ("state", "st"),
                ],
            ),
            "invalid_request",
        ),
        (
            "implicit flow",
            authz(&s, "edit", "rp", &[("response_type", "token")]),
            "unsupported_response_type",
        ),
        (
            "hybrid flow",
            authz(&s, "edit", "rp", &[("response_type", "code id_token")]),
            "unsupported_response_type",
        ),
        (
            "form_post response mode",
            authz(&s, "edit", "rp", &[("response_mode", "form_post")]),
            "invalid_request",
        ),
        (
            "request object",
            authz(&s, "edit", "rp", &[("request", "eyJhbGciOiJub25lIn0.e30.")]),
            "request_not_supported",
        ),
        (
            "request_uri",
            authz(
                &s,
                "edit",
                "rp",
                &[("request_uri", "https://rp.example/req")],
            ),
            "request_uri_not_supported",
        ),
        (
            "no allowed scope",
            authz(&s, "edit", "rp", &[("scope", "admin")]),
            "invalid_scope",
        ),
        (
            "unknown prompt",
            authz(&s, "edit", "rp", &[("prompt", "bogus")]),
            "invalid_request",
        ),
        (
            "prompt=none with another value",
            authz(&s, "edit", "rp", &[("prompt", "none login")]),
            "invalid_request",
        ),
        (
            "negative max_age",
            authz(&s, "edit", "rp", &[("max_age", "-1")]),
            "invalid_request",
        ),
        (
            "prompt=none without a session",
            authz(&s, "edit", "rp", &[("prompt", "none")]),
            "login_required",
        ),
    ];
    for (what, url, code) in &redirects {
        let a = b.authorize(url).await;
        if let Authz::Redirect(u) = &a {
            assert_eq!(param(u, "state").as_deref(), Some("st"), "{what}: state");
        }
        expect_authz_error(a, &s, "edit", code, what);
    }
    // A repeated state is not echoed.
    let a = b.authorize(&format!("{base}&state=other&scope=x")).await;
    let u = a.redirect();
    assert!(param(&u, "state").is_none(), "repeated state not echoed");

    // The same requests, well formed, are accepted: the refusals above are not accidents.
    for url in [
        authz(
            &s,
            "edit",
            "pub",
            &[
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        ),
        authz(&s, "edit", "rp", &[]),
    ] {
        let a = b.authorize(&url).await;
        assert!(matches!(a, Authz::LoginPage { .. }), "accepted: {a:?}");
    }
});

// ---------------------------------------------------------------- token endpoint: codes

both_dbs!(code_redemption_refusals, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    s.add_client("edit", rp_spec("rp2"), Some(SECRET)).await;
    let b = s.browser();
    let (verifier, challenge) = pkce();
    let with_pkce = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    // PKCE: the verifier is required, and must match.
    let c = code(&s, &b, &with_pkce).await;
    let r = redeem(&s, &c, &[]).await;
    expect_error(r, 400, "invalid_grant", "missing code_verifier").await;
    let (other_verifier, _) = pkce();
    let r = redeem(&s, &c, &[("code_verifier", &other_verifier)]).await;
    expect_error(r, 400, "invalid_grant", "wrong code_verifier").await;
    let r = redeem(&s, &c, &[("code_verifier", "too-short")]).await;
    expect_error(r, 400, "invalid_grant", "malformed code_verifier").await;
    let r = redeem(&s, &c, &[("code_verifier", &challenge)]).await;
    expect_error(r, 400, "invalid_grant", "challenge sent as verifier").await;
    let c = code(&s, &b, &with_pkce).await;
    let r = redeem(&s, &c, &[("code_verifier", &verifier)]).await;
    assert_eq!(r.status(), 200, "the right verifier is accepted");

    // PKCE downgrade: a verifier for a code issued without a challenge.
    let c = code(&s, &b, &[]).await;
    let r = redeem(&s, &c, &[("code_verifier", &verifier)]).await;
    expect_error(r, 400, "invalid_grant", "verifier without challenge").await;

    // A code is bound to its client.
    let c = code(&s, &b, &[]).await;
    let r = post(
        &s.endpoint("edit", "token"),
        Some(("rp2", SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    expect_error(r, 400, "invalid_grant", "code of another client").await;

    // redirect_uri must repeat the authorization request's.
    let c = code(&s, &b, &[]).await;
    let r = redeem(&s, &c, &[]).await;
    assert_eq!(r.status(), 200, "control: the registered URI is accepted");
    let c = code(&s, &b, &[]).await;
    let r = post(
        &s.endpoint("edit", "token"),
        Some(("rp", SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", REDIRECT2),
        ],
    )
    .await;
    expect_error(r, 400, "invalid_grant", "redirect_uri mismatch").await;
    let r = post(
        &s.endpoint("edit", "token"),
        Some(("rp", SECRET)),
        &[("grant_type", "authorization_code"), ("code", &c)],
    )
    .await;
    expect_error(r, 400, "invalid_grant", "redirect_uri omitted").await;

    // Unknown codes, and codes of another realm.
    let r = redeem(&s, "not-a-code", &[]).await;
    expect_error(r, 400, "invalid_grant", "unknown code").await;
    s.add_client("esante-wallet", rp_spec("rp"), Some(SECRET))
        .await;
    let c = code(&s, &b, &[]).await;
    let r = post(
        &s.endpoint("esante-wallet", "token"),
        Some(("rp", SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    expect_error(r, 400, "invalid_grant", "code of another realm").await;

    // A reused code is refused, and the tokens it gave are revoked.
    let c = code(&s, &b, &[]).await;
    let first: Value = redeem(&s, &c, &[]).await.json().await.expect("JSON");
    let at = first["access_token"].as_str().expect("access token");
    assert_eq!(userinfo(&s, "edit", at).await.status(), 200);
    let r = redeem(&s, &c, &[]).await;
    expect_error(r, 400, "invalid_grant", "code reuse").await;
    assert_eq!(
        userinfo(&s, "edit", at).await.status(),
        401,
        "access token of a replayed code"
    );
    let rt = first["refresh_token"].as_str().expect("refresh token");
    expect_error(
        refresh(&s, "rp", rt).await,
        400,
        "invalid_grant",
        "refresh token of a replayed code",
    )
    .await;

    // Codes live 60 seconds.
    let c = code(&s, &b, &[]).await;
    s.clock.advance(61);
    let r = redeem(&s, &c, &[]).await;
    expect_error(r, 400, "invalid_grant", "expired code").await;
});

// ---------------------------------------------------------------- token endpoint: clients

both_dbs!(client_authentication_refusals, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let mut code_only = rp_spec("code-only");
    code_only.grant_types = vec![GrantType::AuthorizationCode];
    s.add_client("edit", code_only, Some(SECRET)).await;
    let mut post_client = rp_spec("poster");
    post_client.token_endpoint_auth_method = TokenAuthMethod::ClientSecretPost;
    post_client.secret_methods = SecretMethods::RegisteredOnly;
    s.add_client("edit", post_client, Some(SECRET)).await;
    s.add_client("edit", public_spec("pub"), None).await;
    let token = s.endpoint("edit", "token");
    let cc = [("grant_type", "client_credentials")];

    // Controls: the right credentials work, with each method.
    assert_eq!(post(&token, Some(("rp", SECRET)), &cc).await.status(), 200);
    let r = post(
        &token,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "poster"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(r.status(), 200, "client_secret_post");

    // Wrong secret, unknown client: 401 with a Basic challenge.
    let wrong = format!("{SECRET}x");
    for (what, id, secret) in [
        ("wrong secret", "rp", wrong.as_str()),
        ("empty secret", "rp", ""),
        ("unknown client", "nobody", SECRET),
        (
            "secret of another client",
            "code-only",
            "another-secret-0123456789abcdef01",
        ),
    ] {
        let h = expect_error(
            post(&token, Some((id, secret)), &cc).await,
            401,
            "invalid_client",
            what,
        )
        .await;
        let challenge = www_authenticate(&h);
        assert!(
            challenge.to_ascii_lowercase().starts_with("basic"),
            "{what}: WWW-Authenticate {challenge:?}"
        );
    }
    // Malformed Basic header.
    let r = http()
        .post(&token)
        .header("authorization", "Basic !!!")
        .form(&cc)
        .send()
        .await
        .expect("POST");
    let h = expect_error(r, 401, "invalid_client", "malformed Basic").await;
    assert!(www_authenticate(&h).starts_with("Basic"));
    // No authentication at all, or a method the client did not register.
    let r = post(&token, None, &cc).await;
    expect_error(r, 401, "invalid_client", "no authentication").await;
    let r = post(
        &token,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "rp"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        200,
        "a client registered for Basic may post its secret"
    );
    let r = post(&token, Some(("poster", SECRET)), &cc).await;
    expect_error(r, 401, "invalid_client", "Basic for a post client").await;
    let r = post(
        &token,
        None,
        &[("grant_type", "client_credentials"), ("client_id", "rp")],
    )
    .await;
    expect_error(
        r,
        401,
        "invalid_client",
        "confidential client without secret",
    )
    .await;
    // Two methods at once.
    let r = post(
        &token,
        Some(("rp", SECRET)),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "rp"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    expect_error(r, 400, "invalid_request", "Basic and client_secret").await;
    let r = post(
        &token,
        Some(("rp", SECRET)),
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", "eyJhbGciOiJub25lIn0.e30."),
        ],
    )
    .await;
    expect_error(r, 400, "invalid_request", "Basic and client_assertion").await;
    // Basic id and form client_id disagree.
    let r = post(
        &token,
        Some(("rp", SECRET)),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "poster"),
        ],
    )
    .await;
    expect_error(r, 401, "invalid_client", "client_id differs from Basic").await;

    // Grant types.
    for gt in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ] {
        let r = post(
            &token,
            Some(("rp", SECRET)),
            &[
                ("grant_type", gt),
                ("username", NATIONAL_ID),
                ("password", "x"),
            ],
        )
        .await;
        expect_error(r, 400, "unsupported_grant_type", gt).await;
    }
    let r = post(&token, Some(("rp", SECRET)), &[("scope", "openid")]).await;
    expect_error(r, 400, "invalid_request", "missing grant_type").await;
    for gt in ["client_credentials", "refresh_token"] {
        let r = post(
            &token,
            Some(("code-only", SECRET)),
            &[("grant_type", gt), ("refresh_token", "x")],
        )
        .await;
        expect_error(r, 400, "unauthorized_client", gt).await;
    }
    let r = post(
        &token,
        None,
        &[("grant_type", "client_credentials"), ("client_id", "pub")],
    )
    .await;
    expect_error(r, 400, "unauthorized_client", "public client_credentials").await;

    // Repeated parameters.
    for (what, form) in [
        (
            "repeated grant_type",
            vec![
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
        ),
        (
            "repeated code",
            vec![
                ("grant_type", "authorization_code"),
                ("code", "a"),
                ("code", "b"),
                ("redirect_uri", REDIRECT),
            ],
        ),
        (
            "repeated redirect_uri",
            vec![
                ("grant_type", "authorization_code"),
                ("code", "a"),
                ("redirect_uri", REDIRECT),
                ("redirect_uri", REDIRECT2),
            ],
        ),
        (
            "repeated scope",
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "profile"),
                ("scope", "email"),
            ],
        ),
    ] {
        let r = post(&token, Some(("rp", SECRET)), &form).await;
        expect_error(r, 400, "invalid_request", what).await;
    }
    let r = post(
        &token,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "poster"),
            ("client_id", "poster"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    expect_error(r, 400, "invalid_request", "repeated client_id").await;
});

// ---------------------------------------------------------------- refresh tokens

both_dbs!(refresh_token_refusals, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    s.add_client("edit", rp_spec("rp2"), Some(SECRET)).await;
    let b = s.browser();

    // A refresh token is bound to its client.
    let t = tokens(&s, &b).await;
    let rt = t["refresh_token"].as_str().expect("refresh token");
    let r = refresh(&s, "rp2", rt).await;
    expect_error(r, 400, "invalid_grant", "refresh token of another client").await;
    // Scope cannot grow.
    let r = post(
        &s.endpoint("edit", "token"),
        Some(("rp", SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "openid scope_all offline_access"),
        ],
    )
    .await;
    expect_error(r, 400, "invalid_scope", "widened scope").await;
    let r = refresh(&s, "rp", "not-a-refresh-token").await;
    expect_error(r, 400, "invalid_grant", "unknown refresh token").await;

    // Rotation: RT1 → RT2; RT1 presented again after the reuse window revokes the family.
    let t1 = tokens(&s, &b).await;
    let rt1 = t1["refresh_token"].as_str().expect("RT1").to_owned();
    let r = refresh(&s, "rp", &rt1).await;
    assert_eq!(r.status(), 200, "first refresh");
    let t2: Value = r.json().await.expect("JSON");
    let rt2 = t2["refresh_token"].as_str().expect("RT2").to_owned();
    let at2 = t2["access_token"].as_str().expect("AT2").to_owned();
    assert_ne!(rt1, rt2, "refresh tokens rotate");
    assert_eq!(userinfo(&s, "edit", &at2).await.status(), 200);
    s.clock.advance(3);
    let r = refresh(&s, "rp", &rt1).await;
    expect_error(r, 400, "invalid_grant", "reuse after the window").await;
    let r = refresh(&s, "rp", &rt2).await;
    expect_error(r, 400, "invalid_grant", "successor of a reused token").await;
    let r = userinfo(&s, "edit", &at2).await;
    let h = r.headers().clone();
    assert_eq!(r.status(), 401, "access token of a revoked family");
    assert!(www_authenticate(&h).contains("invalid_token"));
    let at1 = t1["access_token"].as_str().expect("AT1");
    assert_eq!(userinfo(&s, "edit", at1).await.status(), 401);
    // Introspection agrees.
    let r = post(
        &s.endpoint("edit", "token/introspect"),
        Some(("rp", SECRET)),
        &[("token", &rt2)],
    )
    .await;
    let v: Value = r.json().await.expect("JSON");
    assert_eq!(v["active"], false, "revoked refresh token is inactive");

    // The other family, untouched, still works: the revocation was not global.
    let r = refresh(&s, "rp", rt).await;
    assert_eq!(r.status(), 200, "an unrelated family is not revoked");
});

// ---------------------------------------------------------------- private_key_jwt

both_dbs!(private_key_jwt_refusals, |db| async move {
    let s = TestServer::start(db).await;
    let key = ClientKey::generate("k1");
    let spec = ClientSpec {
        token_endpoint_auth_method: TokenAuthMethod::PrivateKeyJwt,
        grant_types: vec![GrantType::ClientCredentials],
        jwks: Some(json!({ "keys": [key.jwk.clone()] })),
        ..rp_spec("pkj")
    };
    s.add_client("edit", spec, None).await;
    let token = s.endpoint("edit", "token");
    let now = s.clock.now();
    let claims = |aud: &str, exp: i64| {
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).expect("rng");
        json!({
            "iss": "pkj", "sub": "pkj", "aud": aud, "iat": now, "exp": exp,
            "jti": b64(&jti),
        })
    };
    let send = |jwt: String| {
        let token = token.clone();
        async move {
            post(
                &token,
                None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "pkj"),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", &jwt),
                ],
            )
            .await
        }
    };

    // Accepted once, refused when replayed.
    let jwt = key.sign("k1", &claims(&token, now + 60));
    assert_eq!(send(jwt.clone()).await.status(), 200, "a good assertion");
    expect_error(send(jwt).await, 401, "invalid_client", "jti replay").await;
    // The issuer is an accepted audience too.
    let jwt = key.sign("k1", &claims(&s.issuer("edit"), now + 60));
    assert_eq!(send(jwt).await.status(), 200, "issuer as aud");

    let foreign = ClientKey::generate("k1");
    let mut bad: Vec<(&str, String)> = vec![
        (
            "wrong aud",
            key.sign("k1", &claims("https://other.example/token", now + 60)),
        ),
        (
            "aud of another realm",
            key.sign(
                "k1",
                &claims(&s.endpoint("esante-wallet", "token"), now + 60),
            ),
        ),
        ("expired", key.sign("k1", &claims(&token, now - 60))),
        (
            "exp too far ahead",
            key.sign("k1", &claims(&token, now + 3600 + 60)),
        ),
        (
            "signed by a foreign key with the client's kid",
            foreign.sign("k1", &claims(&token, now + 60)),
        ),
        ("unknown kid", key.sign("k2", &claims(&token, now + 60))),
    ];
    let mut c = claims(&token, now + 60);
    c.as_object_mut().expect("object").remove("jti");
    bad.push(("no jti", key.sign("k1", &c)));
    let mut c = claims(&token, now + 60);
    c.as_object_mut().expect("object").remove("exp");
    bad.push(("no exp", key.sign("k1", &c)));
    let mut c = claims(&token, now + 60);
    c["sub"] = "someone-else".into();
    bad.push(("sub is not the client", key.sign("k1", &c)));
    let mut c = claims(&token, now + 60);
    c["iat"] = (now + 3600).into();
    bad.push(("issued in the future", key.sign("k1", &c)));
    // alg=none, with and without a signature part.
    for header in [
        json!({"alg": "none", "typ": "JWT"}),
        json!({"alg": "none", "kid": "k1"}),
        json!({"alg": "None", "kid": "k1"}),
    ] {
        bad.push(("alg none", unsigned_jwt(&header, &claims(&token, now + 60))));
    }
    let signed = key.sign("k1", &claims(&token, now + 60));
    let (_, body) = jwt_parts(&signed);
    let (h, _) = jwt_parts(&signed);
    let stripped = format!(
        "{}.{}.",
        b64(json!({"alg": "none"}).to_string().as_bytes()),
        b64(body.to_string().as_bytes())
    );
    bad.push(("signature stripped", stripped));
    let tampered = {
        let mut parts: Vec<&str> = signed.split('.').collect();
        let mut c = body.clone();
        c["sub"] = "attacker".into();
        let enc = b64(c.to_string().as_bytes());
        parts[1] = &enc;
        parts.join(".")
    };
    bad.push(("payload altered", tampered));
    assert_eq!(h["kid"], "k1");
    // HS256 keyed with the client's public key, in every encoding.
    for secret in key.public_encodings() {
        bad.push((
            "HS256 with the public key",
            hs256_jwt(
                &json!({"alg": "HS256", "kid": "k1", "typ": "JWT"}),
                &claims(&token, now + 60),
                &secret,
            ),
        ));
    }
    for (what, jwt) in bad {
        expect_error(send(jwt).await, 401, "invalid_client", what).await;
    }
    // Control: a fresh, good assertion still works after all the refusals.
    let jwt = key.sign("k1", &claims(&token, now + 60));
    assert_eq!(send(jwt).await.status(), 200, "a good assertion again");
});

// ---------------------------------------------------------------- logout

both_dbs!(logout_refusals, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    s.add_client("edit", rp_spec("rp2"), Some(SECRET)).await;
    let b = s.browser();
    let t = tokens(&s, &b).await;
    let idt = t["id_token"].as_str().expect("ID token").to_owned();
    let (header, claims) = jwt_parts(&idt);
    let kid = header["kid"].as_str().expect("kid").to_owned();
    let logout = s.endpoint("edit", "logout");
    let try_logout = |hint: String, uri: &'static str| {
        let logout = logout.clone();
        let b = &b;
        async move {
            b.http
                .get(with_query(
                    &logout,
                    &[
                        ("id_token_hint", hint.as_str()),
                        ("post_logout_redirect_uri", uri),
                        ("state", "bye-state"),
                    ],
                ))
                .send()
                .await
                .expect("logout")
        }
    };

    // Forged hints: no redirect, an error page.
    let foreign = ClientKey::generate(&kid);
    let realm_jwks: Value = http()
        .get(s.endpoint("edit", "certs"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("JSON");
    let realm_key = realm_jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the signing key is published")
        .clone();
    let mut altered = claims.clone();
    altered["sub"] = "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:899700366240".into();
    let mut forged: Vec<(&str, String)> = vec![
        (
            "alg none",
            unsigned_jwt(&json!({"alg": "none", "kid": kid, "typ": "JWT"}), &claims),
        ),
        (
            "alg none without kid",
            unsigned_jwt(&json!({"alg": "none"}), &claims),
        ),
        (
            "foreign key with the realm's kid",
            foreign.sign(&kid, &claims),
        ),
        ("foreign key, unknown kid", foreign.sign("other", &claims)),
        (
            "HS256 keyed with the realm's public key",
            hs256_jwt(
                &json!({"alg": "HS256", "kid": kid, "typ": "JWT"}),
                &claims,
                realm_key.to_string().as_bytes(),
            ),
        ),
        (
            "HS256 keyed with the client's secret",
            hs256_jwt(
                &json!({"alg": "HS256", "typ": "JWT"}),
                &claims,
                SECRET.as_bytes(),
            ),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    let mut parts: Vec<String> = idt.split('.').map(str::to_owned).collect();
    parts[1] = b64(altered.to_string().as_bytes());
    forged.push(("payload altered", parts.join(".")));
    let mut other_realm = claims.clone();
    other_realm["iss"] = s.issuer("esante-wallet").into();
    forged.push(("other issuer", foreign.sign(&kid, &other_realm)));
    for (what, hint) in forged {
        let r = try_logout(hint, POST_LOGOUT).await;
        expect_page(r, 400, what).await;
    }

    // A valid hint with a post-logout URI the client did not register.
    for (what, uri) in [
        (
            "unregistered post_logout_redirect_uri",
            "https://evil.example/bye",
        ),
        ("query added", "https://rp.example/bye?foo=bar"),
        ("path added", "https://rp.example/bye/x"),
        ("redirect URI is not a post-logout URI", REDIRECT),
    ] {
        let r = try_logout(idt.clone(), uri).await;
        expect_page(r, 400, what).await;
    }
    // Without a hint the RP is not authenticated: no redirect, even to a registered URI.
    let r = b
        .http
        .get(with_query(
            &logout,
            &[
                ("client_id", "rp"),
                ("post_logout_redirect_uri", POST_LOGOUT),
            ],
        ))
        .send()
        .await
        .expect("logout");
    assert!(
        r.headers().get("location").is_none(),
        "no hint: no redirect"
    );
    assert_eq!(r.status(), 200, "a confirmation page");
    // A hint of client rp, with client_id rp2.
    let r = b
        .http
        .get(with_query(
            &logout,
            &[
                ("id_token_hint", idt.as_str()),
                ("client_id", "rp2"),
                ("post_logout_redirect_uri", POST_LOGOUT),
            ],
        ))
        .send()
        .await
        .expect("logout");
    expect_page(r, 400, "client_id differs from the hint's aud").await;
    // A forged confirmation.
    let r = b
        .http
        .post(&logout)
        .form(&[("confirm", "yes"), ("logout_token", "forged")])
        .send()
        .await
        .expect("logout");
    expect_page(r, 400, "forged confirmation").await;
    // The session survived every refusal.
    let a = b
        .authorize(&authz(&s, "edit", "rp", &[("prompt", "none")]))
        .await;
    assert!(
        param(&a.redirect(), "code").is_some(),
        "session still alive"
    );

    // Control: the genuine hint with the registered URI redirects, with state.
    let r = try_logout(idt.clone(), POST_LOGOUT).await;
    assert_eq!(r.status(), 302, "genuine logout redirects");
    let u = location(&r);
    assert_eq!(u.as_str(), format!("{POST_LOGOUT}?state=bye-state"));
    let a = b
        .authorize(&authz(&s, "edit", "rp", &[("prompt", "none")]))
        .await;
    expect_authz_error(a, &s, "edit", "login_required", "after logout");
});

// ---------------------------------------------------------------- userinfo

both_dbs!(userinfo_refusals, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let b = s.browser();
    let t = tokens(&s, &b).await;
    let at = t["access_token"].as_str().expect("access token").to_owned();
    let idt = t["id_token"].as_str().expect("ID token").to_owned();
    let url = s.endpoint("edit", "userinfo");
    assert_eq!(userinfo(&s, "edit", &at).await.status(), 200, "control");

    // No token: 401 with a bare Bearer challenge (RFC 6750 §3.1).
    for r in [
        http().get(&url).send().await.expect("GET"),
        http()
            .post(&url)
            .form(&[("x", "y")])
            .send()
            .await
            .expect("POST"),
        http()
            .get(&url)
            .header(
                "authorization",
                format!("Basic {}", STANDARD.encode("rp:x")),
            )
            .send()
            .await
            .expect("GET"),
    ] {
        assert_eq!(r.status(), 401, "no token");
        let c = www_authenticate(r.headers());
        assert!(c.starts_with("Bearer"), "challenge {c:?}");
        assert!(!c.contains("error="), "no error code without a token: {c}");
    }

    // Bad tokens: 401 invalid_token.
    let (h, c) = jwt_parts(&at);
    let mut sub_changed = c.clone();
    sub_changed["sub"] = "someone".into();
    let mut parts: Vec<String> = at.split('.').map(str::to_owned).collect();
    parts[1] = b64(sub_changed.to_string().as_bytes());
    let altered = parts.join(".");
    let foreign = ClientKey::generate(h["kid"].as_str().expect("kid"));
    let cc: Value = post(
        &s.endpoint("edit", "token"),
        Some(("rp", SECRET)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .json()
    .await
    .expect("JSON");
    let bad: Vec<(&str, String)> = vec![
        ("garbage", "garbage".to_owned()),
        ("random opaque", b64(&[7u8; 32])),
        ("payload altered", altered),
        (
            "alg none",
            unsigned_jwt(
                &json!({"alg": "none", "typ": "at+jwt", "kid": h["kid"]}),
                &c,
            ),
        ),
        (
            "foreign key",
            foreign.sign(h["kid"].as_str().expect("kid"), &c),
        ),
        ("ID token as access token", idt.clone()),
        (
            "client credentials token",
            cc["access_token"].as_str().expect("cc token").to_owned(),
        ),
    ];
    for (what, token) in bad {
        let r = userinfo(&s, "edit", &token).await;
        let hd = expect_error(r, 401, "invalid_token", what).await;
        let challenge = www_authenticate(&hd);
        assert!(
            challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge:?}"
        );
    }
    // A token of realm edit at realm esante-wallet.
    let r = userinfo(&s, "esante-wallet", &at).await;
    expect_error(r, 401, "invalid_token", "token of another realm").await;
    // Token in the header and in the body.
    let r = http()
        .post(&url)
        .bearer_auth(&at)
        .form(&[("access_token", at.as_str())])
        .send()
        .await
        .expect("POST");
    expect_error(r, 400, "invalid_request", "two tokens").await;
    // Never from the query string.
    let r = http()
        .get(format!("{url}?access_token={at}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 401, "token in the query is ignored");

    // Revoked by the client.
    let t2 = tokens(&s, &b).await;
    let at2 = t2["access_token"].as_str().expect("AT2");
    let r = post(
        &s.endpoint("edit", "revoke"),
        Some(("rp", SECRET)),
        &[("token", at2)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = userinfo(&s, "edit", at2).await;
    expect_error(r, 401, "invalid_token", "revoked access token").await;

    // Expired: access tokens live 120 seconds.
    assert_eq!(userinfo(&s, "edit", &at).await.status(), 200, "still valid");
    s.clock.advance(121);
    let r = userinfo(&s, "edit", &at).await;
    expect_error(r, 401, "invalid_token", "expired access token").await;
});

// ---------------------------------------------------------------- introspection, revocation

both_dbs!(introspection_and_revocation_refusals, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    s.add_client("edit", rp_spec("rp2"), Some(SECRET)).await;
    let b = s.browser();
    let t = tokens(&s, &b).await;
    let at = t["access_token"].as_str().expect("AT").to_owned();
    let rt = t["refresh_token"].as_str().expect("RT").to_owned();
    let introspect = s.endpoint("edit", "token/introspect");
    let revoke = s.endpoint("edit", "revoke");

    // Control.
    let v: Value = post(&introspect, Some(("rp", SECRET)), &[("token", &at)])
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(v["active"], true);

    // Introspection needs an authenticated client (RFC 7662 §2.1).
    let r = post(&introspect, None, &[("token", &at)]).await;
    expect_error(r, 401, "invalid_client", "introspection without client").await;
    let h = expect_error(
        post(&introspect, Some(("rp", "wrong-secret")), &[("token", &at)]).await,
        401,
        "invalid_client",
        "introspection with a wrong secret",
    )
    .await;
    assert!(www_authenticate(&h).starts_with("Basic"));
    let r = post(&introspect, Some(("rp", SECRET)), &[]).await;
    expect_error(r, 400, "invalid_request", "introspection without token").await;
    // Another client's refresh token is inactive for it.
    let v: Value = post(&introspect, Some(("rp2", SECRET)), &[("token", &rt)])
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        v,
        json!({"active": false}),
        "refresh token of another client"
    );
    for junk in ["junk", "a.b.c"] {
        let v: Value = post(&introspect, Some(("rp", SECRET)), &[("token", junk)])
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(v, json!({"active": false}), "{junk}");
    }

    // Revocation: unknown tokens are fine (RFC 7009 §2.2), clients are not optional.
    for token in ["unknown-token", "a.b.c"] {
        let r = post(&revoke, Some(("rp", SECRET)), &[("token", token)]).await;
        assert_eq!(r.status(), 200, "revoking {token}");
    }
    let r = post(&revoke, None, &[("token", &rt)]).await;
    expect_error(r, 401, "invalid_client", "revocation without client").await;
    let r = post(&revoke, Some(("rp", "wrong-secret")), &[("token", &rt)]).await;
    expect_error(r, 401, "invalid_client", "revocation with a wrong secret").await;
    let r = post(&revoke, Some(("rp", SECRET)), &[]).await;
    expect_error(r, 400, "invalid_request", "revocation without token").await;
    // Another client cannot revoke rp's tokens.
    for token in [&rt, &at] {
        let r = post(&revoke, Some(("rp2", SECRET)), &[("token", token)]).await;
        assert_eq!(r.status(), 200, "answer is the same");
    }
    assert_eq!(userinfo(&s, "edit", &at).await.status(), 200, "AT survives");
    let r = refresh(&s, "rp", &rt).await;
    assert_eq!(r.status(), 200, "RT survives another client's revocation");
    let rt2 = r.json::<Value>().await.expect("JSON")["refresh_token"]
        .as_str()
        .expect("RT2")
        .to_owned();
    // The owner can.
    let r = post(&revoke, Some(("rp", SECRET)), &[("token", &rt2)]).await;
    assert_eq!(r.status(), 200);
    let r = refresh(&s, "rp", &rt2).await;
    expect_error(r, 400, "invalid_grant", "revoked refresh token").await;

    // A public client's id is no authentication: it must not turn the endpoint into a token
    // scanning oracle (RFC 7662 §2.1, §4; introspection_endpoint_auth_methods_supported does
    // not list "none").
    let t = tokens(&s, &b).await;
    let at = t["access_token"].as_str().expect("AT");
    let r = post(
        &introspect,
        None,
        &[("token", at), ("client_id", "demo-rp")],
    )
    .await;
    expect_error(r, 401, "invalid_client", "introspection by a public client").await;
});

// ---------------------------------------------------------------- wallet page

both_dbs!(wallet_login_refusals, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let ids = s.state.store.identities("edit", 200).await.expect("store");
    let inactive = ids
        .iter()
        .find(|i| !i.active)
        .expect("an inactive sandbox identity")
        .national_id
        .to_string();
    assert_eq!(luhn_key("9970021889"), 6, "Luhn key of the known identity");
    let base = "1000000000";
    let unknown = format!("8{base}{}", luhn_key(base));
    assert!(
        !ids.iter().any(|i| i.national_id.as_str() == unknown),
        "{unknown} is unknown"
    );
    let bad_key = {
        let last = NATIONAL_ID.as_bytes()[NATIONAL_ID.len() - 1] - b'0';
        format!(
            "{}{}",
            &NATIONAL_ID[..NATIONAL_ID.len() - 1],
            (last + 1) % 10
        )
    };

    let b = s.browser();
    let page = b.authorize(&authz(&s, "edit", "rp", &[])).await;
    assert!(matches!(page, Authz::LoginPage { .. }), "{page:?}");
    // (case, national id, method, status, what the page says)
    for (what, id, method, status, reason) in [
        (
            "inactive identity",
            inactive.as_str(),
            "test",
            403,
            "sactiv",
        ),
        (
            "unknown national id",
            unknown.as_str(),
            "test",
            400,
            "inconnue",
        ),
        ("bad Luhn key", bad_key.as_str(), "test", 400, "invalide"),
        ("too short", "89970021889", "test", 400, "invalide"),
        ("empty national id", "", "test", 400, "invalide"),
        ("unknown method", NATIONAL_ID, "password", 400, "pas propos"),
        ("no method", NATIONAL_ID, "", 400, "pas propos"),
    ] {
        let r = b.login(&s.base, &page, id, method).await;
        let html = expect_page(r, status, what).await;
        assert!(html.contains(reason), "{what}: the page says why");
    }
    // The pending request belongs to the browser that started it.
    let stranger = s.browser();
    let r = stranger.login(&s.base, &page, NATIONAL_ID, "test").await;
    let html = expect_page(r, 400, "no login cookie").await;
    assert!(html.contains("another browser"), "no login cookie: why");
    let other = s.browser();
    let own = other.authorize(&authz(&s, "edit", "rp", &[])).await;
    assert!(matches!(own, Authz::LoginPage { .. }));
    let r = other.login(&s.base, &page, NATIONAL_ID, "test").await;
    let html = expect_page(r, 400, "another browser's login cookie").await;
    assert!(html.contains("another browser"), "foreign cookie: why");
    let Authz::LoginPage { action, .. } = &page else {
        unreachable!()
    };
    for request_id in ["", "forged-request-id"] {
        let r = b
            .http
            .post(format!("{}{action}", s.base))
            .form(&[
                ("request_id", request_id),
                ("national_id", NATIONAL_ID),
                ("method", "test"),
            ])
            .send()
            .await
            .expect("login");
        expect_page(r, 400, "unknown request_id").await;
    }
    // A request id of one realm posted to another realm.
    let request_id = page.request_id();
    let r = b
        .http
        .post(format!(
            "{}/auth/realms/esante-wallet/protocol/openid-connect/auth/login",
            s.base
        ))
        .form(&[
            ("request_id", request_id.as_str()),
            ("national_id", NATIONAL_ID),
            ("method", "test"),
        ])
        .send()
        .await
        .expect("login");
    expect_page(r, 400, "request of another realm").await;

    // Control: after all that, the rightful browser logs in once...
    let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
    assert_eq!(r.status(), 303, "the rightful login");
    assert!(param(&location(&r), "code").is_some());
    // ...and only once.
    let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
    let html = expect_page(r, 400, "replayed request_id").await;
    assert!(html.contains("already used"), "replay: why");
    let r = other.login(&s.base, &own, NATIONAL_ID, "test").await;
    assert_eq!(r.status(), 303, "the other browser's own request is intact");
    let r = other.login(&s.base, &own, NATIONAL_ID, "test").await;
    expect_page(r, 400, "replayed request_id (second browser)").await;

    // A login page expires.
    let late = s.browser();
    let p = late.authorize(&authz(&s, "edit", "rp", &[])).await;
    s.clock.advance(901);
    let r = late.login(&s.base, &p, NATIONAL_ID, "test").await;
    expect_page(r, 400, "expired login page").await;
});

// ---------------------------------------------------------------- key rotation

/// The kids of a realm's published JWKS.
async fn jwks_kids(s: &TestServer) -> Vec<String> {
    let v: Value = http()
        .get(s.endpoint("edit", "certs"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("JSON");
    v["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

both_dbs!(key_rotation_keeps_old_tokens_valid, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let b = s.browser();
    let rt = s.state.realm("edit").expect("realm").clone();
    let kid_of = |status: KeyStatus| {
        rt.ring()
            .ring
            .keys
            .iter()
            .find(|k| k.alg == coeur::oauth::jose::SigAlg::ES256 && k.status == status)
            .map(|k| k.kid.clone())
            .expect("key")
    };
    let old_active = kid_of(KeyStatus::Active);
    let old_next = kid_of(KeyStatus::Next);
    let before = jwks_kids(&s).await;
    assert!(before.contains(&old_next), "the next key is pre-published");

    let t = tokens(&s, &b).await;
    let at = t["access_token"].as_str().expect("AT").to_owned();
    let idt = t["id_token"].as_str().expect("ID token").to_owned();
    assert_eq!(jwt_parts(&at).0["kid"], old_active.as_str());

    s.state
        .keys
        .rotate("edit", &rt.realm.signing_algs, s.clock.now(), 600)
        .expect("rotate");
    s.state.refresh_ring(&rt).expect("reload");
    let new_next = kid_of(KeyStatus::Next);
    assert_eq!(kid_of(KeyStatus::Active), old_next, "next became active");
    assert!(new_next != old_next && new_next != old_active);

    // Tokens signed before the rotation still verify.
    assert_eq!(userinfo(&s, "edit", &at).await.status(), 200, "old AT");
    let r = refresh(&s, "rp", t["refresh_token"].as_str().expect("RT")).await;
    assert_eq!(r.status(), 200);
    let t2: Value = r.json().await.expect("JSON");
    // New tokens carry the new kid.
    let at2 = t2["access_token"].as_str().expect("AT2");
    assert_eq!(jwt_parts(at2).0["kid"], old_next.as_str(), "new AT kid");
    assert_eq!(
        jwt_parts(t2["id_token"].as_str().expect("ID token 2")).0["kid"],
        old_next.as_str(),
        "new ID token kid"
    );
    assert_eq!(userinfo(&s, "edit", at2).await.status(), 200, "new AT");

    // The JWKS lists the retired, the active and the new next keys, each once.
    let after = jwks_kids(&s).await;
    for k in [&old_active, &old_next, &new_next] {
        assert!(after.contains(k), "{k} published after rotation");
    }
    for k in &before {
        assert!(after.contains(k), "{k} still published");
    }
    let algs = rt.realm.signing_algs.len();
    assert_eq!(
        after.len(),
        3 * algs,
        "retired + active + next per algorithm"
    );
    let mut dedup = after.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), after.len(), "distinct kids");
    // The ring on disk holds the new next key, sealed.
    let ring_file =
        std::fs::read_to_string(s.dir.path().join("keys/realms/edit.json")).expect("ring file");
    assert!(ring_file.contains(&new_next), "new next key on disk");
    assert!(!ring_file.contains("PRIVATE KEY"), "no clear key on disk");

    // The old ID token is still accepted as a hint: logout redirects.
    let r = b
        .http
        .get(with_query(
            &s.endpoint("edit", "logout"),
            &[
                ("id_token_hint", idt.as_str()),
                ("post_logout_redirect_uri", POST_LOGOUT),
            ],
        ))
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 302, "hint signed by the retired key");
});

// ---------------------------------------------------------------- realm files

/// Loads a realm directory holding one file.
fn load_one(file: &str, text: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(file), text).expect("write");
    match coeur::provider::state::load_realms(dir.path(), "http://127.0.0.1:1") {
        Ok(r) => panic!(
            "{file} accepted: {:?}",
            r.iter().map(|r| &r.name).collect::<Vec<_>>()
        ),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn bad_realm_files_are_refused_with_file_and_line() {
    const HEAD: &str = "name = \"edit\"\nsandbox = true\nauth_methods = [\"test\"]\n";
    const PUBLIC_CLIENT: &str = "\n[[clients]]\nclient_id = \"c\"\npublic = true\n\
        token_endpoint_auth_method = \"none\"\nredirect_uris = [\"https://rp.example/cb\"]\n";
    // (case, file text, line the error must name)
    let cases: Vec<(&str, String, usize)> = vec![
        (
            "wrong type",
            "name = \"edit\"\nsandbox = \"yes\"\nauth_methods = [\"test\"]\n".into(),
            2,
        ),
        ("syntax error", "name = \"edit\"\nsandbox = tru\n".into(), 2),
        (
            "unknown method",
            "name = \"edit\"\nsandbox = true\nauth_methods = [\"password\"]\n".into(),
            3,
        ),
        ("unknown key", format!("{HEAD}colour = \"blue\"\n"), 4),
        (
            "unknown lifetime",
            format!("{HEAD}\n[lifetimes]\naccess_tokens = 60\n"),
            6,
        ),
        (
            "client with an http redirect URI",
            format!(
                "{HEAD}\n[[clients]]\nclient_id = \"c\"\npublic = true\n\
                 token_endpoint_auth_method = \"none\"\n\
                 redirect_uris = [\"http://rp.example/cb\"]\n"
            ),
            5,
        ),
        (
            "confidential client without secret",
            format!(
                "{HEAD}\n[[clients]]\nclient_id = \"c\"\n\
                 redirect_uris = [\"https://rp.example/cb\"]\n"
            ),
            5,
        ),
        (
            "client defined twice",
            format!("{HEAD}{PUBLIC_CLIENT}{PUBLIC_CLIENT}"),
            11,
        ),
        (
            "unknown client field",
            format!("{HEAD}{PUBLIC_CLIENT}colour = 1\n"),
            10,
        ),
    ];
    for (what, text, line) in &cases {
        let e = load_one("edit.toml", text);
        assert!(
            e.contains(&format!("edit.toml:{line}:")),
            "{what}: expected edit.toml:{line}: in {e:?}"
        );
    }
    // Errors about the whole file name the file.
    for (what, file, text, reason) in [
        (
            "test method in a production realm",
            "prod.toml",
            "name = \"prod\"\nsandbox = false\nauth_methods = [\"test\"]\n",
            "sandbox",
        ),
        (
            "name differs from the file",
            "edit.toml",
            "name = \"other\"\nsandbox = true\nauth_methods = [\"test\"]\n",
            "file name",
        ),
        (
            "code lifetime over 600 s",
            "edit.toml",
            "name = \"edit\"\nsandbox = true\nauth_methods = [\"test\"]\n\
             [lifetimes]\nauthorization_code = 601\n",
            "authorization_code",
        ),
        (
            "HS256 realm key",
            "edit.toml",
            "name = \"edit\"\nsandbox = true\nauth_methods = [\"test\"]\nsigning_algs = [\"HS256\"]\n",
            "signing_algs",
        ),
        (
            "no method",
            "edit.toml",
            "name = \"edit\"\nsandbox = true\nauth_methods = []\n",
            "auth_methods",
        ),
    ] {
        let e = load_one(file, text);
        assert!(e.contains(file), "{what}: no file name in {e:?}");
        assert!(e.contains(reason), "{what}: no reason in {e:?}");
    }
    // Control: the shipped realms load.
    let realms = coeur::provider::state::load_realms(&realms_dir(), "http://127.0.0.1:1")
        .expect("shipped realms");
    assert_eq!(realms.len(), 2);
}

// ---------------------------------------------------------------- command line

fn coeur_cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let db = format!("sqlite://{}/cli.db", dir.display());
    let keys = dir.join("keys");
    let realms = realms_dir();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_coeur"));
    for (k, _) in std::env::vars() {
        if k.starts_with("COEUR_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("COEUR_LOG", "error")
        .arg("--database-url")
        .arg(&db)
        .arg("--keys-dir")
        .arg(&keys)
        .arg("--realms-dir")
        .arg(&realms)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run coeur")
}

fn cli_add(dir: &std::path::Path, id: &str, secret: &str) -> std::process::Output {
    coeur_cli(
        dir,
        &[
            "client",
            "add",
            "--realm",
            "edit",
            "--client-id",
            id,
            "--redirect-uri",
            REDIRECT,
            "--secret",
            secret,
        ],
    )
}

#[test]
fn cli_client_add_list_remove() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let list = || {
        let out = coeur_cli(dir, &["client", "list", "--realm", "edit"]);
        assert!(out.status.success(), "list: {out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    };

    // A short secret is refused, clearly, and nothing is stored.
    let out = cli_add(dir, "cli-rp", &"s".repeat(MIN_SECRET_LEN - 1));
    assert!(!out.status.success(), "short secret accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("at least {MIN_SECRET_LEN} characters")),
        "unclear message: {err}"
    );
    assert!(!list().contains("cli-rp"), "refused client listed");

    // A client of the realm file cannot be shadowed.
    let out = cli_add(dir, "demo-rp", SECRET);
    assert!(!out.status.success(), "realm-file client redefined");
    assert!(String::from_utf8_lossy(&out.stderr).contains("realm file"));

    // add, list, remove.
    let out = cli_add(dir, "cli-rp", SECRET);
    assert!(out.status.success(), "add: {out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).expect("registration JSON");
    assert_eq!(printed["client_id"], "cli-rp");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(SECRET),
        "a given secret is not echoed"
    );
    let listed = list();
    assert!(listed.contains("cli-rp\t(database)"), "{listed}");
    assert!(listed.contains("demo-rp\t(realm file)"), "{listed}");
    let remove = [
        "client",
        "remove",
        "--realm",
        "edit",
        "--client-id",
        "cli-rp",
    ];
    let out = coeur_cli(dir, &remove);
    assert!(out.status.success(), "remove: {out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed cli-rp"));
    assert!(!list().contains("cli-rp"), "removed client still listed");
    let out = coeur_cli(dir, &remove);
    assert!(!out.status.success(), "second remove succeeded");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no client cli-rp"));
}
