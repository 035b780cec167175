//! What coeur refuses from the upstream and the browser: every refusal is a page, no code
//! reaches the client, and nothing is stored (no link, no pending link, no session).

use super::*;

/// A refusal page saying `why`, with nothing stored.
async fn assert_refused_clean(fc: &Fc, a: &Answer, status: u16, why: &str) {
    assert_eq!(a.status, status, "{why}: {}", a.body);
    assert!(a.location.is_none(), "{why}: no redirect: {a:?}");
    assert!(a.body.contains(why), "the page says {why:?}: {}", a.body);
    assert!(!a.body.contains("code="), "{}", a.body);
    for t in [
        "upstream_links",
        "upstream_pending_links",
        "upstream_sessions",
        "sessions",
    ] {
        assert_eq!(rows(fc, t).await, 0, "{why}: {t} is empty");
    }
}

both_dbs!(spoiled_upstream_answers_are_refused, |db| async move {
    let fc = start(db, json!({})).await;
    for (mode, why, detail) in [
        ("nonce", "fc.refused", "nonce mismatch"),
        ("issuer", "fc.refused", "is not the upstream"),
        ("foreign", "fc.refused", "bad signature"),
        ("plain", "fc.refused", "the token is not encrypted"),
        ("expired", "fc.refused", "expired or not yet valid"),
        ("acr", "fc.too_weak", "below the level asked for"),
    ] {
        fc.plus.tamper(mode).await;
        let a = fc_login(&fc, &fc.s.browser(), Some("eidas2"), "angela").await;
        assert_refused_clean(&fc, &a, 400, &fr(why)).await;
        assert!(a.body.contains(detail), "{mode}: {}", a.body);
    }
    // A FranceConnect+ login at eidas1 (the citizen's choice upstream) is below the request.
    let b = fc.s.browser();
    let to = to_upstream(&fc, &b, Some("eidas2")).await;
    let r = b.http.get(to.clone()).send().await.expect("authorize");
    let interaction = location_in(&r, &to);
    b.http
        .get(interaction.clone())
        .send()
        .await
        .expect("login page");
    let r = b
        .http
        .post(
            interaction
                .join(&format!("{}/login", interaction.path()))
                .expect("url"),
        )
        .form(&[("login", "angela"), ("password", "123"), ("acr", "eidas1")])
        .send()
        .await
        .expect("login");
    let cb = through_upstream(&b, &location_in(&r, &interaction), Some("angela")).await;
    let a = answer(b.http.get(cb).send().await.expect("callback")).await;
    assert_refused_clean(&fc, &a, 400, &fr("fc.too_weak")).await;
});

both_dbs!(state_is_of_this_browser_and_used_once, |db| async move {
    let fc = start(db, json!({})).await;
    let b = fc.s.browser();
    let to = to_upstream(&fc, &b, Some("eidas2")).await;
    let cb = through_upstream(&b, &to, Some("angela")).await;
    // Another browser presenting the callback: refused, and the state is not burnt.
    let elsewhere = answer(
        fc.s.browser()
            .http
            .get(cb.clone())
            .send()
            .await
            .expect("cb"),
    )
    .await;
    assert_refused_clean(&fc, &elsewhere, 400, &fr("error.other_browser.message")).await;
    // A state that is not the one sent.
    let mut wrong = cb.clone();
    let pairs: Vec<(String, String)> = cb
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                format!("{v}x")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    wrong.query_pairs_mut().clear().extend_pairs(pairs);
    let a = answer(b.http.get(wrong).send().await.expect("cb")).await;
    assert_refused_clean(&fc, &a, 400, &fr("error.page_expired.message")).await;
    // A wrong iss parameter (RFC 9207) spends the state and is refused.
    let mut bad_iss = cb.clone();
    let pairs: Vec<(String, String)> = cb
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" {
                "https://evil.example".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    bad_iss.query_pairs_mut().clear().extend_pairs(pairs);
    let a = answer(b.http.get(bad_iss).send().await.expect("cb")).await;
    assert_refused_clean(&fc, &a, 400, &fr("fc.refused")).await;
    // Used: the real callback now finds its state spent.
    let a = answer(b.http.get(cb).send().await.expect("cb")).await;
    assert_refused_clean(&fc, &a, 400, &fr("error.page_expired.message")).await;

    // A fresh login whose callback is replayed: the second time is refused.
    let b = fc.s.browser();
    let to = to_upstream(&fc, &b, Some("eidas2")).await;
    let cb = through_upstream(&b, &to, Some("angela")).await;
    let first = answer(b.http.get(cb.clone()).send().await.expect("cb")).await;
    link_handle(&first);
    let again = answer(b.http.get(cb).send().await.expect("cb")).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(
        again.body.contains(&fr("error.page_expired.message")),
        "{}",
        again.body
    );
});

