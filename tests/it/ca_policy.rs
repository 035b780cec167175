//! The CA's issuance policy and the sandbox/production boundary, end to end: a sandbox client
//! asks only for what its registration entitles it to; card profiles never come from the API;
//! a refused request writes nothing; certificates of the TEST CAs are not trusted by a
//! production realm for `tls_client_auth`; and the server refuses to start with a CA realm of
//! the other environment than its CAs.

use crate::both_dbs;
use crate::mtls::{mtls_client, wait_for_card_listener};
use crate::support::*;
use coeur::oauth::client::{CaEntitlements, GrantType, TokenAuthMethod};
use serde_json::{Value, json};
use sqlx::Row as _;

const ORG_CA: &str = "MOD-EL-ORG-TEST";
const PER_CA: &str = "MOD-EL-PER-TEST";
const STRUCTURE_ID: &str = "318751275100020";
const OTHER_STRUCTURE: &str = "110000015";

/// Registers `client_id` in the sandbox realm with `ca:request` and `entitlements`.
async fn ca_client(s: &TestServer, client_id: &str, entitlements: Option<CaEntitlements>) {
    let mut spec = rp_spec(client_id);
    spec.scopes = vec!["ca:request".into()];
    spec.grant_types = vec![GrantType::ClientCredentials];
    spec.ca = entitlements;
    s.add_client("edit", spec, Some(SECRET)).await;
}

fn entitled() -> Option<CaEntitlements> {
    Some(CaEntitlements {
        structures: vec![STRUCTURE_ID.into()],
        dns_suffixes: vec!["lps-editeur.fr".into()],
    })
}

/// Rows of the CA's tables: (certificates, requests, audit records).
async fn rows(s: &TestServer) -> (i64, i64, i64) {
    let pool = s.state.store.db().pool();
    let mut out = Vec::new();
    for sql in [
        "SELECT COUNT(*) AS n FROM certificates",
        "SELECT COUNT(*) AS n FROM cert_requests",
        "SELECT COUNT(*) AS n FROM audit_log",
    ] {
        let r = sqlx::query(sql).fetch_one(pool).await.expect("count");
        out.push(r.try_get::<i64, _>("n").expect("count"));
    }
    (out[0], out[1], out[2])
}

/// A P-256 key and its CSR (PEM).
fn key_and_csr() -> (rcgen::KeyPair, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("params")
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem");
    (key, csr)
}

/// POSTs a request to the CA API with `token`: (status, body).
async fn submit(s: &TestServer, token: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/pki/api/v1/requests", s.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn server(structure: &str, dns: &[&str]) -> Value {
    json!({
        "structure_id": structure, "organization": "EDITEUR TEST", "state": "Paris (75)",
        "dns_names": dns,
    })
}

/// Asserts a 403 `access_denied` saying `why`.
fn assert_denied((status, v): &(u16, Value), why: &str) {
    assert_eq!(*status, 403, "{v}");
    assert_eq!(v["error"], "access_denied", "{v}");
    assert_eq!(v["error_description"], why, "{v}");
}

