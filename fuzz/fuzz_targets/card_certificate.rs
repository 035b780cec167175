//! Client certificates presented at the card listener and for `tls_client_auth`: path
//! validation against an external bundle and against coeur's own anchors, and the status
//! locations read from the certificate.
#![no_main]

use coeur_fuzz::{NOW, PKI};
use coeur_pki::external::ExternalTrust;
use coeur_pki::validate::{self, Anchor, Usage};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static TRUST: LazyLock<ExternalTrust> =
    LazyLock::new(|| ExternalTrust::from_pem(&PKI.bundle_pem).expect("fixture bundle"));

fuzz_target!(|data: &[u8]| {
    let _ = TRUST.validate(data, Usage::CardAuthentication, NOW);
    let anchors = [Anchor {
        id: "FUZZ-PERSONNES".into(),
        cert_der: PKI.inter.der.clone(),
    }];
    let _ = validate::validate(data, &anchors, Usage::ClientTls, NOW);
    let _ = coeur_pki::status::pointers(data);
    let _ = coeur_pki::validate::thumbprint(data);
});