both_dbs!(
    cancelled_or_unreachable_upstream_stores_nothing,
    |db| async move {
        let mut fc = start(db, json!({})).await;
        // The citizen cancels upstream: access_denied.
        let b = fc.s.browser();
        let to = to_upstream(&fc, &b, Some("eidas2")).await;
        let cb = through_upstream(&b, &to, None).await;
        assert_eq!(param(&cb, "error").as_deref(), Some("access_denied"));
        let a = answer(b.http.get(cb).send().await.expect("cb")).await;
        assert_refused_clean(&fc, &a, 400, &fr("fc.denied")).await;

        // The upstream is down before its metadata was ever read: a clear page on the wallet.
        fc.v2.stop().await;
        let b = fc.s.browser();
        let page = wallet(&fc, &b, None).await;
        let r = b.login(&fc.s.base, &page, "", "franceconnect").await;
        let a = answer(r).await;
        let says = coeur::web::i18n::translate(
            coeur::web::Lang::Fr,
            "fc.unavailable",
            &[("name", "FranceConnect")],
        );
        let says = says.replace('\'', "&#x27;");
        assert_refused_clean(&fc, &a, 502, &says).await;
        assert_eq!(
            rows(&fc, "upstream_logins").await,
            1,
            "only the cancelled login's state"
        );
    }
);

both_dbs!(
    an_attackers_lookalike_upstream_account_gains_nothing,
    |db| async move {
        // Mallory's FranceConnect+ account carries the names and e-mail of the professional.
        let s0 = {
            // The identity's record, read from a server of the same seed.
            let fc = start(db, json!({})).await;
            let i = identity(&fc.s, NATIONAL_ID).await;
            (i.given_name.clone(), i.family_name.clone(), i.email.clone())
        };
        let mallory = json!({"mallory": {
            "sub": "ffffeeeeddddccccbbbbaaaa99998888777766665555444433332222111100009v1",
            "given_name": s0.0, "family_name": s0.1, "email": s0.2, "preferred_username": "",
            "gender": "female", "birthdate": "1962-08-24", "birthplace": "75107", "birthcountry": "99100",
        }});
        let fc = start(db, mallory).await;
        // The professional's own FranceConnect+ account is linked by card.
        link_by_card(&fc, Some("eidas2"), "angela").await;
        let links_before = rows(&fc, "upstream_links").await;
        // Mallory logs in upstream: a linking page, no code, no session.
        let b = fc.s.browser();
        let a = fc_login(&fc, &b, Some("eidas2"), "mallory").await;
        let handle = link_handle(&a);
        assert!(a.location.is_none());
        // No method but the card or e-CPS proves anything.
        for m in ["test", "franceconnect", "bogus"] {
            let r = post_link(&fc, &b, &handle, m).await;
            assert_eq!(r.status, 400, "{m}: {}", r.body);
            assert!(r.body.contains(&fr("fc.link.method")), "{m}");
        }
        // The handle is worthless in another browser.
        let r = post_link(&fc, &fc.s.browser(), &handle, "card").await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(rows(&fc, "upstream_links").await, links_before);
        use sqlx::Row as _;
        let mallorys: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM upstream_links WHERE sub LIKE 'ffff%'")
                .fetch_one(fc.s.state.store.db().pool())
                .await
                .expect("links")
                .get("n");
        assert_eq!(mallorys, 0);
    }
);

