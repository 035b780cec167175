//! The OpenID Foundation "Config OP" plan (`oidcc-config-certification-test-plan`), whose only
//! module is `oidcc-discovery-endpoint-verification`, rebuilt as a black-box test: every
//! condition of the module is checked against the discovery document, the JWKS and, where a
//! metadata value makes a promise about behaviour, against the endpoints themselves.

use crate::both_dbs;
use crate::support::*;
use coeur::oauth::jose::SigAlg;
use serde_json::Value;
use std::collections::HashSet;

/// Metadata names registered by OIDC Discovery 1.0, RFC 8414 and later OAuth/OIDC
/// specifications (IANA "OAuth Authorization Server Metadata").
const KNOWN_METADATA: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "scopes_supported",
    "response_types_supported",
    "response_modes_supported",
    "grant_types_supported",
    "acr_values_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "id_token_encryption_alg_values_supported",
    "id_token_encryption_enc_values_supported",
    "userinfo_signing_alg_values_supported",
    "userinfo_encryption_alg_values_supported",
    "userinfo_encryption_enc_values_supported",
    "request_object_signing_alg_values_supported",
    "request_object_encryption_alg_values_supported",
    "request_object_encryption_enc_values_supported",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    "display_values_supported",
    "claim_types_supported",
    "claims_supported",
    "service_documentation",
    "claims_locales_supported",
    "ui_locales_supported",
    "claims_parameter_supported",
    "request_parameter_supported",
    "request_uri_parameter_supported",
    "require_request_uri_registration",
    "op_policy_uri",
    "op_tos_uri",
    "revocation_endpoint",
    "revocation_endpoint_auth_methods_supported",
    "revocation_endpoint_auth_signing_alg_values_supported",
    "introspection_endpoint",
    "introspection_endpoint_auth_methods_supported",
    "introspection_endpoint_auth_signing_alg_values_supported",
    "code_challenge_methods_supported",
    "end_session_endpoint",
    "check_session_iframe",
    "frontchannel_logout_supported",
    "frontchannel_logout_session_supported",
    "backchannel_logout_supported",
    "backchannel_logout_session_supported",
    "authorization_response_iss_parameter_supported",
    "pushed_authorization_request_endpoint",
    "require_pushed_authorization_requests",
    "dpop_signing_alg_values_supported",
    "tls_client_certificate_bound_access_tokens",
    "mtls_endpoint_aliases",
    "signed_metadata",
    "device_authorization_endpoint",
    "backchannel_authentication_endpoint",
    "backchannel_token_delivery_modes_supported",
    "backchannel_authentication_request_signing_alg_values_supported",
    "backchannel_user_code_parameter_supported",
    "authorization_details_types_supported",
    "require_signed_request_object",
    "prompt_values_supported",
];

/// Metadata whose value is a boolean.
const BOOLEAN_METADATA: &[&str] = &[
    "claims_parameter_supported",
    "request_parameter_supported",
    "request_uri_parameter_supported",
    "require_request_uri_registration",
    "frontchannel_logout_supported",
    "frontchannel_logout_session_supported",
    "backchannel_logout_supported",
    "backchannel_logout_session_supported",
    "authorization_response_iss_parameter_supported",
    "require_pushed_authorization_requests",
    "tls_client_certificate_bound_access_tokens",
    "backchannel_user_code_parameter_supported",
    "require_signed_request_object",
];

/// Metadata whose value is a URL.
const URL_METADATA: &[&str] = &[
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "service_documentation",
    "op_policy_uri",
    "op_tos_uri",
    "revocation_endpoint",
    "introspection_endpoint",
    "end_session_endpoint",
    "check_session_iframe",
    "pushed_authorization_request_endpoint",
    "device_authorization_endpoint",
    "backchannel_authentication_endpoint",
];

/// JWS algorithms of the IANA registry (RFC 7518 §3.1, RFC 8037).
const JWS_ALGS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256",
    "PS384", "PS512", "EdDSA", "Ed25519",
];

/// Private or symmetric key members that must never appear in a published JWKS.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn strings<'a>(doc: &'a Value, key: &str) -> Vec<&'a str> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array: {}", doc[key]))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{key} holds a non-string: {v}"))
        })
        .collect()
}

