//! RFC 8705 on the card listener (the mutual-TLS endpoint aliases): `tls_client_auth` with
//! certificates from coeur's ORGANISATIONS CAs, and certificate-bound access tokens.

use crate::both_dbs;
use crate::support::*;
use coeur::common::random::Clock as _;
use coeur::oauth::client::{GrantType, TokenAuthMethod};
use coeur::pki::csr::SubjectRequest;
use x509_parser::prelude::FromDer as _;

/// An organisation's client certificate from `MOD-EL-ORG-TEST`: (identity PEM, subject DN).
pub(crate) async fn org_client_cert(s: &TestServer, service: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("params")
        .serialize_request(&key)
        .expect("csr")
        .der()
        .to_vec();
    let subject = SubjectRequest {
        structure_id: Some("318751275100020".into()),
        organization: Some("EDITEUR TEST".into()),
        state: Some("Paris (75)".into()),
        service_name: Some(service.into()),
        ..Default::default()
    };
    let ca = &s.state.ca.ca;
    let approved = ca
        .check("MOD-EL-ORG-TEST", "ORG_AUTH_CLI", &csr, &subject)
        .expect("policy");
    let (_, der) = ca
        .issue(
            &*s.state.rng,
            &coeur::ca::ca::Issuance {
                approved: &approved,
                ca_id: "MOD-EL-ORG-TEST",
                profile: "ORG_AUTH_CLI",
                actor: "test",
                request: None,
            },
            s.clock.now(),
        )
        .await
        .expect("issue");
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der).expect("parse");
    let dn = cert.subject().to_string();
    let mut pem = coeur::ca::ca::cert_pem(&der);
    pem.push_str(&key.serialize_pem());
    (pem, dn)
}

pub(crate) fn mtls_client(s: &TestServer, identity: Option<&str>) -> reqwest::Client {
    let root = std::fs::read(s.app.cfg.crl_dir.join("coeur-root.pem"))
        .expect("root written by the card listener");
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&root).expect("root"));
    if let Some(p) = identity {
        b = b.identity(reqwest::Identity::from_pem(p.as_bytes()).expect("identity"));
    }
    b.build().expect("client")
}

pub(crate) async fn wait_for_card_listener(s: &TestServer) {
    for _ in 0..100 {
        if s.app.cfg.crl_dir.join("coeur-root.pem").exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("card listener did not start");
}

pub(crate) fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    let p = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .expect("b64"),
    )
    .expect("json")
}

both_dbs!(tls_client_auth_and_bound_tokens, |db| async move {
    let s = TestServer::start(db).await;
    wait_for_card_listener(&s).await;
    let (identity, dn) = org_client_cert(&s, "lps-editeur").await;
    let (other_identity, _) = org_client_cert(&s, "another-service").await;
    let mut spec = rp_spec("lps");
    spec.token_endpoint_auth_method = TokenAuthMethod::TlsClientAuth;
    spec.tls_client_auth_subject_dn = Some(dn.clone());
    spec.grant_types = vec![
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];
    s.add_client("edit", spec, None).await;
    let mtls_token = format!(
        "{}/auth/realms/edit/protocol/openid-connect/token",
        s.card_base()
    );
    let mtls_userinfo = format!(
        "{}/auth/realms/edit/protocol/openid-connect/userinfo",
        s.card_base()
    );

    // Discovery advertises the aliases and binding.
    let d: serde_json::Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        s.issuer("edit")
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(d["tls_client_certificate_bound_access_tokens"], true);
    assert_eq!(
        d["mtls_endpoint_aliases"]["token_endpoint"],
        mtls_token.as_str()
    );
    assert!(
        d["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "tls_client_auth")
    );

    // Client credentials with the registered certificate: a bound token.
    let r = mtls_client(&s, Some(&identity))
        .post(&mtls_token)
        .form(&[("grant_type", "client_credentials"), ("client_id", "lps")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: serde_json::Value = r.json().await.unwrap();
    let thumb = claims(t["access_token"].as_str().unwrap())["cnf"]["x5t#S256"]
        .as_str()
        .expect("cnf")
        .to_owned();
    assert_eq!(thumb.len(), 43);

    // Another organisation certificate, no certificate, or the plain listener: refused.
    for (client, url) in [
        (mtls_client(&s, Some(&other_identity)), mtls_token.clone()),
        (mtls_client(&s, None), mtls_token.clone()),
        (reqwest::Client::new(), s.endpoint("edit", "token")),
    ] {
        let r = client
            .post(&url)
            .form(&[("grant_type", "client_credentials"), ("client_id", "lps")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{url}");
        let e: serde_json::Value = r.json().await.unwrap();
        assert_eq!(e["error"], "invalid_client");
        assert!(e.get("access_token").is_none());
    }

    // A user's token from the code flow, redeemed over mutual TLS, is bound to the certificate.
    let b = s.browser();
    let page = b
        .authorize(&authz_url(
            &s,
            "edit",
            &[
                ("client_id", "lps"),
                ("response_type", "code"),
                ("scope", "openid scope_all"),
                ("redirect_uri", REDIRECT),
                ("state", "x"),
            ],
        ))
        .await;
    let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
    assert_eq!(r.status(), 303);
    let code = param(&location(&r), "code").expect("code");
    let r = mtls_client(&s, Some(&identity))
        .post(&mtls_token)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "lps"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: serde_json::Value = r.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&at)["cnf"]["x5t#S256"], thumb.as_str());

    // Userinfo: with the certificate it answers; replayed without it, or with another one, it
    // refuses the token.
    let r = mtls_client(&s, Some(&identity))
        .get(&mtls_userinfo)
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let u: serde_json::Value = r.json().await.unwrap();
    assert_eq!(u["SubjectNameID"], NATIONAL_ID);
    for (client, url) in [
        (reqwest::Client::new(), s.endpoint("edit", "userinfo")),
        (mtls_client(&s, None), mtls_userinfo.clone()),
        (
            mtls_client(&s, Some(&other_identity)),
            mtls_userinfo.clone(),
        ),
    ] {
        let r = client.get(&url).bearer_auth(&at).send().await.unwrap();
        assert_eq!(r.status(), 401, "{url}");
        assert!(
            r.headers()
                .get("www-authenticate")
                .is_some_and(|v| v.to_str().unwrap().contains("invalid_token"))
        );
    }

    // Introspection reports the binding to the token's resource servers.
    let mut rs = rp_spec("rs");
    rs.resource_server_for = vec!["lps".into()];
    s.add_client("edit", rs, Some(SECRET)).await;
    let r = reqwest::Client::new()
        .post(s.endpoint("edit", "token/introspect"))
        .basic_auth("rs", Some(SECRET))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    let i: serde_json::Value = r.json().await.unwrap();
    assert_eq!(i["active"], true);
    assert_eq!(i["cnf"]["x5t#S256"], thumb.as_str());

    // A revoked client certificate no longer authenticates.
    let serial = {
        let pem = identity.split("-----END CERTIFICATE-----").next().unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let (_, c) = x509_parser::certificate::X509Certificate::from_der(&der).unwrap();
        c.raw_serial()
            .iter()
            .skip_while(|b| **b == 0)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    s.state
        .ca
        .ca
        .revoke(
            &s.ca.store,
            "MOD-EL-ORG-TEST",
            &serial,
            coeur::pki::revocation::Reason::KeyCompromise,
            "test",
            s.clock.now(),
        )
        .await
        .expect("revoke");
    let r = mtls_client(&s, Some(&identity))
        .post(&mtls_token)
        .form(&[("grant_type", "client_credentials"), ("client_id", "lps")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
});
