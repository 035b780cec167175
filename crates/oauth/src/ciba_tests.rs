use super::*;
use crate::client::{SecretMethods, TokenAuthMethod};
use serde_json::json;

const NOW: i64 = 1_800_000_000;

fn spec() -> ClientSpec {
    ClientSpec {
        client_id: "lps".into(),
        public: false,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        token_endpoint_auth_method: TokenAuthMethod::ClientSecretBasic,
        secret_methods: SecretMethods::Either,
        id_token_signed_response_alg: None,
        userinfo_signed_response_alg: None,
        scopes: vec!["openid".into(), "scope_all".into()],
        grant_types: vec![GrantType::Ciba, GrantType::RefreshToken],
        jwks: None,
        secret_hash: None,
        tls_client_auth_subject_dn: None,
        tls_client_auth_san_dns: None,
        resource_server_for: vec![],
        ca: None,
        web_origins: None,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        ciba: None,
    }
}

fn client(spec: ClientSpec) -> Client {
    Client {
        spec,
        secret_hash: None,
        hmac_secret: None,
        jwks: None,
    }
}

fn realm(methods: &str) -> Realm {
    Realm::parse(
        "r.toml",
        &format!("name=\"r\"\nsandbox=true\nauth_methods=[{methods}]\n"),
        "https://idp.example",
    )
    .unwrap()
}

fn form(q: &str) -> Params {
    Params::from_pairs(url::form_urlencoded::parse(q.as_bytes()).into_owned())
}

/// A client with a fresh P-256 key registered, and a signer of JWTs with it.
fn keyed(mut spec: ClientSpec) -> (Client, impl Fn(&serde_json::Value) -> String) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let doc = EcdsaKeyPair::generate_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let pkcs8 = doc.as_ref().to_vec();
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(
        &jsonwebtoken::EncodingKey::from_ec_der(&pkcs8),
        jsonwebtoken::Algorithm::ES256,
    )
    .unwrap();
    jwk.common.key_id = Some("k1".into());
    let set = jsonwebtoken::jwk::JwkSet { keys: vec![jwk] };
    spec.jwks = Some(serde_json::to_value(&set).unwrap());
    let mut c = client(spec);
    c.jwks = Some(set);
    let sign = move |claims: &serde_json::Value| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some("k1".into());
        jsonwebtoken::encode(&h, claims, &jsonwebtoken::EncodingKey::from_ec_der(&pkcs8)).unwrap()
    };
    (c, sign)
}

#[test]
fn psc_request_is_accepted_as_psc_sends_it() {
    let r = realm("\"card\", \"ecps\"");
    let p = form(
        "scope=openid all&acr_values=eidas1&binding_message=00&login_hint=899700218896&channel=CARD",
    );
    let v = validate(&p, &client(spec()), &r, false).unwrap();
    assert_eq!(v.scope, vec!["openid".to_owned()]);
    assert_eq!(v.channel, Channel::Card);
    assert_eq!(v.method, AuthMethod::Card);
    assert_eq!(v.binding_message.as_deref(), Some("00"));
    assert_eq!(v.expires_in, DEFAULT_EXPIRY);
    assert_eq!(v.delivery, DeliveryMode::Poll);
    assert_eq!(v.client_notification_token, None);
    assert_eq!(hint(&p).unwrap(), Hint::LoginHint("899700218896".into()));
    // No channel: the e-CPS devices.
    let v = validate(
        &form("scope=openid&login_hint=x"),
        &client(spec()),
        &r,
        false,
    )
    .unwrap();
    assert_eq!(v.channel, Channel::Mobile);
}

