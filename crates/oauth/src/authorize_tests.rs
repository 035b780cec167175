//! Tests of the authorization request checks.

use super::*;
use crate::client::{ClientSpec, SecretMethods, TokenAuthMethod};

#[test]
fn loopback_redirect_uris_match_any_port() {
    let yes = [
        ("http://127.0.0.1/cb", "http://127.0.0.1:53211/cb"),
        ("http://127.0.0.1:9/cb", "http://127.0.0.1:53211/cb"),
        ("http://127.0.0.1:9/cb?x=1", "http://127.0.0.1/cb?x=1"),
        ("http://[::1]/cb", "http://[::1]:8080/cb"),
        ("http://127.0.0.1", "http://127.0.0.1:1"),
        ("http://localhost:9/cb", "http://localhost:9/cb"),
    ];
    for (r, q) in yes {
        assert!(redirect_uri_matches(r, q), "{r} {q}");
    }
    let no = [
        ("http://127.0.0.1/cb", "http://127.0.0.1:53211/cb2"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:53211/cb?x=1"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:53211/CB"),
        ("http://127.0.0.1/cb", "http://[::1]:53211/cb"),
        ("http://127.0.0.1/cb", "https://127.0.0.1:53211/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:99999/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1.evil.example/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1@evil.example/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:80@evil.example/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:8080/cb#f"),
        ("http://localhost/cb", "http://localhost:8080/cb"),
        ("https://rp.example/cb", "https://rp.example:444/cb"),
        ("http://127.0.0.2/cb", "http://127.0.0.2:8080/cb"),
    ];
    for (r, q) in no {
        assert!(!redirect_uri_matches(r, q), "{r} {q}");
    }
}

fn client(public: bool) -> Client {
    Client {
        spec: ClientSpec {
            client_id: "c".into(),
            public,
            redirect_uris: vec![
                "https://rp.example/cb".into(),
                "https://rp.example/cb2".into(),
            ],
            post_logout_redirect_uris: vec![],
            token_endpoint_auth_method: if public {
                TokenAuthMethod::None
            } else {
                TokenAuthMethod::ClientSecretBasic
            },
            secret_methods: SecretMethods::Either,
            id_token_signed_response_alg: None,
            userinfo_signed_response_alg: None,
            scopes: vec!["openid".into(), "scope_all".into()],
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
        secret_hash: None,
        hmac_secret: None,
        jwks: None,
    }
}

fn params(q: &str) -> Params {
    Params::from_pairs(url::form_urlencoded::parse(q.as_bytes()).into_owned())
}

#[test]
fn unregistered_or_missing_redirect_is_a_page() {
    let c = client(false);
    for q in [
        "client_id=c&response_type=code&scope=openid&redirect_uri=https://evil.example/cb",
        "client_id=c&response_type=code&scope=openid&redirect_uri=https://rp.example/cb?x=1",
        "client_id=c&response_type=code&scope=openid&redirect_uri=https://RP.example/cb",
        "client_id=c&response_type=code&scope=openid",
        "client_id=c&redirect_uri=https://rp.example/cb&redirect_uri=https://rp.example/cb2",
    ] {
        assert!(
            matches!(validate(&params(q), &c), Err(AuthzError::Page(_))),
            "{q}"
        );
    }
}

#[test]
fn errors_after_redirect_check_redirect() {
    let c = client(false);
    let e = validate(
        &params("client_id=c&redirect_uri=https://rp.example/cb&scope=openid&state=s"),
        &c,
    )
    .unwrap_err();
    match e {
        AuthzError::Redirect { error, state, .. } => {
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            assert_eq!(state.as_deref(), Some("s"));
        }
        _ => panic!(),
    }
    let e = validate(
        &params("client_id=c&redirect_uri=https://rp.example/cb&scope=openid&response_type=token"),
        &c,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        AuthzError::Redirect {
            error: OAuthError {
                code: ErrorCode::UnsupportedResponseType,
                ..
            },
            ..
        }
    ));
}

#[test]
fn public_clients_need_s256() {
    let c = client(true);
    let base = "client_id=c&redirect_uri=https://rp.example/cb&scope=openid&response_type=code";
    assert!(validate(&params(base), &c).is_err());
    let plain = format!(
        "{base}&code_challenge=n7y9mWizNKIm0sx6qNrauhtys1VCoDWiE_BjyLxYGQQ&code_challenge_method=plain"
    );
    assert!(validate(&params(&plain), &c).is_err());
    let s256 = format!(
        "{base}&code_challenge=n7y9mWizNKIm0sx6qNrauhtys1VCoDWiE_BjyLxYGQQ&code_challenge_method=S256"
    );
    assert!(validate(&params(&s256), &c).is_ok());
}

#[test]
fn unknown_params_ignored_and_scopes_filtered() {
    let c = client(false);
    let r = validate(&params("extra=foobar&scope=scope_all+openid+admin&client_id=c&response_type=code&redirect_uri=https://rp.example/cb"), &c).unwrap();
    assert_eq!(r.scope, vec!["scope_all", "openid"]);
}

