//! OpenID Connect Back-Channel Logout 1.0: when a session ends (RP-initiated logout, or a new
//! login replacing the browser's session), each client that took part in it and registered a
//! `backchannel_logout_uri` receives one Logout Token, verifiable with the realm's JWKS (or
//! its secret, for an HS256 client); relying parties that fail are retried, and none of them
//! delays the user's logout.

use crate::both_dbs;
use crate::support::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use coeur::oauth::jose::SigAlg;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A logout request as a relying party received it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// The request's path: `/{status}/{client}`.
    pub path: String,
    /// Its `Content-Type`.
    pub content_type: String,
    /// Its form fields.
    pub form: Vec<(String, String)>,
}

impl Received {
    /// The `logout_token` field; panics unless it is the only field.
    pub fn token(&self) -> &str {
        match self.form.as_slice() {
            [(name, token)] if name == "logout_token" => token,
            other => panic!("a form with logout_token alone, got {other:?}"),
        }
    }
}

/// Relying parties' back-channel logout endpoints, on loopback: `POST /{status}/{client}`
/// records the request and answers `status` (200, 204, 500…).
pub(crate) struct Receiver {
    base: String,
    got: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(got): State<Arc<Mutex<Vec<Received>>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri.path().to_owned();
    got.lock().expect("lock").push(Received {
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        form: url::form_urlencoded::parse(&body).into_owned().collect(),
        path: path.clone(),
    });
    path.split('/')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::NOT_FOUND)
}

impl Receiver {
    /// A receiver on a free loopback port.
    pub async fn start() -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .fallback(axum::routing::post(receive))
            .with_state(got.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("receiver");
        });
        Self { base, got, task }
    }

    /// The URI of `client`'s endpoint, answering `status`.
    pub fn uri(&self, status: u16, client: &str) -> String {
        format!("{}/{status}/{client}", self.base)
    }

    /// What `client`'s endpoint received so far.
    pub fn for_client(&self, client: &str) -> Vec<Received> {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.path.rsplit('/').next() == Some(client))
            .cloned()
            .collect()
    }

    /// Everything received so far.
    pub fn all(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits (at most 20 s) until `client`'s endpoint received `n` requests.
    pub async fn wait_for(&self, client: &str, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.for_client(client);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Registers confidential client `id` (secret [`SECRET`]) posting logout tokens to `uri`.
pub(crate) async fn add_bcl_client(s: &TestServer, id: &str, uri: Option<String>) {
    let mut spec = rp_spec(id);
    spec.backchannel_logout_uri = uri;
    s.add_client("edit", spec, Some(SECRET)).await;
}

/// The claims of `jwt`, a Logout Token for `aud`, once its signature is verified with the
/// realm's JWKS (or `secret` for HS256), its `typ` is `logout+jwt`, and every claim a
/// relying party checks (§2.6) is as it should be for a session of `sub` and `sid`.
pub(crate) async fn verified_logout_token(
    s: &TestServer,
    jwt: &str,
    aud: &str,
    expected: (&str, &str),
    secret: Option<&str>,
) -> Value {
    let header = jsonwebtoken::decode_header(jwt).expect("a JWS");
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"), "typ");
    let key = match secret {
        Some(secret) => jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        None => {
            let jwks: jsonwebtoken::jwk::JwkSet = http()
                .get(s.endpoint("edit", "certs"))
                .send()
                .await
                .expect("JWKS")
                .json()
                .await
                .expect("JWKS JSON");
            let kid = header.kid.as_deref().expect("kid");
            let jwk = jwks.find(kid).expect("the signing key is published");
            jsonwebtoken::DecodingKey::from_jwk(jwk).expect("key")
        }
    };
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[s.issuer("edit")]);
    v.set_required_spec_claims(&["iss", "aud", "iat", "exp", "sub"]);
    // The server's clock is the test's; the token is checked against it below.
    v.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .expect("the logout token verifies")
        .claims;
    let (sub, sid) = expected;
    assert_eq!(claims["sub"], sub, "sub");
    assert_eq!(claims["sid"], sid, "sid");
    assert_eq!(
        claims["events"],
        json!({ "http://schemas.openid.net/event/backchannel-logout": {} })
    );
    assert!(claims.get("nonce").is_none(), "no nonce: {claims}");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16), "jti");
    let (iat, exp) = (
        claims["iat"].as_i64().expect("iat"),
        claims["exp"].as_i64().expect("exp"),
    );
    use coeur::common::random::Clock as _;
    assert!((iat - s.clock.now()).abs() <= 5, "iat is now");
    assert!(exp > iat && exp - iat <= 120, "short-lived: {iat}..{exp}");
    claims
}

