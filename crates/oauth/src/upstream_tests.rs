//! The checks of upstream answers, one refusal at a time, and the link policy.

use super::*;
use crate::jose::{SigAlg, SigningKey};
use crate::jwe::tests::{ec_key, ecdh_es};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

const ISS: &str = "https://fcp.example/api/v2";
const NOW: i64 = 1_800_000_000;

fn signer(kid: &str) -> SigningKey {
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    SigningKey::from_pkcs8(kid, SigAlg::ES256, kp.to_pkcs8v1().unwrap().as_ref()).unwrap()
}

fn keys_of(k: &SigningKey) -> VerificationKeys {
    VerificationKeys::new([(
        k.kid().to_owned(),
        jsonwebtoken::Algorithm::ES256,
        k.decoding_key().unwrap(),
    )])
}

fn claims() -> Value {
    json!({
        "iss": ISS, "aud": "coeur", "sub": "b6048e95bb134ec5b1d1e1fa69f287172e91722b9354d637a1bcf2ebb0fd2ef5v1",
        "exp": NOW + 60, "iat": NOW, "nonce": "n".repeat(43), "acr": "eidas2",
    })
}

fn expected(encrypted: bool) -> (String, bool) {
    ("n".repeat(43), encrypted)
}

fn check(
    token: &str,
    keys: &VerificationKeys,
    dec: &[DecryptionKey],
    encrypted: bool,
) -> Result<UpstreamIdTokenVerified, UpstreamRefusal> {
    let (nonce, encrypted) = expected(encrypted);
    let e = Expected {
        issuer: ISS,
        client_id: "coeur",
        nonce: &nonce,
        acr: Acr::Eidas2,
        now: NOW,
        encrypted,
    };
    verify_id_token(token, dec, keys, &e)
}

fn with(k: &SigningKey, change: impl FnOnce(&mut Value)) -> String {
    let mut c = claims();
    change(&mut c);
    k.sign("JWT", &c).unwrap()
}

#[test]
fn a_signed_then_encrypted_token_verifies() {
    let k = signer("fc-1");
    let dec = ec_key("enc-1");
    let jws = with(&k, |_| {});
    let jwe = ecdh_es(&dec, jws.as_bytes(), json!({"cty": "JWT"}));
    let v = check(&jwe, &keys_of(&k), std::slice::from_ref(&dec), true).unwrap();
    assert_eq!(v.acr, Acr::Eidas2);
    assert_eq!(v.jws, jws);
    assert!(v.sub.ends_with("v1"));
    // Where encryption is required, the same token unencrypted is refused.
    assert_eq!(
        check(&jws, &keys_of(&k), &[dec], true).unwrap_err(),
        UpstreamRefusal::NotEncrypted
    );
    // Signed only, where the upstream signs only.
    assert!(check(&jws, &keys_of(&k), &[], false).is_ok());
}

#[test]
fn each_claim_is_checked() {
    let k = signer("fc-1");
    let keys = keys_of(&k);
    let refused = |change: fn(&mut Value)| check(&with(&k, change), &keys, &[], false).unwrap_err();
    assert!(matches!(
        refused(|c| c["iss"] = "https://evil.example".into()),
        UpstreamRefusal::Issuer(_)
    ));
    assert_eq!(
        refused(|c| c["aud"] = "other".into()),
        UpstreamRefusal::Audience
    );
    assert_eq!(
        refused(|c| c["aud"] = json!(["coeur", "other"])),
        UpstreamRefusal::Audience
    );
    assert_eq!(
        refused(|c| c["exp"] = (NOW - 61).into()),
        UpstreamRefusal::Expired
    );
    assert_eq!(
        refused(|c| c["iat"] = (NOW + 120).into()),
        UpstreamRefusal::Expired
    );
    assert_eq!(
        refused(|c| c["nonce"] = "m".repeat(43).into()),
        UpstreamRefusal::Nonce
    );
    assert_eq!(
        refused(|c| {
            c.as_object_mut().unwrap().remove("nonce");
        }),
        UpstreamRefusal::Nonce
    );
    assert!(matches!(
        refused(|c| c["acr"] = "eidas1".into()),
        UpstreamRefusal::Acr(_)
    ));
    assert!(matches!(
        refused(|c| c["acr"] = "loa-max".into()),
        UpstreamRefusal::Acr(_)
    ));
    assert_eq!(refused(|c| c["sub"] = "".into()), UpstreamRefusal::Subject);
    // Several audiences with azp naming coeur, and a higher level, pass.
    let ok = with(&k, |c| {
        c["aud"] = json!(["coeur", "other"]);
        c["azp"] = "coeur".into();
        c["acr"] = "eidas3".into();
    });
    assert_eq!(check(&ok, &keys, &[], false).unwrap().acr, Acr::Eidas3);
}