fn is_b64url_unpadded(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn b64url(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_else(|e| panic!("{s:?} is not base64url: {e}"))
}

/// RFC 6749 Appendix A.4: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Well-formedness of a BCP 47 language tag (RFC 5646 §2.1, without grandfathered tags).
fn is_bcp47(tag: &str) -> bool {
    let parts: Vec<&str> = tag.split('-').collect();
    let alpha = |s: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
    };
    let alnum = |s: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    let mut i = 0;
    let Some(lang) = parts.first() else {
        return false;
    };
    if !(alpha(lang, 2, 3) || alpha(lang, 5, 8)) {
        return false;
    }
    i += 1;
    let mut extlangs = 0;
    while lang.len() <= 3 && extlangs < 3 && parts.get(i).is_some_and(|p| alpha(p, 3, 3)) {
        i += 1;
        extlangs += 1;
    }
    if parts.get(i).is_some_and(|p| alpha(p, 4, 4)) {
        i += 1;
    }
    if parts
        .get(i)
        .is_some_and(|p| alpha(p, 2, 2) || (p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit())))
    {
        i += 1;
    }
    while parts.get(i).is_some_and(|p| {
        alnum(p, 5, 8) || (p.len() == 4 && p.as_bytes()[0].is_ascii_digit() && alnum(p, 4, 4))
    }) {
        i += 1;
    }
    while let Some(p) = parts.get(i) {
        if p.len() != 1 || !alnum(p, 1, 1) {
            return false;
        }
        let private = p.eq_ignore_ascii_case("x");
        i += 1;
        let lo = if private { 1 } else { 2 };
        let start = i;
        while parts.get(i).is_some_and(|q| alnum(q, lo, 8)) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if private {
            break;
        }
    }
    i == parts.len()
}

/// BCP 47 canonical casing: lowercase language, Title-case script, uppercase region.
fn is_canonical_casing(tag: &str) -> bool {
    let parts: Vec<&str> = tag.split('-').collect();
    parts.iter().enumerate().all(|(i, p)| {
        if i == 0 || parts[i - 1].len() == 1 {
            return *p == p.to_ascii_lowercase();
        }
        match p.len() {
            2 => *p == p.to_ascii_uppercase(),
            4 if p.bytes().all(|b| b.is_ascii_alphabetic()) => {
                p[..1] == p[..1].to_ascii_uppercase() && p[1..] == p[1..].to_ascii_lowercase()
            }
            _ => *p == p.to_ascii_lowercase(),
        }
    })
}

/// The authorization endpoint's answer to `params` for client `rp` (no browser state).
async fn authorize(s: &TestServer, realm: &str, extra: &[(&str, &str)]) -> Authz {
    let mut params = vec![
        ("client_id", "rp"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("redirect_uri", REDIRECT),
        ("state", "cfg"),
    ];
    for (k, v) in extra {
        params.retain(|(n, _)| n != k);
        params.push((k, v));
    }
    s.browser().authorize(&authz_url(s, realm, &params)).await
}

fn redirect_error(a: Authz) -> String {
    let u = a.redirect();
    assert!(
        u.as_str().starts_with(REDIRECT),
        "error sent to the registered URI: {u}"
    );
    assert!(param(&u, "code").is_none(), "no code with an error: {u}");
    param(&u, "error").unwrap_or_else(|| panic!("no error in {u}"))
}

/// An ID token for `client_id` (registered with [`SECRET`]), through the wallet page or the
/// browser's SSO session.
async fn id_token_for(s: &TestServer, b: &Browser, client_id: &str) -> String {
    let url = authz_url(
        s,
        "edit",
        &[
            ("client_id", client_id),
            ("response_type", "code"),
            ("scope", "openid scope_all"),
            ("redirect_uri", REDIRECT),
            ("state", "st"),
            ("nonce", "n-cfg"),
        ],
    );
    let cb = match b.authorize(&url).await {
        Authz::Redirect(u) => u,
        p @ Authz::LoginPage { .. } => {
            let r = b.login(&s.base, &p, NATIONAL_ID, "test").await;
            assert_eq!(r.status().as_u16(), 303);
            location(&r)
        }
        other => panic!("unexpected {other:?}"),
    };
    let code = param(&cb, "code").unwrap_or_else(|| panic!("no code in {cb}"));
    let r = reqwest::Client::new()
        .post(s.endpoint("edit", "token"))
        .basic_auth(client_id, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200, "token request of {client_id}");
    let t: Value = r.json().await.expect("token json");
    t["id_token"].as_str().expect("id_token").to_owned()
}

/// `EnsureDiscoveryEndpointResponseStatusCodeIs200`, `CheckDiscoveryEndpointReturnedJsonContentType`.
async fn fetch_json(url: &str) -> Value {
    let r = reqwest::Client::new().get(url).send().await.expect("GET");
    assert_eq!(r.status(), 200, "{url}");
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        ct.starts_with("application/json"),
        "{url}: content type {ct:?}"
    );
    let v: Value = r.json().await.expect("JSON body");
    assert!(v.is_object(), "{url}: not a JSON object");
    v
}

