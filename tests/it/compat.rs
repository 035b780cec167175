//! Relying parties as they are configured in the wild: both secret methods for secret
//! clients, `private_key_jwt` as libraries send it (one-hour assertions, `aud` the endpoint
//! called), form bodies that say they are forms, loopback redirect URIs on any port (RFC 8252
//! §7.3), and the log line that tells an integrator why their client is refused. Discovery
//! checked against behaviour is in `compat_discovery`; Authlib as a peer in `compat_authlib`.

use crate::both_dbs;
use crate::support::*;
use coeur::common::random::Clock as _;
use coeur::oauth::client::{ClientSpec, GrantType, TokenAuthMethod};
use serde_json::{Value, json};

pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A fresh random `jti`.
pub(crate) fn jti() -> String {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("rng");
    hex::encode(b)
}

/// Registers `id` for `private_key_jwt` (client_credentials) with a fresh key.
pub(crate) async fn add_assertion_client(s: &TestServer, id: &str) -> ClientKey {
    let key = ClientKey::generate("k1");
    let spec = ClientSpec {
        token_endpoint_auth_method: TokenAuthMethod::PrivateKeyJwt,
        grant_types: vec![GrantType::ClientCredentials],
        jwks: Some(json!({ "keys": [key.jwk.clone()] })),
        ..rp_spec(id)
    };
    s.add_client("edit", spec, None).await;
    key
}

/// The form fields of a `private_key_jwt` authentication.
pub(crate) fn assertion_form<'a>(id: &'a str, jwt: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("client_id", id),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", jwt),
    ]
}

/// An assertion of client `id` for `aud`, valid until `exp`.
pub(crate) fn assertion(key: &ClientKey, id: &str, aud: &str, iat: i64, exp: i64) -> String {
    key.sign(
        "k1",
        &json!({ "iss": id, "sub": id, "aud": aud, "iat": iat, "exp": exp, "jti": jti() }),
    )
}

