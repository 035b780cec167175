//! Codes and refresh tokens: `oidcc-codereuse(-30seconds)`, `oidcc-refresh-token`, and the
//! entropy of what the server hands out.

use super::*;

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
