//! Discovery says exactly what works: every value advertised is exercised (each client
//! authentication method at each endpoint that advertises it, each grant, response type,
//! scope, claim, acr, PKCE method and signing algorithm, back-channel logout with `sid`), and
//! an unknown realm answers JSON.

use crate::backchannel_logout::{Receiver, add_bcl_client, tokens_of, verified_logout_token};
use crate::both_dbs;
use crate::compat::{add_assertion_client, assertion, assertion_form};
use crate::mtls::{claims as jwt_claims, mtls_client, org_client_cert, wait_for_card_listener};
use crate::support::*;
use coeur::common::random::Clock as _;
use coeur::oauth::client::{GrantType, TokenAuthMethod};
use coeur::oauth::jose::SigAlg;
use serde_json::Value;
use std::collections::BTreeSet;

async fn document(s: &TestServer, realm: &str) -> Value {
    let r = http()
        .get(format!(
            "{}/.well-known/openid-configuration",
            s.issuer(realm)
        ))
        .send()
        .await
        .expect("discovery");
    assert_eq!(r.status(), 200);
    r.json().await.expect("JSON")
}

fn strings(d: &Value, key: &str) -> Vec<String> {
    d[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is a list"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

/// The clients of this test, one per authentication method.
struct Clients {
    key: ClientKey,
    tls_identity: String,
}

/// Sends `form` to realm `edit`'s endpoint `endpoint`, authenticated with `method`.
async fn authenticated(
    s: &TestServer,
    c: &Clients,
    method: &str,
    endpoint: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let url = s.endpoint("edit", endpoint);
    match method {
        "client_secret_basic" => post(&url, Some(("rp", SECRET)), form).await,
        "client_secret_post" => {
            let mut f = form.to_vec();
            f.extend([("client_id", "disc-post"), ("client_secret", SECRET)]);
            post(&url, None, &f).await
        }
        "private_key_jwt" => {
            let now = s.clock.now();
            let jwt = assertion(&c.key, "disc-pkj", &url, now, now + 60);
            let mut f = form.to_vec();
            f.extend(assertion_form("disc-pkj", &jwt));
            post(&url, None, &f).await
        }
        "tls_client_auth" => {
            let mut f = form.to_vec();
            f.push(("client_id", "disc-tls"));
            mtls_client(s, Some(&c.tls_identity))
                .post(url.replace(&s.base, &s.card_base()))
                .form(&f)
                .send()
                .await
                .expect("POST")
        }
        other => panic!("no client for {other}"),
    }
}

async fn json_ok(r: reqwest::Response, what: &str) -> Value {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{what}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// Every key of a JSON value, nested ones included.
fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.insert(k.clone());
                keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// Logs in for `client` (all of `scope`, `acr_values` if given) and redeems the code with Basic
/// and PKCE: the token response.
async fn code_flow(s: &TestServer, client: &str, scope: &str, acr: Option<&str>) -> Value {
    let b = s.browser();
    let (verifier, challenge) = pkce();
    let mut params = vec![
        ("client_id", client),
        ("response_type", "code"),
        ("response_mode", "query"),
        ("scope", scope),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if let Some(a) = acr {
        params.push(("acr_values", a));
    }
    let page = b.authorize(&authz_url(s, "edit", &params)).await;
    let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
    let cb = location(&r);
    let code = param(&cb, "code").unwrap_or_else(|| panic!("{client}: a code in {cb}"));
    let r = post(
        &s.endpoint("edit", "token"),
        Some((client, SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    json_ok(r, &format!("{client}: code redeemed")).await
}

async fn setup(s: &TestServer) -> Clients {
    wait_for_card_listener(s).await;
    s.add_rp("edit").await;
    let mut poster = rp_spec("disc-post");
    poster.token_endpoint_auth_method = TokenAuthMethod::ClientSecretPost;
    s.add_client("edit", poster, Some(SECRET)).await;
    let key = add_assertion_client(s, "disc-pkj").await;
    let (tls_identity, dn) = org_client_cert(s, "disc-service").await;
    let mut tls = rp_spec("disc-tls");
    tls.token_endpoint_auth_method = TokenAuthMethod::TlsClientAuth;
    tls.tls_client_auth_subject_dn = Some(dn);
    s.add_client("edit", tls, None).await;
    let mut public = rp_spec("disc-pub");
    public.public = true;
    public.token_endpoint_auth_method = TokenAuthMethod::None;
    public.grant_types = vec![GrantType::AuthorizationCode];
    s.add_client("edit", public, None).await;
    Clients { key, tls_identity }
}

/// Each advertised client authentication method works at each endpoint that advertises it.
async fn auth_methods_work(s: &TestServer, d: &Value, c: &Clients) {
    let cc = [("grant_type", "client_credentials")];
    for method in strings(d, "token_endpoint_auth_methods_supported") {
        if method == "none" {
            // A public client redeems its code with PKCE and its id only.
            let b = s.browser();
            let (verifier, challenge) = pkce();
            let page = b
                .authorize(&authz_url(
                    s,
                    "edit",
                    &[
                        ("client_id", "disc-pub"),
                        ("response_type", "code"),
                        ("scope", "openid"),
                        ("redirect_uri", REDIRECT),
                        ("code_challenge", &challenge),
                        ("code_challenge_method", "S256"),
                    ],
                ))
                .await;
            let cb = location(&b.login(&s.base, &page, NATIONAL_ID, "test").await);
            let code = param(&cb, "code").expect("code");
            let r = post(
                &s.endpoint("edit", "token"),
                None,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("client_id", "disc-pub"),
                    ("code_verifier", &verifier),
                ],
            )
            .await;
            json_ok(r, "none at the token endpoint").await;
            continue;
        }
        let t = json_ok(
            authenticated(s, c, &method, "token", &cc).await,
            &format!("{method} at the token endpoint"),
        )
        .await;
        assert!(t["access_token"].is_string(), "{method}");
    }
    for (endpoint, key) in [
        (
            "token/introspect",
            "introspection_endpoint_auth_methods_supported",
        ),
        ("revoke", "revocation_endpoint_auth_methods_supported"),
    ] {
        for method in strings(d, key) {
            let t = json_ok(authenticated(s, c, &method, "token", &cc).await, &method).await;
            let at = t["access_token"].as_str().expect("access token");
            let r = authenticated(s, c, &method, endpoint, &[("token", at)]).await;
            assert_eq!(r.status(), 200, "{method} at {endpoint}");
            let r = authenticated(s, c, &method, "token/introspect", &[("token", at)]).await;
            let v = json_ok(r, &format!("{method}: introspection")).await;
            let active = endpoint == "token/introspect";
            assert_eq!(v["active"], active, "{method} at {endpoint}");
        }
    }
    // Assertions: the advertised algorithms include the one the test key uses; RS256 is
    // exercised by the Authlib peer (compat_authlib).
    for key in [
        "token_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
    ] {
        let algs = strings(d, key);
        assert!(
            algs.iter()
                .all(|a| ["ES256", "PS256", "RS256"].contains(&a.as_str())),
            "{key}"
        );
        assert!(algs.contains(&"ES256".to_owned()), "{key}");
    }
}

both_dbs!(discovery_says_what_works, |db| async move {
    let s = TestServer::start(db).await;
    let c = setup(&s).await;

    // An unknown realm answers JSON, as clients expect.
    let r = http()
        .get(format!(
            "{}/auth/realms/nope/.well-known/openid-configuration",
            s.base
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 404);
    let ct = r.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/json"), "{ct}");
    let v: Value = r.json().await.expect("a JSON body");
    assert!(v["error"].is_string());

    for realm in ["edit", "esante-wallet"] {
        let d = document(&s, realm).await;
        // The pages are French and English; nothing reads display; no method yields eidas3.
        assert_eq!(
            strings(&d, "ui_locales_supported"),
            ["fr-FR", "en"],
            "{realm}"
        );
        assert!(d.get("display_values_supported").is_none(), "{realm}");
        assert_eq!(
            strings(&d, "acr_values_supported"),
            ["eidas1", "eidas2"],
            "{realm}"
        );
    }
    let d = document(&s, "edit").await;
    auth_methods_work(&s, &d, &c).await;

    // Grants, response type and mode, PKCE, scopes: one code flow with every scope.
    assert_eq!(strings(&d, "response_types_supported"), ["code"]);
    assert_eq!(strings(&d, "response_modes_supported"), ["query"]);
    assert_eq!(strings(&d, "code_challenge_methods_supported"), ["S256"]);
    let scopes = strings(&d, "scopes_supported").join(" ");
    let t = code_flow(&s, "rp", &scopes, None).await;
    let granted: Vec<&str> = t["scope"].as_str().expect("scope").split(' ').collect();
    for scope in strings(&d, "scopes_supported") {
        assert!(
            granted.contains(&scope.as_str()),
            "scope {scope} granted: {granted:?}"
        );
    }
    let grants = strings(&d, "grant_types_supported");
    assert_eq!(
        grants,
        ["authorization_code", "refresh_token", "client_credentials"]
    );
    let rt = t["refresh_token"].as_str().expect("refresh token");
    let at = t["access_token"].as_str().expect("access token").to_owned();
    let r = post(
        &s.endpoint("edit", "token"),
        Some(("rp", SECRET)),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    json_ok(r, "refresh_token grant").await;

    // Claims: each advertised one is in some answer (ID token, userinfo, access token,
    // introspection).
    let mut seen = BTreeSet::new();
    keys(
        &jwt_claims(t["id_token"].as_str().expect("ID token")),
        &mut seen,
    );
    keys(&jwt_claims(&at), &mut seen);
    let r = http()
        .get(s.endpoint("edit", "userinfo"))
        .bearer_auth(&at)
        .send()
        .await
        .expect("userinfo");
    keys(&json_ok(r, "userinfo").await, &mut seen);
    let r = post(
        &s.endpoint("edit", "token/introspect"),
        Some(("rp", SECRET)),
        &[("token", &at)],
    )
    .await;
    keys(&json_ok(r, "introspection").await, &mut seen);
    let missing: Vec<String> = strings(&d, "claims_supported")
        .into_iter()
        .filter(|c| !seen.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "advertised claims never returned: {missing:?}"
    );

    // acr: each advertised level is offered by an enabled login method; eidas1 is what the
    // test login yields.
    for acr in strings(&d, "acr_values_supported") {
        let b = s.browser();
        let page = b
            .authorize(&authz_url(
                &s,
                "edit",
                &[
                    ("client_id", "rp"),
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("redirect_uri", REDIRECT),
                    ("acr_values", &acr),
                ],
            ))
            .await;
        let Authz::LoginPage { html, .. } = &page else {
            panic!("{acr}: a login page, got {page:?}")
        };
        let enabled = html
            .split("<button")
            .skip(1)
            .map(|b| &b[..b.find('>').unwrap_or(b.len())])
            .any(|tag| tag.contains("name=\"method\"") && !tag.contains(" disabled"));
        assert!(enabled, "{acr}: some method is enabled");
    }
    let t = code_flow(&s, "rp", "openid", Some("eidas1")).await;
    assert_eq!(
        jwt_claims(t["id_token"].as_str().expect("ID token"))["acr"],
        "eidas1"
    );

    // Signing algorithms: an ID token and a signed userinfo answer with each.
    let id_algs = strings(&d, "id_token_signing_alg_values_supported");
    assert_eq!(
        id_algs,
        strings(&d, "userinfo_signing_alg_values_supported")
    );
    for alg in id_algs {
        let sig = SigAlg::parse(&alg).unwrap_or_else(|| panic!("{alg} is known"));
        let id = format!("disc-{alg}");
        let mut spec = rp_spec(&id);
        spec.id_token_signed_response_alg = Some(sig);
        spec.userinfo_signed_response_alg = Some(sig);
        s.add_client("edit", spec, Some(SECRET)).await;
        let t = code_flow(&s, &id, "openid scope_all", None).await;
        let header =
            jsonwebtoken::decode_header(t["id_token"].as_str().expect("ID token")).expect("header");
        assert_eq!(
            serde_json::to_value(header.alg).expect("alg"),
            alg.as_str(),
            "ID token"
        );
        let r = http()
            .get(s.endpoint("edit", "userinfo"))
            .bearer_auth(t["access_token"].as_str().expect("access token"))
            .send()
            .await
            .expect("userinfo");
        assert_eq!(r.status(), 200, "{alg}: userinfo");
        let body = r.text().await.expect("body");
        let header = jsonwebtoken::decode_header(body.trim()).expect("a signed userinfo");
        assert_eq!(
            serde_json::to_value(header.alg).expect("alg"),
            alg.as_str(),
            "userinfo"
        );
    }

    backchannel_logout_works(&s, &d).await;
});

/// `backchannel_logout_supported` and `backchannel_logout_session_supported`: a client of the
/// session with a `backchannel_logout_uri` receives, at logout, a Logout Token naming the
/// session (its ID token's `sid`).
async fn backchannel_logout_works(s: &TestServer, d: &Value) {
    assert_eq!(d["backchannel_logout_supported"], true);
    assert_eq!(d["backchannel_logout_session_supported"], true);
    let recv = Receiver::start().await;
    add_bcl_client(s, "disc-bcl", Some(recv.uri(200, "disc-bcl"))).await;
    let b = s.browser();
    let t = tokens_of(s, &b, "disc-bcl", "openid").await;
    let idt = jwt_claims(t["id_token"].as_str().expect("ID token"));
    let (sub, sid) = (
        idt["sub"].as_str().expect("sub"),
        idt["sid"].as_str().expect("sid"),
    );
    let mut u = url::Url::parse(&s.endpoint("edit", "logout")).expect("URL");
    u.query_pairs_mut()
        .append_pair("id_token_hint", t["id_token"].as_str().expect("ID token"));
    let r = b.http.get(u.as_str()).send().await.expect("logout");
    assert_eq!(r.status(), 200, "logged out");
    let got = recv.wait_for("disc-bcl", 1).await;
    assert_eq!(got.len(), 1, "one logout request");
    verified_logout_token(s, got[0].token(), "disc-bcl", (sub, sid), None).await;
}
