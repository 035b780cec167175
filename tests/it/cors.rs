//! CORS for browser applications, seen as a browser sees it (raw headers): discovery and JWKS
//! for any origin; token, userinfo and revocation for the origins of the client concerned,
//! preflights included; every other origin gets no CORS header and the request does what it
//! does without one.

use crate::both_dbs;
use crate::support::*;
use coeur::oauth::client::{ClientSpec, GrantType, TokenAuthMethod};
use reqwest::Method;
use reqwest::header::HeaderMap;

/// The single-page application's origin (its redirect URI's).
const SPA: &str = "https://spa.example";
/// An origin no client registered.
const EVIL: &str = "https://evil.example";

fn spa_spec() -> ClientSpec {
    ClientSpec {
        public: true,
        token_endpoint_auth_method: TokenAuthMethod::None,
        redirect_uris: vec![format!("{SPA}/cb")],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        ..rp_spec("spa")
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Asserts `h` lets `origin` read the answer (exactly that origin, no credentials).
#[track_caller]
fn assert_allowed(h: &HeaderMap, origin: &str, what: &str) {
    assert_eq!(
        header(h, "access-control-allow-origin"),
        Some(origin),
        "{what}: {h:?}"
    );
    assert!(
        h.get_all("vary")
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains("Origin"))),
        "{what}: Vary: Origin: {h:?}"
    );
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "{what}: {h:?}"
    );
}

/// Asserts `h` carries no CORS header: a browser keeps the answer from the page.
#[track_caller]
fn assert_no_cors(h: &HeaderMap, what: &str) {
    let cors: Vec<_> = h
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{what}: {h:?}");
}

/// A preflight of `method` to `url` from `origin`, as a browser sends it.
async fn preflight(url: &str, origin: &str, method: &str, headers: &str) -> reqwest::Response {
    let mut req = http()
        .request(Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method);
    if !headers.is_empty() {
        req = req.header("access-control-request-headers", headers);
    }
    req.send().await.expect("OPTIONS")
}

