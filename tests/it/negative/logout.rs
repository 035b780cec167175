//! RP-initiated logout.

use super::*;

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
