//! Upstream (FranceConnect, FranceConnect+) ID tokens as coeur's callback reads them: compact
//! JWEs (decrypted with a fixture key) and JWSs, raw, or claims the fixture key signs so that
//! the claim checks behind the signature run; each checked as from an upstream that encrypts
//! and from one that only signs.
#![no_main]

use coeur_fuzz::{JWS_KEY, NOW, jws_of, mode};
use coeur_oauth::acr::Acr;
use coeur_oauth::jose::VerificationKeys;
use coeur_oauth::jwe::DecryptionKey;
use coeur_oauth::upstream::{Expected, verify_id_token};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static DECRYPTION: LazyLock<Vec<DecryptionKey>> = LazyLock::new(|| {
    let pkcs8 = rcgen::KeyPair::generate().expect("key").serialize_der();
    vec![DecryptionKey::from_pkcs8("fuzz-enc", &pkcs8).expect("P-256 PKCS#8")]
});

static KEYS: LazyLock<VerificationKeys> = LazyLock::new(|| {
    let key = JWS_KEY.coeur.decoding_key().expect("decoding key");
    VerificationKeys::new([(
        JWS_KEY.coeur.kid().to_owned(),
        jsonwebtoken::Algorithm::ES256,
        key,
    )])
});

fuzz_target!(|data: &[u8]| {
    let Some((signed, rest)) = mode(data) else {
        return;
    };
    let token = if signed {
        jws_of("JWT", rest)
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    for encrypted in [false, true] {
        let expected = Expected {
            issuer: "https://fcp.example/api/v2",
            client_id: "coeur",
            nonce: "nonce-of-at-least-thirty-two-characters",
            acr: Acr::Eidas2,
            now: NOW,
            encrypted,
        };
        let _ = verify_id_token(&token, &DECRYPTION, &*KEYS, &expected);
    }
});
