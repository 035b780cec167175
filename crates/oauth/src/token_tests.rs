use super::*;
use crate::client::{ClientSpec, GrantType, SecretMethods};
use crate::secret::SecretHash;

fn client(method: TokenAuthMethod) -> Client {
    Client {
        spec: ClientSpec {
            client_id: "rp".into(),
            public: method == TokenAuthMethod::None,
            redirect_uris: vec!["https://rp.example/cb".into()],
            post_logout_redirect_uris: vec![],
            token_endpoint_auth_method: method,
            secret_methods: SecretMethods::Either,
            id_token_signed_response_alg: None,
            userinfo_signed_response_alg: None,
            scopes: vec!["openid".into()],
            grant_types: vec![GrantType::AuthorizationCode],
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
        },
        secret_hash: Some(SecretHash::new(
            "s3cret-s3cret-s3cret-s3cret-s3cret",
            &[1; 16],
        )),
        hmac_secret: None,
        jwks: None,
    }
}

/// A client that may use only its registered method.
fn strict(method: TokenAuthMethod) -> Client {
    let mut c = client(method);
    c.spec.secret_methods = SecretMethods::RegisteredOnly;
    c
}

fn form(q: &str) -> Params {
    Params::from_pairs(url::form_urlencoded::parse(q.as_bytes()).into_owned())
}

#[test]
fn basic_and_post() {
    let h = format!(
        "Basic {}",
        STANDARD.encode("rp:s3cret-s3cret-s3cret-s3cret-s3cret")
    );
    let p = presented(Some(&h), &form("grant_type=x")).unwrap();
    assert!(matches!(
        authenticate(p, client(TokenAuthMethod::ClientSecretBasic), &[], 0),
        Ok(AuthOutcome::Authenticated(_))
    ));
    let p = presented(
        None,
        &form("client_id=rp&client_secret=s3cret-s3cret-s3cret-s3cret-s3cret"),
    )
    .unwrap();
    assert!(
        authenticate(
            p.clone(),
            client(TokenAuthMethod::ClientSecretBasic),
            &[],
            0
        )
        .is_ok(),
        "a secret client may post its secret, as Keycloak accepts"
    );
    assert!(
        authenticate(
            p.clone(),
            strict(TokenAuthMethod::ClientSecretBasic),
            &[],
            0
        )
        .is_err(),
        "registered_only: the method must match the registration"
    );
    assert!(authenticate(p, client(TokenAuthMethod::ClientSecretPost), &[], 0).is_ok());
    let p = presented(None, &form("client_id=rp&client_secret=wrong")).unwrap();
    assert_eq!(
        authenticate(p, client(TokenAuthMethod::ClientSecretPost), &[], 0)
            .unwrap_err()
            .code,
        ErrorCode::InvalidClient
    );
    assert!(
        presented(Some(&h), &form("client_secret=x")).is_err(),
        "two methods"
    );
    assert!(presented(None, &form("grant_type=x")).is_err());
}

#[test]
fn code_checks() {
    let c = client(TokenAuthMethod::None);
    let auth = match authenticate(Presented::IdOnly { id: "rp".into() }, c, &[], 0).unwrap() {
        AuthOutcome::Authenticated(a) => a,
        _ => panic!(),
    };
    let code = CodeGrant {
        client_id: "rp".into(),
        redirect_uri: "https://rp.example/cb".into(),
        redirect_uri_given: true,
        code_challenge: Some("n7y9mWizNKIm0sx6qNrauhtys1VCoDWiE_BjyLxYGQQ".into()),
        expires_at: 100,
        used: false,
    };
    let v = "k2Vd9pCfQy7rTn3LwXe6uZb1HsGm8JaKo4RiNt0YcMv";
    assert!(check_code(&code, &auth, Some("https://rp.example/cb"), Some(v), 50).is_ok());
    assert!(
        check_code(&code, &auth, Some("https://rp.example/cb"), Some(v), 100).is_err(),
        "expired"
    );
    assert!(
        check_code(&code, &auth, None, Some(v), 50).is_err(),
        "redirect_uri required"
    );
    assert!(
        check_code(&code, &auth, Some("https://rp.example/cb"), None, 50).is_err(),
        "verifier required"
    );
    let mut other = code.clone();
    other.client_id = "other".into();
    assert!(check_code(&other, &auth, Some("https://rp.example/cb"), Some(v), 50).is_err());
}

