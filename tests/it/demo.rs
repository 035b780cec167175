//! The demo relying party at `/`: a browser goes through `/demo/login`, the wallet page and
//! `/demo/callback`, where the demo (talking to the provider over HTTP) shows the verified ID
//! token claims and the userinfo answer.

use crate::both_dbs;
use crate::support::*;

/// Follows the demo from its login link to the provider's callback redirect, returning the
/// callback URL the browser is sent to.
async fn demo_callback(s: &TestServer, b: &Browser) -> url::Url {
    let home = b
        .http
        .get(format!("{}/", s.base))
        .send()
        .await
        .expect("home");
    assert_eq!(home.status(), 200);
    let html = home.text().await.expect("home page");
    assert!(html.contains("action=\"/demo/login\""), "{html}");
    let r = b
        .http
        .get(format!("{}/demo/login", s.base))
        .send()
        .await
        .expect("demo login");
    assert_eq!(r.status(), 303);
    let auth = location(&r);
    assert!(
        auth.as_str().starts_with(&s.endpoint("edit", "auth")),
        "{auth}"
    );
    assert_eq!(param(&auth, "client_id").as_deref(), Some("demo-rp"));
    assert_eq!(
        param(&auth, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(param(&auth, "acr_values").as_deref(), Some("eidas1"));
    assert_eq!(
        param(&auth, "scope").as_deref(),
        Some("openid scope_all profile email")
    );
    assert_eq!(
        param(&auth, "redirect_uri"),
        Some(format!("{}/demo/callback", s.base))
    );
    let page = b.authorize(auth.as_str()).await;
    let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
    assert_eq!(r.status(), 303);
    location(&r)
}

async fn get(b: &Browser, u: &str) -> (u16, String) {
    let r = b.http.get(u).send().await.expect("callback");
    let status = r.status().as_u16();
    (status, r.text().await.expect("page"))
}

both_dbs!(
    demo_shows_the_verified_claims_and_userinfo,
    |db| async move {
        let s = TestServer::start(db).await;
        let b = s.browser();
        let cb = demo_callback(&s, &b).await;
        assert!(
            cb.as_str()
                .starts_with(&format!("{}/demo/callback?", s.base))
        );
        let (status, html) = get(&b, cb.as_str()).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("id=\"id-token-claims\""), "{html}");
        assert!(
            html.contains("eidas1") && html.contains("authMode"),
            "{html}"
        );
        assert!(html.contains(NATIONAL_ID), "{html}");
        assert!(
            html.contains("SubjectOrganization"),
            "userinfo shown: {html}"
        );
        // The state is good once.
        let (status, html) = get(&b, cb.as_str()).await;
        assert_eq!(status, 400);
        assert!(html.contains("unknown or reused state"), "{html}");
    }
);

both_dbs!(
    demo_refuses_a_callback_naming_another_issuer,
    |db| async move {
        let s = TestServer::start(db).await;
        let b = s.browser();
        let mut cb = demo_callback(&s, &b).await;
        let pairs: Vec<(String, String)> = cb
            .query_pairs()
            .into_owned()
            .map(|(k, v)| match k.as_str() {
                "iss" => (k, "https://evil.example".to_owned()),
                _ => (k, v),
            })
            .collect();
        cb.query_pairs_mut().clear().extend_pairs(pairs);
        let (status, html) = get(&b, cb.as_str()).await;
        assert_eq!(status, 400);
        assert!(
            html.contains("the iss parameter does not name the expected issuer"),
            "{html}"
        );
    }
);

both_dbs!(
    demo_forgets_a_login_after_fifteen_minutes,
    |db| async move {
        let s = TestServer::start(db).await;
        let b = s.browser();
        let cb = demo_callback(&s, &b).await;
        s.clock.advance(901);
        let (status, html) = get(&b, cb.as_str()).await;
        assert_eq!(status, 400);
        assert!(html.contains("unknown or reused state"), "{html}");
    }
);

both_dbs!(
    demo_binds_a_login_to_the_browser_that_started_it,
    |db| async move {
        let s = TestServer::start(db).await;
        let b = s.browser();
        // The pending login lives in a short-lived HttpOnly, SameSite=Lax cookie.
        let r = s
            .browser()
            .http
            .get(format!("{}/demo/login", s.base))
            .send()
            .await
            .expect("demo login");
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let cb = demo_callback(&s, &b).await;
        // Another browser presenting the callback has no pending login.
        let (status, html) = get(&s.browser(), cb.as_str()).await;
        assert_eq!(status, 400);
        assert!(html.contains("unknown or reused state"), "{html}");
        let (status, html) = get(&b, cb.as_str()).await;
        assert_eq!(status, 200, "{html}");
    }
);

/// The value of the hidden field `name` of `html`'s forms.
fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no field {name}: {html}"));
    let v = &html[at + name.len() + 15..];
    v[..v.find('"').expect("quote")].to_owned()
}

both_dbs!(
    demo_shows_claims_as_a_table_and_logs_out_through_the_provider,
    |db| async move {
        let s = TestServer::start(db).await;
        let b = s.browser();
        let cb = demo_callback(&s, &b).await;
        let (status, html) = get(&b, cb.as_str()).await;
        assert_eq!(status, 200, "{html}");
        // A readable table beside the raw JSON: each claim, its value, what it is.
        let table = &html[html.find("id=\"userinfo-table\"").expect("userinfo table")..];
        let row = &table[table.find("<code>SubjectNameID</code>").expect("row")..];
        let row = &row[..row.find("</tr>").expect("row end")];
        assert!(row.contains(NATIONAL_ID), "{row}");
        assert!(row.contains(&fr("claim.SubjectNameID")), "{row}");
        assert!(html.contains("id=\"id-token-table\""), "{html}");

        // The logout button: RP-initiated logout with the ID token as hint, back home.
        let action = {
            let at = html
                .find("<form method=\"get\" action=\"")
                .expect("logout form");
            let a = &html[at + 27..];
            a[..a.find('"').expect("quote")].replace("&#x2f;", "/")
        };
        assert_eq!(action, s.endpoint("edit", "logout"));
        let home = format!("{}/", s.base);
        let back = hidden(&html, "post_logout_redirect_uri").replace("&#x2f;", "/");
        assert_eq!(back, home);
        let mut logout = url::Url::parse(&action).expect("logout URL");
        logout
            .query_pairs_mut()
            .append_pair("id_token_hint", &hidden(&html, "id_token_hint"))
            .append_pair("post_logout_redirect_uri", &back);
        let r = b.http.get(logout).send().await.expect("logout");
        assert_eq!(
            r.status(),
            302,
            "no confirmation for the session's own hint"
        );
        assert_eq!(location(&r).as_str(), home);
        // The session is over: the demo's next login asks for the identity again.
        let r = b
            .http
            .get(format!("{}/demo/login", s.base))
            .send()
            .await
            .expect("demo login");
        assert!(matches!(
            b.authorize(location(&r).as_str()).await,
            Authz::LoginPage { .. }
        ));
    }
);
