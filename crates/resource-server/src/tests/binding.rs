//! Sender-constrained tokens: certificate (RFC 8705) and DPoP bindings.

use super::*;

#[tokio::test]
async fn certificate_bound_token_needs_its_certificate() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = bound("jti-cnf", THUMB);
    let t = at(&k, &c);
    assert_eq!(
        refusal(f.verifier.verify(&t, Binding::None).await),
        WRONG_CERTIFICATE
    );
    assert_eq!(
        refusal(
            f.verifier
                .verify(
                    &t,
                    Binding::Mtls("AAAAQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU")
                )
                .await
        ),
        WRONG_CERTIFICATE
    );
    // A DPoP key thumbprint is no certificate, even with the same text.
    assert_eq!(
        refusal(f.verifier.verify(&t, Binding::Dpop(THUMB)).await),
        WRONG_CERTIFICATE
    );
    assert_eq!(
        f.verifier.verify(&t, Binding::Mtls(THUMB)).await.unwrap(),
        c
    );
    // Introspection: everything but the binding, the cnf claim reported back.
    let got = f.verifier.verify_unbound(&t).await.unwrap();
    assert_eq!(got.cnf.as_ref().unwrap().x5t_s256, THUMB);
    assert_eq!(got, c);
}

#[tokio::test]
async fn binding_is_checked_after_validity() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let t = at(&k, &bound("jti-cnf-exp", THUMB));
    f.clock.advance(LIFETIME);
    // Expired and presented without certificate: reported as invalid, not as a binding error.
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_invalid(f.verifier.verify(&t, Binding::Mtls(THUMB)).await);
}

#[tokio::test]
async fn unbound_token_is_accepted_with_a_certificate() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = claims("jti-unbound");
    assert_eq!(
        f.verifier
            .verify(&at(&k, &c), Binding::Mtls(THUMB))
            .await
            .unwrap(),
        c
    );
}

#[tokio::test]
async fn dpop_confirmation_is_not_taken_for_unbound() {
    // A `cnf` with only `jkt` (RFC 9449) must not pass as a token bound to nothing.
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let mut c = serde_json::to_value(claims("jti-jkt")).unwrap();
    c["cnf"] = json!({"jkt": THUMB});
    let t = k.sign("at+jwt", &c).unwrap();
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_invalid(f.verifier.verify(&t, Binding::Dpop(THUMB)).await);
}

#[test]
fn binding_of_certificate() {
    assert_eq!(Binding::of_certificate(None), Binding::None);
    assert_eq!(Binding::of_certificate(Some(THUMB)), Binding::Mtls(THUMB));
    assert_ne!(Binding::of_certificate(Some(THUMB)), Binding::Dpop(THUMB));
    assert_ne!(Binding::of_certificate(Some("")), Binding::None);
}

#[tokio::test]
async fn certificate_thumbprint_binds_end_to_end() {
    let cert_der = b"not really DER, but any bytes have a thumbprint";
    let thumb = coeur_common::encoding::x5t_s256(cert_der);
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = bound("jti-e2e", &thumb);
    let t = at(&k, &c);
    assert_eq!(
        f.verifier
            .verify(&t, Binding::of_certificate(Some(&thumb)))
            .await
            .unwrap(),
        c
    );
    let other = coeur_common::encoding::x5t_s256(b"another certificate");
    assert_eq!(
        refusal(
            f.verifier
                .verify(&t, Binding::of_certificate(Some(&other)))
                .await
        ),
        WRONG_CERTIFICATE
    );
    assert_eq!(
        refusal(f.verifier.verify(&t, Binding::of_certificate(None)).await),
        WRONG_CERTIFICATE
    );
}