both_dbs!(
    requests_outside_the_entitlements_write_nothing,
    |db| async move {
        let s = TestServer::start(db).await;
        ca_client(&s, "lps", entitled()).await;
        ca_client(&s, "no-rights", None).await;
        let token = s
            .client_credentials_token("edit", "lps", "ca:request")
            .await;
        let (_, csr) = key_and_csr();
        let before = rows(&s).await;
        let ask = |subject: Value| json!({ "ca": ORG_CA, "profile": "SSL_SERV", "csr": csr, "subject": subject });

        // A production service's name, a wildcard on a public suffix, another structure.
        let r = submit(
            &s,
            &token,
            ask(server(STRUCTURE_ID, &["esante-wallet.gouv.fr"])),
        )
        .await;
        assert_denied(
            &r,
            "client lps is not entitled to request certificates for esante-wallet.gouv.fr",
        );
        let r = submit(&s, &token, ask(server(STRUCTURE_ID, &["*.gouv.fr"]))).await;
        assert_denied(
            &r,
            "client lps is not entitled to request certificates for *.gouv.fr",
        );
        let r = submit(
            &s,
            &token,
            ask(server(OTHER_STRUCTURE, &["www.lps-editeur.fr"])),
        )
        .await;
        assert_denied(
            &r,
            &format!(
                "client lps is not entitled to request certificates for structure {OTHER_STRUCTURE}"
            ),
        );
        // The generated-key path is held to the same policy.
        let r = submit(
        &s,
        &token,
        json!({
            "ca": ORG_CA, "profile": "SSL_SERV", "subject": server(STRUCTURE_ID, &["x.gouv.fr"]),
            "generate_key": { "key_type": "p256", "password": "1234" },
        }),
    )
    .await;
        assert_denied(
            &r,
            "client lps is not entitled to request certificates for x.gouv.fr",
        );
        // A client holding ca:request but no entitlements gets nothing.
        let bare = s
            .client_credentials_token("edit", "no-rights", "ca:request")
            .await;
        let r = submit(
            &s,
            &bare,
            ask(server(STRUCTURE_ID, &["www.lps-editeur.fr"])),
        )
        .await;
        assert_denied(
            &r,
            "client no-rights is not entitled to request certificates",
        );
        assert_eq!(rows(&s).await, before, "a refusal writes nothing");

        // What the registration entitles is issued.
        let (st, v) = submit(
            &s,
            &token,
            ask(server(STRUCTURE_ID, &["www.lps-editeur.fr"])),
        )
        .await;
        assert_eq!((st, v["status"].as_str()), (201, Some("issued")), "{v}");
    }
);

both_dbs!(card_profiles_never_come_from_the_api, |db| async move {
    let s = TestServer::start(db).await;
    ca_client(&s, "lps", entitled()).await;
    let token = s
        .client_credentials_token("edit", "lps", "ca:request")
        .await;
    let (_, csr) = key_and_csr();
    let before = rows(&s).await;
    let person = json!({
        "national_id": NATIONAL_ID, "family_name": "MARTIN", "given_name": "CLAIRE",
    });
    for profile in ["CPS_AUTH", "CPS_SIGN"] {
        let why = format!(
            "profile {profile} is not issued through the API: cards come from the card lifecycle"
        );
        let r = submit(
            &s,
            &token,
            json!({ "ca": PER_CA, "profile": profile, "csr": csr, "subject": person }),
        )
        .await;
        assert_denied(&r, &why);
        let r = submit(
            &s,
            &token,
            json!({
                "ca": PER_CA, "profile": profile, "subject": person,
                "generate_key": { "key_type": "p256", "password": "1234" },
            }),
        )
        .await;
        assert_denied(&r, &why);
    }
    assert_eq!(rows(&s).await, before, "a refusal writes nothing");
});

both_dbs!(
    test_certificates_do_not_authenticate_production_clients,
    |db| async move {
        let s = TestServer::start(db).await;
        wait_for_card_listener(&s).await;
        ca_client(&s, "lps", entitled()).await;
        let token = s
            .client_credentials_token("edit", "lps", "ca:request")
            .await;
        let (key, csr) = key_and_csr();
        let name = "api.lps-editeur.fr";
        let (st, v) = submit(
        &s,
        &token,
        json!({ "ca": ORG_CA, "profile": "SSL_SERV", "csr": csr, "subject": server(STRUCTURE_ID, &[name]) }),
    )
    .await;
        assert_eq!((st, v["status"].as_str()), (201, Some("issued")), "{v}");
        let mut identity = v["certificate"].as_str().expect("certificate").to_owned();
        identity.push_str(&key.serialize_pem());

        // The same registration in both realms: tls_client_auth by the certificate's DNS name.
        let mut spec = rp_spec("service");
        spec.token_endpoint_auth_method = TokenAuthMethod::TlsClientAuth;
        spec.tls_client_auth_san_dns = Some(name.into());
        spec.grant_types = vec![GrantType::ClientCredentials];
        s.add_client("edit", spec.clone(), None).await;
        s.add_client("esante-wallet", spec, None).await;
        let grant = |realm: &str| {
            let url = format!(
                "{}/auth/realms/{realm}/protocol/openid-connect/token",
                s.card_base()
            );
            let client = mtls_client(&s, Some(&identity));
            async move {
                let r = client
                    .post(url)
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", "service"),
                    ])
                    .send()
                    .await
                    .expect("token endpoint");
                (r.status().as_u16(), r.json::<Value>().await.expect("json"))
            }
        };
        let (st, v) = grant("edit").await;
        assert_eq!(st, 200, "the sandbox trusts its TEST CAs: {v}");
        let (st, v) = grant("esante-wallet").await;
        assert_eq!(
            (st, v["error"].as_str()),
            (401, Some("invalid_client")),
            "{v}"
        );
        assert!(
            v["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("client certificate refused")),
            "{v}"
        );
    }
);