fn check_endpoint_url(name: &str, value: &str, issuer: &url::Url) {
    let u = url::Url::parse(value).unwrap_or_else(|e| panic!("{name} {value:?}: {e}"));
    // CheckDiscEndpointAllEndpointsAreHttps: https, or http on the loopback test listener, the
    // only http the realm loader accepts.
    let loopback_http =
        u.scheme() == "http" && matches!(u.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback());
    assert!(
        u.scheme() == "https" || loopback_http,
        "{name} is not https: {value}"
    );
    assert!(u.fragment().is_none(), "{name} has a fragment");
    assert_eq!(u.origin(), issuer.origin(), "{name} on the issuer's origin");
}

/// Every condition of `oidcc-discovery-endpoint-verification` for one realm.
async fn verify_realm(s: &TestServer, realm: &str) -> Value {
    let discovery_url = format!("{}/.well-known/openid-configuration", s.issuer(realm));
    let doc = fetch_json(&discovery_url).await;
    let obj = doc.as_object().expect("object");

    // ValidateServerMetadataAgainstSchema, CheckForUnexpectedParametersInServerMetadata.
    for (k, v) in obj {
        assert!(
            KNOWN_METADATA.contains(&k.as_str()),
            "unregistered metadata {k}"
        );
        if BOOLEAN_METADATA.contains(&k.as_str()) {
            assert!(v.is_boolean(), "{k} must be a boolean: {v}");
        } else if URL_METADATA.contains(&k.as_str()) || k == "issuer" {
            assert!(v.is_string(), "{k} must be a string: {v}");
        } else if k.ends_with("_supported") {
            let a = v
                .as_array()
                .unwrap_or_else(|| panic!("{k} must be an array: {v}"));
            assert!(!a.is_empty(), "{k} must not be empty");
            let set: HashSet<&str> = a
                .iter()
                .map(|x| {
                    x.as_str()
                        .unwrap_or_else(|| panic!("{k} holds a non-string {x}"))
                })
                .collect();
            assert_eq!(set.len(), a.len(), "{k} has duplicates");
        }
    }
    for k in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        assert!(obj.contains_key(k), "required metadata {k} is missing");
    }

    // CheckDiscEndpointIssuer, CheckDiscEndpointIssuerIsValidUrl, CheckDiscEndpointDiscoveryUrl.
    let issuer = doc["issuer"].as_str().expect("issuer");
    assert_eq!(issuer, s.issuer(realm));
    assert_eq!(
        discovery_url.strip_suffix("/.well-known/openid-configuration"),
        Some(issuer),
        "issuer is the URL prefix of .well-known"
    );
    let issuer_url = url::Url::parse(issuer).expect("issuer is a URL");
    assert!(issuer_url.query().is_none() && issuer_url.fragment().is_none());
    assert!(!issuer.ends_with('/'), "issuer without a trailing slash");
    check_endpoint_url("issuer", issuer, &issuer_url);

    // CheckDiscEndpoint{Authorization,Token,Userinfo,Registration}Endpoint, CheckJwksUri,
    // CheckDiscEndpointAllEndpointsAreHttps: every endpoint is a URL under the issuer, and
    // is served (no 404).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for k in URL_METADATA {
        let Some(v) = doc.get(*k) else { continue };
        let v = v.as_str().expect("string");
        check_endpoint_url(k, v, &issuer_url);
        assert!(
            v.starts_with(&format!("{issuer}/")),
            "{k} {v} is not under the issuer"
        );
        let r = match *k {
            "token_endpoint" | "introspection_endpoint" | "revocation_endpoint" => {
                http.post(v).form(&[("x", "y")]).send().await
            }
            _ => http.get(v).send().await,
        }
        .expect("endpoint reachable");
        assert_ne!(r.status(), 404, "{k} {v} is not served");
    }
    for k in [
        "userinfo_endpoint",
        "end_session_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ] {
        assert!(obj.contains_key(k), "{k} is advertised");
    }

    // CheckDiscEndpointScopesSupportedContainsOpenId, CheckDiscEndpointScopesSupportedSyntax.
    let scopes = strings(&doc, "scopes_supported");
    assert!(scopes.contains(&"openid"), "scopes_supported lacks openid");
    for sc in &scopes {
        assert!(is_scope_token(sc), "invalid scope token {sc:?}");
    }

    // OIDCCCheckDiscEndpointResponseTypesSupported: the code flow is offered, and only
    // response types made of registered values.
    let rts = strings(&doc, "response_types_supported");
    assert!(rts.contains(&"code"), "response_types_supported lacks code");
    for rt in &rts {
        for part in rt.split(' ') {
            assert!(
                ["code", "id_token", "token", "none"].contains(&part),
                "response type {rt:?}"
            );
        }
    }
    if let Some(modes) = doc.get("response_modes_supported") {
        assert!(
            modes
                .as_array()
                .is_some_and(|m| m.iter().any(|x| x == "query"))
        );
    }

    // OIDCCCheckDiscEndpointGrantTypesSupported.
    let grants = strings(&doc, "grant_types_supported");
    assert!(grants.contains(&"authorization_code"));
    assert!(!grants.contains(&"password"), "ROPC must not be offered");
    if !rts.iter().any(|r| r.contains("token")) {
        assert!(
            !grants.contains(&"implicit"),
            "implicit advertised without a token response type"
        );
    }

    // CheckDiscEndpointSubjectTypesSupported.
    let subjects = strings(&doc, "subject_types_supported");
    assert!(subjects.contains(&"public"));
    for st in &subjects {
        assert!(["public", "pairwise"].contains(st), "subject type {st}");
    }

    // OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported (RS256 is required, `none` is
    // refused for a healthcare OP) and OIDCCCheckDiscEndpointUserinfoSigningAlgValuesSupported.
    let id_algs = strings(&doc, "id_token_signing_alg_values_supported");
    assert!(id_algs.contains(&"RS256"), "RS256 must be listed");
    for key in [
        "id_token_signing_alg_values_supported",
        "userinfo_signing_alg_values_supported",
        "token_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
    ] {
        if doc.get(key).is_none() {
            continue;
        }
        for a in strings(&doc, key) {
            assert!(a != "none", "{key} lists none");
            assert!(JWS_ALGS.contains(&a), "{key}: unknown algorithm {a}");
        }
    }

    // OIDCCCheckDiscEndpointClaimsSupported.
    let claims = strings(&doc, "claims_supported");
    for c in &claims {
        assert!(!c.is_empty() && !c.contains(' '), "claim name {c:?}");
    }
    for c in ["sub", "iss", "SubjectNameID", "preferred_username"] {
        assert!(claims.contains(&c), "claims_supported lacks {c}");
    }
    let claims_set: HashSet<&str> = claims.iter().copied().collect();
    assert_eq!(claims_set.len(), claims.len(), "duplicate claims");

    // CheckDiscEndpointClaimsParameterSupported, CheckDiscEndpointRequestParameterSupported,
    // CheckDiscEndpointRequestUriParameterSupported (defaults when absent: claims false,
    // request false, request_uri true), and the behaviour they announce.
    let flag = |k: &str, default: bool| doc.get(k).map_or(default, |v| v.as_bool().expect(k));
    let request_supported = flag("request_parameter_supported", false);
    let request_uri_supported = flag("request_uri_parameter_supported", true);
    let claims_param_supported = flag("claims_parameter_supported", false);
    // An unsigned request object {"alg":"none"}.{"client_id":"rp"}.
    let request_object = "eyJhbGciOiJub25lIn0.eyJjbGllbnRfaWQiOiJycCJ9.";
    let a = authorize(s, realm, &[("request", request_object)]).await;
    if !request_supported {
        assert_eq!(redirect_error(a), "request_not_supported");
    }
    let a = authorize(
        s,
        realm,
        &[("request_uri", "https://rp.example/request.jwt")],
    )
    .await;
    if request_uri_supported {
        assert!(
            !matches!(a, Authz::Redirect(ref u) if param(u, "error").as_deref() == Some("request_uri_not_supported")),
            "request_uri advertised but refused as unsupported"
        );
    } else {
        assert_eq!(redirect_error(a), "request_uri_not_supported");
    }
    if !claims_param_supported {
        // An unsupported claims parameter is ignored, not an error (OIDC Core §5.5).
        let a = authorize(s, realm, &[("claims", r#"{"userinfo":{"name":null}}"#)]).await;
        assert!(
            matches!(a, Authz::LoginPage { .. }),
            "claims parameter not ignored: {a:?}"
        );
    }
    // CheckDiscEndpointRequestObjectSigningAlgValuesSupportedIncludesRS256.
    if doc
        .get("request_object_signing_alg_values_supported")
        .is_some()
    {
        assert!(strings(&doc, "request_object_signing_alg_values_supported").contains(&"RS256"));
    }
    // Response types and modes not advertised are refused.
    if !rts.contains(&"token") {
        let a = authorize(s, realm, &[("response_type", "token")]).await;
        assert_eq!(redirect_error(a), "unsupported_response_type");
    }
    let a = authorize(s, realm, &[("response_mode", "form_post")]).await;
    if !doc["response_modes_supported"]
        .as_array()
        .is_some_and(|m| m.iter().any(|x| x == "form_post"))
    {
        assert_eq!(redirect_error(a), "invalid_request");
    }
    if doc["authorization_response_iss_parameter_supported"] == Value::Bool(true) {
        let a = authorize(s, realm, &[("response_type", "token")]).await;
        assert_eq!(param(&a.redirect(), "iss").as_deref(), Some(issuer));
    }

    // CheckDiscEndpointLocalesSyntax, CheckDiscEndpointLocalesCanonicalCasing.
    for key in ["ui_locales_supported", "claims_locales_supported"] {
        if doc.get(key).is_none() {
            continue;
        }
        for tag in strings(&doc, key) {
            assert!(is_bcp47(tag), "{key}: {tag:?} is not a BCP 47 tag");
            assert!(
                is_canonical_casing(tag),
                "{key}: {tag:?} is not in canonical casing"
            );
        }
    }

    // EnsureServerConfigurationCodeChallengeMethodsSupportedIsAnArray, and S256 only.
    let methods = strings(&doc, "code_challenge_methods_supported");
    assert!(methods.contains(&"S256"));
    assert!(!methods.contains(&"plain"), "plain must not be offered");
    let (_, challenge) = pkce();
    let a = authorize(
        s,
        realm,
        &[
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "plain"),
        ],
    )
    .await;
    assert_eq!(redirect_error(a), "invalid_request", "plain PKCE refused");
    let a = authorize(
        s,
        realm,
        &[
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert!(matches!(a, Authz::LoginPage { .. }), "S256 accepted: {a:?}");

    // FetchServerKeys, ValidateServerJWKs, EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys.
    let jwks = fetch_json(doc["jwks_uri"].as_str().expect("jwks_uri")).await;
    verify_jwks(&jwks, &id_algs);
    doc
}

fn verify_jwks(jwks: &Value, id_algs: &[&str]) {
    let keys = jwks["keys"].as_array().expect("keys array");
    assert!(!keys.is_empty(), "empty JWKS");
    let mut kids = HashSet::new();
    for k in keys {
        let o = k.as_object().expect("key object");
        for m in PRIVATE_MEMBERS {
            assert!(!o.contains_key(*m), "private member {m} published: {k}");
        }
        let kid = k["kid"].as_str().expect("kid");
        assert!(!kid.is_empty());
        assert!(kids.insert(kid.to_owned()), "duplicate kid {kid}");
        if let Some(u) = o.get("use") {
            assert_eq!(u, "sig", "{kid}: use");
        }
        let kty = k["kty"].as_str().expect("kty");
        let alg = o.get("alg").map(|a| a.as_str().expect("alg string"));
        for m in ["n", "e", "x", "y", "x5t", "x5t#S256"] {
            if let Some(v) = o.get(m) {
                let v = v.as_str().expect("string member");
                assert!(
                    is_b64url_unpadded(v),
                    "{kid}: {m} is not unpadded base64url"
                );
            }
        }
        match kty {
            "EC" => {
                assert_eq!(k["crv"], "P-256", "{kid}: curve");
                assert!(alg.is_none_or(|a| a == "ES256"), "{kid}: alg {alg:?}");
                let x = b64url(k["x"].as_str().expect("x"));
                let y = b64url(k["y"].as_str().expect("y"));
                assert_eq!((x.len(), y.len()), (32, 32), "{kid}: coordinates");
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                aws_lc_rs::signature::ParsedPublicKey::new(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
                    &point,
                )
                .unwrap_or_else(|e| panic!("{kid}: not a P-256 point: {e}"));
            }
            "RSA" => {
                assert!(
                    alg.is_none_or(
                        |a| ["RS256", "PS256", "RS384", "PS384", "RS512", "PS512"].contains(&a)
                    ),
                    "{kid}: alg {alg:?}"
                );
                let n = b64url(k["n"].as_str().expect("n"));
                let e = b64url(k["e"].as_str().expect("e"));
                assert!(n[0] != 0 && e[0] != 0, "{kid}: leading zero octets");
                assert!(n.len() * 8 >= 2048, "{kid}: RSA key under 2048 bits");
                assert!(e.last().is_some_and(|b| b & 1 == 1), "{kid}: even exponent");
            }
            other => panic!("{kid}: unexpected kty {other}"),
        }
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(k.clone()).unwrap_or_else(|e| panic!("{kid}: {e}"));
        jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap_or_else(|e| panic!("{kid}: {e}"));
    }
    // Every asymmetric algorithm advertised for ID tokens has a key.
    for a in id_algs.iter().filter(|a| !a.starts_with("HS")) {
        assert!(
            keys.iter().any(|k| k["alg"] == *a),
            "no key in the JWKS for advertised {a}"
        );
    }
}

/// Verifies `jwt` against the realm's published JWKS.
fn verify_with_jwks(jwt: &str, jwks: &Value, issuer: &str, aud: &str) -> jsonwebtoken::Header {
    let header = jsonwebtoken::decode_header(jwt).expect("header");
    let kid = header.kid.clone().expect("kid in the header");
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in the JWKS"));
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.clone()).expect("jwk");
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[issuer]);
    jsonwebtoken::decode::<Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("key"),
        &v,
    )
    .unwrap_or_else(|e| panic!("{kid} does not verify the {:?} token: {e}", header.alg));
    header
}