#[test]
fn a_used_code_is_a_replay_only_for_its_own_client() {
    let auth = match authenticate(
        Presented::IdOnly { id: "rp".into() },
        client(TokenAuthMethod::None),
        &[],
        0,
    )
    .unwrap()
    {
        AuthOutcome::Authenticated(a) => a,
        _ => panic!(),
    };
    let used = CodeGrant {
        client_id: "rp".into(),
        redirect_uri: "https://rp.example/cb".into(),
        redirect_uri_given: false,
        code_challenge: None,
        expires_at: 100,
        used: true,
    };
    assert!(matches!(
        check_code(&used, &auth, None, None, 500),
        Ok(CodeDecision::Replay)
    ));
    let theirs = CodeGrant {
        client_id: "victim".into(),
        ..used
    };
    assert_eq!(
        refusal(check_code(&theirs, &auth, None, None, 50)),
        (
            ErrorCode::InvalidGrant,
            "the code was issued to another client".into()
        )
    );
}

fn subject(dn: &str) -> Dn {
    Dn::parse(dn).unwrap()
}

#[test]
fn registered_dn_renderings() {
    let cert = subject("CN=a,OU=1,O=B C,C=FR");
    assert!(registered_dn_matches("CN=a,OU=1,O=B C,C=FR", &cert));
    assert!(registered_dn_matches("C=FR, O=B C, OU=1, CN=a", &cert));
    assert!(registered_dn_matches("cn=A, ou=1, o=b  c, c=fr", &cert));
    assert!(
        !registered_dn_matches("OU=1,CN=a,O=B C,C=FR", &cert),
        "not a reversal"
    );
    assert!(!registered_dn_matches("CN=a,OU=1,C=FR", &cert));
    assert!(!registered_dn_matches("CN=a+OU=1,O=B C,C=FR", &cert));
    assert!(!registered_dn_matches("CN=b,OU=1,O=B C,C=FR", &cert));
    assert!(!registered_dn_matches("CN=a;OU=1", &cert), "does not parse");
    assert!(!registered_dn_matches("", &Dn::default()), "empty");
}

fn tls_client(dn: &str) -> Client {
    let mut c = client(TokenAuthMethod::TlsClientAuth);
    c.spec.tls_client_auth_subject_dn = Some(dn.into());
    c
}

fn presented_cert(dn: &str) -> PresentedCertificate {
    PresentedCertificate {
        subject: subject(dn),
        dns: vec!["rp.example".into()],
        thumbprint: "thumb".into(),
    }
}

#[test]
fn tls_client_auth_decision() {
    let id = || Presented::IdOnly { id: "rp".into() };
    let ok = authenticate_tls(
        &id(),
        tls_client("CN=a,O=evil"),
        Some(&presented_cert("CN=a,O=evil")),
    )
    .unwrap();
    assert_eq!(ok.bound_thumbprint(), Some("thumb"));
    // One CN holding "a,O=evil" is not the two RDNs CN=a and O=evil, either way round.
    for (registered, cert) in [
        ("CN=a,O=evil", "CN=a\\,O=evil"),
        ("CN=a\\,O=evil", "CN=a,O=evil"),
        ("CN=a,O=evil", "CN=a\\2CO\\3Devil"),
        ("CN=a+O=evil", "CN=a,O=evil"),
        ("CN=a,O=evil", "CN=a+O=evil"),
    ] {
        let e = authenticate_tls(&id(), tls_client(registered), Some(&presented_cert(cert)))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClient, "{registered} / {cert}");
        assert_eq!(
            e.description,
            "the client certificate does not match the registration"
        );
    }
    let e = authenticate_tls(&id(), tls_client("CN=a,O=evil"), None).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidClient);
    let secret = Presented::Post {
        id: "rp".into(),
        secret: "x".into(),
    };
    assert!(
        authenticate_tls(
            &secret,
            tls_client("CN=a,O=evil"),
            Some(&presented_cert("CN=a,O=evil"))
        )
        .is_err()
    );
    assert!(
        authenticate_tls(
            &id(),
            client(TokenAuthMethod::None),
            Some(&presented_cert("CN=a,O=evil"))
        )
        .is_err()
    );
    // The SAN DNS name alone, case-insensitively.
    let mut by_san = client(TokenAuthMethod::TlsClientAuth);
    by_san.spec.tls_client_auth_san_dns = Some("RP.example".into());
    assert!(authenticate_tls(&id(), by_san, Some(&presented_cert("CN=z"))).is_ok());
}

fn basic(creds: &str) -> String {
    format!("Basic {}", STANDARD.encode(creds))
}