/// A code flow of `client` in browser `b` (a login the first time, the SSO session after),
/// redeemed with Basic: the token response.
pub(crate) async fn tokens_of(s: &TestServer, b: &Browser, client: &str, scope: &str) -> Value {
    let u = authz_url(
        s,
        "edit",
        &[
            ("client_id", client),
            ("response_type", "code"),
            ("scope", scope),
            ("redirect_uri", REDIRECT),
            ("nonce", "n-0S6_WzA2Mj"),
        ],
    );
    let cb = match b.authorize(&u).await {
        Authz::Redirect(u) => u,
        p @ Authz::LoginPage { .. } => location(&b.login(&s.base, &p, NATIONAL_ID, "test").await),
        other => panic!("unexpected {other:?}"),
    };
    let code = param(&cb, "code").unwrap_or_else(|| panic!("{client}: a code in {cb}"));
    let r = post(
        &s.endpoint("edit", "token"),
        Some((client, SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(r.status(), 200, "{client}: code redeemed");
    r.json().await.expect("token JSON")
}

/// Only a code of `client` from browser `b`'s SSO session (not redeemed).
async fn code_only(s: &TestServer, b: &Browser, client: &str) {
    let u = authz_url(
        s,
        "edit",
        &[
            ("client_id", client),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", REDIRECT),
        ],
    );
    let cb = b.authorize(&u).await.redirect();
    assert!(param(&cb, "code").is_some(), "{client}: SSO gives a code");
}

/// The `sub` and `sid` of an ID token (not verified: it came from the token endpoint).
fn sub_and_sid(t: &Value) -> (String, String) {
    let idt = t["id_token"].as_str().expect("ID token");
    let c = jsonwebtoken::dangerous::insecure_decode_claims::<Value>(idt).expect("claims");
    (
        c["sub"].as_str().expect("sub").to_owned(),
        c["sid"].as_str().expect("sid").to_owned(),
    )
}

/// A refresh with `client`'s refresh token: the status.
async fn refresh_status(s: &TestServer, client: &str, t: &Value) -> u16 {
    let rt = t["refresh_token"].as_str().expect("refresh token");
    post(
        &s.endpoint("edit", "token"),
        Some((client, SECRET)),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
    .status()
    .as_u16()
}

both_dbs!(
    rp_initiated_logout_tells_each_client_once,
    |db| async move {
        let s = TestServer::start(db).await;
        let recv = Receiver::start().await;
        // A relying party that accepts the connection and never answers.
        let hang = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let hang_uri = format!("http://{}/bcl", hang.local_addr().expect("addr"));
        add_bcl_client(&s, "rp", Some(recv.uri(200, "rp"))).await;
        let mut b_spec = rp_spec("bcl-b");
        b_spec.backchannel_logout_uri = Some(recv.uri(204, "bcl-b"));
        b_spec.backchannel_logout_session_required = true;
        s.add_client("edit", b_spec, Some(SECRET)).await;
        add_bcl_client(&s, "bcl-none", None).await;
        add_bcl_client(&s, "bcl-fail", Some(recv.uri(500, "bcl-fail"))).await;
        add_bcl_client(&s, "bcl-hang", Some(hang_uri.clone())).await;
        // TEST-NET-1: nothing answers there (RFC 5737).
        add_bcl_client(&s, "bcl-void", Some("https://192.0.2.1/bcl".into())).await;
        add_bcl_client(&s, "bcl-away", Some(recv.uri(200, "bcl-away"))).await;

        // One session: rp logs in, the others come through SSO; bcl-away never does.
        let b = s.browser();
        let t = tokens_of(&s, &b, "rp", "openid scope_all").await;
        let (sub, sid) = sub_and_sid(&t);
        let offline = tokens_of(&s, &b, "bcl-b", "openid offline_access").await;
        assert_eq!(sub_and_sid(&offline), (sub.clone(), sid.clone()), "SSO");
        for client in ["bcl-none", "bcl-fail", "bcl-hang", "bcl-void"] {
            code_only(&s, &b, client).await;
        }
        // Another browser's session, which stays.
        let other = s.browser();
        let other_t = tokens_of(&s, &other, "bcl-away", "openid").await;

        // The logout answers at once, whatever the relying parties do.
        let idt = t["id_token"].as_str().expect("ID token");
        let mut u = url::Url::parse(&s.endpoint("edit", "logout")).expect("URL");
        u.query_pairs_mut()
            .append_pair("id_token_hint", idt)
            .append_pair("post_logout_redirect_uri", POST_LOGOUT);
        let started = Instant::now();
        let r = b.http.get(u.as_str()).send().await.expect("logout");
        let took = started.elapsed();
        assert_eq!(r.status(), 302, "logged out, back to the relying party");
        assert!(took < Duration::from_millis(1500), "logout took {took:?}");

        // Each participating client with a URI gets one POST with a verifiable token.
        for client in ["rp", "bcl-b"] {
            let got = recv.wait_for(client, 1).await;
            assert_eq!(got.len(), 1, "{client}: one request");
            assert!(
                got[0]
                    .content_type
                    .starts_with("application/x-www-form-urlencoded"),
                "{client}: {}",
                got[0].content_type
            );
            verified_logout_token(&s, got[0].token(), client, (&sub, &sid), None).await;
        }
        // The failing one is tried three times, with the same token.
        let failed = recv.wait_for("bcl-fail", 3).await;
        assert_eq!(failed.len(), 3, "bcl-fail: retried");
        assert!(failed.iter().all(|r| r.token() == failed[0].token()));
        verified_logout_token(&s, failed[0].token(), "bcl-fail", (&sub, &sid), None).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(recv.for_client("rp").len(), 1, "rp: exactly one");
        assert_eq!(recv.for_client("bcl-b").len(), 1, "bcl-b: exactly one");
        assert_eq!(
            recv.for_client("bcl-fail").len(),
            3,
            "bcl-fail: three tries"
        );
        assert!(recv.for_client("bcl-none").is_empty(), "no URI, no request");
        assert!(recv.for_client("bcl-away").is_empty(), "not of the session");
        assert_eq!(recv.all().len(), 5);

        // The failure is logged with the client and its URI, never the token.
        let logs = coeur_testkit::logs::captured();
        let line = logs
            .lines()
            .find(|l| l.contains("client=bcl-fail") && l.contains(&recv.uri(500, "bcl-fail")))
            .unwrap_or_else(|| panic!("a warning about bcl-fail in:\n{logs}"));
        assert!(line.contains("WARN"), "{line}");
        for r in recv.all() {
            assert!(!logs.contains(r.token()), "a logout token in the logs");
        }

        // The session's tokens died with it, except offline_access ones; the other session's live.
        assert_eq!(refresh_status(&s, "rp", &t).await, 400, "session refresh");
        assert_eq!(refresh_status(&s, "bcl-b", &offline).await, 200, "offline");
        assert_eq!(refresh_status(&s, "bcl-away", &other_t).await, 200, "other");

        // A logout of an ended session tells nobody again.
        let r = b.http.get(u.as_str()).send().await.expect("logout again");
        assert_eq!(r.status(), 302);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(recv.for_client("rp").len(), 1, "rp: still one");
        drop(hang);
    }
);

both_dbs!(
    a_login_replacing_the_session_tells_its_clients,
    |db| async move {
        let s = TestServer::start(db).await;
        let recv = Receiver::start().await;
        add_bcl_client(&s, "rp", Some(recv.uri(200, "rp"))).await;
        let mut hs = rp_spec("bcl-hs");
        hs.id_token_signed_response_alg = Some(SigAlg::HS256);
        hs.backchannel_logout_uri = Some(recv.uri(200, "bcl-hs"));
        s.add_client("edit", hs, Some(SECRET)).await;

        let b = s.browser();
        let first = tokens_of(&s, &b, "rp", "openid").await;
        let (sub, sid) = sub_and_sid(&first);
        tokens_of(&s, &b, "bcl-hs", "openid").await;
        assert!(recv.all().is_empty(), "nothing while the session lives");

        let prompt_login = authz_url(
            &s,
            "edit",
            &[
                ("client_id", "rp"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", REDIRECT),
                ("prompt", "login"),
            ],
        );
        // prompt=login by the same professional (as a step-up does): the session goes on,
        // with the new authentication; nobody is told, the first tokens live on.
        let page = b.authorize(&prompt_login).await;
        let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
        assert_eq!(r.status(), 303, "logged in again");
        let code = param(&location(&r), "code").expect("code");
        let t: Value = redeem(&s, &code, &[]).await.json().await.expect("JSON");
        assert_eq!(
            sub_and_sid(&t),
            (sub.clone(), sid.clone()),
            "the same session"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(recv.all().is_empty(), "nobody told: {:?}", recv.all());
        assert_eq!(
            refresh_status(&s, "rp", &first).await,
            200,
            "first tokens live"
        );
        let first = tokens_of(&s, &b, "rp", "openid").await;

        // Another professional logging in in the same browser ends the first session.
        let other = s
            .state
            .store
            .identities("edit", 20)
            .await
            .expect("identities")
            .into_iter()
            .find(|i| i.active && i.national_id.as_str() != NATIONAL_ID)
            .expect("another identity");
        let page = b.authorize(&prompt_login).await;
        let r = b
            .login(&s.base, &page, other.national_id.as_str(), "test")
            .await;
        assert_eq!(r.status(), 303, "the other one logged in");
        let got = recv.wait_for("rp", 1).await;
        assert_eq!(got.len(), 1, "rp: told once");
        verified_logout_token(&s, got[0].token(), "rp", (&sub, &sid), None).await;
        let got = recv.wait_for("bcl-hs", 1).await;
        assert_eq!(got.len(), 1, "bcl-hs: told once");
        let header = jsonwebtoken::decode_header(got[0].token()).expect("header");
        assert_eq!(
            header.alg,
            jsonwebtoken::Algorithm::HS256,
            "as its ID tokens"
        );
        verified_logout_token(&s, got[0].token(), "bcl-hs", (&sub, &sid), Some(SECRET)).await;
        assert_eq!(
            refresh_status(&s, "rp", &first).await,
            400,
            "first session's"
        );

        // The new session is another one: its logout names it, not the first.
        let code = param(&location(&r), "code").expect("code");
        let t: Value = redeem(&s, &code, &[]).await.json().await.expect("JSON");
        let (sub2, sid2) = sub_and_sid(&t);
        assert_ne!(sid, sid2);
        assert_ne!(sub, sub2);
        let mut u = url::Url::parse(&s.endpoint("edit", "logout")).expect("URL");
        u.query_pairs_mut()
            .append_pair("id_token_hint", t["id_token"].as_str().expect("ID token"));
        assert_eq!(
            b.http
                .get(u.as_str())
                .send()
                .await
                .expect("logout")
                .status(),
            200
        );
        let got = recv.wait_for("rp", 2).await;
        assert_eq!(got.len(), 2, "rp: told of the second session");
        verified_logout_token(&s, got[1].token(), "rp", (&sub2, &sid2), None).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            recv.for_client("bcl-hs").len(),
            1,
            "bcl-hs: not of the second"
        );
    }
);
