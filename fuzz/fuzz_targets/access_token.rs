//! Bearer access tokens at coeur's resource servers (the CA API, the directory): raw tokens,
//! or claims the issuer's key signs so that the checks behind the signature run, with and
//! without a certificate binding.
#![no_main]

use coeur_common::random::testing::FixedClock;
use coeur_fuzz::{JWS_KEY, NOW, jws_of, mode};
use coeur_oauth::claims::AccessTokenClaims;
use coeur_oauth::jose::VerificationKeys;
use coeur_resource_server::{Binding, TokenSource, Verifier};
use futures_util::future::BoxFuture;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock};

struct Source(Arc<VerificationKeys>);

impl TokenSource for Source {
    fn issuer(&self) -> &str {
        "https://idp.example/realms/edit"
    }
    fn keys(&self) -> BoxFuture<'_, anyhow::Result<Arc<VerificationKeys>>> {
        Box::pin(async { Ok(self.0.clone()) })
    }
    fn revoked<'a>(&'a self, _: &'a AccessTokenClaims) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async { Ok(false) })
    }
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
});

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    let key = JWS_KEY.coeur.decoding_key().expect("decoding key");
    let keys = VerificationKeys::new([(
        JWS_KEY.coeur.kid().to_owned(),
        jsonwebtoken::Algorithm::ES256,
        key,
    )]);
    Verifier::new(
        Arc::new(Source(Arc::new(keys))),
        Arc::new(FixedClock::at(NOW)),
    )
});

fuzz_target!(|data: &[u8]| {
    let Some((signed, rest)) = mode(data) else {
        return;
    };
    let token = if signed {
        jws_of("at+jwt", rest)
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    RUNTIME.block_on(async {
        if let Ok(claims) = VERIFIER.verify(&token, Binding::None).await {
            assert!(claims.exp > NOW - 60, "an expired token was accepted");
            assert!(claims.cnf.is_none(), "a bound token was accepted without its proof");
        }
        let _ = VERIFIER.verify(&token, Binding::Mtls("fuzz-thumbprint")).await;
    });
});