both_dbs!(startup_refuses_to_cross_the_boundary, |db| async move {
    let refusal = |production: bool, realm: &'static str| async move {
        match TestServer::try_start_with(db, &realms_dir(), |o| {
            o.common.pki_production = Some(production);
            o.common.ca_realm = Some(realm.into());
        })
        .await
        {
            Ok(_) => panic!("started with pki_production = {production} and ca_realm {realm}"),
            Err(e) => format!("{e:#}"),
        }
    };
    let e = refusal(true, "edit").await;
    assert!(
        e.contains("ca_realm edit is a sandbox (TEST) realm but pki_production = true runs the production CAs"),
        "{e}"
    );
    let e = refusal(false, "esante-wallet").await;
    assert!(
        e.contains("ca_realm esante-wallet is a production realm but pki_production = false runs the sandbox (TEST) CAs"),
        "{e}"
    );
});

both_dbs!(
    certificate_hold_is_refused_and_writes_nothing,
    |db| async move {
        let s = TestServer::start(db).await;
        let mut spec = rp_spec("operator");
        spec.scopes = vec!["ca:request".into(), "ca:revoke".into()];
        spec.grant_types = vec![GrantType::ClientCredentials];
        spec.ca = entitled();
        s.add_client("edit", spec, Some(SECRET)).await;
        let token = s
            .client_credentials_token("edit", "operator", "ca:request ca:revoke")
            .await;
        let (_, csr) = key_and_csr();
        let (st, v) = submit(
        &s,
        &token,
        json!({ "ca": ORG_CA, "profile": "SSL_SERV", "csr": csr, "subject": server(STRUCTURE_ID, &["www.lps-editeur.fr"]) }),
    )
    .await;
        assert_eq!(st, 201, "{v}");
        let serial = v["serial"].as_str().expect("serial").to_owned();
        let before = rows(&s).await;
        let revoke = |reason: &'static str| {
            let (url, token) = (
                format!(
                    "{}/pki/api/v1/certificates/{ORG_CA}/{serial}/revoke",
                    s.base
                ),
                token.clone(),
            );
            async move {
                let r = reqwest::Client::new()
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "reason": reason }))
                    .send()
                    .await
                    .expect("revoke");
                (r.status().as_u16(), r.json::<Value>().await.expect("json"))
            }
        };
        let (st, v) = revoke("certificateHold").await;
        assert_eq!(
            (st, v["error"].as_str()),
            (400, Some("invalid_request")),
            "{v}"
        );
        assert_eq!(
            v["error_description"],
            "certificateHold is not supported (a hold could not be lifted): revoke with another reason"
        );
        assert_eq!(rows(&s).await, before, "a refusal writes nothing");
        assert_eq!(
            s.ca.ca
                .revocation(&s.ca.store, ORG_CA, &serial)
                .await
                .expect("state"),
            None,
            "still valid"
        );
        let (st, v) = revoke("superseded").await;
        assert_eq!((st, v["status"].as_str()), (200, Some("revoked")), "{v}");
    }
);
