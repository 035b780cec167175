//! A client asks for a level (`acr_values`) the methods offered cannot reach: the wallet page
//! says so in words (French, English when asked), and the user can go back to the application,
//! which gets `unmet_authentication_requirements` (OpenID Connect Core 1.0 errata set 2) with
//! its `state` and `iss` at its registered redirect URI.

use crate::both_dbs;
use crate::support::*;

/// The authorization URL of client `rp` with `extra` parameters.
fn url(s: &TestServer, extra: &[(&str, &str)]) -> String {
    let mut p = vec![
        ("client_id", "rp"),
        ("response_type", "code"),
        ("scope", "openid scope_all"),
        ("redirect_uri", REDIRECT),
        ("state", "st-42"),
        ("nonce", "n-1"),
    ];
    p.extend_from_slice(extra);
    authz_url(s, "edit", &p)
}

/// The wallet page for `extra`, in a fresh browser.
async fn page(s: &TestServer, extra: &[(&str, &str)]) -> (Browser, Authz) {
    let b = s.browser();
    let page = b.authorize(&url(s, extra)).await;
    assert!(
        matches!(page, Authz::LoginPage { .. }),
        "login page: {page:?}"
    );
    (b, page)
}

fn html(page: &Authz) -> &str {
    match page {
        Authz::LoginPage { html, .. } => html,
        other => panic!("not a login page: {other:?}"),
    }
}

/// Whether the page's button for `method` is disabled.
fn disabled(html: &str, method: &str) -> bool {
    let marker = format!("value=\"{method}\"");
    let i = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {method} button"));
    let end = html[i..].find('>').expect("tag end") + i;
    html[i..end].contains("disabled")
}

/// Presses "back to the application".
async fn go_back(s: &TestServer, b: &Browser, page: &Authz) -> reqwest::Response {
    let Authz::LoginPage {
        request_id, action, ..
    } = page
    else {
        panic!("not a login page")
    };
    b.http
        .post(format!("{}{action}", s.base))
        .form(&[
            ("request_id", request_id.as_str()),
            ("national_id", ""),
            ("unmet", "1"),
        ])
        .send()
        .await
        .expect("back")
}

both_dbs!(no_method_reaches_the_level, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let (b, p) = page(&s, &[("acr_values", "eidas3")]).await;
    let h = html(&p);
    for m in ["card", "ecps", "franceconnect", "test"] {
        assert!(disabled(h, m), "{m} is disabled");
    }
    // Said in words, not only in the buttons' tooltips, and a way back.
    assert!(
        h.contains("Aucun des moyens de connexion proposés ici n&#x27;atteint le niveau")
            && h.contains("(eidas3)"),
        "{h}"
    );
    assert!(h.contains("name=\"unmet\""), "{h}");
    assert!(h.contains("Retour à l&#x27;application"), "{h}");

    let r = go_back(&s, &b, &p).await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.as_str().starts_with(REDIRECT), "{to}");
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
    assert_eq!(
        param(&to, "error_description").as_deref(),
        Some("no login method offered reaches the requested level (eidas3)")
    );
    assert_eq!(param(&to, "state").as_deref(), Some("st-42"));
    assert_eq!(param(&to, "iss"), Some(s.issuer("edit")));
    assert!(param(&to, "code").is_none());
    let cleared = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.contains("Max-Age=0"));
    assert!(cleared, "the login cookie is cleared");

    // The login is over: neither going back again nor logging in continues it.
    let again = go_back(&s, &b, &p).await;
    assert_eq!(again.status(), 400);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains(&fr("error.page_expired.title"))
    );
    let login = b.login(&s.base, &p, NATIONAL_ID, "test").await;
    assert_eq!(login.status(), 400);
    assert!(login.headers().get("location").is_none());
});

both_dbs!(the_user_has_none_of_the_methods, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    // eidas2: the card reaches it, the test login does not. A user without a card goes back.
    let (b, p) = page(&s, &[("acr_values", "eidas2")]).await;
    let h = html(&p);
    assert!(!disabled(h, "card") && disabled(h, "test"), "{h}");
    assert!(
        h.contains("L&#x27;application exige le niveau d&#x27;authentification eidas2"),
        "{h}"
    );
    assert!(!h.contains("role=\"alert\" id=\"unmet\""), "not stuck: {h}");
    let r = go_back(&s, &b, &p).await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
    assert_eq!(
        param(&to, "error_description").as_deref(),
        Some("the user has no login method reaching the requested level (eidas2)")
    );
    assert_eq!(param(&to, "state").as_deref(), Some("st-42"));
});

both_dbs!(
    nothing_to_give_up_for_without_a_level_out_of_reach,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        for extra in [&[][..], &[("acr_values", "eidas1")][..]] {
            let (b, p) = page(&s, extra).await;
            assert!(!html(&p).contains("name=\"unmet\""), "{extra:?}");
            // Asked for anyway, it is refused and the login goes on.
            let r = go_back(&s, &b, &p).await;
            assert_eq!(r.status(), 400, "{extra:?}");
            assert!(r.headers().get("location").is_none());
            assert!(r.text().await.unwrap().contains("name=\"request_id\""));
            let login = b.login(&s.base, &p, NATIONAL_ID, "test").await;
            assert_eq!(login.status(), 303, "{extra:?}");
            assert!(param(&location(&login), "code").is_some());
        }
    }
);

both_dbs!(english_when_asked, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let english = "None of the login methods offered here reaches the authentication level";
    let (_, p) = page(&s, &[("acr_values", "eidas3"), ("ui_locales", "en-GB fr")]).await;
    assert!(html(&p).contains(english), "ui_locales");
    assert!(html(&p).contains("Back to the application"));
    for (ui_locales, accept, en) in [
        (None, "en-US,en;q=0.9", true),
        (None, "de-DE,fr;q=0.9,en;q=0.8", false),
        (Some("fr-FR"), "en", false),
    ] {
        let mut extra = vec![("acr_values", "eidas3")];
        extra.extend(ui_locales.map(|u| ("ui_locales", u)));
        let r = s
            .browser()
            .http
            .get(url(&s, &extra))
            .header("accept-language", accept)
            .send()
            .await
            .expect("authorize");
        let h = r.text().await.unwrap();
        assert_eq!(h.contains(english), en, "{ui_locales:?} {accept}");
        assert_eq!(
            h.contains("Aucun des moyens de connexion"),
            !en,
            "{ui_locales:?} {accept}"
        );
    }
});
