//! Refusals of the CA API that are precise and write nothing, including those of the issuance
//! policy.

use super::*;

/// A PEM CSR whose signature no longer verifies (last byte of the signature flipped).
fn corrupt_signature(pem: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut der = b64.decode(body).expect("base64");
    let last = der.len() - 1;
    der[last] ^= 0x01;
    format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        b64.encode(der)
    )
}

both_dbs!(refusals_are_precise_and_write_nothing, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    let ec = w.csr("ec", Key::P256);
    let rsa = w.csr("rsa", Key::Rsa(2048));
    let weak = w.csr("weak", Key::Rsa(1024));
    let bad_signature = corrupt_signature(&rsa);
    let (serial, _) = api.issue(ORG_CA, "SSL_SERV", &rsa, &server_subject()).await;
    let baseline = rows(&s).await;

    let with = |base: Value, k: &str, v: Value| {
        let mut b = base;
        b[k] = v;
        b
    };
    let ssl = server_subject();
    let cases: Vec<(&str, &str, &str, Value, String)> = vec![
        (
            ORG_CA,
            "SSL_SERV",
            &bad_signature[..],
            ssl.clone(),
            "the CSR signature does not verify (no proof of possession)".into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            "not a CSR",
            ssl.clone(),
            "the CSR is not a DER or PEM PKCS#10 request".into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &weak[..],
            ssl.clone(),
            "weak key: RSA 1024 bits (minimum 2048)".into(),
        ),
        (
            ORG_CA,
            "ORG_CONF",
            &ec[..],
            org_subject(json!({ "service_name": "Chiffrement" })),
            "key type p256 is not allowed by profile ORG_CONF (allowed: rsa2048, rsa3072, rsa4096)"
                .into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(ssl.clone(), "dns_names", json!(["srv..ch-test.fr"])),
            r#"forbidden name: "srv..ch-test.fr" is not a valid DNS name"#.into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(
                ssl.clone(),
                "dns_names",
                json!(["srv.ch-test.fr", "srv.*.ch-test.fr"]),
            ),
            r#"forbidden name: "srv.*.ch-test.fr" is not a valid DNS name"#.into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(ssl.clone(), "dns_names", json!(["*srv.ch-test.fr"])),
            r#"forbidden name: "*srv.ch-test.fr" is not a valid DNS name"#.into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(ssl.clone(), "dns_names", json!(["*.*.ch-test.fr"])),
            r#"forbidden name: "*.*.ch-test.fr" is not a valid DNS name"#.into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(ssl.clone(), "emails", json!(["it@ch-test.fr"])),
            "forbidden name: e-mail addresses are not allowed in this profile".into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(ssl.clone(), "dns_names", json!([])),
            "missing field: dns_names".into(),
        ),
        (
            ORG_CA,
            "SMIME_MSS",
            &ec[..],
            ssl.clone(),
            "missing field: emails".into(),
        ),
        (
            ORG_CA,
            "ORG_SIGN",
            &ec[..],
            with(ssl.clone(), "service_name", json!("Cachet")),
            "forbidden name: profile ORG_SIGN carries no subject alternative names".into(),
        ),
        (
            ORG_CA,
            "SSL_CLIENT",
            &ec[..],
            ssl.clone(),
            "unknown profile SSL_CLIENT".into(),
        ),
        (
            "MOD-EL-XXX-TEST",
            "SSL_SERV",
            &ec[..],
            ssl.clone(),
            "unknown CA MOD-EL-XXX-TEST".into(),
        ),
        // The production twin does not run beside the TEST CAs.
        (
            "MOD-EL-ORG",
            "SSL_SERV",
            &ec[..],
            ssl.clone(),
            "unknown CA MOD-EL-ORG".into(),
        ),
        (
            PER_CA,
            "SSL_SERV",
            &ec[..],
            ssl.clone(),
            format!("profile SSL_SERV is not issued by CA {PER_CA}"),
        ),
        (
            ROOT,
            "SSL_SERV",
            &ec[..],
            ssl.clone(),
            format!("profile SSL_SERV is not issued by CA {ROOT}"),
        ),
        (
            ORG_CA,
            "OCSP",
            &ec[..],
            ssl.clone(),
            "forbidden name: OCSP responder certificates are issued by coeur itself".into(),
        ),
    ];
    // Every case runs; the wrong answers are reported together at the end.
    let mut wrong = Vec::new();
    for (ca, profile, csr, subject, want) in cases {
        let (st, v) = api.submit(ca, profile, csr, &subject).await;
        if (st, v["error"].as_str(), v["error_description"].as_str())
            != (400, Some("invalid_request"), Some(want.as_str()))
        {
            wrong.push(format!(
                "{ca} {profile}: expected 400 {want:?}, got {st} {v}"
            ));
        }
        assert_eq!(rows(&s).await, baseline, "a refusal wrote: {want}");
    }
    let (st, v) = api
        .post(
            "/pki/api/v1/requests",
            &json!({ "ca": ORG_CA, "profile": "SSL_SERV", "csr": ec, "subject": ssl, "extra": 1 }),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown field"),
        "{v}"
    );

    // Authentication and scopes.
    let submit_body =
        json!({ "ca": ORG_CA, "profile": "SSL_SERV", "csr": ec, "subject": server_subject() });
    let r = api
        .http
        .post(api.url("/pki/api/v1/requests"))
        .json(&submit_body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_token");
    let (st, v) = api
        .post_as(Some("not-a-token"), "/pki/api/v1/requests", &submit_body)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("invalid_token")),
        "{v}"
    );
    // A token of another realm is not one of the CA realm's.
    register_ca_client(&s, "esante-wallet").await;
    let foreign = token(&s, "esante-wallet", "ca:request").await;
    let (st, v) = api
        .post_as(Some(&foreign), "/pki/api/v1/requests", &submit_body)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("invalid_token")),
        "{v}"
    );
    let read_only = token(&s, "edit", "ca:read").await;
    let r = api
        .http
        .post(api.url("/pki/api/v1/requests"))
        .bearer_auth(&read_only)
        .json(&submit_body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["www-authenticate"],
        r#"Bearer error="insufficient_scope", scope="ca:request""#
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "insufficient_scope");
    let requester = token(&s, "edit", "ca:request").await;
    let revoke_path = format!("/pki/api/v1/certificates/{ORG_CA}/{serial}/revoke");
    let (st, v) = api
        .post_as(
            Some(&requester),
            &revoke_path,
            &json!({ "reason": "keyCompromise" }),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (403, Some("insufficient_scope")),
        "{v}"
    );
    let r = api
        .http
        .get(api.url("/pki/api/v1/certificates"))
        .bearer_auth(&requester)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = api
        .http
        .get(api.url("/pki/api/v1/certificates"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(rows(&s).await, baseline);

    // Revocation refusals.
    let (st, v) = api.revoke(ORG_CA, &serial, "sleepy").await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    let (st, v) = api
        .revoke(ORG_CA, "1234567890abcdef1234", "keyCompromise")
        .await;
    assert_eq!((st, v["error"].as_str()), (404, Some("not_found")), "{v}");
    let (st, v) = api.revoke(PER_CA, &serial, "keyCompromise").await;
    assert_eq!(
        (st, v["error"].as_str()),
        (404, Some("not_found")),
        "another CA's serial: {v}"
    );
    let (st, _) = api
        .get_raw(&format!(
            "/pki/api/v1/certificates/{ORG_CA}/1234567890abcdef1234"
        ))
        .await;
    assert_eq!(st, 404);
    assert_eq!(rows(&s).await, baseline);
    let (st, v) = api.revoke(ORG_CA, &serial, "keyCompromise").await;
    assert_eq!(st, 200, "{v}");
    let revoked = rows(&s).await;
    assert_eq!(
        revoked,
        (baseline.0, baseline.1, baseline.2 + 1),
        "one audit record"
    );
    let (st, v) = api.revoke(ORG_CA, &serial, "superseded").await;
    assert_eq!(
        (st, v["error"].as_str()),
        (409, Some("already_revoked")),
        "{v}"
    );
    assert_eq!(rows(&s).await, revoked);
    let reason: i64 =
        sqlx::query("SELECT reason FROM certificates WHERE ca_id = $1 AND serial = $2")
            .bind(ORG_CA)
            .bind(&serial)
            .fetch_one(s.state.store.db().pool())
            .await
            .unwrap()
            .try_get("reason")
            .unwrap();
    assert_eq!(reason, 1, "the first reason (keyCompromise) stays");
    assert!(
        wrong.is_empty(),
        "imprecise refusals:\n{}",
        wrong.join("\n")
    );
});

