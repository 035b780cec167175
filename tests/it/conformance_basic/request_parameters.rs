//! Parameters of the authorization request: `nonce` (optional in the code flow), `display`,
//! `prompt`, `max_age`, unknown parameters, `login_hint`, `ui_locales`, `claims_locales`,
//! `acr_values`.

use super::*;

/// Whether the wallet page's button for `method` is disabled.
fn button_disabled(html: &str, method: &str) -> bool {
    let marker = format!("value=\"{method}\"");
    html.split("<button")
        .skip(1)
        .map(|b| &b[..b.find('>').unwrap_or(b.len())])
        .find(|tag| tag.contains(&marker))
        .unwrap_or_else(|| panic!("no button for method {method}"))
        .contains(" disabled")
}

/// The `value` of the input named `name`.
fn input_value(html: &str, name: &str) -> String {
    let i = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no input {name}"));
    let tag = &html[i..i + html[i..].find('>').expect("end of tag")];
    let v = tag.find("value=\"").expect("a value attribute") + 7;
    tag[v..v + tag[v..].find('"').expect("end of value")].to_owned()
}

// 8. oidcc-ensure-request-without-nonce-succeeds-for-code-flow
both_dbs!(
    oidcc_ensure_request_without_nonce_succeeds_for_code_flow,
    |db| async move {
        let s = start(db).await;
        let b = s.browser();
        let f = flow(&s, &b, &RP, &[("nonce", "")]).await;
        assert!(f.claims.get("nonce").is_none());
    }
);

// 15. oidcc-display-page
both_dbs!(oidcc_display_page, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[("display", "page")]).await;
    assert!(f.login_shown);
});

// 16. oidcc-display-popup
both_dbs!(oidcc_display_popup, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[("display", "popup")]).await;
    assert!(f.login_shown);
});

// 17. oidcc-prompt-login: the user logs in again; auth_time moves.
both_dbs!(oidcc_prompt_login, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f1 = flow(&s, &b, &RP, &[]).await;
    assert!(f1.login_shown);
    s.clock.advance(5);
    let f2 = flow(&s, &b, &RP, &[("prompt", "login")]).await;
    assert!(f2.login_shown, "prompt=login asks for a new login");
    let t1 = f1.claims["auth_time"].as_i64().expect("auth_time");
    let t2 = f2.claims["auth_time"].as_i64().expect("auth_time");
    assert_eq!(t2, t1 + 5, "auth_time is the time of the second login");
    assert_eq!(t2, s.clock.now());
    assert_eq!(f1.claims["sub"], f2.claims["sub"]);
});

// 18. oidcc-prompt-none-not-logged-in: login_required, by redirect.
both_dbs!(oidcc_prompt_none_not_logged_in, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let url = authz_url(&s, "edit", &params("rp", &[("prompt", "none")]));
    let u = b.authorize(&url).await.redirect();
    check_error_callback(&s, &u, REDIRECT, &["login_required"], Some(STATE));
});

// 19. oidcc-prompt-none-logged-in: no page, same user, same authentication.
both_dbs!(oidcc_prompt_none_logged_in, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f1 = flow(&s, &b, &RP, &[]).await;
    s.clock.advance(1);
    let f2 = flow(&s, &b, &RP, &[("prompt", "none")]).await;
    assert!(!f2.login_shown, "prompt=none never shows a page");
    assert_eq!(f1.claims["sub"], f2.claims["sub"]);
    assert_eq!(f1.claims["auth_time"], f2.claims["auth_time"]);
});

// 20. oidcc-max-age-1: the authentication is too old; the user logs in again.
both_dbs!(oidcc_max_age_1, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f1 = flow(&s, &b, &RP, &[]).await;
    s.clock.advance(2);
    let f2 = flow(&s, &b, &RP, &[("max_age", "1")]).await;
    assert!(f2.login_shown, "a 2 s old login does not satisfy max_age=1");
    let t1 = f1.claims["auth_time"].as_i64().unwrap();
    let t2 = f2.claims["auth_time"]
        .as_i64()
        .expect("auth_time is required with max_age");
    assert_eq!(t2, t1 + 2);
    assert_eq!(f1.claims["sub"], f2.claims["sub"]);
});

// Not a module of the plan, but the rule max-age-1 rests on: "max_age=0 is equivalent to
// prompt=login" (OIDC Core §3.1.2.1), even when the session is less than a second old.
both_dbs!(max_age_0_is_prompt_login, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f1 = flow(&s, &b, &RP, &[]).await;
    assert!(f1.login_shown);
    let url = authz_url(&s, "edit", &params("rp", &[("max_age", "0")]));
    let page = b.authorize(&url).await;
    assert!(
        matches!(page, Authz::LoginPage { .. }),
        "max_age=0 asks for a new login: {page:?}"
    );
    let url = authz_url(
        &s,
        "edit",
        &params("rp", &[("max_age", "0"), ("prompt", "none")]),
    );
    let u = b.authorize(&url).await.redirect();
    check_error_callback(&s, &u, REDIRECT, &["login_required"], Some(STATE));
});

