//! ID tokens: `oidcc-idtoken-signature`, `oidcc-idtoken-unsigned`, `oidcc-id-token-hint`.

use super::*;

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
