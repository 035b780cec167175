//! Revocation seen through the CRL, the delta CRL and OCSP (POST and GET).

use super::lint::{LintJob, lint_all};
use super::*;

both_dbs!(revocation_crl_and_ocsp, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    w.write("root.pem", api.get(&format!("/pki/ca/{ROOT}.pem")).await);
    w.write(
        "issuing.pem",
        api.get(&format!("/pki/ca/{ORG_CA}.pem")).await,
    );
    w.write(
        "chain.pem",
        [w.read("issuing.pem"), w.read("root.pem")].concat(),
    );
    let csr = w.csr("leaf", Key::P256);
    let (serial, pem) = api
        .issue(
            ORG_CA,
            "ORG_AUTH_CLI",
            &csr,
            &org_subject(json!({ "service_name": "INSI-AUTO" })),
        )
        .await;
    w.write("leaf.pem", &pem);
    let (_, other_pem) = api
        .issue(
            ORG_CA,
            "ORG_AUTH_CLI",
            &csr,
            &org_subject(json!({ "service_name": "INSI-MANU" })),
        )
        .await;
    w.write("other.pem", &other_pem);

    // Where the certificate says its CRLs are: the test server.
    let dp = first_http_uri(&w.x509("leaf.pem", &["-ext", "crlDistributionPoints"]));
    let delta_dp = first_http_uri(&w.x509("leaf.pem", &["-ext", "freshestCRL"]));
    assert_eq!(dp, format!("{}/pki/crl/{ORG_CA}.crl", s.base));
    assert_eq!(delta_dp, format!("{}/pki/crl/{ORG_CA}-delta.crl", s.base));
    let arl_dp = first_http_uri(&w.x509("issuing.pem", &["-ext", "crlDistributionPoints"]));
    let fetch_crls = |name: &'static str| {
        let (api, w, dp, delta_dp, arl_dp) =
            (&api, &w, dp.clone(), delta_dp.clone(), arl_dp.clone());
        async move {
            for (url, file) in [(dp, "crl"), (delta_dp, "delta"), (arl_dp, "arl")] {
                w.write(&format!("{name}-{file}.der"), api.get(&url).await);
                w.openssl_ok(&[
                    "crl",
                    "-inform",
                    "DER",
                    "-in",
                    &format!("{name}-{file}.der"),
                    "-out",
                    &format!("{name}-{file}.pem"),
                ]);
            }
        }
    };
    fetch_crls("before").await;
    let crl_check = |prefix: &str| {
        w.verify(
            "root.pem",
            "issuing.pem",
            "leaf.pem",
            &[
                "-crl_check_all",
                "-CRLfile",
                &format!("{prefix}-crl.pem"),
                "-CRLfile",
                &format!("{prefix}-arl.pem"),
            ],
        )
    };
    let o = crl_check("before");
    assert!(o.status.success(), "{}", text(&o));

    // OCSP before: good, with and without nonce.
    let out = ocsp(&w, &s, "leaf.pem", &["-resp_text"]);
    assert!(out.contains("leaf.pem: good"), "{out}");
    assert!(out.contains("OCSP Nonce"), "the nonce is echoed: {out}");
    assert!(!out.contains("WARNING"), "{out}");
    let out = ocsp(&w, &s, "leaf.pem", &["-no_nonce"]);
    assert!(out.contains("leaf.pem: good"), "{out}");

    // Revoke.
    let (st, v) = api.revoke(ORG_CA, &serial, "keyCompromise").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "revoked");
    assert_eq!(v["reason"], "keyCompromise");

    // OCSP at once: revoked, with the reason, with and without nonce (the cached answer
    // without nonce is forgotten).
    for extra in [&[][..], &["-no_nonce"][..]] {
        let out = ocsp(&w, &s, "leaf.pem", extra);
        assert!(out.contains("leaf.pem: revoked"), "{out}");
        assert!(out.contains("Reason: keyCompromise"), "{out}");
    }
    let out = ocsp(&w, &s, "other.pem", &["-no_nonce"]);
    assert!(out.contains("other.pem: good"), "{out}");
    // One request for both.
    let out = ocsp(&w, &s, "leaf.pem", &["-cert", "other.pem"]);
    assert!(
        out.contains("leaf.pem: revoked") && out.contains("other.pem: good"),
        "{out}"
    );

    // GET (RFC 6960 appendix A): the request base64- then URL-encoded in the path.
    w.openssl_ok(&[
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-cert",
        "leaf.pem",
        "-no_nonce",
        "-reqout",
        "req.der",
    ]);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(w.read("req.der"));
    let encoded: String = url::form_urlencoded::byte_serialize(b64.as_bytes()).collect();
    for path in [format!("/pki/ocsp/{encoded}"), format!("/pki/ocsp/{b64}")] {
        let r = reqwest::get(format!("{}{path}", s.base))
            .await
            .expect("ocsp get");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/ocsp-response");
        assert!(r.headers().contains_key("cache-control"));
        w.write("resp.der", r.bytes().await.unwrap());
        let out = w.openssl_ok(&[
            "ocsp",
            "-respin",
            "resp.der",
            "-issuer",
            "issuing.pem",
            "-cert",
            "leaf.pem",
            "-CAfile",
            "chain.pem",
        ]);
        assert!(out.contains("Response verify OK"), "{path}: {out}");
        assert!(
            out.contains("leaf.pem: revoked") && out.contains("Reason: keyCompromise"),
            "{path}: {out}"
        );
    }

    // A serial this CA never issued: unknown.
    let url = format!("{}/pki/ocsp", s.base);
    let out = w.openssl_ok(&[
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-serial",
        "0x0123456789ABCDEF0123",
        "-url",
        &url,
        "-CAfile",
        "chain.pem",
    ]);
    assert!(out.contains("0x0123456789ABCDEF0123: unknown"), "{out}");
    assert!(out.contains("Response verify OK"), "{out}");

    // The CRL from the distribution point now lists it, and chain validation fails.
    fetch_crls("after").await;
    let o = crl_check("after");
    assert!(
        !o.status.success(),
        "a revoked certificate verifies: {}",
        text(&o)
    );
    assert!(text(&o).contains("certificate revoked"), "{}", text(&o));
    let o = w.verify(
        "root.pem",
        "issuing.pem",
        "other.pem",
        &[
            "-crl_check_all",
            "-CRLfile",
            "after-crl.pem",
            "-CRLfile",
            "after-arl.pem",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    // Both CRLs verify with the CA's key; the full one lists the serial with its reason.
    for f in ["after-crl.der", "after-delta.der", "after-arl.der"] {
        let ca = if f == "after-arl.der" {
            "root.pem"
        } else {
            "issuing.pem"
        };
        let out = w.openssl_ok(&["crl", "-inform", "DER", "-in", f, "-CAfile", ca, "-noout"]);
        assert!(out.contains("verify OK"), "{f}: {out}");
    }
    let full = w.openssl_ok(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        "after-crl.der",
        "-noout",
        "-text",
    ]);
    let entry = format!("Serial Number: {}", openssl_serial(&serial));
    assert!(full.contains(&entry), "{entry} not in\n{full}");
    assert!(full.contains("Key Compromise"), "{full}");
    assert!(!full.contains("Delta CRL Indicator"), "{full}");
    assert!(full.contains("Freshest CRL"), "{full}");
    let number = |t: &str, label: &str| -> String {
        let i = t
            .find(label)
            .unwrap_or_else(|| panic!("no {label} in\n{t}"));
        t[i..].lines().nth(1).unwrap_or_default().trim().to_owned()
    };
    let delta = w.openssl_ok(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        "after-delta.der",
        "-noout",
        "-text",
    ]);
    assert!(
        delta.contains("X509v3 Delta CRL Indicator: critical"),
        "{delta}"
    );
    assert_eq!(
        number(&delta, "Delta CRL Indicator"),
        number(&full, "X509v3 CRL Number"),
        "the delta's base is the full CRL served with it"
    );
    let before = w.openssl_ok(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        "before-crl.der",
        "-noout",
        "-text",
    ]);
    assert!(!before.contains(&entry), "{before}");
    assert!(
        number(&full, "X509v3 CRL Number").parse::<u64>().unwrap()
            > number(&before, "X509v3 CRL Number").parse::<u64>().unwrap(),
        "a new CRL after the revocation"
    );

    // pkilint on the CRLs and an OCSP response.
    lint_all(&[
        LintJob::new(
            "lint_crl",
            &["-t", "CRL", "-p", "PKIX"],
            w.path("after-crl.der"),
        ),
        LintJob::new(
            "lint_crl",
            &["-t", "CRL", "-p", "PKIX"],
            w.path("after-delta.der"),
        ),
        LintJob::new(
            "lint_crl",
            &["-t", "ARL", "-p", "PKIX"],
            w.path("after-arl.der"),
        ),
        LintJob::new("lint_ocsp_response", &[], w.path("resp.der")),
    ]);
});