/// Logs the test identity in for client `spa` and returns its code and PKCE verifier.
async fn spa_code(s: &TestServer) -> (String, String) {
    let (verifier, challenge) = pkce();
    let redirect = format!("{SPA}/cb");
    let url = authz_url(
        s,
        "edit",
        &[
            ("client_id", "spa"),
            ("response_type", "code"),
            ("scope", "openid scope_all"),
            ("redirect_uri", &redirect),
            ("state", "st"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let b = s.browser();
    let page = b.authorize(&url).await;
    let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
    assert_eq!(r.status(), 303, "login");
    let code = param(&location(&r), "code").expect("code");
    (code, verifier)
}

/// Redeems a code of `spa` from a page at `origin` (`None`: not from a browser).
async fn spa_redeem(
    s: &TestServer,
    code: &str,
    verifier: &str,
    origin: Option<&str>,
) -> reqwest::Response {
    let redirect = format!("{SPA}/cb");
    let mut req = http().post(s.endpoint("edit", "token")).form(&[
        ("grant_type", "authorization_code"),
        ("client_id", "spa"),
        ("code", code),
        ("redirect_uri", &redirect),
        ("code_verifier", verifier),
    ]);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.expect("token")
}

both_dbs!(
    discovery_and_keys_are_readable_from_any_origin,
    |db| async move {
        let s = TestServer::start(db).await;
        let issuer = s.issuer("edit");
        for url in [
            format!("{issuer}/.well-known/openid-configuration"),
            format!("{issuer}/.well-known/wallet-openid-configuration"),
            s.endpoint("edit", "certs"),
        ] {
            let r = http()
                .get(&url)
                .header("origin", EVIL)
                .send()
                .await
                .expect("GET");
            assert_eq!(r.status(), 200, "{url}");
            assert_eq!(
                header(r.headers(), "access-control-allow-origin"),
                Some("*"),
                "{url}"
            );
            assert!(
                r.headers()
                    .get("access-control-allow-credentials")
                    .is_none(),
                "{url}"
            );
            let p = preflight(&url, EVIL, "GET", "").await;
            assert!(p.status().is_success(), "{url}: preflight {}", p.status());
            assert_eq!(
                header(p.headers(), "access-control-allow-origin"),
                Some("*"),
                "{url}"
            );
            assert!(
                header(p.headers(), "access-control-allow-methods")
                    .is_some_and(|m| m.contains("GET")),
                "{url}: {:?}",
                p.headers()
            );
        }
    }
);

both_dbs!(preflights_answer_the_realms_origins_only, |db| async move {
    let s = TestServer::start(db).await;
    s.add_client("edit", spa_spec(), None).await;
    for (name, method) in [("token", "POST"), ("revoke", "POST"), ("userinfo", "GET")] {
        let url = s.endpoint("edit", name);
        let p = preflight(&url, SPA, method, "authorization, content-type").await;
        assert_eq!(p.status(), 204, "{name}");
        assert_allowed(p.headers(), SPA, name);
        let h = p.headers();
        assert!(
            header(h, "access-control-allow-methods").is_some_and(|m| m.contains(method)),
            "{name}: {h:?}"
        );
        let allowed = header(h, "access-control-allow-headers").unwrap_or_default();
        for needed in ["Authorization", "Content-Type"] {
            assert!(allowed.contains(needed), "{name}: {h:?}");
        }
        assert!(header(h, "access-control-max-age").is_some(), "{name}");

        let p = preflight(&url, EVIL, method, "authorization").await;
        assert_eq!(p.status(), 204, "{name}: unregistered origin");
        assert_no_cors(p.headers(), name);
        // An opaque origin (a sandboxed frame, a file) is never allowed.
        let p = preflight(&url, "null", method, "authorization").await;
        assert_no_cors(p.headers(), name);
    }
    // Introspection is for confidential resource servers, not browsers.
    let url = s.endpoint("edit", "token/introspect");
    let p = preflight(&url, SPA, "POST", "authorization").await;
    assert_eq!(p.status(), 405);
    assert_no_cors(p.headers(), "introspection");
});

both_dbs!(
    token_answers_are_readable_by_the_clients_origins,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_client("edit", spa_spec(), None).await;

        // The application's origin reads its tokens.
        let (code, verifier) = spa_code(&s).await;
        let r = spa_redeem(&s, &code, &verifier, Some(SPA)).await;
        assert_eq!(r.status(), 200);
        assert_allowed(r.headers(), SPA, "token");
        let body: serde_json::Value = r.json().await.expect("json");
        assert!(body["access_token"].is_string(), "{body}");

        // And its errors: the replayed code is refused, readably.
        let r = spa_redeem(&s, &code, &verifier, Some(SPA)).await;
        assert_eq!(r.status(), 400);
        assert_allowed(r.headers(), SPA, "token error");
        let body: serde_json::Value = r.json().await.expect("json");
        assert_eq!(body["error"], "invalid_grant");

        // Another origin gets no CORS header, and the request does what it does without one:
        // the code is redeemed (a browser only keeps the answer from that page).
        let (code, verifier) = spa_code(&s).await;
        let r = spa_redeem(&s, &code, &verifier, Some(EVIL)).await;
        assert_eq!(r.status(), 200);
        assert_no_cors(r.headers(), "token from another origin");
        let r = spa_redeem(&s, &code, &verifier, None).await;
        assert_eq!(r.status(), 400, "the code was used by the request above");

        // A confidential client registers no origin by default; its redirect URI's origin is
        // not one of its web origins.
        s.add_rp("edit").await;
        let r = http()
            .post(s.endpoint("edit", "token"))
            .basic_auth("rp", Some(SECRET))
            .header("origin", "https://rp.example")
            .form(&[("grant_type", "client_credentials"), ("scope", "openid")])
            .send()
            .await
            .expect("token");
        assert_eq!(r.status(), 200);
        assert_no_cors(r.headers(), "confidential client");
        // Registered, it is allowed; the origin of another client is not.
        let spec = ClientSpec {
            web_origins: Some(vec!["https://console.example".into()]),
            ..rp_spec("console")
        };
        s.add_client("edit", spec, Some(SECRET)).await;
        for (origin, allowed) in [("https://console.example", true), (SPA, false)] {
            let r = http()
                .post(s.endpoint("edit", "token"))
                .basic_auth("console", Some(SECRET))
                .header("origin", origin)
                .form(&[("grant_type", "client_credentials"), ("scope", "openid")])
                .send()
                .await
                .expect("token");
            assert_eq!(r.status(), 200, "{origin}");
            if allowed {
                assert_allowed(r.headers(), origin, origin);
            } else {
                assert_no_cors(r.headers(), origin);
            }
        }
    }
);

both_dbs!(
    userinfo_and_revocation_follow_the_tokens_client,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_client("edit", spa_spec(), None).await;
        let (code, verifier) = spa_code(&s).await;
        let r = spa_redeem(&s, &code, &verifier, Some(SPA)).await;
        let tokens: serde_json::Value = r.json().await.expect("json");
        let access = tokens["access_token"].as_str().expect("access_token");
        let refresh = tokens["refresh_token"].as_str().expect("refresh_token");
        let userinfo = s.endpoint("edit", "userinfo");

        let get = |origin: &'static str, token: &str| {
            http()
                .get(&userinfo)
                .bearer_auth(token)
                .header("origin", origin)
                .send()
        };
        let r = get(SPA, access).await.expect("userinfo");
        assert_eq!(r.status(), 200);
        assert_allowed(r.headers(), SPA, "userinfo");
        assert!(
            header(r.headers(), "access-control-expose-headers")
                .is_some_and(|h| h.eq_ignore_ascii_case("www-authenticate"))
        );
        let r = get(EVIL, access).await.expect("userinfo");
        assert_eq!(r.status(), 200);
        assert_no_cors(r.headers(), "userinfo from another origin");
        // A token of a client that registered no origin: not readable from the application's.
        s.add_rp("edit").await;
        let rp_token = s
            .client_credentials_token("edit", "rp", "openid scope_all")
            .await;
        let r = get(SPA, &rp_token).await.expect("userinfo");
        assert_no_cors(r.headers(), "another client's token");
        // An invalid token names no client: the realm's origins read the refusal, so that the
        // application can log in again; other origins do not.
        let r = get(SPA, "not-a-token").await.expect("userinfo");
        assert_eq!(r.status(), 401);
        assert_allowed(r.headers(), SPA, "userinfo refusal");
        assert!(header(r.headers(), "www-authenticate").is_some());
        let r = get(EVIL, "not-a-token").await.expect("userinfo");
        assert_eq!(r.status(), 401);
        assert_no_cors(r.headers(), "userinfo refusal, another origin");

        // Revocation by the public client, from its origin.
        let r = http()
            .post(s.endpoint("edit", "revoke"))
            .header("origin", SPA)
            .form(&[
                ("client_id", "spa"),
                ("token", refresh),
                ("token_type_hint", "refresh_token"),
            ])
            .send()
            .await
            .expect("revoke");
        assert_eq!(r.status(), 200);
        assert_allowed(r.headers(), SPA, "revocation");
        let r = get(SPA, access).await.expect("userinfo");
        assert_eq!(r.status(), 401, "the grant is revoked");
        assert_allowed(r.headers(), SPA, "userinfo after revocation");
    }
);