fn refusal<T: std::fmt::Debug>(r: Result<T, OAuthError>) -> (ErrorCode, String) {
    let e = r.unwrap_err();
    (e.code, e.description)
}

#[test]
fn presented_credentials_are_read_strictly() {
    let inv = ErrorCode::InvalidClient;
    assert_eq!(
        refusal(presented(Some("Bearer x"), &form("client_id=rp"))),
        (inv, "unsupported Authorization scheme".into())
    );
    assert_eq!(
        refusal(presented(Some("Basic !!!"), &form(""))),
        (inv, "malformed Basic credentials".into())
    );
    assert_eq!(
        refusal(presented(Some(&basic("no-colon")), &form(""))),
        (inv, "malformed Basic credentials".into())
    );
    assert_eq!(
        refusal(presented(Some(&basic("rp:x")), &form("client_id=other"))),
        (inv, "client_id does not match the Basic credentials".into())
    );
    assert_eq!(
        refusal(presented(None, &form("client_secret=x"))),
        (inv, "client_id is missing".into())
    );
    assert_eq!(
        refusal(presented(
            None,
            &form("client_assertion=x&client_assertion_type=other")
        )),
        (inv, "client_assertion_type must be jwt-bearer".into())
    );
    assert_eq!(
        refusal(presented(None, &form("client_secret=x&client_assertion=y"))),
        (
            ErrorCode::InvalidRequest,
            "use exactly one client authentication method".into()
        )
    );
    assert_eq!(
        refusal(presented(None, &form(""))),
        (inv, "client authentication is missing".into())
    );
    // Basic credentials are form-urlencoded (RFC 6749 §2.3.1).
    assert_eq!(
        presented(Some(&basic("r%3Ap:s+%2B")), &form("client_id=r:p")).unwrap(),
        Presented::Basic {
            id: "r:p".into(),
            secret: "s +".into()
        }
    );
    let a = presented(
        None,
        &form("client_assertion=j&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
    )
    .unwrap();
    assert_eq!(
        a,
        Presented::Assertion {
            id: None,
            jwt: "j".into()
        }
    );
    assert_eq!(a.claimed_id(), None, "an unreadable JWT names nobody");
}

#[test]
fn method_must_be_the_registered_one() {
    let (code, why) = refusal(authenticate(
        Presented::IdOnly { id: "rp".into() },
        client(TokenAuthMethod::ClientSecretBasic),
        &[],
        0,
    ));
    assert_eq!(code, ErrorCode::InvalidClient);
    assert_eq!(
        why,
        "this client must authenticate with client_secret_basic or client_secret_post"
    );
    let mut no_hash = client(TokenAuthMethod::ClientSecretPost);
    no_hash.secret_hash = None;
    let p = Presented::Post {
        id: "rp".into(),
        secret: "s3cret-s3cret-s3cret-s3cret-s3cret".into(),
    };
    assert_eq!(
        refusal(authenticate(p, no_hash, &[], 0)).1,
        "client authentication failed"
    );
    let (code, why) = refusal(authenticate(
        Presented::Assertion {
            id: Some("rp".into()),
            jwt: "not.a.jwt".into(),
        },
        client(TokenAuthMethod::PrivateKeyJwt),
        &["https://op/token"],
        0,
    ));
    assert_eq!(code, ErrorCode::InvalidClient);
    assert_eq!(why, "client assertion rejected: malformed");
}

#[test]
fn a_replayed_assertion_is_refused() {
    let checked = || AssertionChecked {
        client: client(TokenAuthMethod::PrivateKeyJwt),
        jti: "j".into(),
        exp: 10,
    };
    assert_eq!(
        refusal(checked().first_use(false)),
        (ErrorCode::InvalidClient, "client assertion replayed".into())
    );
    let auth = checked().first_use(true).unwrap();
    assert_eq!(auth.client().id(), "rp");
    assert_eq!(auth.bound_thumbprint(), None);
}

#[test]
fn code_refusals_say_why() {
    let auth = match authenticate(
        Presented::IdOnly { id: "rp".into() },
        client(TokenAuthMethod::None),
        &[],
        0,
    )
    .unwrap()
    {
        AuthOutcome::Authenticated(a) => a,
        _ => panic!(),
    };
    let code = CodeGrant {
        client_id: "rp".into(),
        redirect_uri: "https://rp.example/cb".into(),
        redirect_uri_given: false,
        code_challenge: None,
        expires_at: 100,
        used: false,
    };
    let grant = ErrorCode::InvalidGrant;
    assert!(
        check_code(&code, &auth, None, None, 99).is_ok(),
        "not required"
    );
    assert_eq!(
        refusal(check_code(
            &code,
            &auth,
            Some("https://rp.example/other"),
            None,
            50
        )),
        (
            grant,
            "redirect_uri does not match the authorization request".into()
        )
    );
    assert_eq!(
        refusal(check_code(&code, &auth, None, Some("v"), 50)),
        (grant, "code_verifier sent but no code_challenge was".into())
    );
    assert_eq!(
        refusal(check_code(&code, &auth, None, None, 100)),
        (grant, "the code has expired".into())
    );
    let mut other = code.clone();
    other.client_id = "x".into();
    assert_eq!(
        refusal(check_code(&other, &auth, None, None, 50)),
        (grant, "the code was issued to another client".into())
    );
    let mut pkce = code.clone();
    pkce.code_challenge = Some("n7y9mWizNKIm0sx6qNrauhtys1VCoDWiE_BjyLxYGQQ".into());
    assert_eq!(
        refusal(check_code(
            &pkce,
            &auth,
            None,
            Some("wrong-verifier-wrong-verifier-wrong-verifier"),
            50
        ))
        .0,
        grant
    );
}

#[test]
fn refresh_refusals_and_boundaries() {
    let r = RefreshRecord {
        client_id: "rp".into(),
        expires_at: 1000,
        used_at: None,
        revoked: false,
    };
    let grant = ErrorCode::InvalidGrant;
    assert_eq!(
        refresh_decision(&r, "rp", 2, 999).unwrap(),
        RefreshDecision::Rotate
    );
    assert_eq!(
        refusal(refresh_decision(&r, "rp", 2, 1000)),
        (grant, "the refresh token has expired".into())
    );
    assert_eq!(
        refusal(refresh_decision(&r, "other", 2, 10)),
        (
            grant,
            "the refresh token was issued to another client".into()
        )
    );
    let revoked = RefreshRecord {
        revoked: true,
        ..r.clone()
    };
    assert_eq!(
        refusal(refresh_decision(&revoked, "rp", 2, 10)),
        (grant, "the refresh token is revoked".into())
    );
    let used = RefreshRecord {
        used_at: Some(100),
        ..r
    };
    assert_eq!(
        refresh_decision(&used, "rp", 2, 102).unwrap(),
        RefreshDecision::Repeat
    );
    assert_eq!(
        refresh_decision(&used, "rp", 0, 101).unwrap(),
        RefreshDecision::RevokeFamily
    );
}

#[test]
fn grant_type_parameter() {
    assert_eq!(
        grant_type(&form("grant_type=refresh_token")).unwrap(),
        "refresh_token"
    );
    assert_eq!(
        refusal(grant_type(&form("scope=a"))),
        (ErrorCode::InvalidRequest, "grant_type is missing".into())
    );
    assert_eq!(
        refusal(grant_type(&form("grant_type=x&code=a&code=b"))),
        (
            ErrorCode::InvalidRequest,
            "parameter code is repeated".into()
        )
    );
    // Other parameters may repeat.
    assert!(grant_type(&form("grant_type=x&resource=a&resource=b")).is_ok());
}

#[test]
fn refresh_reuse_window() {
    let r = RefreshRecord {
        client_id: "rp".into(),
        expires_at: 1000,
        used_at: Some(100),
        revoked: false,
    };
    assert_eq!(
        refresh_decision(&r, "rp", 2, 101).unwrap(),
        RefreshDecision::Repeat
    );
    assert_eq!(
        refresh_decision(&r, "rp", 2, 103).unwrap(),
        RefreshDecision::RevokeFamily
    );
    assert!(refresh_decision(&r, "other", 2, 101).is_err());
}

#[test]
fn refresh_scope_narrows_never_widens() {
    assert_eq!(
        refresh_scope("openid scope_all", None).unwrap(),
        "openid scope_all"
    );
    assert_eq!(
        refresh_scope("openid scope_all", Some(" ")).unwrap(),
        "openid scope_all"
    );
    assert_eq!(
        refresh_scope("openid scope_all", Some("scope_all scope_all")).unwrap(),
        "scope_all"
    );
    assert_eq!(
        refusal(refresh_scope("openid", Some("openid email"))),
        (
            ErrorCode::InvalidScope,
            "scope exceeds the original grant".into()
        )
    );
}

#[test]
fn secret_clients_accept_both_secret_methods_unless_registered_only() {
    let secret = "s3cret-s3cret-s3cret-s3cret-s3cret";
    let basic = || Presented::Basic {
        id: "rp".into(),
        secret: secret.into(),
    };
    let post = || Presented::Post {
        id: "rp".into(),
        secret: secret.into(),
    };
    for registered in [
        TokenAuthMethod::ClientSecretBasic,
        TokenAuthMethod::ClientSecretPost,
    ] {
        for p in [basic(), post()] {
            assert!(
                authenticate(p, client(registered), &[], 0).is_ok(),
                "{registered:?}"
            );
        }
    }
    let (code, why) = refusal(authenticate(
        post(),
        strict(TokenAuthMethod::ClientSecretBasic),
        &[],
        0,
    ));
    assert_eq!(code, ErrorCode::InvalidClient);
    assert_eq!(
        why,
        "this client must authenticate with client_secret_basic"
    );
    assert!(authenticate(basic(), strict(TokenAuthMethod::ClientSecretBasic), &[], 0).is_ok());
    assert!(authenticate(post(), strict(TokenAuthMethod::ClientSecretPost), &[], 0).is_ok());
    // A secret never stands for the other kinds of client.
    for other in [TokenAuthMethod::PrivateKeyJwt, TokenAuthMethod::None] {
        assert!(
            authenticate(post(), client(other), &[], 0).is_err(),
            "{other:?}"
        );
        assert!(
            authenticate(basic(), client(other), &[], 0).is_err(),
            "{other:?}"
        );
    }
    let (_, why) = refusal(authenticate(
        Presented::IdOnly { id: "rp".into() },
        client(TokenAuthMethod::ClientSecretPost),
        &[],
        0,
    ));
    assert_eq!(
        why,
        "this client must authenticate with client_secret_basic or client_secret_post"
    );
}

/// A client registered for `private_key_jwt` with a fresh P-256 key, and a signer.
fn assertion_client() -> (Client, impl Fn(&serde_json::Value) -> String) {
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
    let mut c = client(TokenAuthMethod::PrivateKeyJwt);
    c.jwks = Some(jsonwebtoken::jwk::JwkSet { keys: vec![jwk] });
    let sign = move |claims: &serde_json::Value| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some("k1".into());
        jsonwebtoken::encode(&h, claims, &jsonwebtoken::EncodingKey::from_ec_der(&pkcs8)).unwrap()
    };
    (c, sign)
}

