//! The CA certificates of both hierarchies (ECDSA on both databases, RSA once), checked with
//! openssl and linted.

use super::lint::{LintJob, lint_all};
use super::*;

/// Checks every CA of the running hierarchy (roots, issuing CAs, their OCSP responders, the
/// roots' ARLs) with openssl and lint_pkix_cert / lint_crl. `key` is what `openssl x509 -text`
/// prints for the roots' key and signature algorithm, then for the issuing CAs'.
async fn check_hierarchy(s: &TestServer, api: &Api<'_>, w: &Work, key: [&str; 4]) {
    let ca = &s.state.ca.ca;
    let h = &ca.hierarchy;
    let mut ids: Vec<&String> = ca.cas.keys().collect();
    ids.sort_by_key(|id| (!ca.cas[*id].def.is_root(), id.as_str()));
    assert_eq!(ids.len(), 9, "3 roots and 6 issuing CAs: {ids:?}");
    let mut jobs = Vec::new();
    for id in &ids {
        let def = &ca.cas[*id].def;
        assert!(
            def.test && id.ends_with("-TEST"),
            "the TEST twins run: {id}"
        );
        let pem = api.get(&format!("/pki/ca/{id}.pem")).await;
        let file = format!("{id}.pem");
        let path = w.write(&file, &pem);
        w.write(
            &format!("{id}.cer"),
            api.get(&format!("/pki/ca/{id}.cer")).await,
        );
        let from_der = w.openssl_ok(&["x509", "-inform", "DER", "-in", &format!("{id}.cer")]);
        assert_eq!(from_der.as_bytes(), &pem[..], "{id}: .cer and .pem differ");
        let subject = w.x509(&file, &["-subject"]);
        let dn = format!(
            "subject=CN={},OU={} TEST,OU={},O={},C=FR",
            def.cn, h.label, h.organization_identifier, h.organization
        );
        assert_eq!(subject.trim(), dn, "{id}");
        let types = w.x509(&file, &["-subject", "-nameopt", "multiline,show_type"]);
        assert!(
            types.contains("countryName               = PRINTABLESTRING:FR"),
            "{types}"
        );
        assert_eq!(types.matches("UTF8STRING").count(), 4, "{types}");
        let all = w.x509(&file, &["-text"]);
        let ext = w.x509(
            &file,
            &["-ext", "basicConstraints,keyUsage,extendedKeyUsage"],
        );
        assert!(
            ext.contains("Key Usage: critical\n    Certificate Sign, CRL Sign\n"),
            "{id}: {ext}"
        );
        assert!(!ext.contains("Extended Key Usage"), "{id}: {ext}");
        match &def.parent {
            None => {
                let o = w.verify(&file, &file, &file, &[]);
                assert!(o.status.success(), "{id}: {}", text(&o));
                assert!(
                    ext.contains("Basic Constraints: critical\n    CA:TRUE\n"),
                    "{id}: {ext}"
                );
                assert!(all.contains(key[0]) && all.contains(key[1]), "{id}: {all}");
                assert!(!all.contains("CRL Distribution Points"), "{id}");
                // The root's ARL: signed by the root, lint-clean.
                let arl = w.write(
                    &format!("{id}.crl"),
                    api.get(&format!("/pki/crl/{id}.crl")).await,
                );
                w.openssl_ok(&[
                    "crl",
                    "-inform",
                    "DER",
                    "-in",
                    &format!("{id}.crl"),
                    "-CAfile",
                    &file,
                    "-noout",
                ]);
                jobs.push(LintJob::new("lint_crl", &["-t", "ARL", "-p", "PKIX"], arl));
            }
            Some(parent) => {
                let o = w.verify(&format!("{parent}.pem"), &file, &file, &[]);
                assert!(o.status.success(), "{id}: {}", text(&o));
                assert!(
                    ext.contains("Basic Constraints: critical\n    CA:TRUE, pathlen:0\n"),
                    "{id}: {ext}"
                );
                assert!(all.contains(key[2]) && all.contains(key[3]), "{id}: {all}");
                let dp = w.x509(&file, &["-ext", "crlDistributionPoints"]);
                assert_eq!(
                    first_http_uri(&dp),
                    format!("{}/pki/crl/{parent}.crl", s.base)
                );
                let aia = w.x509(&file, &["-ext", "authorityInfoAccess"]);
                assert!(
                    aia.contains(&format!("CA Issuers - URI:{}/pki/ca/{parent}.cer", s.base)),
                    "{aia}"
                );
                let p7 = w.write(
                    &format!("{id}.p7b"),
                    api.get(&format!("/pki/chain/{id}.p7b")).await,
                );
                let certs = w.openssl_ok(&[
                    "pkcs7",
                    "-inform",
                    "DER",
                    "-in",
                    p7.to_str().unwrap(),
                    "-print_certs",
                    "-noout",
                ]);
                let subjects: Vec<&str> = certs
                    .lines()
                    .filter(|l| l.starts_with("subject="))
                    .collect();
                assert_eq!(subjects.len(), 2, "{certs}");
                assert!(subjects[0].ends_with(&def.cn), "{certs}");
            }
        }
        jobs.push(LintJob::new("lint_pkix_cert", &[], path));
    }
    // Delegated OCSP responders, one per issuing CA.
    let responders =
        sqlx::query("SELECT ca_id, der FROM ca_certs WHERE ca_id LIKE '%-OCSP' ORDER BY ca_id")
            .fetch_all(s.state.store.db().pool())
            .await
            .expect("responders");
    assert_eq!(responders.len(), 6);
    for r in responders {
        use base64::Engine as _;
        let rid: String = r.try_get("ca_id").unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(r.try_get::<String, _>("der").unwrap())
            .unwrap();
        let issuing = rid.trim_end_matches("-OCSP");
        let parent = ca.cas[issuing].def.parent.clone().unwrap();
        w.write(&format!("{rid}.der"), &der);
        let file = format!("{rid}.pem");
        let path = w.write(
            &file,
            w.openssl_ok(&["x509", "-inform", "DER", "-in", &format!("{rid}.der")]),
        );
        let o = w.verify(
            &format!("{parent}.pem"),
            &format!("{issuing}.pem"),
            &file,
            &["-purpose", "ocsphelper"],
        );
        assert!(o.status.success(), "{rid}: {}", text(&o));
        let ext = w.x509(&file, &["-ext", "extendedKeyUsage,keyUsage,noCheck"]);
        assert!(ext.contains("OCSP Signing"), "{rid}: {ext}");
        assert!(ext.contains("OCSP No Check"), "{rid}: {ext}");
        jobs.push(LintJob::new("lint_pkix_cert", &[], path));
    }
    lint_all(&jobs);
}

