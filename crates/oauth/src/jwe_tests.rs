//! JWE decryption: round trips through an encrypting side written here from RFC 7516/7518
//! (the independent implementation, panva's `jose`, is exercised by the integration tests),
//! and refusals.

use super::*;
use aws_lc_rs::agreement::EphemeralPrivateKey;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::rsa::{KeySize, OaepPublicEncryptingKey};

pub(crate) fn ec_key(kid: &str) -> DecryptionKey {
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    DecryptionKey::from_pkcs8(kid, kp.to_pkcs8v1().unwrap().as_ref()).unwrap()
}

fn rsa_key(kid: &str) -> (DecryptionKey, PrivateDecryptingKey) {
    let k = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&k).unwrap();
    (DecryptionKey::from_pkcs8(kid, der.as_ref()).unwrap(), k)
}

fn seal(header: &Value, cek: &[u8], ek: &[u8], plain: &[u8]) -> String {
    let h = b64url(&serde_json::to_vec(header).unwrap());
    let mut iv = [0u8; 12];
    SystemRandom::new().fill(&mut iv).unwrap();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, cek).unwrap());
    let mut buf = plain.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::try_assume_unique_for_key(&iv).unwrap(),
            Aad::from(h.as_bytes()),
            &mut buf,
        )
        .unwrap();
    format!(
        "{h}.{}.{}.{}.{}",
        b64url(ek),
        b64url(&iv),
        b64url(&buf),
        b64url(tag.as_ref())
    )
}

pub(crate) fn ecdh_es(to: &DecryptionKey, plain: &[u8], extra: Value) -> String {
    let jwk = to.public_jwk();
    let d = |n: &str| b64url_decode(jwk[n].as_str().unwrap()).unwrap();
    let peer = [vec![4u8], d("x"), d("y")].concat();
    let eph =
        EphemeralPrivateKey::generate(&ECDH_P256, &aws_lc_rs::rand::SystemRandom::new()).unwrap();
    let epub = eph.compute_public_key().unwrap();
    let p = epub.as_ref();
    let mut header = json!({
        "alg": "ECDH-ES", "enc": "A256GCM", "kid": to.kid(), "apu": b64url(b"Alice"), "apv": b64url(b"Bob"),
        "epk": {"kty": "EC", "crv": "P-256", "x": b64url(&p[1..33]), "y": b64url(&p[33..65])},
    });
    if let (Some(h), Value::Object(e)) = (header.as_object_mut(), extra) {
        h.extend(e);
    }
    let cek = agreement::agree_ephemeral(eph, UnparsedPublicKey::new(&ECDH_P256, &peer), (), |z| {
        Ok(concat_kdf(z, "A256GCM", b"Alice", b"Bob", 256))
    })
    .unwrap();
    seal(&header, &cek, &[], plain)
}

fn rsa_oaep(to: &PrivateDecryptingKey, alg: &str, kid: Option<&str>, plain: &[u8]) -> String {
    let mut cek = [0u8; 32];
    SystemRandom::new().fill(&mut cek).unwrap();
    let public = OaepPublicEncryptingKey::new(to.public_key()).unwrap();
    let oaep = if alg == "RSA-OAEP-256" {
        &OAEP_SHA256_MGF1SHA256
    } else {
        &OAEP_SHA1_MGF1SHA1
    };
    let mut ek = vec![0u8; public.ciphertext_size()];
    let ek = public.encrypt(oaep, &cek, &mut ek, None).unwrap().to_vec();
    let mut header = json!({"alg": alg, "enc": "A256GCM", "cty": "JWT"});
    if let Some(k) = kid {
        header["kid"] = k.into();
    }
    seal(&header, &cek, &ek, plain)
}

#[test]
fn concat_kdf_matches_rfc7518_appendix_c() {
    // RFC 7518, Appendix C: ECDH-ES with A128GCM, apu "Alice", apv "Bob".
    let z = [
        158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110,
        163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
    ];
    let k = concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 128);
    assert_eq!(b64url(&k), "VqqN6vgjbSBcIijNcacQGg");
}

#[test]
fn ecdh_es_round_trip() {
    let k = ec_key("enc-1");
    assert_eq!(k.public_jwk()["use"], "enc");
    assert_eq!(k.public_jwk()["alg"], "ECDH-ES");
    let t = ecdh_es(&k, b"a signed token", json!({}));
    assert!(is_jwe(&t));
    assert_eq!(decrypt(&t, &[k]).unwrap(), b"a signed token");
}

#[test]
fn rsa_oaep_round_trips_and_kid_less_tokens_try_each_key() {
    let (k, raw) = rsa_key("rsa-1");
    let (other, _) = rsa_key("rsa-0");
    assert_eq!(k.public_jwk()["alg"], "RSA-OAEP-256");
    let t = rsa_oaep(&raw, "RSA-OAEP-256", Some("rsa-1"), b"hello");
    assert_eq!(decrypt(&t, std::slice::from_ref(&k)).unwrap(), b"hello");
    let t = rsa_oaep(&raw, "RSA-OAEP", None, b"hello");
    assert_eq!(decrypt(&t, &[other, k]).unwrap(), b"hello");
}

#[test]
fn refusals() {
    let k = ec_key("enc-1");
    let other = ec_key("enc-2");
    let t = ecdh_es(&k, b"x", json!({}));
    // Another key of ours with the same kid would not do: the kid names the key.
    assert_eq!(
        decrypt(&t, std::slice::from_ref(&other)),
        Err(JweError::NoKey)
    );
    // A tampered ciphertext or header does not authenticate.
    let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
    parts[3] = b64url(b"y");
    assert_eq!(
        decrypt(&parts.join("."), std::slice::from_ref(&k)),
        Err(JweError::Decrypt)
    );
    let t = ecdh_es(&k, b"x", json!({"enc": "A128GCM"}));
    assert!(matches!(
        decrypt(&t, std::slice::from_ref(&k)),
        Err(JweError::Unsupported(_))
    ));
    let t = ecdh_es(&k, b"x", json!({"zip": "DEF"}));
    assert!(matches!(
        decrypt(&t, std::slice::from_ref(&k)),
        Err(JweError::Unsupported(_))
    ));
    let t = ecdh_es(&k, b"x", json!({"alg": "dir"}));
    assert!(matches!(
        decrypt(&t, std::slice::from_ref(&k)),
        Err(JweError::Unsupported(_))
    ));
    // A point off the curve is refused by the agreement.
    let mut t = ecdh_es(&k, b"x", json!({}));
    let h: Value =
        serde_json::from_slice(&b64url_decode(t.split('.').next().unwrap()).unwrap()).unwrap();
    let mut bad = h.clone();
    bad["epk"]["y"] = b64url(&[1u8; 32]).into();
    t = t.replacen(
        t.split('.').next().unwrap(),
        &b64url(&serde_json::to_vec(&bad).unwrap()),
        1,
    );
    assert_eq!(decrypt(&t, &[k]), Err(JweError::Decrypt));
    assert_eq!(decrypt("a.b.c", &[]), Err(JweError::Malformed));
    assert!(!is_jwe("a.b.c"));
}