#[test]
fn decisions() {
    let c = client(false);
    let mut r = validate(
        &params("client_id=c&redirect_uri=https://rp.example/cb&scope=openid&response_type=code"),
        &c,
    )
    .unwrap();
    let s = SessionView {
        sid: "s".into(),
        national_id: "n".into(),
        auth_time: 100,
        method: AuthMethod::Test,
        acr: Acr::Eidas1,
    };
    assert_eq!(decide(&r, Some(&s), None, 200), Decision::UseSession);
    assert_eq!(decide(&r, None, None, 200), Decision::Login);
    r.max_age = Some(10);
    assert_eq!(decide(&r, Some(&s), None, 200), Decision::Login);
    // max_age=0 is prompt=login (OIDC Core §3.1.2.1), even within the same second.
    r.max_age = Some(0);
    assert_eq!(decide(&r, Some(&s), None, 100), Decision::Login);
    r.prompt.none = true;
    assert!(matches!(
        decide(&r, Some(&s), None, 200),
        Decision::Refuse(_)
    ));
    r.max_age = None;
    r.acr_min = Some(Acr::Eidas2);
    assert!(matches!(
        decide(&r, Some(&s), None, 200),
        Decision::Refuse(_)
    ));
    r.acr_min = None;
    assert!(matches!(
        decide(&r, Some(&s), Some(false), 200),
        Decision::Refuse(_)
    ));
    assert_eq!(decide(&r, Some(&s), Some(true), 200), Decision::UseSession);
}

/// The error a request is redirected with.
fn redirected(q: &str, c: &Client) -> (ErrorCode, String, Option<String>) {
    match validate(&params(q), c) {
        Err(AuthzError::Redirect {
            error,
            state,
            redirect_uri,
        }) => {
            assert_eq!(redirect_uri, "https://rp.example/cb", "{q}");
            (error.code, error.description, state)
        }
        other => panic!("{q}: {other:?}"),
    }
}

#[test]
fn each_refusal_has_its_code_and_reason() {
    let c = client(false);
    let base = "client_id=c&redirect_uri=https://rp.example/cb&response_type=code";
    for (extra, code, why) in [
        (
            "&scope=openid&nonce=a&nonce=b",
            ErrorCode::InvalidRequest,
            "parameter nonce is repeated",
        ),
        (
            "&scope=openid&request=x",
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ),
        (
            "&scope=openid&request_uri=x",
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ),
        (
            "&scope=openid&response_mode=fragment",
            ErrorCode::InvalidRequest,
            "only response_mode=query is supported",
        ),
        ("", ErrorCode::InvalidScope, "scope is missing"),
        (
            "&scope=admin",
            ErrorCode::InvalidScope,
            "none of the requested scopes is allowed for this client",
        ),
        (
            "&scope=openid&prompt=bogus",
            ErrorCode::InvalidRequest,
            "unknown prompt value",
        ),
        (
            "&scope=openid&prompt=none+login",
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ),
        (
            "&scope=openid&max_age=-1",
            ErrorCode::InvalidRequest,
            "max_age must be a non-negative integer",
        ),
        (
            "&scope=openid&max_age=soon",
            ErrorCode::InvalidRequest,
            "max_age must be a non-negative integer",
        ),
    ] {
        let q = format!("{base}{extra}&state=st");
        let (got, desc, state) = redirected(&q, &c);
        assert_eq!((got, desc.as_str()), (code, why), "{q}");
        assert_eq!(state.as_deref(), Some("st"));
    }
    let (_, desc, _) = redirected(
        "client_id=c&redirect_uri=https://rp.example/cb&scope=openid",
        &c,
    );
    assert_eq!(desc, "response_type is missing");
    // A repeated state is dropped rather than echoed.
    let (_, _, state) = redirected(
        "client_id=c&redirect_uri=https://rp.example/cb&scope=openid&state=a&state=b",
        &c,
    );
    assert_eq!(state, None);
}

#[test]
fn grant_and_openid_scope_are_the_clients() {
    let base = "client_id=c&redirect_uri=https://rp.example/cb&response_type=code";
    let mut c = client(false);
    c.spec.scopes = vec!["scope_all".into()];
    let (code, desc, _) = redirected(&format!("{base}&scope=openid+scope_all"), &c);
    assert_eq!(code, ErrorCode::InvalidScope);
    assert_eq!(desc, "this client may not use the openid scope");
    let mut c = client(false);
    c.spec.grant_types = vec![GrantType::ClientCredentials];
    let (code, desc, _) = redirected(&format!("{base}&scope=openid"), &c);
    assert_eq!(code, ErrorCode::UnauthorizedClient);
    assert_eq!(desc, "this client may not use the authorization code flow");
}

