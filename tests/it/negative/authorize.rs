//! The authorization endpoint and the wallet page: untrusted clients and redirect URIs get an
//! error page, the rest an error redirect.

use super::*;

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
    // (case, national id, method, status, what the page says, about the national id field)
    for (what, id, method, status, reason, on_field) in [
        (
            "inactive identity",
            inactive.as_str(),
            "test",
            403,
            "login.inactive_identity",
            true,
        ),
        (
            "unknown national id",
            unknown.as_str(),
            "test",
            400,
            "login.unknown_identity",
            true,
        ),
        (
            "bad Luhn key",
            bad_key.as_str(),
            "test",
            400,
            "national_id.rpps_key",
            true,
        ),
        (
            "too short",
            "89970021889",
            "test",
            400,
            "national_id.rpps_format",
            true,
        ),
        (
            "empty national id",
            "",
            "test",
            400,
            "national_id.empty",
            true,
        ),
        (
            "unknown method",
            NATIONAL_ID,
            "password",
            400,
            "login.not_offered",
            false,
        ),
        (
            "no method",
            NATIONAL_ID,
            "",
            400,
            "login.not_offered",
            false,
        ),
    ] {
        let r = b.login(&s.base, &page, id, method).await;
        let html = expect_page(r, status, what).await;
        assert!(html.contains(&fr(reason)), "{what}: the page says why");
        // A reason about the national id is tied to its field, for screen readers too.
        let tied = html.contains("aria-invalid=\"true\"")
            && html.contains("aria-describedby=\"national_id-hint national_id-error\"")
            && html.contains("id=\"national_id-error\"");
        assert_eq!(tied, on_field, "{what}: reason tied to the field: {html}");
    }
    // The pending request belongs to the browser that started it.
    let stranger = s.browser();
    let r = stranger.login(&s.base, &page, NATIONAL_ID, "test").await;
    let html = expect_page(r, 400, "no login cookie").await;
    assert!(
        html.contains(&fr("error.other_browser.message")),
        "no login cookie: why"
    );
    let other = s.browser();
    let own = other.authorize(&authz(&s, "edit", "rp", &[])).await;
    assert!(matches!(own, Authz::LoginPage { .. }));
    let r = other.login(&s.base, &page, NATIONAL_ID, "test").await;
    let html = expect_page(r, 400, "another browser's login cookie").await;
    assert!(
        html.contains(&fr("error.other_browser.message")),
        "foreign cookie: why"
    );
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
    assert!(
        html.contains(&fr("error.page_expired.message")),
        "replay: why"
    );
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
