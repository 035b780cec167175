//! Logins through the upstreams: the first links by card, the next log the linked national id
//! in; the ID token speaks of coeur's identity with authMode FRANCECONNECT, the upstream's
//! level and `fed`; the holder lists and removes links; coeur's logout ends the upstream
//! session too.

use super::*;

both_dbs!(
    franceconnect_plus_first_login_links_by_card_then_logs_in,
    |db| async move {
        let fc = start(db, json!({})).await;
        // coeur publishes its encryption key for the upstream.
        let jwks: Value = reqwest::get(format!(
            "{}/auth/realms/edit/franceconnect/fcplus/jwks",
            fc.s.base
        ))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("JSON");
        assert_eq!(jwks["keys"][0]["use"], "enc", "{jwks}");
        assert!(jwks["keys"][0].get("d").is_none(), "public only: {jwks}");

        // First login: no link yet, no login; the card proves the national id and logs in.
        let code = link_by_card(&fc, Some("eidas2"), "angela").await;
        let tokens = redeem_in(&fc.s, "edit", &code).await;
        assert_eq!(id_claims(&fc, &tokens).await["authMode"], "CARD");
        assert_eq!(rows(&fc, "upstream_links").await, 1);
        let audit = audited(&fc, "upstream.link").await;
        assert_eq!(audit.len(), 1, "{audit:?}");
        assert!(audit[0].0.starts_with("edit/fcplus/b6048e"), "{audit:?}");
        assert!(audit[0].1.contains(NATIONAL_ID), "{audit:?}");

        // Next time, in another browser, FranceConnect+ alone logs the professional in.
        let b = fc.s.browser();
        let a = fc_login(&fc, &b, Some("eidas2"), "angela").await;
        assert_eq!(a.status, 303, "{}", a.body);
        let cb = url::Url::parse(a.location.as_deref().expect("to the client")).expect("URL");
        assert!(cb.as_str().starts_with(REDIRECT), "{cb}");
        let tokens = redeem_in(&fc.s, "edit", &param(&cb, "code").expect("code")).await;
        let c = id_claims(&fc, &tokens).await;
        assert_eq!(c["authMode"], "FRANCECONNECT", "{c}");
        assert_eq!(c["acr"], "eidas2", "{c}");
        assert_eq!(c["amr"], json!(["fed"]), "{c}");
        assert_eq!(c["nonce"], NONCE);
        assert!(
            c["sub"].as_str().is_some_and(|s| s.ends_with(NATIONAL_ID)),
            "{c}"
        );
        // PSC claims come from coeur's identity, never from the upstream's pivot identity.
        let body = serde_json::to_string(&c).expect("json");
        assert!(!body.contains("DUBOIS") && !body.contains("yopmail"), "{c}");

        // The holder sees the link, and removes it (audited); the next login asks for a proof.
        let page = b
            .http
            .get(format!(
                "{}/auth/realms/edit/franceconnect/links",
                fc.s.base
            ))
            .send()
            .await
            .expect("links page");
        assert_eq!(page.status().as_u16(), 200);
        let html = page.text().await.expect("html");
        assert!(
            html.contains("FranceConnect+") && html.contains("b6048e95bb"),
            "{html}"
        );
        let start = html.find("name=\"token\" value=\"").expect("token") + 20;
        let token = &html[start..start + html[start..].find('"').expect("end")];
        let sub = "b6048e95bb134ec5b1d1e1fa69f287172e91722b9354d637a1bcf2ebb0fd2ef5v1";
        // Without the page's token, nothing changes.
        let forged = b
            .http
            .post(format!(
                "{}/auth/realms/edit/franceconnect/links",
                fc.s.base
            ))
            .form(&[("token", "forged"), ("upstream", "fcplus"), ("sub", sub)])
            .send()
            .await
            .expect("remove");
        assert_eq!(forged.status().as_u16(), 400);
        assert_eq!(rows(&fc, "upstream_links").await, 1);
        let removed = b
            .http
            .post(format!(
                "{}/auth/realms/edit/franceconnect/links",
                fc.s.base
            ))
            .form(&[("token", token), ("upstream", "fcplus"), ("sub", sub)])
            .send()
            .await
            .expect("remove");
        assert_eq!(removed.status().as_u16(), 302);
        assert_eq!(rows(&fc, "upstream_links").await, 0);
        assert_eq!(audited(&fc, "upstream.unlink").await.len(), 1);
        let again = fc_login(&fc, &fc.s.browser(), Some("eidas2"), "angela").await;
        link_handle(&again);
    }
);

