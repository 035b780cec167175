//! What a signed access token must look like: algorithms, key ids, `typ`, signatures.

use super::*;

#[tokio::test]
async fn valid_token_is_accepted_with_its_claims() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = claims("jti-1");
    let got = f.verifier.verify(&at(&k, &c), Binding::None).await.unwrap();
    assert_eq!(got, c);
    assert_eq!(f.verifier.issuer(), ISSUER);
    assert_eq!(f.source.refreshes(), 0, "a known kid needs no refresh");
    assert_eq!(f.source.revocation_checks.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rsa_tokens_are_accepted() {
    let rs = rsa_key("rs1", SigAlg::RS256);
    let ps = rsa_key("ps1", SigAlg::PS256);
    let f = fixture(keys_of(&[&rs, &ps]));
    let c = claims("jti-rsa");
    assert_eq!(
        f.verifier
            .verify(&at(&rs, &c), Binding::None)
            .await
            .unwrap(),
        c
    );
    assert_eq!(
        f.verifier
            .verify(&at(&ps, &c), Binding::None)
            .await
            .unwrap(),
        c
    );
}

#[tokio::test]
async fn keys_from_a_jwks_document_verify() {
    let k = ec_key("ec-jwks");
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(json!({ "keys": [k.public_jwk()] })).unwrap();
    let f = fixture(Arc::new(VerificationKeys::from_jwks(&set)));
    let c = claims("jti-jwks");
    assert_eq!(
        f.verifier.verify(&at(&k, &c), Binding::None).await.unwrap(),
        c
    );
}

#[tokio::test]
async fn typ_must_be_at_jwt() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = claims("jti-typ");
    for typ in [
        "JWT",
        "jwt",
        "application/jwt",
        "at+jwt2",
        "",
        "id_token+jwt",
    ] {
        let t = k.sign(typ, &c).unwrap();
        assert_invalid(f.verifier.verify(&t, Binding::None).await);
    }
    // Media types compare case-insensitively, short or full (RFC 9068 §4).
    for typ in ["AT+JWT", "application/at+jwt", "Application/AT+JWT"] {
        let t = k.sign(typ, &c).unwrap();
        assert_eq!(f.verifier.verify(&t, Binding::None).await.unwrap(), c);
    }
}

#[tokio::test]
async fn missing_typ_is_refused() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = serde_json::to_value(claims("jti-notyp")).unwrap();
    // The same key signs a header without `typ`: only the header check can refuse it.
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
    let own = SigningKey::from_pkcs8("own", SigAlg::ES256, doc.as_ref()).unwrap();
    let f2 = fixture(keys_of(&[&own]));
    let sign = |header: Value| {
        let input = signing_input(&header, &c);
        let sig = kp.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    };
    let with_typ = sign(json!({"alg": "ES256", "kid": "own", "typ": "at+jwt"}));
    assert!(
        f2.verifier.verify(&with_typ, Binding::None).await.is_ok(),
        "the hand-made token is otherwise valid"
    );
    let without = sign(json!({"alg": "ES256", "kid": "own"}));
    assert_invalid(f2.verifier.verify(&without, Binding::None).await);
    // Not a JWT at all.
    for junk in ["", "abc", "a.b.c", "..", "eyJhbGciOiJFUzI1NiJ9.e30."] {
        assert_invalid(f.verifier.verify(junk, Binding::None).await);
    }
}

#[tokio::test]
async fn missing_kid_is_refused() {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
    let own = SigningKey::from_pkcs8("own", SigAlg::ES256, doc.as_ref()).unwrap();
    let f = fixture(keys_of(&[&own]));
    let input = signing_input(
        &json!({"alg": "ES256", "typ": "at+jwt"}),
        &serde_json::to_value(claims("jti-nokid")).unwrap(),
    );
    let sig = kp.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    let t = format!("{input}.{}", b64(sig.as_ref()));
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_eq!(f.source.refreshes(), 0);
}

#[tokio::test]
async fn unknown_kid_is_refused_when_refresh_learns_nothing() {
    let k1 = ec_key("ec1");
    let k2 = ec_key("ec2");
    let f = fixture(keys_of(&[&k1]));
    let t = at(&k2, &claims("jti-unknown"));
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_eq!(
        f.source.refreshes(),
        1,
        "an unknown kid asks the source once"
    );
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_eq!(f.source.refreshes(), 2);
}

