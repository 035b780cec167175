//! CIBA (OpenID Connect CIBA Core 1.0) at Keycloak's path: `channel=MOBILE` approved on an
//! e-CPS device, `channel=CARD` approved with a virtual card on the card listener's approval
//! page, poll and ping delivery, signed requests and the three hints, and the refusals (each
//! changing nothing): polling too fast, another client's `auth_req_id`, a replay, a denial,
//! expiry, an unknown national id answered as any other.

use crate::both_dbs;
use crate::card::{card, card_client, identity, root_pem, stranger};
use crate::ecps::{claims, enrolled, me};
use crate::support::*;
use coeur::common::random::Clock as _;
use coeur::oauth::ciba::{CibaRegistration, DeliveryMode};
use coeur::oauth::client::{ClientSpec, GrantType, TokenAuthMethod};
use coeur::oauth::ecps::Decision;
use coeur::oauth::jose::SigAlg;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A confidential client registered for CIBA with `ciba`, secret [`SECRET`].
pub(crate) fn lps_spec(id: &str, ciba: Option<CibaRegistration>) -> ClientSpec {
    let mut s = rp_spec(id);
    s.grant_types = vec![GrantType::Ciba, GrantType::RefreshToken];
    s.redirect_uris = vec![];
    s.ciba = ciba;
    s
}

fn ciba_url(s: &TestServer) -> String {
    s.endpoint("edit", "ext/ciba/auth")
}

/// A CIBA authentication request of `client` (Basic, [`SECRET`]).
async fn ask(s: &TestServer, client: &str, form: &[(&str, &str)]) -> reqwest::Response {
    post(&ciba_url(s), Some((client, SECRET)), form).await
}

