//! Certificate signing requests as structures send them: PEM or DER, then the CSR itself
//! (DER decoding, proof of possession, key policy).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(der) = coeur_pki::csr::csr_der(data) {
        let _ = coeur_pki::csr::parse(&der);
    }
    let _ = coeur_pki::csr::parse(data);
});