/// Refuses server certificates (`SSL_SERV`), allows the rest.
struct NoServerCertificates;

impl coeur::ca::policy::IssuancePolicy for NoServerCertificates {
    fn may_request(
        &self,
        caller: &coeur::ca::policy::Caller,
        r: &coeur::ca::policy::RequestScope<'_>,
    ) -> Result<(), coeur::ca::policy::PolicyRefusal> {
        if r.profile == "SSL_SERV" {
            return Err(coeur::ca::policy::PolicyRefusal(format!(
                "{} may not ask for server certificates for {}",
                caller.client_id,
                r.dns_names.join(", ")
            )));
        }
        Ok(())
    }
}

both_dbs!(issuance_policy_refuses_before_writing, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    // The same CA, served with a policy that refuses server certificates.
    let cfg = &s.app.cfg;
    let settings = coeur::ca::CaSettings {
        pki_dir: cfg.pki_dir.clone(),
        hierarchy: cfg.pki_hierarchy.clone(),
        environment: s.state.ca.ca.environment,
        ldap_base_dn: cfg.ldap_base_dn.clone(),
        public_url: cfg.public_url.clone(),
        crl_dir: cfg.crl_dir.clone(),
        realm: cfg.ca_realm.clone(),
        external: cfg.external.clone(),
        ldap: None,
    };
    let ca = coeur::ca::CaService::open(
        settings,
        s.ca.store.db().clone(),
        s.ca.keys.clone(),
        s.ca.clock.clone(),
        s.ca.rng.clone(),
        s.ca.verifier.clone(),
    )
    .await
    .expect("CA")
    .with_policy(std::sync::Arc::new(NoServerCertificates));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = coeur::ca::http::router(std::sync::Arc::new(ca));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let w = Work::new();
    let csr = w.csr("srv", Key::P256);
    let before = rows(&s).await;
    let post = |body: Value| {
        let (http, token, url) = (
            api.http.clone(),
            api.token.clone(),
            format!("{base}/pki/api/v1/requests"),
        );
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("post");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let refused = json!({
        "error": "access_denied",
        "error_description":
            "ca-client may not ask for server certificates for srv.ch-test.fr, www.ch-test.fr",
    });
    let (st, v) = post(json!({
        "ca": ORG_CA, "profile": "SSL_SERV", "csr": csr, "subject": server_subject(),
    }))
    .await;
    assert_eq!((st, &v), (403, &refused), "CSR path");
    let (st, v) = post(json!({
        "ca": ORG_CA, "profile": "SSL_SERV", "subject": server_subject(),
        "generate_key": { "key_type": "p256", "password": "1234" },
    }))
    .await;
    assert_eq!((st, &v), (403, &refused), "generated-key path");
    assert_eq!(rows(&s).await, before, "a refusal writes nothing");
    // What the policy allows goes through as before.
    let client_csr = w.csr("cli", Key::P256);
    let (st, v) = post(json!({
        "ca": ORG_CA, "profile": "ORG_AUTH_CLI", "csr": client_csr,
        "subject": org_subject(json!({ "service_name": "INSI-AUTO" })),
    }))
    .await;
    assert_eq!((st, v["status"].as_str()), (201, Some("issued")), "{v}");
    server.abort();
});
