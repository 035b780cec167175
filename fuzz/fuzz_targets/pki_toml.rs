//! PKI files (`pki/*.toml`): the CA hierarchy and the certificate profiles.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = coeur_pki::hierarchy::Hierarchy::parse("fuzz.toml", text, "https://idp.example");
        let _ = coeur_pki::hierarchy::parse_profiles("fuzz.toml", text);
    }
});