#[test]
fn refusals() {
    let r = realm("\"card\", \"ecps\"");
    let c = client(spec());
    let code = |q: &str| validate(&form(q), &c, &r, false).unwrap_err().code;
    assert_eq!(code("login_hint=x"), ErrorCode::InvalidScope);
    assert_eq!(code("scope=profile&login_hint=x"), ErrorCode::InvalidScope);
    assert_eq!(
        code("scope=openid&channel=SMS&login_hint=x"),
        ErrorCode::InvalidRequest
    );
    let long = "x".repeat(MAX_BINDING_MESSAGE + 1);
    assert_eq!(
        code(&format!("scope=openid&binding_message={long}")),
        ErrorCode::InvalidBindingMessage
    );
    assert_eq!(
        code("scope=openid&binding_message=a%0Ab"),
        ErrorCode::InvalidBindingMessage
    );
    for e in ["0", "9", "601", "abc", "-5"] {
        assert_eq!(
            code(&format!("scope=openid&requested_expiry={e}")),
            ErrorCode::InvalidRequest,
            "{e}"
        );
    }
    let v = validate(&form("scope=openid&requested_expiry=300"), &c, &r, false).unwrap();
    assert_eq!(v.expires_in, 300);
    assert_eq!(
        code("scope=openid&request_uri=urn:x"),
        ErrorCode::RequestUriNotSupported
    );
    assert_eq!(code("scope=openid&scope=openid"), ErrorCode::InvalidRequest);
    // A channel the realm does not offer.
    let card_only = realm("\"card\"");
    assert_eq!(
        validate(&form("scope=openid&channel=MOBILE"), &c, &card_only, false)
            .unwrap_err()
            .code,
        ErrorCode::InvalidRequest
    );
    // A client without the grant, or a public one.
    let mut s = spec();
    s.grant_types = vec![GrantType::AuthorizationCode];
    assert_eq!(
        validate(&form("scope=openid"), &client(s), &r, false)
            .unwrap_err()
            .code,
        ErrorCode::UnauthorizedClient
    );
}