both_dbs!(modern_ca_certificates, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    check_hierarchy(
        &s,
        &api,
        &w,
        [
            "ASN1 OID: secp384r1",
            "ecdsa-with-SHA384",
            "ASN1 OID: prime256v1",
            "ecdsa-with-SHA384",
        ],
    )
    .await;
});

/// The RSA hierarchy, once: SQLite only, since generating nine RSA-4096 CA keys takes tens of
/// seconds in a debug build, and what depends on the database (storing CA certificates) is
/// covered on both databases by `modern_ca_certificates`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn igc_sante_ca_certificates_sqlite() {
    let s = TestServer::start_with(Db::Sqlite, &realms_dir(), |o| {
        o.common.pki_hierarchy = Some("igc-sante".into());
    })
    .await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    check_hierarchy(
        &s,
        &api,
        &w,
        [
            "Public-Key: (4096 bit)",
            "sha256WithRSAEncryption",
            "Public-Key: (4096 bit)",
            "sha256WithRSAEncryption",
        ],
    )
    .await;
    assert!(w.x509("ACR-EL-TEST.pem", &["-subject"]).contains(
        "CN=TEST AC RACINE IGC-SANTE ELEMENTAIRE,OU=IGC-SANTE TEST,OU=0002 187512751,O=ASIP-SANTE,C=FR"
    ));
    // A leaf of the RSA hierarchy, and its OCSP status from the P-256 responder.
    let csr = w.csr("sign", Key::Rsa(2048));
    let subject = org_subject(json!({ "service_name": "Cachet DMP" }));
    let (_, pem) = api
        .issue("ACI-EL-ORG-TEST", "ORG_SIGN", &csr, &subject)
        .await;
    let leaf = w.write("sign.pem", &pem);
    let o = w.verify("ACR-EL-TEST.pem", "ACI-EL-ORG-TEST.pem", "sign.pem", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        w.x509("sign.pem", &["-ext", "certificatePolicies"])
            .contains("Policy: 1.2.250.1.213.1.7.2.1.1.1.1")
    );
    lint_all(&[LintJob::new("lint_pkix_cert", &[], leaf)]);
    let chain = [w.read("ACI-EL-ORG-TEST.pem"), w.read("ACR-EL-TEST.pem")].concat();
    w.write("chain.pem", chain);
    let out = w.openssl_ok(&[
        "ocsp",
        "-issuer",
        "ACI-EL-ORG-TEST.pem",
        "-cert",
        "sign.pem",
        "-url",
        &format!("{}/pki/ocsp", s.base),
        "-CAfile",
        "chain.pem",
    ]);
    assert!(
        out.contains("sign.pem: good") && out.contains("Response verify OK"),
        "{out}"
    );
}
