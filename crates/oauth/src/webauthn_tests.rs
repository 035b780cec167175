//! Vectors built as an authenticator builds them (CBOR, authenticator data, ES256 DER
//! signatures), for a fixed RP, origin and challenge; each refusal changes one thing.

use super::*;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

const RP: RelyingParty<'static> = RelyingParty {
    id: "auth.example",
    origin: "https://auth.example",
};
const CHALLENGE: &str = "c2VydmVyLWNoYWxsZW5nZS0wMDE";
const CREATE: &str = r#"{"type":"webauthn.create","challenge":"c2VydmVyLWNoYWxsZW5nZS0wMDE","origin":"https://auth.example","crossOrigin":false}"#;
const GET: &str = r#"{"type":"webauthn.get","challenge":"c2VydmVyLWNoYWxsZW5nZS0wMDE","origin":"https://auth.example","crossOrigin":false}"#;
const CRED_ID: &[u8] = b"credential-0001";

fn key() -> EcdsaKeyPair {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
        .unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap()
}

fn public(k: &EcdsaKeyPair) -> DevicePublicKey {
    DevicePublicKey::from_sec1(k.public_key().as_ref()).unwrap()
}

fn cbor(v: &Value) -> Vec<u8> {
    let mut out = vec![];
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

fn cose(k: &EcdsaKeyPair) -> Value {
    let p = k.public_key().as_ref();
    let i = |n: i64| Value::Integer(n.into());
    Value::Map(vec![
        (i(1), i(2)),
        (i(3), i(-7)),
        (i(-1), i(1)),
        (i(-2), Value::Bytes(p[1..33].to_vec())),
        (i(-3), Value::Bytes(p[33..65].to_vec())),
    ])
}

fn auth_data(rp_id: &str, flags: u8, count: u32, credential: Option<&EcdsaKeyPair>) -> Vec<u8> {
    let mut d = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
    d.push(flags);
    d.extend_from_slice(&count.to_be_bytes());
    if let Some(k) = credential {
        d.extend_from_slice(&[0u8; 16]);
        d.extend_from_slice(&u16::try_from(CRED_ID.len()).unwrap().to_be_bytes());
        d.extend_from_slice(CRED_ID);
        d.extend_from_slice(&cbor(&cose(k)));
    }
    d
}

fn attestation(fmt: &str, stmt: Vec<(Value, Value)>, data: Vec<u8>) -> Vec<u8> {
    let t = |s: &str| Value::Text(s.to_owned());
    cbor(&Value::Map(vec![
        (t("fmt"), t(fmt)),
        (t("attStmt"), Value::Map(stmt)),
        (t("authData"), Value::Bytes(data)),
    ]))
}

fn sign(k: &EcdsaKeyPair, data: &[u8], client: &str) -> Vec<u8> {
    let msg = [data, digest(&SHA256, client.as_bytes()).as_ref()].concat();
    k.sign(&SystemRandom::new(), &msg)
        .unwrap()
        .as_ref()
        .to_vec()
}

#[test]
fn a_registration_with_none_or_self_attestation_is_accepted() {
    let k = key();
    let data = auth_data(RP.id, UP | UV | AT, 0, Some(&k));
    let r = verify_registration(
        &RP,
        CHALLENGE,
        CREATE.as_bytes(),
        &attestation("none", vec![], data.clone()),
    )
    .unwrap();
    assert_eq!(r.credential_id, CRED_ID);
    assert_eq!(r.public_key, public(&k));
    assert_eq!(r.sign_count, 0);

    let t = |s: &str| Value::Text(s.to_owned());
    let stmt = vec![
        (t("alg"), Value::Integer((-7).into())),
        (t("sig"), Value::Bytes(sign(&k, &data, CREATE))),
    ];
    let packed = attestation("packed", stmt, data.clone());
    assert!(verify_registration(&RP, CHALLENGE, CREATE.as_bytes(), &packed).is_ok());
    // Self-attestation signed by another key.
    let stmt = vec![
        (t("alg"), Value::Integer((-7).into())),
        (t("sig"), Value::Bytes(sign(&key(), &data, CREATE))),
    ];
    let forged = attestation("packed", stmt, data.clone());
    assert_eq!(
        verify_registration(&RP, CHALLENGE, CREATE.as_bytes(), &forged),
        Err(WebAuthnError::BadSignature)
    );
    let other = attestation("android-key", vec![], data);
    assert!(matches!(
        verify_registration(&RP, CHALLENGE, CREATE.as_bytes(), &other),
        Err(WebAuthnError::Unsupported(_))
    ));
}

#[test]
fn registrations_for_another_origin_challenge_rp_or_without_uv_are_refused() {
    let k = key();
    let good = || attestation("none", vec![], auth_data(RP.id, UP | UV | AT, 0, Some(&k)));
    let reg =
        |client: &str, att: &[u8]| verify_registration(&RP, CHALLENGE, client.as_bytes(), att);
    assert_eq!(
        reg(
            &CREATE.replace("https://auth.example", "https://evil.example"),
            &good()
        ),
        Err(WebAuthnError::WrongOrigin)
    );
    assert_eq!(
        reg(
            &CREATE.replace("\"crossOrigin\":false", "\"crossOrigin\":true"),
            &good()
        ),
        Err(WebAuthnError::WrongOrigin)
    );
    assert_eq!(
        reg(&CREATE.replace("ZS0wMDE", "ZS0wMDI"), &good()),
        Err(WebAuthnError::WrongChallenge)
    );
    assert_eq!(reg(GET, &good()), Err(WebAuthnError::WrongType));
    let other_rp = attestation(
        "none",
        vec![],
        auth_data("evil.example", UP | UV | AT, 0, Some(&k)),
    );
    assert_eq!(reg(CREATE, &other_rp), Err(WebAuthnError::WrongRpId));
    let no_uv = attestation("none", vec![], auth_data(RP.id, UP | AT, 0, Some(&k)));
    assert_eq!(reg(CREATE, &no_uv), Err(WebAuthnError::UserNotVerified));
    let no_up = attestation("none", vec![], auth_data(RP.id, UV | AT, 0, Some(&k)));
    assert_eq!(reg(CREATE, &no_up), Err(WebAuthnError::UserNotPresent));
    assert!(matches!(
        reg(CREATE, b"\xa0"),
        Err(WebAuthnError::Malformed(_))
    ));
    assert!(matches!(
        reg("{", &good()),
        Err(WebAuthnError::Malformed(_))
    ));
}

#[test]
fn an_assertion_verifies_with_its_key_and_a_growing_counter() {
    let k = key();
    let data = auth_data(RP.id, UP | UV, 7, None);
    let sig = sign(&k, &data, GET);
    let ok = verify_assertion(&RP, CHALLENGE, &public(&k), 6, GET.as_bytes(), &data, &sig).unwrap();
    assert_eq!(ok.sign_count(), 7);
    // A counter that did not grow: cloned or replayed.
    for stored in [7, 8] {
        assert_eq!(
            verify_assertion(
                &RP,
                CHALLENGE,
                &public(&k),
                stored,
                GET.as_bytes(),
                &data,
                &sig
            ),
            Err(WebAuthnError::CounterRegression)
        );
    }
    // An authenticator without a counter says zero each time.
    let zero = auth_data(RP.id, UP | UV, 0, None);
    let sig0 = sign(&k, &zero, GET);
    assert!(verify_assertion(&RP, CHALLENGE, &public(&k), 0, GET.as_bytes(), &zero, &sig0).is_ok());
}

#[test]
fn assertions_by_a_foreign_key_elsewhere_or_without_uv_are_refused() {
    let k = key();
    let data = auth_data(RP.id, UP | UV, 1, None);
    let sig = sign(&k, &data, GET);
    let check = |key: &DevicePublicKey, client: &str, data: &[u8], sig: &[u8]| {
        verify_assertion(&RP, CHALLENGE, key, 0, client.as_bytes(), data, sig)
    };
    assert_eq!(
        check(&public(&key()), GET, &data, &sig),
        Err(WebAuthnError::BadSignature),
        "a foreign key"
    );
    assert_eq!(
        check(
            &public(&k),
            &GET.replace("https://auth.example", "https://evil.example"),
            &data,
            &sig
        ),
        Err(WebAuthnError::WrongOrigin)
    );
    assert_eq!(
        check(&public(&k), &GET.replace("ZS0wMDE", "ZS0wMDI"), &data, &sig),
        Err(WebAuthnError::WrongChallenge)
    );
    assert_eq!(
        check(&public(&k), CREATE, &data, &sig),
        Err(WebAuthnError::WrongType)
    );
    let no_uv = auth_data(RP.id, UP, 1, None);
    assert_eq!(
        check(&public(&k), GET, &no_uv, &sign(&k, &no_uv, GET)),
        Err(WebAuthnError::UserNotVerified)
    );
    // The signature covers the authenticator data: flags changed after signing fail.
    let mut tampered = data.clone();
    tampered[36] = 2;
    assert_eq!(
        check(&public(&k), GET, &tampered, &sig),
        Err(WebAuthnError::BadSignature)
    );
    let other_rp = auth_data("evil.example", UP | UV, 1, None);
    assert_eq!(
        check(&public(&k), GET, &other_rp, &sign(&k, &other_rp, GET)),
        Err(WebAuthnError::WrongRpId)
    );
}
