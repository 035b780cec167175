//! Every end-entity profile issued from an `openssl req` CSR, checked by `openssl verify` and
//! pkilint.

use super::lint::{CABF_SERVERAUTH_KEPT, CABF_SMIME_KEPT, LintJob, lint_all};
use super::*;

/// One end-entity profile to issue: what to ask, what the certificate must say.
struct Case {
    profile: &'static str,
    ca: &'static str,
    key: Key,
    subject: Value,
    /// Substrings of `openssl x509 -ext keyUsage,extendedKeyUsage,subjectAltName`.
    ext: &'static [&'static str],
    /// Substrings of the subject (RFC 2253).
    dn: Vec<&'static str>,
}

fn cases() -> Vec<Case> {
    let org_dn: &[&str] = &[
        "OU=318751275100020",
        "O=CENTRE HOSPITALIER DE TEST",
        "ST=Paris (75)",
        "C=FR",
    ];
    vec![
        Case {
            profile: "SSL_SERV",
            ca: ORG_CA,
            key: Key::Rsa(2048),
            subject: server_subject(),
            ext: &[
                "Key Usage: critical\n    Digital Signature, Key Encipherment\n",
                "TLS Web Server Authentication, TLS Web Client Authentication\n",
                "DNS:srv.ch-test.fr, DNS:www.ch-test.fr\n",
            ],
            dn: vec!["CN=srv.ch-test.fr,OU=318751275100020"],
        },
        Case {
            profile: "ORG_AUTH_CLI",
            ca: ORG_CA,
            key: Key::P256,
            subject: org_subject(json!({ "service_name": "INSI-AUTO" })),
            ext: &[
                "Key Usage: critical\n    Digital Signature\n",
                "Extended Key Usage: \n    TLS Web Client Authentication\n",
            ],
            dn: vec!["CN=INSI-AUTO,OU=318751275100020"],
        },
        Case {
            profile: "ORG_SIGN",
            ca: ORG_CA,
            key: Key::P384,
            subject: org_subject(json!({ "service_name": "Cachet DMP" })),
            ext: &[
                "Key Usage: critical\n    Digital Signature, Non Repudiation\n",
                "Extended Key Usage: \n    E-mail Protection\n",
            ],
            dn: vec!["CN=Cachet DMP,"],
        },
        Case {
            profile: "ORG_CONF",
            ca: ORG_CA,
            key: Key::Rsa(3072),
            subject: org_subject(json!({ "service_name": "Chiffrement" })),
            ext: &[
                "Key Usage: critical\n    Key Encipherment\n",
                "Extended Key Usage: \n    E-mail Protection\n",
            ],
            dn: vec!["CN=Chiffrement,"],
        },
        Case {
            profile: "SMIME_MSS",
            ca: ORG_CA,
            key: Key::Rsa(2048),
            subject: org_subject(json!({ "emails": ["secretariat@ch-test.mssante.fr"] })),
            ext: &[
                "Key Usage: critical\n    Digital Signature, Key Encipherment\n",
                "Extended Key Usage: \n    E-mail Protection\n",
                "email:secretariat@ch-test.mssante.fr\n",
            ],
            dn: vec!["CN=secretariat@ch-test.mssante.fr,"],
        },
        Case {
            profile: "CPS_AUTH",
            ca: PER_CA,
            key: Key::P256,
            subject: person_subject(),
            ext: &[
                "Key Usage: critical\n    Digital Signature\n",
                "Extended Key Usage: \n    TLS Web Client Authentication\n",
            ],
            dn: vec!["CN=899700218896,title=Médecin,GN=CLAIRE,SN=MARTIN,C=FR"],
        },
        Case {
            profile: "CPS_SIGN",
            ca: PER_CA,
            key: Key::Rsa(2048),
            subject: person_subject(),
            ext: &[
                "Key Usage: critical\n    Non Repudiation\n",
                "Extended Key Usage: \n    E-mail Protection\n",
            ],
            dn: vec!["CN=899700218896,"],
        },
    ]
    .into_iter()
    .map(|mut c| {
        if c.ca == ORG_CA {
            c.dn.extend_from_slice(org_dn);
        }
        c
    })
    .collect()
}