#[test]
fn foreign_and_unknown_keys_are_refused() {
    let k = signer("fc-1");
    let forger = signer("fc-1");
    let jws = with(&forger, |_| {});
    assert!(matches!(
        check(&jws, &keys_of(&k), &[], false),
        Err(UpstreamRefusal::Signature(_))
    ));
    let other = signer("fc-2");
    let jws = with(&other, |_| {});
    assert_eq!(
        check(&jws, &keys_of(&k), &[], false).unwrap_err(),
        UpstreamRefusal::UnknownKey("fc-2".into())
    );
}

#[test]
fn userinfo_must_speak_of_the_same_subject() {
    let k = signer("fc-1");
    let keys = keys_of(&k);
    let id = check(&with(&k, |_| {}), &keys, &[], false).unwrap();
    let (nonce, _) = expected(false);
    let e = Expected {
        issuer: ISS,
        client_id: "coeur",
        nonce: &nonce,
        acr: Acr::Eidas2,
        now: NOW,
        encrypted: false,
    };
    let same = json!({"sub": id.sub, "given_name": "Angela Claire Louise"}).to_string();
    assert!(check_userinfo(same.as_bytes(), false, &[], &keys, &e, &id).is_ok());
    let other = json!({"sub": "someone-else"}).to_string();
    assert_eq!(
        check_userinfo(other.as_bytes(), false, &[], &keys, &e, &id).unwrap_err(),
        UpstreamRefusal::OtherSubject
    );
    // Encrypted upstream: a plain JSON answer is refused, a signed-then-encrypted one read.
    let dec = ec_key("enc-1");
    let e = Expected {
        encrypted: true,
        ..e
    };
    assert_eq!(
        check_userinfo(same.as_bytes(), false, &[], &keys, &e, &id).unwrap_err(),
        UpstreamRefusal::NotEncrypted
    );
    let jws = k
        .sign(
            "JWT",
            &json!({"sub": id.sub, "iss": ISS, "family_name": "DUBOIS"}),
        )
        .unwrap();
    let jwe = ecdh_es(&dec, jws.as_bytes(), json!({}));
    let got = check_userinfo(jwe.as_bytes(), true, &[dec], &keys, &e, &id).unwrap();
    assert_eq!(got["family_name"], "DUBOIS");
}

#[test]
fn a_link_is_proven_only_by_card_or_ecps_in_the_same_login_in_time() {
    let p = PendingLink {
        realm: "edit".into(),
        upstream: "fcplus".into(),
        sub: "abc".into(),
        pending_hash: "h1".into(),
        expires_at: NOW + PENDING_LINK_LIFETIME,
        offer: None,
        acr: None,
    };
    let l = LinkProven::by_proof(&p, "h1", "810000000001", AuthMethod::Card, NOW).unwrap();
    assert_eq!(
        (l.sub(), l.national_id(), l.upstream()),
        ("abc", "810000000001", "fcplus")
    );
    assert!(LinkProven::by_proof(&p, "h1", "8", AuthMethod::Ecps, NOW).is_some());
    assert!(LinkProven::by_proof(&p, "h1", "8", AuthMethod::Test, NOW).is_none());
    assert!(LinkProven::by_proof(&p, "h1", "8", AuthMethod::Franceconnect, NOW).is_none());
    assert!(LinkProven::by_proof(&p, "h2", "8", AuthMethod::Card, NOW).is_none());
    assert!(LinkProven::by_proof(&p, "h1", "8", AuthMethod::Card, p.expires_at).is_none());
}