both_dbs!(
    franceconnect_v2_signed_only_logs_in_at_eidas1,
    |db| async move {
        let fc = start(db, json!({})).await;
        // No level asked: the first upstream (FranceConnect v2); a citizen born abroad.
        link_by_card(&fc, None, "abroad").await;
        let b = fc.s.browser();
        let to = to_upstream(&fc, &b, None).await;
        assert!(to.as_str().starts_with(&fc.v2.issuer), "{to}");
        assert_eq!(param(&to, "acr_values").as_deref(), Some("eidas1"));
        let cb = through_upstream(&b, &to, Some("abroad")).await;
        let a = answer(b.http.get(cb).send().await.expect("callback")).await;
        assert_eq!(a.status, 303, "{}", a.body);
        let cb = url::Url::parse(a.location.as_deref().expect("to")).expect("URL");
        let tokens = redeem_in(&fc.s, "edit", &param(&cb, "code").expect("code")).await;
        let c = id_claims(&fc, &tokens).await;
        assert_eq!(
            (c["authMode"].as_str(), c["acr"].as_str()),
            (Some("FRANCECONNECT"), Some("eidas1")),
            "{c}"
        );

        // The citizen with a partial birth date goes through as well (to the linking page).
        let a = fc_login(&fc, &fc.s.browser(), None, "partial").await;
        link_handle(&a);
    }
);

both_dbs!(logout_ends_the_upstream_session_too, |db| async move {
    let fc = start(db, json!({})).await;
    link_by_card(&fc, Some("eidas2"), "angela").await;
    let b = fc.s.browser();
    let a = fc_login(&fc, &b, Some("eidas2"), "angela").await;
    let cb = url::Url::parse(a.location.as_deref().expect("to")).expect("URL");
    let tokens = redeem_in(&fc.s, "edit", &param(&cb, "code").expect("code")).await;
    let hint = tokens["id_token"].as_str().expect("id token");
    let mut logout = url::Url::parse(&fc.s.endpoint("edit", "logout")).expect("url");
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", POST_LOGOUT)
        .append_pair("state", "bye-1");
    let r = b.http.get(logout).send().await.expect("logout");
    assert_eq!(r.status().as_u16(), 302);
    let up = location(&r);
    assert!(
        up.as_str()
            .starts_with(&format!("{}/session/end?", fc.plus.issuer)),
        "{up}"
    );
    assert!(
        param(&up, "id_token_hint").is_some_and(|h| h.split('.').count() == 3),
        "{up}"
    );
    assert!(param(&up, "state").is_some_and(|s| s.len() >= 32));
    let back = param(&up, "post_logout_redirect_uri").expect("back");
    assert_eq!(
        back,
        format!("{}/auth/realms/edit/franceconnect/logout-return", fc.s.base)
    );
    // coeur's session is already over.
    wallet(&fc, &b, None).await;
    // The upstream's page confirms (a form), then sends the browser back to coeur, on to the
    // application's post-logout URI.
    let page = b.http.get(up.clone()).send().await.expect("end session");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("action");
    let xsrf = html
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("xsrf");
    let r = b
        .http
        .post(up.join(action).expect("action"))
        .form(&[("xsrf", xsrf), ("logout", "yes")])
        .send()
        .await
        .expect("confirm");
    assert!(r.status().is_redirection(), "{}", r.status());
    let to_coeur = location(&r);
    assert!(to_coeur.as_str().starts_with(&back), "{to_coeur}");
    let r = b
        .http
        .get(to_coeur.clone())
        .send()
        .await
        .expect("logout return");
    let to_rp = location(&r);
    assert!(to_rp.as_str().starts_with(POST_LOGOUT), "{to_rp}");
    assert_eq!(param(&to_rp, "state").as_deref(), Some("bye-1"));
    // Once only.
    let again = b.http.get(to_coeur).send().await.expect("again");
    assert_eq!(again.status().as_u16(), 200, "the logged-out page");
});

both_dbs!(
    a_failed_upstream_logout_does_not_block_coeurs,
    |db| async move {
        let mut fc = start(db, json!({})).await;
        link_by_card(&fc, Some("eidas2"), "angela").await;
        let b = fc.s.browser();
        let a = fc_login(&fc, &b, Some("eidas2"), "angela").await;
        let cb = url::Url::parse(a.location.as_deref().expect("to")).expect("URL");
        let tokens = redeem_in(&fc.s, "edit", &param(&cb, "code").expect("code")).await;
        fc.plus.stop().await;
        let mut logout = url::Url::parse(&fc.s.endpoint("edit", "logout")).expect("url");
        logout
            .query_pairs_mut()
            .append_pair("id_token_hint", tokens["id_token"].as_str().expect("hint"))
            .append_pair("post_logout_redirect_uri", POST_LOGOUT);
        // The upstream's metadata is still known: coeur sends the browser there; coeur's own
        // session ended first either way.
        let r = b.http.get(logout).send().await.expect("logout");
        assert_eq!(r.status().as_u16(), 302);
        // No session left in this browser: a new authorization shows the wallet page.
        wallet(&fc, &b, None).await;
    }
);

