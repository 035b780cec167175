//! Edge cases of sessions and tokens: logout hints of another user, introspection by clients
//! that are neither the token's nor its resource servers, codes replayed by other clients,
//! refresh scope narrowing and reuse within the retry window. Each test also runs the path
//! that must keep working.

use crate::both_dbs;
use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// POSTs `form` to `url`, with Basic credentials when given.
async fn post(url: &str, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> reqwest::Response {
    let mut req = http().post(url).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    req.send().await.expect("POST")
}

/// The JSON body of a 200 answer.
async fn ok_json(r: reqwest::Response, what: &str) -> Value {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{what}: {body}");
    body
}

/// Asserts a JSON OAuth error with `status` and `code`.
async fn expect_error(r: reqwest::Response, status: u16, code: &str, what: &str) {
    let got = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{what}: status (body {body})");
    assert_eq!(body["error"], code, "{what}: error code (body {body})");
    assert!(body.get("access_token").is_none(), "{what}: no token");
}

/// The claims of a compact JWS.
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("JSON")
}

/// Logs `national_id` in through `b` for client `rp` and redeems the code: the token response.
async fn tokens_for(s: &TestServer, b: &Browser, national_id: &str, scope: &str) -> Value {
    let u = authz_url(
        s,
        "edit",
        &[
            ("client_id", "rp"),
            ("response_type", "code"),
            ("scope", scope),
            ("redirect_uri", REDIRECT),
            ("state", "st"),
            ("nonce", "n-0S6_WzA2Mj"),
        ],
    );
    let cb = match b.authorize(&u).await {
        Authz::Redirect(u) => u,
        p @ Authz::LoginPage { .. } => location(&b.login(&s.base, &p, national_id, "test").await),
        other => panic!("unexpected {other:?}"),
    };
    let code = param(&cb, "code").expect("code");
    ok_json(redeem(s, &code, &[]).await, "code redemption").await
}

/// A refresh request by `client` (secret [`SECRET`]), with `extra` parameters.
async fn refresh(
    s: &TestServer,
    client: &str,
    rt: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", rt)];
    form.extend_from_slice(extra);
    post(&s.endpoint("edit", "token"), Some((client, SECRET)), &form).await
}