// 21. oidcc-max-age-10000: auth_time present; the session is reused.
both_dbs!(oidcc_max_age_10000, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f1 = flow(&s, &b, &RP, &[("max_age", "15000")]).await;
    let t1 = f1.claims["auth_time"]
        .as_i64()
        .expect("auth_time is required with max_age");
    s.clock.advance(1);
    let f2 = flow(&s, &b, &RP, &[("max_age", "10000")]).await;
    assert!(!f2.login_shown, "a 1 s old login satisfies max_age=10000");
    assert_eq!(f2.claims["auth_time"].as_i64(), Some(t1));
    assert_eq!(f1.claims["sub"], f2.claims["sub"]);
});

// 22. oidcc-ensure-request-with-unknown-parameter-succeeds
both_dbs!(
    oidcc_ensure_request_with_unknown_parameter_succeeds,
    |db| async move {
        let s = start(db).await;
        let b = s.browser();
        let cb = login_code(&s, &b, &[("extra", "foobar")]).await;
        let code = check_code_callback(&s, &cb, REDIRECT, Some("st"));
        let t = token_ok(redeem(&s, &code, &[]).await).await;
        verify_id_token(
            &s,
            t["id_token"].as_str().expect("an ID token"),
            &RP,
            Nonce::Is(NONCE),
            t["access_token"].as_str(),
        )
        .await;
    }
);

// 24. oidcc-login-hint: pre-fills the national identifier; a hint of another shape is
// harmless.
both_dbs!(oidcc_login_hint, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let url = authz_url(&s, "edit", &params("rp", &[("login_hint", NATIONAL_ID)]));
    let page = b.authorize(&url).await;
    let Authz::LoginPage { html, .. } = &page else {
        panic!("a login page: {page:?}")
    };
    assert_eq!(input_value(html, "national_id"), NATIONAL_ID);
    // The login form is bound to an unguessable request.
    assert_strong("login request id", &page.request_id());
    let cb = login(&s, &b, &page).await;
    check_code_callback(&s, &cb, REDIRECT, Some(STATE));

    let b = s.browser();
    let buffy = format!(
        "buffy@{}",
        url::Url::parse(&s.base).unwrap().host_str().unwrap()
    );
    let f = flow(&s, &b, &RP, &[("login_hint", buffy.as_str())]).await;
    assert!(f.login_shown);
});

// 25. oidcc-ui-locales
both_dbs!(oidcc_ui_locales, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[("ui_locales", "se")]).await;
    assert!(f.login_shown);
});

// 26. oidcc-claims-locales
both_dbs!(oidcc_claims_locales, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[("claims_locales", "se")]).await;
    assert!(f.login_shown);
    userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
});

// 27. oidcc-ensure-request-with-acr-values-succeeds: the advertised values succeed and the
// returned acr meets them; a level the test method cannot reach is refused.
both_dbs!(
    oidcc_ensure_request_with_acr_values_succeeds,
    |db| async move {
        let s = start(db).await;
        let d = discovery(&s).await;
        let advertised = strings(&d["acr_values_supported"]);
        assert!(advertised.contains(&"eidas1".to_owned()));
        let b = s.browser();
        let url = authz_url(&s, "edit", &params("rp", &[("acr_values", "eidas1")]));
        let page = b.authorize(&url).await;
        let Authz::LoginPage { html, .. } = &page else {
            panic!("a login page: {page:?}")
        };
        assert!(!button_disabled(html, "test"));
        let cb = login(&s, &b, &page).await;
        let code = check_code_callback(&s, &cb, REDIRECT, Some(STATE));
        let t = token_ok(redeem(&s, &code, &[]).await).await;
        let (_, claims) = verify_id_token(
            &s,
            t["id_token"].as_str().unwrap(),
            &RP,
            Nonce::Is(NONCE),
            t["access_token"].as_str(),
        )
        .await;
        let acr = Acr::parse(claims["acr"].as_str().expect("acr")).expect("a known acr");
        assert!(acr >= Acr::Eidas1, "acr {acr}");
        // The suite's request: every advertised value.
        let all = advertised.join(" ");
        let f = flow(&s, &b, &RP, &[("acr_values", all.as_str())]).await;
        let acr = Acr::parse(f.claims["acr"].as_str().unwrap()).unwrap();
        assert!(
            advertised
                .iter()
                .any(|a| Acr::parse(a).is_some_and(|a| acr >= a))
        );

        // eidas3: the test method (eidas1) cannot meet it.
        let b = s.browser();
        let url = authz_url(&s, "edit", &params("rp", &[("acr_values", "eidas3")]));
        let page = b.authorize(&url).await;
        let Authz::LoginPage { html, .. } = &page else {
            panic!("a login page: {page:?}")
        };
        assert!(button_disabled(html, "test"), "the test button is disabled");
        let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
        assert_eq!(r.status(), 400, "posting the disabled method is refused");
        assert!(r.headers().get("location").is_none());
        // No session was created by the refused login.
        let url = authz_url(&s, "edit", &params("rp", &[("prompt", "none")]));
        let u = b.authorize(&url).await.redirect();
        check_error_callback(&s, &u, REDIRECT, &["login_required"], Some(STATE));
    }
);