#[test]
fn client_id_and_default_redirect() {
    assert_eq!(client_id(&params("client_id=c")), Ok("c"));
    assert_eq!(
        client_id(&params("x=1")),
        Err(AuthzError::Page("client_id is missing".into()))
    );
    assert_eq!(
        client_id(&params("client_id=c&client_id=d")),
        Err(AuthzError::Page("client_id is repeated".into()))
    );
    let mut c = client(false);
    c.spec.redirect_uris.truncate(1);
    let r = validate(
        &params("client_id=c&response_type=code&scope=openid&prompt=login+consent&max_age=0&acr_values=eidas2&nonce=n"),
        &c,
    )
    .unwrap();
    assert_eq!(r.redirect_uri, "https://rp.example/cb");
    assert!(!r.redirect_uri_given);
    assert_eq!(
        r.prompt,
        Prompt {
            none: false,
            login: true
        }
    );
    assert_eq!(r.max_age, Some(0));
    assert_eq!(r.acr_min, Some(Acr::Eidas2));
    assert_eq!(r.nonce.as_deref(), Some("n"));
    let r = validate(
        &params("client_id=c&response_type=code&scope=openid&redirect_uri=https://rp.example/cb"),
        &c,
    )
    .unwrap();
    assert!(r.redirect_uri_given);
}

#[test]
fn session_age_and_level_boundaries() {
    let c = client(false);
    let mut r = validate(
        &params("client_id=c&redirect_uri=https://rp.example/cb&scope=openid&response_type=code"),
        &c,
    )
    .unwrap();
    let s = SessionView {
        sid: "s".into(),
        national_id: "n".into(),
        auth_time: 100,
        method: AuthMethod::Test,
        acr: Acr::Eidas2,
    };
    r.max_age = Some(10);
    assert_eq!(decide(&r, Some(&s), None, 110), Decision::UseSession);
    assert_eq!(decide(&r, Some(&s), None, 111), Decision::Login);
    r.max_age = None;
    r.acr_min = Some(Acr::Eidas2);
    assert_eq!(decide(&r, Some(&s), None, 200), Decision::UseSession);
    assert!(method_meets(&r, Acr::Eidas2));
    assert!(!method_meets(&r, Acr::Eidas1));
    r.acr_min = None;
    assert!(method_meets(&r, Acr::Eidas1));
    r.prompt.login = true;
    assert_eq!(decide(&r, Some(&s), None, 200), Decision::Login);
    r.prompt.none = true;
    assert_eq!(
        decide(&r, None, None, 200),
        Decision::Refuse(OAuthError::new(
            ErrorCode::LoginRequired,
            "the user must log in"
        ))
    );
}

#[test]
fn unmet_requirements_only_when_a_level_is_out_of_reach() {
    let c = client(false);
    let q = "client_id=c&redirect_uri=https://rp.example/cb&scope=openid&response_type=code";
    let r = validate(&params(q), &c).unwrap();
    let offered = [Acr::Eidas2, Acr::Eidas2, Acr::Eidas1, Acr::Eidas1];
    assert_eq!(unmet_requirements(&r, &offered), None, "no level asked");
    let at = |acr: &str| validate(&params(&format!("{q}&acr_values={acr}")), &c).unwrap();
    assert_eq!(unmet_requirements(&at("eidas1"), &offered), None);
    let e = unmet_requirements(&at("eidas3"), &offered).unwrap();
    assert_eq!(e.code.as_str(), "unmet_authentication_requirements");
    assert_eq!(
        e.description,
        "no login method offered reaches the requested level (eidas3)"
    );
    let e = unmet_requirements(&at("eidas2"), &offered).unwrap();
    assert_eq!(e.code, ErrorCode::UnmetAuthenticationRequirements);
    assert_eq!(
        e.description,
        "the user has no login method reaching the requested level (eidas2)"
    );
    assert_eq!(unmet_requirements(&at("eidas2"), &[Acr::Eidas3]), None);
}

#[test]
fn error_redirect_carries_state_and_issuer() {
    let e = OAuthError::new(ErrorCode::AccessDenied, "no");
    assert_eq!(
        error_redirect("https://rp.example/cb", Some("s t"), &e, "https://op"),
        "https://rp.example/cb?error=access_denied&error_description=no&state=s+t&iss=https%3A%2F%2Fop"
    );
    assert_eq!(
        error_redirect("https://rp.example/cb", None, &e, "https://op"),
        "https://rp.example/cb?error=access_denied&error_description=no&iss=https%3A%2F%2Fop"
    );
}

#[test]
fn redirect_keeps_registered_query() {
    let u = redirect_with("https://rp.example/cb?a=1", &[("code", "x y")]);
    assert_eq!(u, "https://rp.example/cb?a=1&code=x+y");
}

#[test]
fn redirect_with_nothing_to_add_is_the_registered_uri() {
    assert_eq!(
        redirect_with("https://rp.example/", &[]),
        "https://rp.example/"
    );
    assert_eq!(
        redirect_with("https://rp.example/cb?a=1", &[]),
        "https://rp.example/cb?a=1"
    );
}
