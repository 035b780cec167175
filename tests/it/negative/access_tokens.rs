//! Access tokens where they are used: userinfo, introspection and revocation, and key rotation
//! that keeps earlier tokens valid.

use super::*;

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
        .await
        .expect("rotate");
    s.state.refresh_ring(&rt).await.expect("reload");
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
    // The store's latest version of the ring holds the new next key, sealed; nothing on disk.
    let (_, ring) = coeur::storage::store::KeyRows::new(s.ca.store.db().clone())
        .latest_ring("edit")
        .await
        .expect("ring")
        .expect("a ring in the store");
    assert!(ring.contains(&new_next), "new next key stored");
    assert!(!ring.contains("PRIVATE KEY"), "no clear key stored");
    assert!(
        !s.dir.path().join("keys/realms").exists(),
        "no key ring file"
    );

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
