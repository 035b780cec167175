//! OCSP responses from external authorities: raw bytes, or a ResponseData the fixture's
//! issuing CA signs (wrapped as a successful basic response) so that the checks behind the
//! signature run.
#![no_main]

use coeur_fuzz::{NOW, PKI, mode};
use coeur_pki::der;
use coeur_pki::status::check_ocsp_response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((signed, rest)) = mode(data) else {
        return;
    };
    let resp = if signed {
        let basic = PKI.inter.signed(rest);
        der::seq(&[
            der::enumerated(0),
            der::explicit(
                0,
                &der::seq(&[
                    der::oid(&[1, 3, 6, 1, 5, 5, 7, 48, 1, 1]),
                    der::octets(&basic),
                ]),
            ),
        ])
    } else {
        rest.to_vec()
    };
    if let Ok(answer) = check_ocsp_response(&resp, &PKI.leaf, &PKI.inter.der, NOW) {
        assert!(answer.valid_until >= answer.this_update || answer.valid_until >= NOW);
    }
});
