//! coeur's JWE decryption (`coeur_oauth::jwe`, on aws-lc-rs) against an independent
//! implementation: panva's `jose` (tests/node/jwe-encrypt.mjs) encrypts, coeur decrypts, for
//! each algorithm FranceConnect+ may use, with the current key and with a retired one.

use super::*;
use coeur::oauth::jwe::{DecryptionKey, decrypt};

fn encrypt(jwk: &Value, alg: &str, text: &str) -> String {
    let out = std::process::Command::new("node")
        .arg(repo_dir().join("tests/node/jwe-encrypt.mjs"))
        .arg(jwk.to_string())
        .arg(alg)
        .arg(text)
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

fn rsa_key(kid: &str) -> DecryptionKey {
    use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der};
    let k = aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .expect("RSA key");
    let der: Pkcs8V1Der = k.as_der().expect("PKCS#8");
    DecryptionKey::from_pkcs8(kid, der.as_ref()).expect("key")
}

fn ec_key(kid: &str) -> DecryptionKey {
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key");
    DecryptionKey::from_pkcs8(kid, kp.to_pkcs8v1().expect("PKCS#8").as_ref()).expect("key")
}

both_dbs!(jwe_from_panva_jose_decrypts, |db| async move {
    if matches!(db, Db::Postgres) {
        // No database involved: once is enough.
        return;
    }
    let (rsa, ec, old) = (rsa_key("rsa-1"), ec_key("ec-1"), ec_key("ec-0"));
    let text = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    for (key, alg) in [(&rsa, "RSA-OAEP-256"), (&rsa, "RSA-OAEP"), (&ec, "ECDH-ES")] {
        let jwe = encrypt(key.public_jwk(), alg, text);
        assert_eq!(jwe.split('.').count(), 5, "{alg}: {jwe}");
        let plain =
            decrypt(&jwe, std::slice::from_ref(key)).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(plain, text.as_bytes(), "{alg}");
    }
    // After a rotation: the new key first, the old one kept; a token to the old key decrypts.
    let jwe = encrypt(old.public_jwk(), "ECDH-ES", text);
    let keys = [ec_key("ec-2"), old];
    assert_eq!(decrypt(&jwe, &keys).expect("old key"), text.as_bytes());
    // Without the old key, it does not.
    assert!(decrypt(&jwe, &keys[..1]).is_err());
});
