//! OCSP requests to coeur's responder (POST bodies and decoded GET paths).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = coeur_pki::ocsp::parse_request(data) {
        // What the responder echoes back must be what it was sent.
        for id in &req.ids {
            assert!(!id.cert_id_der.is_empty());
        }
    }
});