/// A request PSC's proxy would send, for `national_id` on `channel`: its `auth_req_id`.
async fn asked(s: &TestServer, client: &str, national_id: &str, channel: &str) -> String {
    let r = ask(
        s,
        client,
        &[
            ("scope", "openid all"),
            ("acr_values", "eidas1"),
            ("binding_message", "42"),
            ("login_hint", national_id),
            ("channel", channel),
        ],
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.expect("JSON");
    assert_eq!(v["expires_in"], 120, "{v}");
    assert_eq!(v["interval"], 1, "{v}");
    let id = v["auth_req_id"].as_str().expect("auth_req_id").to_owned();
    assert!(id.len() >= 43, "a 256-bit secret: {id}");
    id
}

/// A poll of the token endpoint by `client`.
async fn poll(s: &TestServer, client: &str, auth_req_id: &str) -> reqwest::Response {
    post(
        &s.endpoint("edit", "token"),
        Some((client, SECRET)),
        &[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", auth_req_id),
        ],
    )
    .await
}

/// A poll answered with the OAuth error `code`.
async fn poll_refused(s: &TestServer, client: &str, id: &str, code: &str) {
    expect_error(poll(s, client, id).await, 400, code, code).await;
}

/// A poll answered with tokens.
async fn tokens(s: &TestServer, client: &str, id: &str) -> Value {
    let r = poll(s, client, id).await;
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.expect("JSON")
}

both_dbs!(ciba_mobile_poll_approved_on_the_device, |db| async move {
    let s = TestServer::start(db).await;
    s.add_client("edit", lps_spec("lps", None), Some(SECRET))
        .await;
    s.add_client("edit", lps_spec("lps2", None), Some(SECRET))
        .await;
    let device = enrolled(&s, &me(&s).await).await;
    let id = asked(&s, "lps", NATIONAL_ID, "MOBILE").await;

    poll_refused(&s, "lps", &id, "authorization_pending").await;
    // Again within the interval: slow down, and the interval grows by 5 s.
    poll_refused(&s, "lps", &id, "slow_down").await;
    s.clock.advance(2);
    poll_refused(&s, "lps", &id, "slow_down").await;
    // Now 11 s between polls.
    s.clock.advance(11);
    poll_refused(&s, "lps", &id, "authorization_pending").await;
    // Another client's poll: refused, and it changes nothing.
    poll_refused(&s, "lps2", &id, "invalid_grant").await;

    let pending = device.pending(&s).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["client_id"], "lps");
    assert_eq!(pending[0]["binding_message"], "42");
    let r = device.decide(&s, &pending[0], Decision::Approve).await;
    assert_eq!(r.status().as_u16(), 200);

    s.clock.advance(10);
    poll_refused(&s, "lps2", &id, "invalid_grant").await;
    let t = tokens(&s, "lps", &id).await;
    let c = claims(t["id_token"].as_str().expect("ID token"));
    assert_eq!(c["authMode"], "MOBILE", "{c}");
    assert_eq!(c["acr"], "eidas2", "{c}");
    assert_eq!(c["amr"], json!(["swk", "pin", "mfa"]), "{c}");
    assert_eq!(c["aud"], "lps");
    assert!(
        c["sub"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{NATIONAL_ID}")),
        "{c}"
    );
    assert_eq!(t["scope"], "openid");
    let refresh = t["refresh_token"].as_str().expect("a refresh token");

    // The auth_req_id is single-use.
    s.clock.advance(2);
    poll_refused(&s, "lps", &id, "invalid_grant").await;
    // The refresh token works like any other.
    let r = post(
        &s.endpoint("edit", "token"),
        Some(("lps", SECRET)),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
});

both_dbs!(ciba_card_channel_approved_with_the_card, |db| async move {
    let s = TestServer::start(db).await;
    s.add_client("edit", lps_spec("lps", None), Some(SECRET))
        .await;
    let who = me(&s).await;
    let first = asked(&s, "lps", NATIONAL_ID, "CARD").await;
    let second = asked(&s, "lps", NATIONAL_ID, "card").await;
    // A MOBILE request is not shown on the card's page.
    let _mobile = asked(&s, "lps", NATIONAL_ID, "MOBILE").await;

    let root = root_pem(&s).await;
    let vc = card(&s, &who).await;
    let client = card_client(&root, Some(&vc.auth.identity_pem));
    let page_url = format!("{}/auth/realms/edit/ciba/approve", s.card_base());
    let r = client.get(&page_url).send().await.expect("approval page");
    let status = r.status().as_u16();
    if status != 200 {
        panic!(
            "approval page: {status} {}",
            r.text().await.unwrap_or_default()
        );
    }
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("the form token's cookie")
        .to_owned();
    let html = r.text().await.expect("page");
    assert!(html.contains(&fr("ciba.approve.title")), "{html}");
    let ids = request_ids(&html);
    assert_eq!(ids.len(), 2, "the two CARD requests only: {html}");
    assert!(html.contains("42") && html.contains("lps"), "{html}");
    let csrf = hidden(&html, "csrf");
    let decide = |request: String, decision: &'static str, csrf: String, cookie: Option<String>| {
        let client = client.clone();
        let url = page_url.clone();
        async move {
            let mut req = client.post(&url).form(&[
                ("csrf", csrf.as_str()),
                ("request", request.as_str()),
                ("decision", decision),
            ]);
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            req.send().await.expect("decision")
        }
    };
    // Without the page's cookie (a page of another site posting): refused, nothing decided.
    let r = decide(ids[0].clone(), "approve", csrf.clone(), None).await;
    assert_eq!(r.status().as_u16(), 403);
    poll_refused(&s, "lps", &first, "authorization_pending").await;

    // The page's first request is approved, the second denied (which of `first` and
    // `second` each is, the polls tell).
    let r = decide(
        ids[0].clone(),
        "approve",
        csrf.clone(),
        Some(cookie.clone()),
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains(&fr("ciba.approve.approved")),
        "approved"
    );
    let r = decide(ids[1].clone(), "deny", csrf.clone(), Some(cookie.clone())).await;
    assert!(r.text().await.unwrap().contains(&fr("ciba.approve.denied")));
    // Deciding again: the request no longer waits.
    let r = decide(ids[0].clone(), "deny", csrf.clone(), Some(cookie.clone())).await;
    assert!(r.text().await.unwrap().contains(&fr("ciba.approve.gone")));

    s.clock.advance(2);
    let r = poll(&s, "lps", &first).await;
    let (r, denied) = if r.status() == 200 {
        (r, second)
    } else {
        (poll(&s, "lps", &second).await, first)
    };
    assert_eq!(r.status().as_u16(), 200);
    let t: Value = r.json().await.unwrap();
    let c = claims(t["id_token"].as_str().expect("ID token"));
    assert_eq!(c["authMode"], "CARD", "{c}");
    assert_eq!(c["amr"], json!(["hwk", "pin", "mfa"]), "{c}");
    poll_refused(&s, "lps", &denied, "access_denied").await;

    // Another professional's card sees nothing of these, and cannot decide them.
    let other = asked(&s, "lps", NATIONAL_ID, "CARD").await;
    let (stranger_identity, stranger_card) = crate::card::first_card_clean(&s).await;
    assert_ne!(stranger_identity.national_id.to_string(), NATIONAL_ID);
    let theirs = card_client(&root, Some(&stranger_card.auth.identity_pem));
    let r = theirs.get(&page_url).send().await.expect("page");
    let their_cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let html = r.text().await.unwrap();
    assert!(request_ids(&html).is_empty(), "{html}");
    let mine = request_ids(
        &client
            .get(&page_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let r = theirs
        .post(&page_url)
        .header("cookie", &their_cookie)
        .form(&[
            // No form on their page: the token is the cookie's.
            ("csrf", their_cookie.split_once('=').unwrap().1),
            ("request", mine[0].as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains(&fr("ciba.approve.gone")));
    s.clock.advance(2);
    poll_refused(&s, "lps", &other, "authorization_pending").await;
    // Without a card, no page at all.
    let r = card_client(&root, None).get(&page_url).send().await;
    assert!(r.map(|r| r.status().as_u16() != 200).unwrap_or(true));
});

/// Presents `who`'s virtual card on the approval page and approves every request listed: how
/// many there were.
pub(crate) async fn approve_all_by_card(
    s: &TestServer,
    who: &coeur::common::identity::Identity,
) -> usize {
    let root = root_pem(s).await;
    let vc = card(s, who).await;
    let client = card_client(&root, Some(&vc.auth.identity_pem));
    let url = format!("{}/auth/realms/edit/ciba/approve", s.card_base());
    let r = client.get(&url).send().await.expect("approval page");
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("the form token's cookie")
        .to_owned();
    let html = r.text().await.expect("page");
    let ids = request_ids(&html);
    for id in &ids {
        let r = client
            .post(&url)
            .header("cookie", &cookie)
            .form(&[
                ("csrf", hidden(&html, "csrf").as_str()),
                ("request", id.as_str()),
                ("decision", "approve"),
            ])
            .send()
            .await
            .expect("decision");
        assert!(
            r.text()
                .await
                .unwrap()
                .contains(&fr("ciba.approve.approved"))
        );
    }
    ids.len()
}

/// The request ids of the approval page's forms.
fn request_ids(html: &str) -> Vec<String> {
    html.split("name=\"request\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(v, _)| v.to_owned()))
        .collect()
}

/// The value of the page's first hidden field `name`.
fn hidden(html: &str, name: &str) -> String {
    html.split_once(&format!("name=\"{name}\" value=\""))
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(v, _)| v.to_owned())
        .expect("hidden field")
}

/// What the client's notification endpoint received: bearer and body.
type Pings = Arc<Mutex<Vec<(String, Value)>>>;

/// A client's notification endpoint on loopback, recording what it receives.
async fn notification_endpoint() -> (String, Pings) {
    use axum::routing::post as route_post;
    let got: Pings = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/ping",
        route_post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let keep = keep.clone();
                async move {
                    let bearer = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    keep.lock().unwrap().push((bearer, v));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.ok() });
    (format!("http://{addr}/ping"), got)
}

/// Waits (a few seconds at most) for a ping to arrive.
async fn next_ping(got: &Pings) -> (String, Value) {
    for _ in 0..100 {
        if let Some(p) = got.lock().unwrap().pop() {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no ping arrived");
}

both_dbs!(ciba_ping_delivery, |db| async move {
    let s = TestServer::start(db).await;
    let (endpoint, got) = notification_endpoint().await;
    let ping = CibaRegistration {
        token_delivery_mode: DeliveryMode::Ping,
        client_notification_endpoint: Some(endpoint),
        authentication_request_signing_alg: None,
    };
    s.add_client("edit", lps_spec("pinged", Some(ping)), Some(SECRET))
        .await;
    let device = enrolled(&s, &me(&s).await).await;
    let base = [
        ("scope", "openid"),
        ("login_hint", NATIONAL_ID),
        ("channel", "MOBILE"),
    ];
    // A ping client must give its notification token.
    let r = ask(&s, "pinged", &base).await;
    expect_error(r, 400, "invalid_request", "no client_notification_token").await;

    for (decision, outcome) in [(Decision::Approve, 200), (Decision::Deny, 400)] {
        let mut form = base.to_vec();
        form.push(("client_notification_token", "n0tif-t0ken"));
        let r = ask(&s, "pinged", &form).await;
        assert_eq!(r.status().as_u16(), 200);
        let id = r.json::<Value>().await.unwrap()["auth_req_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            got.lock().unwrap().is_empty(),
            "no ping before the decision"
        );
        let pending = device.pending(&s).await;
        device.decide(&s, &pending[0], decision).await;
        let (bearer, body) = next_ping(&got).await;
        assert_eq!(bearer, "Bearer n0tif-t0ken");
        assert_eq!(body, json!({ "auth_req_id": id }));
        let r = poll(&s, "pinged", &id).await;
        assert_eq!(r.status().as_u16(), outcome);
        if outcome == 400 {
            expect_error(r, 400, "access_denied", "denied").await;
        }
    }
});

both_dbs!(ciba_refusals_change_nothing, |db| async move {
    let s = TestServer::start(db).await;
    s.add_client("edit", lps_spec("lps", None), Some(SECRET))
        .await;
    s.add_rp("edit").await;
    let good = [("scope", "openid"), ("login_hint", NATIONAL_ID)];
    let refused = |form: Vec<(&'static str, String)>, code: &'static str| {
        let s = &s;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            expect_error(ask(s, "lps", &form).await, 400, code, code).await;
        }
    };
    let with = |k: &'static str, v: &str| {
        let mut f: Vec<(&'static str, String)> =
            good.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        f.retain(|(x, _)| *x != k);
        f.push((k, v.to_owned()));
        f
    };
    refused(with("scope", "profile"), "invalid_scope").await;
    refused(
        with("binding_message", &"x".repeat(65)),
        "invalid_binding_message",
    )
    .await;
    refused(with("channel", "SMS"), "invalid_request").await;
    refused(with("requested_expiry", "100000"), "invalid_request").await;
    refused(with("login_hint", "not-a-national-id"), "invalid_request").await;
    refused(with("request_uri", "urn:x"), "request_uri_not_supported").await;
    refused(with("request", "a.b.c"), "request_not_supported").await;
    let mut two = with("id_token_hint", "x");
    two.push(("login_hint", NATIONAL_ID.into()));
    refused(two, "invalid_request").await;
    refused(with("id_token_hint", "a.b.c"), "invalid_request").await;
    // Client authentication as at the token endpoint; a client without the grant.
    let r = post(&ciba_url(&s), Some(("lps", "wrong")), &good).await;
    expect_error(r, 401, "invalid_client", "wrong secret").await;
    let r = post(&ciba_url(&s), Some(("rp", SECRET)), &good).await;
    expect_error(r, 400, "unauthorized_client", "no CIBA grant").await;
    let none: i64 = count(&s).await;
    assert_eq!(none, 0, "no request stored by a refusal");

    // An unknown national id: the same answer, pending, then expired.
    let nobody = stranger(&s).await;
    let id = asked(&s, "lps", &nobody, "MOBILE").await;
    poll_refused(&s, "lps", &id, "authorization_pending").await;
    s.clock.advance(121);
    poll_refused(&s, "lps", &id, "expired_token").await;
    poll_refused(&s, "lps", "an-unknown-auth-req-id", "invalid_grant").await;

    // A device of another professional neither sees nor decides the request.
    let mine = asked(&s, "lps", NATIONAL_ID, "MOBILE").await;
    let (other, _) = crate::card::first_card_clean(&s).await;
    let theirs = enrolled(&s, &other).await;
    assert!(theirs.pending(&s).await.is_empty());
    let me_device = enrolled(&s, &identity(&s, NATIONAL_ID).await).await;
    let req = me_device.pending(&s).await.remove(0);
    let forged =
        json!({ "decision": "approve", "signature": theirs.sign(&req, Decision::Approve) });
    let r = theirs
        .decide_raw(&s, req["id"].as_str().unwrap(), &forged.to_string())
        .await;
    assert!(r.status().is_client_error());
    s.clock.advance(2);
    poll_refused(&s, "lps", &mine, "authorization_pending").await;
    // Approved after its expiry: refused, and the client is told it expired.
    s.clock.advance(121);
    let r = me_device.decide(&s, &req, Decision::Approve).await;
    assert!(r.status().is_client_error());
    poll_refused(&s, "lps", &mine, "expired_token").await;
});

/// CIBA requests stored in the sandbox realm.
async fn count(s: &TestServer) -> i64 {
    use sqlx::Row as _;
    sqlx::query("SELECT COUNT(*) AS n FROM approval_requests WHERE origin = 'ciba'")
        .fetch_one(s.state.store.db().pool())
        .await
        .unwrap()
        .get::<i64, _>("n")
}

both_dbs!(ciba_signed_requests_and_hints, |db| async move {
    let s = TestServer::start(db).await;
    let key = ClientKey::generate("k1");
    let mut spec = lps_spec(
        "signer",
        Some(CibaRegistration {
            authentication_request_signing_alg: Some(SigAlg::ES256),
            ..Default::default()
        }),
    );
    spec.token_endpoint_auth_method = TokenAuthMethod::ClientSecretBasic;
    spec.jwks = Some(json!({ "keys": [key.jwk] }));
    s.add_client("edit", spec, Some(SECRET)).await;
    let device = enrolled(&s, &me(&s).await).await;
    let now = s.clock.now();
    let issuer = s.issuer("edit");
    let request = |jti: &str, hint: (&str, Value)| {
        let mut c = json!({
            "iss": "signer", "aud": issuer, "exp": now + 60, "iat": now, "nbf": now,
            "jti": jti, "scope": "openid", "binding_message": "7",
        });
        c[hint.0] = hint.1;
        key.sign("k1", &c)
    };
    // Unsigned: refused for this client.
    let r = ask(
        &s,
        "signer",
        &[("scope", "openid"), ("login_hint", NATIONAL_ID)],
    )
    .await;
    expect_error(r, 400, "invalid_request", "unsigned").await;
    let jwt = request("j1", ("login_hint", json!(NATIONAL_ID)));
    let r = ask(&s, "signer", &[("request", &jwt)]).await;
    assert_eq!(r.status().as_u16(), 200);
    let id = r.json::<Value>().await.unwrap()["auth_req_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The same request again: its jti is spent.
    let r = ask(&s, "signer", &[("request", &jwt)]).await;
    expect_error(r, 400, "invalid_request", "replayed request").await;
    let req = device.pending(&s).await.remove(0);
    assert_eq!(req["binding_message"], "7");
    device.decide(&s, &req, Decision::Approve).await;
    let t = tokens(&s, "signer", &id).await;

    // id_token_hint: the ID token just issued names the professional.
    let hinted = request(
        "j2",
        ("id_token_hint", json!(t["id_token"].as_str().unwrap())),
    );
    let r = ask(&s, "signer", &[("request", &hinted)]).await;
    assert_eq!(r.status().as_u16(), 200);
    // login_hint_token: a JWT of the client's naming the professional.
    let lht = key.sign(
        "k1",
        &json!({ "exp": now + 60, "sub_id": { "format": "opaque", "id": NATIONAL_ID } }),
    );
    let r = ask(
        &s,
        "signer",
        &[("request", &request("j3", ("login_hint_token", json!(lht))))],
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(device.pending(&s).await.len(), 2);
    let expired = key.sign("k1", &json!({ "exp": now - 60, "login_hint": NATIONAL_ID }));
    let r = ask(
        &s,
        "signer",
        &[(
            "request",
            &request("j4", ("login_hint_token", json!(expired))),
        )],
    )
    .await;
    expect_error(r, 400, "expired_login_hint_token", "expired hint token").await;

    // Discovery says what is implemented.
    let d: Value = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["backchannel_authentication_endpoint"], ciba_url(&s));
    assert_eq!(
        d["backchannel_token_delivery_modes_supported"],
        json!(["poll", "ping"])
    );
    assert_eq!(d["backchannel_user_code_parameter_supported"], false);
    assert!(
        d["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "urn:openid:params:grant-type:ciba")
    );
});

// Two instances on one PostgreSQL database: a request polled on one and approved through the
// other is redeemed at the next poll, however early (the decision reaches the first
// instance's memory of the polls through the bus).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_on_another_instance_reaches_the_polls() {
    let a = TestServer::start(Db::Postgres).await;
    let shared = a.app.cfg.database_url.clone();
    let b = TestServer::start_with(Db::Postgres, &realms_dir(), |s| {
        s.common.database_url = Some(shared);
    })
    .await;
    a.add_client("edit", lps_spec("lps", None), Some(SECRET))
        .await;
    // Enrolled on `a` (its CA issues the virtual card), answering through `b`.
    let device = enrolled(&a, &me(&a).await).await;
    let id = asked(&a, "lps", NATIONAL_ID, "MOBILE").await;
    poll_refused(&a, "lps", &id, "authorization_pending").await;
    // Too early on `a`: slowed down from memory.
    poll_refused(&a, "lps", &id, "slow_down").await;

    let pending = device.pending(&b).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    let r = device.decide(&b, &pending[0], Decision::Approve).await;
    assert_eq!(r.status().as_u16(), 200);
    // The message takes a moment; `a`'s clock has not moved: the poll is early.
    let mut answer = None;
    for _ in 0..50 {
        let r = poll(&a, "lps", &id).await;
        if r.status().as_u16() == 200 {
            answer = Some(r.json::<Value>().await.expect("JSON"));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let t = answer.expect("tokens on `a` once `b` approved");
    assert!(t["id_token"].is_string(), "{t}");
}