#[test]
fn acr_values_above_the_channel_are_refused() {
    let r = Realm::parse(
        "r.toml",
        "name=\"r\"\nsandbox=true\nauth_methods=[\"card\", \"ecps\"]\n[acr]\ncard=\"eidas3\"\necps=\"eidas2\"\n",
        "https://idp.example",
    )
    .unwrap();
    let c = client(spec());
    let v = validate(
        &form("scope=openid&channel=CARD&acr_values=eidas3"),
        &c,
        &r,
        false,
    );
    assert_eq!(v.unwrap().acr, Acr::Eidas3);
    let e = validate(
        &form("scope=openid&channel=MOBILE&acr_values=eidas3"),
        &c,
        &r,
        false,
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
}

#[test]
fn ping_clients_need_a_notification_token() {
    let r = realm("\"ecps\"");
    let mut s = spec();
    s.ciba = Some(CibaRegistration {
        token_delivery_mode: DeliveryMode::Ping,
        client_notification_endpoint: Some("https://lps.example/cb".into()),
        authentication_request_signing_alg: None,
    });
    let c = client(s);
    assert_eq!(
        validate(&form("scope=openid"), &c, &r, false)
            .unwrap_err()
            .code,
        ErrorCode::InvalidRequest
    );
    let v = validate(
        &form("scope=openid&client_notification_token=t0k"),
        &c,
        &r,
        false,
    )
    .unwrap();
    assert_eq!(v.delivery, DeliveryMode::Ping);
    assert_eq!(v.client_notification_token.as_deref(), Some("t0k"));
}

#[test]
fn registration_rules() {
    let check = |f: &dyn Fn(&mut ClientSpec)| {
        let mut s = spec();
        f(&mut s);
        validate_registration(&s)
    };
    assert!(check(&|_| {}).is_ok());
    assert!(
        check(&|s| {
            s.public = true;
            s.token_endpoint_auth_method = TokenAuthMethod::None;
        })
        .is_err()
    );
    let ping = |endpoint: Option<&str>| CibaRegistration {
        token_delivery_mode: DeliveryMode::Ping,
        client_notification_endpoint: endpoint.map(str::to_owned),
        authentication_request_signing_alg: None,
    };
    assert!(check(&|s| s.ciba = Some(ping(Some("https://lps.example/n")))).is_ok());
    assert!(check(&|s| s.ciba = Some(ping(Some("http://127.0.0.1:9/n")))).is_ok());
    assert!(check(&|s| s.ciba = Some(ping(None))).is_err());
    assert!(check(&|s| s.ciba = Some(ping(Some("http://lps.example/n")))).is_err());
    assert!(
        check(&|s| {
            s.ciba = Some(ping(Some("https://lps.example/n")));
            s.grant_types = vec![GrantType::RefreshToken];
        })
        .is_err()
    );
    assert!(
        check(&|s| {
            s.ciba = Some(CibaRegistration {
                authentication_request_signing_alg: Some(SigAlg::ES256),
                ..Default::default()
            })
        })
        .is_err(),
        "a signing algorithm without keys"
    );
}

#[test]
fn one_hint_exactly() {
    assert_eq!(
        hint(&form("id_token_hint=a")).unwrap(),
        Hint::IdTokenHint("a".into())
    );
    assert_eq!(
        hint(&form("login_hint_token=a")).unwrap(),
        Hint::LoginHintToken("a".into())
    );
    assert!(hint(&form("scope=openid")).is_err());
    assert!(hint(&form("login_hint=a&id_token_hint=b")).is_err());
}

#[test]
fn login_hint_tokens() {
    let (c, sign) = keyed(spec());
    let ok = sign(
        &json!({"iss": "lps", "exp": NOW + 60, "sub_id": {"format": "opaque", "id": "899700218896"}}),
    );
    assert_eq!(login_hint_token(&ok, &c, NOW).unwrap(), "899700218896");
    let by_claim = sign(&json!({"exp": NOW + 60, "login_hint": "899700218896"}));
    assert_eq!(
        login_hint_token(&by_claim, &c, NOW).unwrap(),
        "899700218896"
    );
    let expired = sign(&json!({"exp": NOW - 60, "login_hint": "x"}));
    assert_eq!(
        login_hint_token(&expired, &c, NOW).unwrap_err().code,
        ErrorCode::ExpiredLoginHintToken
    );
    for bad in [
        json!({"exp": NOW + 60}),
        json!({"login_hint": "x"}),
        json!({"iss": "other", "exp": NOW + 60, "login_hint": "x"}),
        json!({"exp": NOW + 60, "sub_id": {"format": "email", "id": "a@b"}}),
        json!({"exp": NOW + 7200, "login_hint": "x"}),
    ] {
        assert_eq!(
            login_hint_token(&sign(&bad), &c, NOW).unwrap_err().code,
            ErrorCode::InvalidRequest,
            "{bad}"
        );
    }
    // Signed by another key.
    let (_, other) = keyed(spec());
    let foreign = other(&json!({"exp": NOW + 60, "login_hint": "x"}));
    assert!(login_hint_token(&foreign, &c, NOW).is_err());
}

#[test]
fn signed_requests() {
    let mut s = spec();
    s.ciba = Some(CibaRegistration {
        authentication_request_signing_alg: Some(SigAlg::ES256),
        ..Default::default()
    });
    let (c, sign) = keyed(s);
    let aud = ["https://idp.example/auth/realms/r"];
    let good = json!({
        "iss": "lps", "aud": aud[0], "exp": NOW + 60, "iat": NOW, "nbf": NOW, "jti": "j1",
        "scope": "openid", "login_hint": "899700218896", "requested_expiry": 60,
        "binding_message": "42"
    });
    let r = signed_request(&sign(&good), &c, &aud, NOW).unwrap();
    assert_eq!(r.jti, "j1");
    assert_eq!(r.params.get("requested_expiry"), Some("60"));
    assert_eq!(r.params.get("iss"), None);
    let v = validate(&r.params, &c, &realm("\"ecps\""), true).unwrap();
    assert_eq!(v.expires_in, 60);
    // This client must sign.
    assert!(validate(&r.params, &c, &realm("\"ecps\""), false).is_err());
    let with = |k: &str, v: serde_json::Value| {
        let mut j = good.clone();
        if v.is_null() {
            j.as_object_mut().unwrap().remove(k);
        } else {
            j[k] = v;
        }
        signed_request(&sign(&j), &c, &aud, NOW)
    };
    assert!(with("aud", json!("https://elsewhere")).is_err());
    assert!(with("iss", json!("other")).is_err());
    assert!(with("exp", json!(NOW - 60)).is_err());
    assert!(with("nbf", json!(NOW + 600)).is_err());
    assert!(with("nbf", serde_json::Value::Null).is_err());
    assert!(with("jti", serde_json::Value::Null).is_err());
    assert!(with("exp", json!(NOW + 7200)).is_err());
    assert!(with("request", json!("x")).is_err());
    // Not signed by the client's key.
    let (_, other) = keyed(spec());
    assert!(signed_request(&other(&good), &c, &aud, NOW).is_err());
    // A client without keys cannot send them.
    assert_eq!(
        signed_request(&sign(&good), &client(spec()), &aud, NOW)
            .unwrap_err()
            .code,
        ErrorCode::RequestNotSupported
    );
}

#[test]
fn polls() {
    let view = |status, last| PollView {
        client_id: "lps",
        status,
        expires_at: NOW + 60,
        last_polled_at: last,
        interval: INTERVAL,
    };
    let code = |d: PollDecision| d.error().map(|e| e.code);
    assert_eq!(
        code(poll(&view(Status::Pending, None), "lps", NOW)),
        Some(ErrorCode::AuthorizationPending)
    );
    assert_eq!(
        code(poll(&view(Status::Pending, Some(NOW - 1)), "lps", NOW)),
        Some(ErrorCode::AuthorizationPending)
    );
    let d = poll(&view(Status::Pending, Some(NOW)), "lps", NOW);
    assert!(matches!(d, PollDecision::SlowDown(6)));
    assert_eq!(code(d), Some(ErrorCode::SlowDown));
    assert!(matches!(
        poll(&view(Status::Approved, Some(NOW)), "lps", NOW),
        PollDecision::Redeem(_)
    ));
    assert_eq!(
        code(poll(&view(Status::Denied, None), "lps", NOW)),
        Some(ErrorCode::AccessDenied)
    );
    assert_eq!(
        code(poll(&view(Status::Consumed, None), "lps", NOW)),
        Some(ErrorCode::InvalidGrant)
    );
    assert_eq!(
        code(poll(&view(Status::Pending, None), "lps", NOW + 60)),
        Some(ErrorCode::ExpiredToken)
    );
    assert_eq!(
        code(poll(&view(Status::Approved, None), "lps", NOW + 60)),
        Some(ErrorCode::ExpiredToken)
    );
    // Another client's auth_req_id.
    assert_eq!(
        code(poll(&view(Status::Approved, None), "other", NOW)),
        Some(ErrorCode::InvalidGrant)
    );
}

#[test]
fn an_early_poll_is_slowed_down_without_reading_the_request() {
    let recent = RecentPoll {
        client_id: "lps",
        expires_at: 1_000,
        polled_at: 100,
        interval: 5,
    };
    assert!(matches!(
        early_poll(&recent, "lps", 103),
        Some(PollDecision::SlowDown(10))
    ));
    // In time, by another client, or once expired: the request is read.
    assert!(early_poll(&recent, "lps", 105).is_none());
    assert!(early_poll(&recent, "other", 103).is_none());
    let expired = RecentPoll {
        expires_at: 103,
        ..recent
    };
    assert!(early_poll(&expired, "lps", 103).is_none());
}
