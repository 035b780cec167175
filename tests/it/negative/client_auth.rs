//! Client authentication at the token endpoint: secrets and `private_key_jwt` assertions.

use super::*;

/// Encodings of the public key an attacker could try as an HMAC secret.
fn public_encodings(key: &ClientKey) -> Vec<Vec<u8>> {
    let coord = |k: &str| {
        URL_SAFE_NO_PAD
            .decode(key.jwk[k].as_str().expect("coordinate"))
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
        key.jwk.to_string().into_bytes(),
    ]
}

fn hex_bytes(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

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
    for secret in public_encodings(&key) {
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