both_dbs!(every_profile_verifies_and_lints, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    api.save_ca_pems(&w, &[ROOT, ORG_CA, PER_CA]).await;
    let mut jobs = Vec::new();
    let mut serials = Vec::new();
    for c in cases() {
        let csr = w.csr(c.profile, c.key);
        let (serial, pem) = api.issue(c.ca, c.profile, &csr, &c.subject).await;
        let file = format!("{}.pem", c.profile);
        let leaf = w.write(&file, &pem);
        let o = w.verify(&format!("{ROOT}.pem"), &format!("{}.pem", c.ca), &file, &[]);
        assert!(o.status.success(), "{}: {}", c.profile, text(&o));
        assert_eq!(text(&o).trim(), format!("{file}: OK"));
        // The certificate certifies the CSR's key…
        assert_eq!(
            w.openssl_ok(&["x509", "-in", &file, "-noout", "-pubkey"]),
            w.openssl_ok(&[
                "req",
                "-in",
                &format!("{}.csr", c.profile),
                "-noout",
                "-pubkey"
            ]),
            "{}",
            c.profile
        );
        // …with the profile's extensions and the CA-built subject, nothing from the CSR.
        let ext = w.x509(&file, &["-ext", "keyUsage,extendedKeyUsage,subjectAltName"]);
        for want in c.ext {
            assert!(ext.contains(want), "{}: {want:?} not in\n{ext}", c.profile);
        }
        if !c
            .ext
            .iter()
            .any(|e| e.starts_with("DNS:") || e.starts_with("email:"))
        {
            assert!(!ext.contains("Alternative Name"), "{}: {ext}", c.profile);
        }
        let subject = w.x509(&file, &["-subject"]);
        for want in c.dn {
            assert!(
                subject.contains(want),
                "{}: {want:?} not in {subject}",
                c.profile
            );
        }
        assert!(!subject.contains("ignored") && !subject.contains("NOT COPIED"));
        let bc = w.x509(&file, &["-ext", "basicConstraints"]);
        assert!(bc.contains("CA:FALSE"), "{bc}");
        serials.push((c.ca, c.profile, serial));
        jobs.push(LintJob::new("lint_pkix_cert", &[], leaf.clone()));
        match c.profile {
            "SSL_SERV" => jobs.push(
                LintJob::new(
                    "lint_cabf_serverauth_cert",
                    &["-t", "OV-FINAL-CERTIFICATE"],
                    leaf,
                )
                .allowing(CABF_SERVERAUTH_KEPT),
            ),
            "SMIME_MSS" => jobs.push(
                LintJob::new("lint_cabf_smime_cert", &["-t", "ORGANIZATION-STRICT"], leaf)
                    .allowing(CABF_SMIME_KEPT),
            ),
            _ => {}
        }
    }
    let kept = lint_all(&jobs);
    // The CA/B Forum linters did run and see these certificates.
    assert!(
        kept.contains(
            "lint_cabf_serverauth_cert: cabf.serverauth.subscriber_missing_reserved_policy_oid"
        ),
        "{kept:?}"
    );
    assert!(
        kept.contains("lint_cabf_smime_cert: cabf.smime.no_required_reserved_policy_oid"),
        "{kept:?}"
    );

    // The API serves what it issued: PEM, DER, PKCS#7 with the chain, and the listing.
    let (ca, _, serial) = &serials[0];
    let pem = api
        .get(&format!(
            "/pki/api/v1/certificates/{ca}/{serial}?format=pem"
        ))
        .await;
    assert_eq!(pem, w.read("SSL_SERV.pem"));
    let der = w.write(
        "ssl.der",
        api.get(&format!(
            "/pki/api/v1/certificates/{ca}/{serial}?format=der"
        ))
        .await,
    );
    let from_der = w.openssl_ok(&["x509", "-inform", "DER", "-in", der.to_str().unwrap()]);
    assert_eq!(from_der.as_bytes(), &pem[..]);
    w.write(
        "ssl.p7b",
        api.get(&format!(
            "/pki/api/v1/certificates/{ca}/{serial}?format=p7b"
        ))
        .await,
    );
    let p7 = w.openssl_ok(&[
        "pkcs7",
        "-inform",
        "DER",
        "-in",
        "ssl.p7b",
        "-print_certs",
        "-noout",
    ]);
    let subjects: Vec<&str> = p7.lines().filter(|l| l.starts_with("subject=")).collect();
    assert_eq!(subjects.len(), 3, "{p7}");
    assert!(subjects[0].contains("srv.ch-test.fr"), "{p7}");
    assert!(
        subjects[1].contains("TEST AC MODERNE ELEMENTAIRE ORGANISATIONS"),
        "{p7}"
    );
    assert!(
        subjects[2].contains("TEST AC RACINE MODERNE ELEMENTAIRE"),
        "{p7}"
    );
    let list: Value = serde_json::from_slice(
        &api.get(&format!(
            "/pki/api/v1/certificates?ca={ORG_CA}&profile=SSL_SERV&q=srv.ch-test"
        ))
        .await,
    )
    .expect("list");
    let listed = list["certificates"].as_array().expect("certificates");
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["serial"], serial.as_str());
    assert_eq!(listed[0]["profile"], "SSL_SERV");
    let all: Value = serde_json::from_slice(&api.get("/pki/api/v1/certificates").await).unwrap();
    let listed: BTreeSet<&str> = all["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .filter_map(|c| c["serial"].as_str())
        .collect();
    assert_eq!(listed.len() as i64, rows(&s).await.0, "{all}");
    for (_, profile, serial) in &serials {
        assert!(
            listed.contains(serial.as_str()),
            "{profile} {serial} not listed"
        );
    }
});

both_dbs!(ec_keys_get_no_key_encipherment, |db| async move {
    // RFC 5480 §3: keyEncipherment is not a usage of an EC key. SSL_SERV and SMIME_MSS accept
    // P-256 keys; their certificates must not carry it.
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    let mut jobs = Vec::new();
    for (profile, subject) in [
        ("SSL_SERV", server_subject()),
        (
            "SMIME_MSS",
            org_subject(json!({ "emails": ["bal@ch-test.mssante.fr"] })),
        ),
    ] {
        let csr = w.csr(profile, Key::P256);
        let (_, pem) = api.issue(ORG_CA, profile, &csr, &subject).await;
        let leaf = w.write(&format!("{profile}.pem"), &pem);
        jobs.push(LintJob::new("lint_pkix_cert", &[], leaf));
    }
    lint_all(&jobs);
});
