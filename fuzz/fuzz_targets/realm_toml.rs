//! Realm files (`realms/*.toml`): settings, login methods, clients.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = coeur_oauth::realm::Realm::parse("fuzz.toml", text, "https://idp.example");
    }
});