/// The userinfo status for an access token.
async fn userinfo_status(s: &TestServer, at: &str) -> u16 {
    http()
        .get(s.endpoint("edit", "userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .expect("userinfo")
        .status()
        .as_u16()
}

/// Whether the browser's session is alive (a `prompt=none` request gets a code).
async fn session_alive(s: &TestServer, b: &Browser) -> bool {
    let u = authz_url(
        s,
        "edit",
        &[
            ("client_id", "rp"),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", REDIRECT),
            ("prompt", "none"),
        ],
    );
    match b.authorize(&u).await {
        Authz::Redirect(u) => param(&u, "code").is_some(),
        _ => false,
    }
}

/// An active sandbox identity other than [`NATIONAL_ID`].
async fn other_identity(s: &TestServer) -> String {
    let ids = s.state.store.identities("edit", 200).await.expect("store");
    ids.iter()
        .find(|i| i.active && i.national_id.as_str() != NATIONAL_ID)
        .expect("another active identity")
        .national_id
        .to_string()
}

/// The value of hidden field `name` in a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let i = html.find(&marker)? + marker.len();
    let rest = &html[i..];
    Some(
        rest[..rest.find('"')?]
            .replace("&amp;", "&")
            .replace("&#x2f;", "/")
            .replace("&#x2F;", "/"),
    )
}

// ---------------------------------------------------------------- logout

both_dbs!(
    logout_with_another_users_hint_asks_for_confirmation,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        let attacker = s.browser();
        let other = other_identity(&s).await;
        let theirs = tokens_for(&s, &attacker, &other, "openid").await;
        let hint = theirs["id_token"].as_str().expect("ID token").to_owned();
        let victim = s.browser();
        tokens_for(&s, &victim, NATIONAL_ID, "openid").await;
        let logout = s.endpoint("edit", "logout");
        let mut u = url::Url::parse(&logout).expect("URL");
        u.query_pairs_mut().extend_pairs([
            ("id_token_hint", hint.as_str()),
            ("post_logout_redirect_uri", POST_LOGOUT),
            ("state", "bye"),
        ]);
        let r = victim.http.get(u.as_str()).send().await.expect("logout");
        assert_eq!(r.status(), 200, "a confirmation page");
        assert!(r.headers().get("location").is_none(), "no redirect");
        let html = r.text().await.expect("page");
        assert!(
            session_alive(&s, &victim).await,
            "the victim's session survives"
        );
        // The user confirms: the session ends, and the redirect goes to the hint's client.
        let token = hidden(&html, "logout_token").expect("logout_token");
        let hint_field = hidden(&html, "id_token_hint").expect("id_token_hint kept");
        let r = victim
            .http
            .post(&logout)
            .form(&[
                ("confirm", "yes"),
                ("logout_token", token.as_str()),
                ("id_token_hint", hint_field.as_str()),
                ("post_logout_redirect_uri", POST_LOGOUT),
                ("state", "bye"),
            ])
            .send()
            .await
            .expect("confirm");
        assert_eq!(r.status(), 302);
        assert_eq!(location(&r).as_str(), format!("{POST_LOGOUT}?state=bye"));
        assert!(!session_alive(&s, &victim).await, "confirmed: ended");
        // A confirmation cannot redirect to a URI the hint's client did not register.
        let again = tokens_for(&s, &victim, NATIONAL_ID, "openid").await;
        let r = victim.http.get(u.as_str()).send().await.expect("logout");
        let html = r.text().await.expect("page");
        let token = hidden(&html, "logout_token").expect("logout_token");
        let r = victim
            .http
            .post(&logout)
            .form(&[
                ("confirm", "yes"),
                ("logout_token", token.as_str()),
                ("id_token_hint", hint.as_str()),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ])
            .send()
            .await
            .expect("confirm");
        assert_eq!(r.status(), 400);
        assert!(r.headers().get("location").is_none());
        assert!(session_alive(&s, &victim).await, "refused: nothing ended");
        // The user's own hint, even expired, still logs out at once.
        let own = again["id_token"].as_str().expect("ID token");
        s.clock.advance(3600);
        let r = victim
            .http
            .get(
                url::Url::parse_with_params(
                    &logout,
                    [
                        ("id_token_hint", own),
                        ("post_logout_redirect_uri", POST_LOGOUT),
                    ],
                )
                .expect("URL")
                .as_str(),
            )
            .send()
            .await
            .expect("logout");
        assert_eq!(r.status(), 302, "own hint: at once");
        assert!(location(&r).as_str().starts_with(POST_LOGOUT));
        assert!(!session_alive(&s, &victim).await, "own hint: ended");
    }
);

// ---------------------------------------------------------------- introspection

both_dbs!(
    introspection_answers_only_the_tokens_client_and_its_resource_servers,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        s.add_client("edit", rp_spec("rp2"), Some(SECRET)).await;
        let mut rs = rp_spec("rs");
        rs.resource_server_for = vec!["rp".into()];
        s.add_client("edit", rs, Some(SECRET)).await;
        let b = s.browser();
        let t = tokens_for(&s, &b, NATIONAL_ID, "openid scope_all").await;
        let at = t["access_token"].as_str().expect("AT");
        let introspect = s.endpoint("edit", "token/introspect");
        let ask = |client: &'static str| {
            let introspect = introspect.clone();
            async move {
                ok_json(
                    post(&introspect, Some((client, SECRET)), &[("token", at)]).await,
                    client,
                )
                .await
            }
        };
        assert_eq!(ask("rp2").await, json!({"active": false}), "another client");
        let v = ask("rp").await;
        assert_eq!(v["active"], true, "the token's client");
        assert_eq!(v["SubjectNameID"], NATIONAL_ID);
        let v = ask("rs").await;
        assert_eq!(v["active"], true, "a resource server for the audience");
        assert_eq!(v["aud"], "rp");
    }
);

