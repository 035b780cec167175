//! A revocation on one instance answered by the other's OCSP responder at once.

use super::*;
use crate::instances::two_instances;

// Instance `b` caches its `good` answer; the certificate is revoked through `a`; `b` answers
// `revoked` at once, told by the bus (no revocation poll runs in the test servers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_instance_is_answered_by_the_others_ocsp() {
    let (a, b) = two_instances().await;
    let api = Api::new(&a, "edit").await;
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
    // Without a nonce, the answer is cached.
    for _ in 0..2 {
        let out = ocsp(&w, &b, "leaf.pem", &["-no_nonce"]);
        assert!(out.contains("leaf.pem: good"), "{out}");
    }

    let (st, v) = api.revoke(ORG_CA, &serial, "keyCompromise").await;
    assert_eq!(st, 200, "{v}");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let out = ocsp(&w, &b, "leaf.pem", &["-no_nonce"]);
        if out.contains("leaf.pem: revoked") {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "the other instance still answers from its cache: {out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