#[test]
fn a_link_is_confirmed_only_when_offered_in_the_same_login_in_time() {
    use crate::pivot::{Pivot, PivotMatched};
    let p = PendingLink {
        realm: "edit".into(),
        upstream: "fc".into(),
        sub: "abc".into(),
        pending_hash: "h1".into(),
        expires_at: NOW + PENDING_LINK_LIFETIME,
        offer: None,
        acr: None,
    };
    // Nothing offered (option off, no match, declined): no confirmation links.
    assert_eq!(LinkProven::by_confirmation(&p, "h1", NOW), None);
    let who = Pivot {
        family_name: "DUBOIS".into(),
        given_names: "ANGELA".into(),
        birth_date: "1962-08-24".into(),
        birth_place: "75107".into(),
        birth_country: "99100".into(),
    };
    let matched = PivotMatched::find(&who, [("810000000001", &who)]).unwrap();
    let offered = p.clone().offering(&matched, Acr::Eidas1);
    assert_eq!(offered.acr, Some(Acr::Eidas1));
    let l = LinkProven::by_confirmation(&offered, "h1", NOW).unwrap();
    assert_eq!(
        (l.sub(), l.national_id(), l.method().as_str()),
        ("abc", "810000000001", "pivot_identity")
    );
    assert_eq!(LinkProven::by_confirmation(&offered, "h2", NOW), None);
    assert_eq!(
        LinkProven::by_confirmation(&offered, "h1", offered.expires_at),
        None
    );
    assert_eq!(
        LinkProven::by_proof(&p, "h1", "8", AuthMethod::Card, NOW)
            .unwrap()
            .method(),
        LinkMethod::Proof(AuthMethod::Card)
    );
}

#[test]
fn settings_are_checked() {
    let spec = UpstreamSpec {
        name: "fcplus".into(),
        display_name: "FranceConnect+".into(),
        kind: UpstreamKind::FranceconnectPlus,
        issuer: "https://auth.integ01.dev-franceconnect.fr/api/v2".into(),
        client_id: "abc".into(),
        client_secret_env: Some("FC_SECRET".into()),
        client_secret_file: None,
        scopes: default_scopes(),
        acr_values: Acr::Eidas2,
        decryption_keys: vec!["fc-enc.pem".into()],
        id_token_signed_response_alg: None,
        endpoints: None,
        link_by_pivot_identity: false,
    };
    assert_eq!(spec.check(), Ok(()));
    let mut pivot = spec.clone();
    pivot.link_by_pivot_identity = true;
    assert_eq!(pivot.check(), Ok(()));
    pivot
        .scopes
        .retain(|s| s != "birthplace" && s != "birthcountry");
    let e = pivot.check().unwrap_err();
    assert!(e.contains("birthplace, birthcountry"), "{e}");
    pivot.link_by_pivot_identity = false;
    assert_eq!(pivot.check(), Ok(()));
    let bad = |f: fn(&mut UpstreamSpec)| {
        let mut s = spec.clone();
        f(&mut s);
        s.check().unwrap_err()
    };
    assert!(bad(|s| s.client_secret_file = Some("x".into())).contains("exactly one"));
    assert!(bad(|s| s.client_secret_env = None).contains("exactly one"));
    assert!(bad(|s| s.decryption_keys.clear()).contains("decryption_keys"));
    assert!(bad(|s| s.acr_values = Acr::Eidas1).contains("eidas2"));
    assert!(bad(|s| s.issuer = "http://fc.example".into()).contains("https"));
    assert!(bad(|s| s.scopes = vec!["email".into()]).contains("openid"));
    assert!(bad(|s| s.name = "a b".into()).contains("name"));
    let mut fc = spec.clone();
    fc.kind = UpstreamKind::Franceconnect;
    assert!(fc.check().unwrap_err().contains("eidas1"));
    fc.acr_values = Acr::Eidas1;
    fc.decryption_keys.clear();
    assert_eq!(fc.check(), Ok(()));
    // FranceConnect v1: HS256 with explicit endpoints; every inconsistency refused.
    let mut v1 = fc.clone();
    v1.id_token_signed_response_alg = Some("HS256".into());
    assert!(v1.check().unwrap_err().contains("endpoints"));
    let ep = |b: &str| UpstreamEndpoints {
        authorization: format!("{b}/api/v1/authorize"),
        token: format!("{b}/api/v1/token"),
        userinfo: format!("{b}/api/v1/userinfo"),
        end_session: format!("{b}/api/v1/logout"),
        jwks: None,
    };
    v1.endpoints = Some(ep("https://fcp.integ01.dev-franceconnect.fr"));
    assert_eq!(v1.check(), Ok(()));
    let bad1 = |f: fn(&mut UpstreamSpec)| {
        let mut s = v1.clone();
        f(&mut s);
        s.check().unwrap_err()
    };
    assert!(bad1(|s| s.decryption_keys = vec!["k.pem".into()]).contains("not encrypted"));
    assert!(
        bad1(|s| {
            s.kind = UpstreamKind::FranceconnectPlus;
            s.acr_values = Acr::Eidas2;
        })
        .contains("never HS256")
    );
    assert!(bad1(|s| s.id_token_signed_response_alg = Some("none".into())).contains("only"));
    assert!(bad1(|s| s.id_token_signed_response_alg = Some("RS256".into())).contains("only"));
    assert!(
        bad1(|s| s.endpoints.as_mut().unwrap().token = "http://fc.example/t".into())
            .contains("endpoints.token")
    );
    assert!(
        bad1(|s| s.endpoints.as_mut().unwrap().jwks = Some("https://fc.example/j".into()))
            .contains("not HS256")
    );
    // Endpoints without HS256 need the upstream's JWKS.
    assert!(bad1(|s| s.id_token_signed_response_alg = None).contains("endpoints.jwks"));
}