// ---------------------------------------------------------------- codes

both_dbs!(
    a_code_replayed_by_another_client_changes_nothing,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        s.add_client("edit", rp_spec("rp2"), Some(SECRET)).await;
        let b = s.browser();
        let cb = login_code(&s, &b, &[]).await;
        let code = param(&cb, "code").expect("code");
        let t = ok_json(redeem(&s, &code, &[]).await, "first redemption").await;
        let at = t["access_token"].as_str().expect("AT");
        let rt = t["refresh_token"].as_str().expect("RT");
        let token = s.endpoint("edit", "token");
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        // A public client with no secret, then a confidential one.
        let mut public = form.to_vec();
        public.push(("client_id", "demo-rp"));
        let r = post(&token, None, &public).await;
        expect_error(r, 400, "invalid_grant", "replay by a public client").await;
        let r = post(&token, Some(("rp2", SECRET)), &form).await;
        expect_error(r, 400, "invalid_grant", "replay by rp2").await;
        assert_eq!(userinfo_status(&s, at).await, 200, "the grant is alive");
        ok_json(refresh(&s, "rp", rt, &[]).await, "refresh still works").await;
        // The owner's replay still revokes.
        let r = redeem(&s, &code, &[]).await;
        expect_error(r, 400, "invalid_grant", "replay by its client").await;
        assert_eq!(userinfo_status(&s, at).await, 401, "grant revoked");
    }
);

// ---------------------------------------------------------------- refresh

both_dbs!(refresh_honours_a_narrower_scope, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let b = s.browser();
    let t = tokens_for(&s, &b, NATIONAL_ID, "openid scope_all").await;
    let rt = t["refresh_token"].as_str().expect("RT");
    let r = refresh(&s, "rp", rt, &[("scope", "openid scope_all email")]).await;
    expect_error(r, 400, "invalid_scope", "widening").await;
    let v = ok_json(
        refresh(&s, "rp", rt, &[("scope", "openid")]).await,
        "narrow",
    )
    .await;
    assert_eq!(v["scope"], "openid");
    let at = claims(v["access_token"].as_str().expect("AT"));
    assert_eq!(at["scope"], "openid");
    assert!(at.get("SubjectNameID").is_none(), "{at}");
    // The refresh token keeps the original grant's scope.
    let rt2 = v["refresh_token"].as_str().expect("RT2");
    let v = ok_json(refresh(&s, "rp", rt2, &[]).await, "full").await;
    assert_eq!(v["scope"], "openid scope_all");
});

both_dbs!(
    a_refresh_token_reused_within_the_window_gets_the_same_answer,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        let b = s.browser();
        let t = tokens_for(&s, &b, NATIONAL_ID, "openid scope_all").await;
        let rt = t["refresh_token"].as_str().expect("RT");
        let first = ok_json(refresh(&s, "rp", rt, &[]).await, "first use").await;
        s.clock.advance(1);
        let second = ok_json(refresh(&s, "rp", rt, &[]).await, "retry").await;
        assert_eq!(first, second, "the retry gets the same tokens");
        let gid = claims(first["access_token"].as_str().expect("AT"))["gid"]
            .as_str()
            .expect("gid")
            .to_owned();
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens WHERE grant_id = $1")
                .bind(&gid)
                .fetch_one(s.state.store.db().pool())
                .await
                .expect("count");
        assert_eq!(count, 2, "one successor only");
        // After the window, a reuse revokes the grant.
        s.clock.advance(5);
        let r = refresh(&s, "rp", rt, &[]).await;
        expect_error(r, 400, "invalid_grant", "late reuse").await;
        let next = first["refresh_token"].as_str().expect("successor");
        let r = refresh(&s, "rp", next, &[]).await;
        expect_error(r, 400, "invalid_grant", "family revoked").await;
    }
);
