//! RFC 4514 distinguished names (realm files, CLI, `tls_client_auth_subject_dn`) and DER
//! names from certificates. A name coeur prints must read back as the same name.
#![no_main]

use coeur_pki::dn::Dn;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(dn) = Dn::parse(text)
    {
        let printed = dn.to_string();
        let again = Dn::parse(&printed).expect("a printed DN parses");
        assert_eq!(again.norm(), dn.norm(), "{text:?} printed as {printed:?}");
    }
    if let Ok(dn) = Dn::from_der(data) {
        let printed = dn.to_string();
        let again = Dn::parse(&printed).expect("a DN read from DER prints as RFC 4514");
        assert_eq!(again.norm(), dn.norm(), "printed as {printed:?}");
    }
});