fn v1_expected(nonce: &str) -> Expected<'_> {
    Expected {
        issuer: ISS,
        client_id: "coeur",
        nonce,
        acr: Acr::Eidas1,
        now: NOW,
        encrypted: false,
    }
}

const SECRET: &[u8] = b"fc-v1-client-secret-0123456789abcdef";

#[test]
fn hs256_tokens_verify_with_the_client_secret_only() {
    let nonce = "n".repeat(43);
    let mut c = claims();
    c["acr"] = json!("eidas1");
    let good = crate::hs256::tests::hs256("HS256", &c, SECRET);
    let e = v1_expected(&nonce);
    let v = verify_id_token(&good, &[], SignatureKeys::ClientSecret(SECRET), &e).unwrap();
    assert_eq!(v.acr, Acr::Eidas1);
    // Another secret, or an asymmetric signature, or `none`, where HS256 is configured.
    let other = crate::hs256::tests::hs256("HS256", &c, b"another-secret-0123456789abcdefgh");
    assert!(matches!(
        verify_id_token(&other, &[], SignatureKeys::ClientSecret(SECRET), &e),
        Err(UpstreamRefusal::Signature(_))
    ));
    let es = signer("k1").sign("JWT", &c).unwrap();
    assert!(matches!(
        verify_id_token(&es, &[], SignatureKeys::ClientSecret(SECRET), &e),
        Err(UpstreamRefusal::Signature(_))
    ));
    let enc = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    let none = format!("{}.{}.", enc(&json!({"alg": "none"})), enc(&c));
    assert!(verify_id_token(&none, &[], SignatureKeys::ClientSecret(SECRET), &e).is_err());
    // The claims are still checked behind the MAC.
    let mut late = c.clone();
    late["exp"] = json!(NOW - 3600);
    let late = crate::hs256::tests::hs256("HS256", &late, SECRET);
    assert_eq!(
        verify_id_token(&late, &[], SignatureKeys::ClientSecret(SECRET), &e).unwrap_err(),
        UpstreamRefusal::Expired
    );
}

#[test]
fn hs256_is_never_checked_with_a_public_key() {
    // Algorithm confusion: an HS256 token whose MAC key is the upstream's public key (as a
    // JWK document, or its raw bytes), named with the public key's kid.
    let k = signer("k1");
    let keys = keys_of(&k);
    let public = serde_json::to_vec(&k.public_jwk()).unwrap();
    let c = claims();
    let enc = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    for secret in [public.as_slice(), b"k1".as_slice()] {
        let input = format!(
            "{}.{}",
            enc(&json!({"alg": "HS256", "kid": "k1", "typ": "JWT"})),
            enc(&c)
        );
        let tag = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
            input.as_bytes(),
        );
        let forged = format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
        );
        assert!(matches!(
            check(&forged, &keys, &[], false),
            Err(UpstreamRefusal::Signature(_))
        ));
    }
    // `none` too.
    let none = format!("{}.{}.", enc(&json!({"alg": "none", "kid": "k1"})), enc(&c));
    assert!(check(&none, &keys, &[], false).is_err());
}

#[test]
fn logout_url_and_levels() {
    let u = end_session_url(
        "https://fc.example/api/v2/session/end",
        "h.p.s",
        "s".repeat(43).as_str(),
        "https://coeur.example/back",
    )
    .unwrap();
    assert!(u.starts_with("https://fc.example/api/v2/session/end?id_token_hint=h.p.s&state=sss"));
    assert!(u.ends_with("&post_logout_redirect_uri=https%3A%2F%2Fcoeur.example%2Fback"));
    assert_eq!(login_acr(Acr::Eidas3, Acr::Eidas2), Acr::Eidas2);
    assert_eq!(login_acr(Acr::Eidas1, Acr::Eidas2), Acr::Eidas1);
    assert!(secret_of(&[0; 32]).len() >= MIN_STATE_LEN);
}
