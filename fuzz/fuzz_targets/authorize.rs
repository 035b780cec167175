//! Authorization requests (query strings and form bodies of `/auth`) against a public and a
//! confidential client.
#![no_main]

use coeur_oauth::authorize::{self, Params};
use coeur_oauth::client::{Client, ClientSpec};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

fn client(spec: serde_json::Value) -> Client {
    Client {
        spec: serde_json::from_value::<ClientSpec>(spec).expect("fixture client"),
        secret_hash: None,
        hmac_secret: None,
        jwks: None,
    }
}

static CLIENTS: LazyLock<[Client; 2]> = LazyLock::new(|| {
    [
        client(serde_json::json!({
            "client_id": "spa",
            "public": true,
            "redirect_uris": ["https://app.example/cb", "http://127.0.0.1/cb"],
        })),
        client(serde_json::json!({
            "client_id": "web",
            "redirect_uris": ["https://rp.example/callback?x=1"],
        })),
    ]
});

fuzz_target!(|data: &[u8]| {
    let params = Params::from_pairs(
        url::form_urlencoded::parse(data).map(|(k, v)| (k.into_owned(), v.into_owned())),
    );
    let _ = authorize::client_id(&params);
    for c in CLIENTS.iter() {
        if let Ok(req) = authorize::validate(&params, c) {
            // Whatever was asked, coeur only ever redirects to a registered URI.
            assert!(c.spec.redirect_uris.iter().any(|u| {
                let u = url::Url::parse(u).expect("fixture URI");
                let got = url::Url::parse(&req.redirect_uri).expect("accepted URI parses");
                got.scheme() == u.scheme() && got.host() == u.host() && got.path() == u.path()
            }));
        }
    }
});