/// An access token of `rp` from client_credentials.
async fn rp_access_token(s: &TestServer) -> String {
    let r = post(
        &s.endpoint("edit", "token"),
        Some(("rp", SECRET)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.status(), 200, "client_credentials");
    let t: Value = r.json().await.expect("JSON");
    t["access_token"].as_str().expect("access token").to_owned()
}

both_dbs!(secret_clients_accept_both_secret_methods, |db| async move {
    let s = TestServer::start(db).await;
    // Registered with the default (client_secret_basic), as `coeur client add` does.
    s.add_rp("edit").await;
    // Posting the secret works at every endpoint that authenticates clients.
    let r = post(
        &s.endpoint("edit", "token"),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "rp"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(r.status(), 200, "client_secret_post at the token endpoint");
    let at = rp_access_token(&s).await;
    let r = post(
        &s.endpoint("edit", "token/introspect"),
        None,
        &[
            ("token", &at),
            ("client_id", "rp"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(r.status(), 200, "client_secret_post at introspection");
    let v: Value = r.json().await.expect("JSON");
    assert_eq!(v["active"], true);
    let r = post(
        &s.endpoint("edit", "revoke"),
        None,
        &[
            ("token", &at),
            ("client_id", "rp"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(r.status(), 200, "client_secret_post at revocation");

    // A client kept to its registered method (realm files: secret_methods = "registered_only").
    let strict: ClientSpec = serde_json::from_value(json!({
        "client_id": "compat-strict",
        "redirect_uris": [REDIRECT],
        "grant_types": ["client_credentials"],
        "secret_methods": "registered_only",
    }))
    .expect("a strict registration");
    s.add_client("edit", strict, Some(SECRET)).await;
    let cc = [("grant_type", "client_credentials")];
    let r = post(
        &s.endpoint("edit", "token"),
        Some(("compat-strict", SECRET)),
        &cc,
    )
    .await;
    assert_eq!(r.status(), 200, "its registered method");
    let r = post(
        &s.endpoint("edit", "token"),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "compat-strict"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    expect_error(
        r,
        401,
        "invalid_client",
        "the other method, for a strict client",
    )
    .await;

    // Each refusal is logged at info with the client id and the reason, never the secret.
    let r = post(
        &s.endpoint("edit", "token"),
        Some(("compat-nobody", SECRET)),
        &cc,
    )
    .await;
    expect_error(r, 401, "invalid_client", "unknown client").await;
    let logs = coeur_testkit::logs::captured();
    let line = |id: &str| {
        logs.lines()
            .find(|l| l.contains(&format!("client_id={id}")))
            .unwrap_or_else(|| panic!("no log line for {id} in:\n{logs}"))
            .to_owned()
    };
    let strict_line = line("compat-strict");
    assert!(strict_line.contains("INFO"), "{strict_line}");
    assert!(
        strict_line.contains("client authentication refused"),
        "{strict_line}"
    );
    assert!(
        strict_line.contains("this client must authenticate with client_secret_basic"),
        "{strict_line}"
    );
    let unknown_line = line("compat-nobody");
    assert!(unknown_line.contains("unknown client"), "{unknown_line}");
    assert!(!logs.contains(SECRET), "a secret reached the logs");
});

both_dbs!(private_key_jwt_as_libraries_send_it, |db| async move {
    let s = TestServer::start(db).await;
    let key = add_assertion_client(&s, "compat-pkj").await;
    let now = s.clock.now();
    let token = s.endpoint("edit", "token");
    let introspect = s.endpoint("edit", "token/introspect");
    let revoke = s.endpoint("edit", "revoke");
    let call = |url: String, aud: String, exp: i64, extra: Vec<(&'static str, String)>| {
        let jwt = assertion(&key, "compat-pkj", &aud, now, exp);
        async move {
            let mut form: Vec<(&str, &str)> = assertion_form("compat-pkj", &jwt).to_vec();
            form.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
            post(&url, None, &form).await
        }
    };
    let cc = || vec![("grant_type", "client_credentials".to_owned())];

    // Authlib's assertions live an hour.
    let r = call(token.clone(), token.clone(), now + 3600, cc()).await;
    assert_eq!(r.status(), 200, "a one-hour assertion");
    let t: Value = r.json().await.expect("JSON");
    let at = t["access_token"].as_str().expect("access token").to_owned();
    // At introspection and revocation, libraries put the URL they call in aud.
    let r = call(
        introspect.clone(),
        introspect.clone(),
        now + 3600,
        vec![("token", at.clone())],
    )
    .await;
    assert_eq!(r.status(), 200, "aud = the introspection endpoint");
    let v: Value = r.json().await.expect("JSON");
    assert_eq!(v["active"], true);
    let r = call(
        revoke.clone(),
        revoke.clone(),
        now + 60,
        vec![("token", at.clone())],
    )
    .await;
    assert_eq!(r.status(), 200, "aud = the revocation endpoint");
    let r = call(
        introspect.clone(),
        s.issuer("edit"),
        now + 60,
        vec![("token", at.clone())],
    )
    .await;
    let v: Value = r.json().await.expect("JSON");
    assert_eq!(v["active"], false, "revoked");

    // Still refused: another endpoint than the one called, a longer life, extreme times (a
    // correctly signed exp = 2^63 - 1 once panicked the handler).
    let r = call(
        introspect.clone(),
        revoke.clone(),
        now + 60,
        vec![("token", at.clone())],
    )
    .await;
    expect_error(r, 401, "invalid_client", "aud = another endpoint").await;
    let r = call(
        token.clone(),
        s.endpoint("edit", "userinfo"),
        now + 60,
        cc(),
    )
    .await;
    expect_error(r, 401, "invalid_client", "aud = userinfo").await;
    let r = call(token.clone(), token.clone(), now + 3600 + 60, cc()).await;
    expect_error(r, 401, "invalid_client", "over an hour").await;
    for exp in [i64::MAX, i64::MAX - 5, i64::MIN] {
        let r = call(token.clone(), token.clone(), exp, cc()).await;
        expect_error(r, 401, "invalid_client", &format!("exp = {exp}")).await;
    }
    // The server still answers.
    let r = call(token.clone(), token.clone(), now + 60, cc()).await;
    assert_eq!(r.status(), 200, "a good assertion after the extreme ones");
});

both_dbs!(client_endpoints_take_form_bodies_only, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let at = rp_access_token(&s).await;
    let send = |url: String, ct: Option<&'static str>, body: String| async move {
        let mut req = http().post(url).basic_auth("rp", Some(SECRET)).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.send().await.expect("POST")
    };
    let cases = [
        ("token", "grant_type=client_credentials".to_owned()),
        ("token/introspect", format!("token={at}")),
        ("revoke", format!("token={at}")),
    ];
    for (endpoint, body) in &cases {
        let url = s.endpoint("edit", endpoint);
        for ct in [
            Some("text/plain"),
            Some("text/plain;charset=UTF-8"),
            Some("application/json"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            let r = send(url.clone(), ct, body.clone()).await;
            expect_error(
                r,
                400,
                "invalid_request",
                &format!("{endpoint} with {ct:?}"),
            )
            .await;
        }
    }
    // Nothing was done: the token is still active.
    let r = post(
        &s.endpoint("edit", "token/introspect"),
        Some(("rp", SECRET)),
        &[("token", &at)],
    )
    .await;
    let v: Value = r.json().await.expect("JSON");
    assert_eq!(v["active"], true, "a refused revocation revoked nothing");
    // Forms, with parameters, are read.
    for (endpoint, body) in &cases {
        let r = send(
            s.endpoint("edit", endpoint),
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            body.clone(),
        )
        .await;
        assert_eq!(r.status(), 200, "{endpoint} with a form");
    }
});

/// Logs in through client `client` with `redirect_uri`; the callback URL, or the error page.
async fn login_at(
    s: &TestServer,
    client: &str,
    redirect_uri: &str,
    verifier_challenge: &str,
) -> Authz {
    let b = s.browser();
    let page = b
        .authorize(&authz_url(
            s,
            "edit",
            &[
                ("client_id", client),
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", redirect_uri),
                ("state", "st"),
                ("code_challenge", verifier_challenge),
                ("code_challenge_method", "S256"),
            ],
        ))
        .await;
    match page {
        p @ Authz::LoginPage { .. } => {
            let r = b.login(&s.base, &p, NATIONAL_ID, "test").await;
            assert_eq!(r.status().as_u16(), 303, "login answers 303");
            Authz::Redirect(location(&r))
        }
        other => other,
    }
}

both_dbs!(loopback_redirect_uris_match_any_port, |db| async move {
    let s = TestServer::start(db).await;
    let spec = ClientSpec {
        redirect_uris: vec![
            "http://127.0.0.1/callback".into(),
            "http://[::1]/callback?app=1".into(),
            "http://localhost/callback".into(),
        ],
        ..rp_spec("native")
    };
    s.add_client("edit", spec, Some(SECRET)).await;
    let (verifier, challenge) = pkce();
    for uri in [
        "http://127.0.0.1:53211/callback",
        "http://127.0.0.1/callback",
        "http://[::1]:8080/callback?app=1",
    ] {
        let cb = login_at(&s, "native", uri, &challenge).await.redirect();
        assert!(cb.as_str().starts_with(uri), "{uri}: answered to {cb}");
        let code = param(&cb, "code").expect("code");
        let r = post(
            &s.endpoint("edit", "token"),
            Some(("native", SECRET)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", uri),
                ("code_verifier", &verifier),
            ],
        )
        .await;
        assert_eq!(
            r.status(),
            200,
            "{uri}: the code is redeemed with the URI it went to"
        );
    }
    for uri in [
        "http://127.0.0.1:53211/other",
        "http://127.0.0.1:53211/callback?x=1",
        "http://[::1]:8080/callback",
        "http://localhost:8080/callback",
        "http://127.0.0.1:53211@evil.example/callback",
        "https://127.0.0.1:53211/callback",
    ] {
        match login_at(&s, "native", uri, &challenge).await {
            Authz::ErrorPage { status, .. } => assert_eq!(status, 400, "{uri}"),
            other => panic!("{uri}: expected an error page, got {other:?}"),
        }
    }
});
