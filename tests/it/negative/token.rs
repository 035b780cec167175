//! The token endpoint's grants: codes and refresh tokens.

use super::*;

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