both_dbs!(
    upstream_keys_are_read_again_on_an_unknown_kid_at_most_once_a_minute,
    |db| async move {
        let fc = start(db, json!({})).await;
        link_by_card(&fc, Some("eidas2"), "angela").await;
        // The upstream signs with a new key, published at once; coeur read the keys less than a
        // minute ago: refused, nothing read again.
        fc.plus.tamper("rotated").await;
        let a = fc_login(&fc, &fc.s.browser(), Some("eidas2"), "angela").await;
        assert_eq!(a.status, 400, "{}", a.body);
        assert!(a.body.contains("unknown signing key"), "{}", a.body);
        // A minute later, an unknown kid makes coeur read the keys again: the login goes through.
        fc.s.clock.advance(61);
        fc.plus.tamper("rotated").await;
        let a = fc_login(&fc, &fc.s.browser(), Some("eidas2"), "angela").await;
        assert_eq!(a.status, 303, "{}", a.body);
        assert!(
            a.location
                .as_deref()
                .is_some_and(|l| l.starts_with(REDIRECT))
        );
    }
);

both_dbs!(
    only_the_last_upstream_account_of_a_login_is_linked,
    |db| async move {
        // The same pending request goes upstream twice (the person went back to the wallet page):
        // first with an account someone else's upstream session put there, then with their own.
        // The card proves the last one only, the one the linking page named.
        let fc = start(db, json!({})).await;
        let b = fc.s.browser();
        let page = wallet(&fc, &b, Some("eidas2")).await;
        let mut pages = Vec::new();
        for citizen in ["abroad", "angela"] {
            let r = b.login(&fc.s.base, &page, "", "franceconnect").await;
            assert_eq!(r.status().as_u16(), 303);
            // The upstream's leg in a browser of its own: a fresh upstream session each time.
            let upstream = fc.s.browser();
            let cb = through_upstream(&upstream, &location(&r), Some(citizen)).await;
            let a = answer(b.http.get(cb).send().await.expect("callback")).await;
            link_handle(&a);
            pages.push(a);
        }
        // Each linking page names the upstream account it would link.
        assert!(pages[0].body.contains("Kenji TANAKA"), "{}", pages[0].body);
        assert!(
            pages[1].body.contains("Angela Claire Louise DUBOIS"),
            "{}",
            pages[1].body
        );
        // The first page's handle is void now.
        let first = link_handle(&pages[0]);
        let a = post_link(&fc, &b, &first, "card").await;
        assert_eq!(a.status, 400, "{}", a.body);
        // The second one leads to the card; the link made is angela's only.
        let second = link_handle(&pages[1]);
        let a = post_link(&fc, &b, &second, "card").await;
        assert_eq!(a.status, 303, "{}", a.body);
        let root = root_pem(&fc.s).await;
        let c = card(&fc.s, &identity(&fc.s, NATIONAL_ID).await).await;
        let leg = card_leg(
            &card_client(&root, Some(&c.auth.identity_pem)),
            a.location.as_deref().expect("to"),
        )
        .await;
        back_to_client(&b, &back_url(&fc.s, "edit", &leg)).await;
        use sqlx::Row as _;
        let subs: Vec<String> = sqlx::query("SELECT sub FROM upstream_links")
            .fetch_all(fc.s.state.store.db().pool())
            .await
            .expect("links")
            .iter()
            .map(|r| r.get("sub"))
            .collect();
        assert_eq!(subs.len(), 1, "{subs:?}");
        assert!(subs[0].starts_with("b6048e95"), "{subs:?}");
    }
);
