//! Issuer, expiry, revocation and key rotation, on every use.

use super::*;

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    for iss in [
        "https://evil.example/realms/test",
        "https://idp.example/realms/test/",
        "https://idp.example/realms/other",
        "",
    ] {
        let c = AccessTokenClaims {
            iss: iss.to_owned(),
            ..claims("jti-iss")
        };
        assert_invalid(f.verifier.verify(&at(&k, &c), Binding::None).await);
        assert_invalid(f.verifier.verify_unbound(&at(&k, &c)).await);
    }
}

#[tokio::test]
async fn expiry_is_checked_on_every_use() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = claims("jti-exp");
    let t = at(&k, &c);
    assert!(f.verifier.verify(&t, Binding::None).await.is_ok());
    f.clock.advance(LIFETIME - 1);
    assert!(
        f.verifier.verify(&t, Binding::None).await.is_ok(),
        "one second before exp"
    );
    f.clock.advance(1);
    // exp == now: expired, though the signature was remembered.
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_invalid(f.verifier.verify_unbound(&t).await);
    f.clock.advance(3600);
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
}

#[tokio::test]
async fn token_expired_at_issue_is_refused() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = AccessTokenClaims {
        exp: T0 - 1,
        ..claims("jti-old")
    };
    assert_invalid(f.verifier.verify(&at(&k, &c), Binding::None).await);
}

#[tokio::test]
async fn revoked_token_is_refused_even_when_remembered() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let t = at(&k, &claims("jti-rev"));
    let other = at(&k, &claims("jti-kept"));
    assert!(f.verifier.verify(&t, Binding::None).await.is_ok());
    f.source.revoke("jti-rev");
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_invalid(f.verifier.verify_unbound(&t).await);
    assert!(
        f.verifier.verify(&other, Binding::None).await.is_ok(),
        "only the revoked jti is refused"
    );
}

#[tokio::test]
async fn revocation_is_not_asked_for_refused_tokens() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let c = AccessTokenClaims {
        exp: T0,
        ..claims("jti-exp-rev")
    };
    assert_invalid(f.verifier.verify(&at(&k, &c), Binding::None).await);
    assert_invalid(
        f.verifier
            .verify(&at(&ec_key("ec1"), &claims("x")), Binding::None)
            .await,
    );
    assert_eq!(f.source.revocation_checks.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn key_rotation_invalidates_remembered_signatures() {
    let k1 = ec_key("ec1");
    let k2 = ec_key("ec2");
    let f = fixture(keys_of(&[&k1]));
    let c = claims("jti-gen");
    let t = at(&k1, &c);
    assert_eq!(f.verifier.verify(&t, Binding::None).await.unwrap(), c);
    // A new generation that dropped ec1: the remembered signature no longer counts.
    f.source.rotate(keys_of(&[&k2]));
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_invalid(f.verifier.verify_unbound(&t).await);
    assert_eq!(
        f.source.refreshes(),
        2,
        "ec1 is unknown to the new generation"
    );
    // Restoring a generation with ec1 makes it valid again (verified afresh).
    f.source.rotate(keys_of(&[&k1, &k2]));
    assert_eq!(f.verifier.verify(&t, Binding::None).await.unwrap(), c);
}

#[tokio::test]
async fn key_rotation_with_the_same_kid_reverifies() {
    // Same kid, other key material: only a cache keyed by generation notices.
    let k1 = ec_key("ec1");
    let replacement = ec_key("ec1");
    let f = fixture(keys_of(&[&k1]));
    let t = at(&k1, &claims("jti-samekid"));
    assert!(f.verifier.verify(&t, Binding::None).await.is_ok());
    f.source.rotate(keys_of(&[&replacement]));
    assert_invalid(f.verifier.verify(&t, Binding::None).await);
    assert_eq!(f.source.refreshes(), 0, "the kid is known");
}

#[tokio::test]
async fn source_failures_are_internal_errors() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let t = at(&k, &claims("jti-int"));
    f.source.fail_keys.store(true, Ordering::SeqCst);
    match f.verifier.verify(&t, Binding::None).await {
        Err(TokenError::Internal(e)) => assert_eq!(e.to_string(), "keys unavailable"),
        other => panic!("expected Internal, got {other:?}"),
    }
    f.source.fail_keys.store(false, Ordering::SeqCst);
    f.source.fail_revocation.store(true, Ordering::SeqCst);
    match f.verifier.verify_unbound(&t).await {
        Err(TokenError::Internal(e)) => {
            assert_eq!(e.to_string(), "revocation store unavailable")
        }
        other => panic!("expected Internal, got {other:?}"),
    }
    f.source.fail_revocation.store(false, Ordering::SeqCst);
    assert!(f.verifier.verify(&t, Binding::None).await.is_ok());
}

#[tokio::test]
async fn default_refresh_learns_nothing() {
    struct Static(Arc<VerificationKeys>);
    impl TokenSource for Static {
        fn issuer(&self) -> &str {
            ISSUER
        }
        fn keys(&self) -> BoxFuture<'_, anyhow::Result<Arc<VerificationKeys>>> {
            Box::pin(async move { Ok(self.0.clone()) })
        }
        fn revoked<'a>(&'a self, _: &'a AccessTokenClaims) -> BoxFuture<'a, anyhow::Result<bool>> {
            Box::pin(async { Ok(false) })
        }
    }
    let k1 = ec_key("ec1");
    let k2 = ec_key("ec2");
    let s = Static(keys_of(&[&k1]));
    assert!(s.refresh().await.unwrap().is_none());
    let v = Verifier::new(Arc::new(s), Arc::new(FixedClock::at(T0)));
    assert!(
        v.verify(&at(&k1, &claims("a")), Binding::None)
            .await
            .is_ok()
    );
    assert_invalid(v.verify(&at(&k2, &claims("b")), Binding::None).await);
}

#[tokio::test]
async fn verifier_is_shareable_across_tasks() {
    let k = ec_key("ec1");
    let f = fixture(keys_of(&[&k]));
    let v = Arc::new(f.verifier);
    let t = Arc::new(at(&k, &claims("jti-shared")));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (v, t) = (v.clone(), t.clone());
            tokio::spawn(async move { v.verify(&t, Binding::None).await.map(|c| c.jti) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "jti-shared");
    }
}
