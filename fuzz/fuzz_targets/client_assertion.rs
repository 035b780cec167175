//! Client authentication at the token, introspection and revocation endpoints: the
//! `Authorization` header and form, and `private_key_jwt` assertions — raw, or claims the
//! client's key signs so that the checks behind the signature run.
#![no_main]

use coeur_fuzz::{JWS_KEY, NOW, jws_of, mode};
use coeur_oauth::authorize::Params;
use coeur_oauth::client::{Client, ClientSpec};
use coeur_oauth::token::{authenticate, presented};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

const TOKEN_ENDPOINT: &str = "https://idp.example/realms/edit/protocol/openid-connect/token";

static CLIENT: LazyLock<Client> = LazyLock::new(|| {
    let jwks = serde_json::json!({"keys": [JWS_KEY.coeur.public_jwk()]});
    let spec: ClientSpec = serde_json::from_value(serde_json::json!({
        "client_id": "fuzz-client",
        "redirect_uris": ["https://rp.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": jwks,
    }))
    .expect("fixture client");
    Client {
        jwks: Some(serde_json::from_value(jwks).expect("JWKS")),
        spec,
        secret_hash: None,
        hmac_secret: None,
    }
});

fuzz_target!(|data: &[u8]| {
    let Some((signed, rest)) = mode(data) else {
        return;
    };
    let (header, assertion) = if signed {
        (None, jws_of("JWT", rest))
    } else {
        // Raw: up to the first newline, an Authorization header; then the assertion.
        let text = String::from_utf8_lossy(rest);
        match text.split_once('\n') {
            Some((h, a)) => (Some(h.to_owned()), a.to_owned()),
            None => (None, text.into_owned()),
        }
    };
    let form = Params::from_pairs([
        ("client_id".to_owned(), "fuzz-client".to_owned()),
        (
            "client_assertion_type".to_owned(),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
        ),
        ("client_assertion".to_owned(), assertion),
    ]);
    if let Ok(p) = presented(header.as_deref(), &form) {
        let _ = authenticate(p, CLIENT.clone(), &[TOKEN_ENDPOINT, "https://idp.example/realms/edit"], NOW);
    }
});