both_dbs!(operators_list_and_remove_links, |db| async move {
    let fc = start(db, json!({})).await;
    link_by_card(&fc, Some("eidas2"), "angela").await;
    let o = coeur_cli(&fc.s, &["link", "list", "--realm", "edit"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.starts_with("fcplus\tb6048e95bb")
            && out.contains(NATIONAL_ID)
            && out.contains("\tcard\t"),
        "{out}"
    );
    let sub = out.split('\t').nth(1).expect("sub").to_owned();
    let o = coeur_cli(
        &fc.s,
        &[
            "link",
            "remove",
            "--realm",
            "edit",
            "--upstream",
            "fcplus",
            "--sub",
            &sub,
        ],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(rows(&fc, "upstream_links").await, 0);
    let unlinked = audited(&fc, "upstream.unlink").await;
    assert_eq!(unlinked.len(), 1, "{unlinked:?}");
    let o = coeur_cli(
        &fc.s,
        &[
            "link",
            "remove",
            "--realm",
            "edit",
            "--upstream",
            "fcplus",
            "--sub",
            &sub,
        ],
    )
    .await;
    assert!(!o.status.success(), "nothing left to remove");
    // The whole chain still verifies.
    let o = coeur_cli(&fc.s, &["audit", "verify"]).await;
    assert!(o.status.success(), "{}", text(&o));
});

both_dbs!(an_ecps_login_proves_a_link_too, |db| async move {
    let fc = start(db, json!({})).await;
    let device = crate::ecps::enrolled(&fc.s, &identity(&fc.s, NATIONAL_ID).await).await;
    // FranceConnect+'s citizen with a partial birth date, first seen: proven by e-CPS.
    let b = fc.s.browser();
    let handle = link_handle(&fc_login(&fc, &b, Some("eidas2"), "partial").await);
    let r = b
        .http
        .post(format!("{}/auth/realms/edit/franceconnect/link", fc.s.base))
        .form(&[
            ("link", handle.as_str()),
            ("method", "ecps"),
            ("national_id", NATIONAL_ID),
        ])
        .send()
        .await
        .expect("link");
    assert_eq!(r.status().as_u16(), 303, "to the waiting page");
    let waiting = format!(
        "{}{}",
        fc.s.base,
        r.headers()["location"].to_str().expect("to")
    );
    assert!(waiting.contains("/auth/ecps?request="), "{waiting}");
    let pending = device.pending(&fc.s).await;
    let r = device
        .decide(&fc.s, &pending[0], coeur::oauth::ecps::Decision::Approve)
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let (status, to) = crate::ecps::check(&b, &waiting).await;
    assert_eq!(status, 303, "{to}");
    assert!(to.starts_with(REDIRECT), "{to}");
    use sqlx::Row as _;
    let method: String = sqlx::query("SELECT method FROM upstream_links WHERE upstream = 'fcplus'")
        .fetch_one(fc.s.state.store.db().pool())
        .await
        .expect("link")
        .get("method");
    assert_eq!(method, "ecps");
    // From now on FranceConnect+ alone logs in.
    let a = fc_login(&fc, &fc.s.browser(), Some("eidas2"), "partial").await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(
        a.location
            .as_deref()
            .is_some_and(|l| l.starts_with(REDIRECT))
    );
});

both_dbs!(the_wallet_names_each_upstream, |db| async move {
    let fc = start(db, json!({})).await;
    let b = fc.s.browser();
    let page = wallet(&fc, &b, Some("eidas2")).await;
    let Authz::LoginPage {
        html,
        request_id,
        action,
    } = &page
    else {
        unreachable!()
    };
    // One button per upstream, with the realm file's names; FranceConnect (eidas1) is below
    // the level asked for, and says so.
    let fc_button = "name=\"upstream\" value=\"fc\" disabled";
    assert!(html.contains(fc_button), "{html}");
    assert!(
        html.contains("name=\"upstream\" value=\"fcplus\">FranceConnect+</button>"),
        "{html}"
    );
    assert!(html.contains(&fr("wallet.why.too_weak")), "{html}");
    // Choosing FranceConnect+ by its button sends the browser there.
    let r = b
        .http
        .post(format!("{}{action}", fc.s.base))
        .form(&[
            ("request_id", request_id.as_str()),
            ("national_id", ""),
            ("upstream", "fcplus"),
        ])
        .send()
        .await
        .expect("wallet");
    assert_eq!(r.status().as_u16(), 303);
    assert!(location(&r).as_str().starts_with(&fc.plus.issuer));
    // FranceConnect, below the level, is refused on the wallet page.
    let page = wallet(&fc, &b, Some("eidas2")).await;
    let Authz::LoginPage {
        request_id, action, ..
    } = &page
    else {
        unreachable!()
    };
    let r = b
        .http
        .post(format!("{}{action}", fc.s.base))
        .form(&[
            ("request_id", request_id.as_str()),
            ("national_id", ""),
            ("upstream", "fc"),
        ])
        .send()
        .await
        .expect("wallet");
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        r.text()
            .await
            .expect("html")
            .contains(&fr("login.too_weak"))
    );
});
