//! CRLs fetched from external authorities (IGC-Santé's, for cards): raw bytes, or a
//! TBSCertList the fixture's issuing CA signs so that the checks behind the signature run.
#![no_main]

use coeur_fuzz::{NOW, PKI, mode};
use coeur_pki::status::CrlIndex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((signed, rest)) = mode(data) else {
        return;
    };
    let crl = if signed {
        PKI.inter.signed(rest)
    } else {
        rest.to_vec()
    };
    if let Ok(idx) = CrlIndex::parse(&crl, &PKI.inter.der, NOW) {
        let _ = idx.status(&PKI.leaf, &PKI.inter.der, NOW);
        let _ = idx.fresh(NOW);
    }
});
