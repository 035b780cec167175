//! The happy flows and what every request of them must get right: `oidcc-server`,
//! `oidcc-response-type-missing`, `oidcc-alternate-happy-flow`,
//! `oidcc-ensure-registered-redirect-uri`, `oidcc-ensure-post-request-succeeds`,
//! `oidcc-server-client-secret-post`, `oidcc-ensure-request-with-valid-pkce-succeeds`.

use super::*;

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