#[test]
fn assertion_lifetimes_and_extreme_times() {
    const NOW: i64 = 1_800_000_000;
    let (c, sign) = assertion_client();
    let check = |claims: serde_json::Value| {
        let jwt = sign(&claims);
        authenticate(
            Presented::Assertion {
                id: Some("rp".into()),
                jwt,
            },
            c.clone(),
            &["https://op/token"],
            NOW,
        )
    };
    let claims = |exp: serde_json::Value| {
        serde_json::json!({
            "iss": "rp", "sub": "rp", "aud": "https://op/token", "iat": NOW, "exp": exp,
            "jti": "j1",
        })
    };
    // Authlib's default: valid one hour; the jti is remembered until exp (+ skew).
    match check(claims((NOW + 3600).into())).unwrap() {
        AuthOutcome::NeedsJtiCheck(a) => assert_eq!(a.exp, NOW + 3600 + CLOCK_SKEW),
        AuthOutcome::Authenticated(_) => panic!("an assertion needs its jti recorded"),
    }
    assert_eq!(
        refusal(check(claims((NOW + 3600 + CLOCK_SKEW + 1).into()))).1,
        "client assertion rejected: exp is too far in the future"
    );
    // Extreme values are refused, never wrapped or panicking.
    for (exp, why) in [
        (i64::MAX, "exp is too far in the future"),
        (i64::MAX - CLOCK_SKEW, "exp is too far in the future"),
        (i64::MIN, "expired"),
    ] {
        assert_eq!(
            refusal(check(claims(exp.into()))),
            (
                ErrorCode::InvalidClient,
                format!("client assertion rejected: {why}")
            ),
            "exp = {exp}"
        );
    }
    let mut future = claims((NOW + 60).into());
    future["iat"] = i64::MAX.into();
    future["nbf"] = i64::MAX.into();
    assert_eq!(
        refusal(check(future)).1,
        "client assertion rejected: not yet valid"
    );
    let mut other = claims((NOW + 60).into());
    other["aud"] = "https://op/token/introspect".into();
    assert_eq!(
        refusal(check(other)).1,
        "client assertion rejected: aud must be the issuer, the token endpoint or the endpoint called"
    );
}