#[tokio::test]
async fn unknown_kid_is_accepted_after_refresh_supplies_it() {
    let k1 = ec_key("ec1");
    let k2 = ec_key("ec2");
    let f = fixture(keys_of(&[&k1]));
    f.source.publish(keys_of(&[&k1, &k2]));
    let c = claims("jti-rotated");
    let t = at(&k2, &c);
    assert_eq!(f.verifier.verify(&t, Binding::None).await.unwrap(), c);
    assert_eq!(f.source.refreshes(), 1);
    // Now known: no further refresh, for this token or another one of the new key.
    assert_eq!(f.verifier.verify(&t, Binding::None).await.unwrap(), c);
    let c2 = claims("jti-rotated-2");
    assert_eq!(
        f.verifier
            .verify(&at(&k2, &c2), Binding::None)
            .await
            .unwrap(),
        c2
    );
    // The old key still verifies too.
    assert!(
        f.verifier
            .verify(&at(&k1, &claims("jti-old")), Binding::None)
            .await
            .is_ok()
    );
    assert_eq!(f.source.refreshes(), 1);
}

#[tokio::test]
async fn refreshed_keys_without_the_kid_still_refuse() {
    let k1 = ec_key("ec1");
    let k2 = ec_key("ec2");
    let k3 = ec_key("ec3");
    let f = fixture(keys_of(&[&k1]));
    f.source.publish(keys_of(&[&k1, &k2]));
    assert_invalid(
        f.verifier
            .verify(&at(&k3, &claims("jti-k3")), Binding::None)
            .await,
    );
    assert_eq!(f.source.refreshes(), 1);
}

#[tokio::test]
async fn header_algorithm_must_be_the_keys_one() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let payload = serde_json::to_value(claims("jti-confused")).unwrap();

    // HS256 keyed with the public key, in the forms an attacker could find it.
    let jwk = k.public_jwk();
    let coord = |n: &str| URL_SAFE_NO_PAD.decode(jwk[n].as_str().unwrap()).unwrap();
    let mut point = vec![4u8];
    point.extend(coord("x"));
    point.extend(coord("y"));
    let jwk_text = serde_json::to_vec(jwk).unwrap();
    for secret in [point.as_slice(), jwk_text.as_slice()] {
        let input = signing_input(
            &json!({"alg": "HS256", "kid": "ec1", "typ": "at+jwt"}),
            &payload,
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        let t = format!("{input}.{}", b64(tag.as_ref()));
        assert_invalid(f.verifier.verify(&t, Binding::None).await);
    }

    // `alg: none` with no signature.
    let input = signing_input(
        &json!({"alg": "none", "kid": "ec1", "typ": "at+jwt"}),
        &payload,
    );
    assert_invalid(f.verifier.verify(&format!("{input}."), Binding::None).await);

    // A valid ES256 signature under a header relabelled ES384.
    let (_, p, s) = parts(&at(&k, &claims("jti-relabel")));
    let h = b64(br#"{"alg":"ES384","kid":"ec1","typ":"at+jwt"}"#);
    assert_invalid(
        f.verifier
            .verify(&format!("{h}.{p}.{s}"), Binding::None)
            .await,
    );
}

#[tokio::test]
async fn rsa_key_is_bound_to_its_one_padding() {
    // The same RSA key is registered for RS256 only; a genuine PS256 signature by it under
    // the RS256 kid is refused.
    let rs = rsa_key("rsa1", SigAlg::RS256);
    let ps_same_kid = rsa_key("rsa1", SigAlg::PS256);
    let f = fixture(keys_of(&[&rs]));
    let c = claims("jti-pss");
    assert_invalid(
        f.verifier
            .verify(&at(&ps_same_kid, &c), Binding::None)
            .await,
    );
    assert_eq!(
        f.verifier
            .verify(&at(&rs, &c), Binding::None)
            .await
            .unwrap(),
        c
    );
}

#[tokio::test]
async fn bad_signature_is_refused() {
    let k = ec_key("ec1");
    let impostor = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = claims("jti-sig");
    // Another key under the same kid.
    assert_invalid(f.verifier.verify(&at(&impostor, &c), Binding::None).await);

    let good = at(&k, &c);
    let (h, p, s) = parts(&good);
    // A flipped signature byte.
    let mut sig = URL_SAFE_NO_PAD.decode(&s).unwrap();
    sig[10] ^= 1;
    assert_invalid(
        f.verifier
            .verify(&format!("{h}.{p}.{}", b64(&sig)), Binding::None)
            .await,
    );
    // An empty or truncated signature.
    assert_invalid(f.verifier.verify(&format!("{h}.{p}."), Binding::None).await);
    assert_invalid(
        f.verifier
            .verify(&format!("{h}.{p}.{}", b64(&sig[..32])), Binding::None)
            .await,
    );
    // Altered claims under the original signature (a wider scope).
    let mut altered = serde_json::to_value(&c).unwrap();
    altered["scope"] = json!("openid ca:request ca:admin");
    let p2 = b64(&serde_json::to_vec(&altered).unwrap());
    assert_invalid(
        f.verifier
            .verify(&format!("{h}.{p2}.{s}"), Binding::None)
            .await,
    );
    // The untouched token still passes: the refusals above are about the changes.
    assert_eq!(f.verifier.verify(&good, Binding::None).await.unwrap(), c);
}