both_dbs!(oidcc_discovery_endpoint_verification, |db| async move {
    let s = TestServer::start(db).await;
    for realm in ["edit", "esante-wallet"] {
        s.add_rp(realm).await;
    }
    for realm in ["edit", "esante-wallet"] {
        let doc = verify_realm(&s, realm).await;
        // The PSC alias serves the very same document.
        let alias = fetch_json(&format!(
            "{}/.well-known/wallet-openid-configuration",
            s.issuer(realm)
        ))
        .await;
        assert_eq!(alias, doc, "{realm}: wallet-openid-configuration differs");
    }

    // CheckServerKeysIsValid, beyond shape: the published keys verify what the realm signs,
    // for each algorithm it advertises.
    let jwks = fetch_json(&s.endpoint("edit", "certs")).await;
    let b = s.browser();
    for (client, alg) in [
        ("rp", SigAlg::ES256),
        ("rp-rs", SigAlg::RS256),
        ("rp-ps", SigAlg::PS256),
    ] {
        if client != "rp" {
            let mut spec = rp_spec(client);
            spec.id_token_signed_response_alg = Some(alg);
            s.add_client("edit", spec, Some(SECRET)).await;
        }
        let idt = id_token_for(&s, &b, client).await;
        let h = verify_with_jwks(&idt, &jwks, &s.issuer("edit"), client);
        assert_eq!(h.alg, alg.to_jwt(), "{client}: ID token algorithm");
    }
});
