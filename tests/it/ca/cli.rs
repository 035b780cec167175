//! The `coeur ca` commands on a temporary SQLite store and key store.

use super::*;

/// `coeur ca` on a temporary SQLite store and key store: issue, export, revoke, CRL, list.
#[test]
fn cli_issue_revoke_crl_sqlite() {
    let w = Work::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let db = format!("sqlite://{}", w.path("coeur.db").display());
    let keys = w.path("keys");
    let crl = w.path("crl");
    let (realms, pki) = (repo.join("realms"), repo.join("pki"));
    let common: Vec<&str> = vec![
        "--database-url",
        &db,
        "--keys-dir",
        keys.to_str().unwrap(),
        "--realms-dir",
        realms.to_str().unwrap(),
        "--pki-dir",
        pki.to_str().unwrap(),
        "--pki-hierarchy",
        "modern",
        "--crl-dir",
        crl.to_str().unwrap(),
    ];
    let run = |args: &[&str]| {
        let o = coeur(w.dir.path(), &[&common[..], args].concat());
        assert!(o.status.success(), "coeur {args:?}: {}", text(&o));
        o
    };
    w.csr("srv", Key::Rsa(2048));
    let o = run(&[
        "ca",
        "issue",
        "--ca",
        ORG_CA,
        "--profile",
        "SSL_SERV",
        "--csr",
        "srv.csr",
        "--structure-id",
        STRUCTURE_ID,
        "--organization",
        "CENTRE HOSPITALIER DE TEST",
        "--state",
        "Paris (75)",
        "--dns",
        "srv.ch-test.fr",
    ]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let serial = err
        .lines()
        .find_map(|l| l.strip_prefix(&format!("issued {ORG_CA}/")))
        .unwrap_or_else(|| panic!("no serial in {err}"))
        .to_owned();
    let pem = o.stdout;
    assert!(pem.starts_with(b"-----BEGIN CERTIFICATE-----\n"));
    w.write("srv.pem", &pem);
    w.write("root.pem", run(&["ca", "export", "--ca", ROOT]).stdout);
    w.write("issuing.pem", run(&["ca", "export", "--ca", ORG_CA]).stdout);
    let o = w.verify("root.pem", "issuing.pem", "srv.pem", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        w.x509("srv.pem", &["-ext", "subjectAltName"])
            .contains("DNS:srv.ch-test.fr")
    );

    let o = run(&[
        "ca",
        "revoke",
        "--ca",
        ORG_CA,
        "--serial",
        &serial,
        "--reason",
        "keyCompromise",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("revoked {ORG_CA}/{serial}")
    );
    let o = run(&["ca", "crl", "--ca", ORG_CA]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let full_path = crl.join(format!("{ORG_CA}.crl"));
    assert!(
        out.contains(&format!("{}\t1 entries", full_path.display())),
        "{out}"
    );
    let full = w.openssl_ok(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        full_path.to_str().unwrap(),
        "-CAfile",
        "issuing.pem",
        "-noout",
        "-text",
    ]);
    assert!(full.contains("verify OK"), "{full}");
    assert!(
        full.contains(&format!("Serial Number: {}", openssl_serial(&serial))),
        "{full}"
    );
    assert!(full.contains("Key Compromise"), "{full}");
    w.openssl_ok(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        full_path.to_str().unwrap(),
        "-out",
        "crl.pem",
    ]);
    let o = w.verify(
        "root.pem",
        "issuing.pem",
        "srv.pem",
        &["-crl_check", "-CRLfile", "crl.pem"],
    );
    assert!(
        !o.status.success() && text(&o).contains("certificate revoked"),
        "{}",
        text(&o)
    );
    let o = run(&["ca", "list", "--ca", ORG_CA]);
    let list = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        list.contains(&format!("{ORG_CA}\t{serial}\tSSL_SERV\trevoked\t")),
        "{list}"
    );
    // Revoking twice is refused.
    let o = coeur(
        w.dir.path(),
        &[
            &common[..],
            &["ca", "revoke", "--ca", ORG_CA, "--serial", &serial],
        ]
        .concat(),
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("the certificate is already revoked"),
        "{}",
        text(&o)
    );
}
