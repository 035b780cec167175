//! Linking by pivot identity (`link_by_pivot_identity` on the upstream `fc`): an upstream
//! identity seen for the first time whose pivot identity (names, complete birth date, birth
//! place or country) equals exactly one identity's record is offered for confirmation; the
//! person confirms (linked, audited, logged in) or declines (proof by card or e-CPS, as
//! without the option). Never on e-mail or names alone, never on a partial birth date, never
//! from another browser.

use super::*;
use coeur::common::identity::Identity;

/// The professional [`NATIONAL_ID`] given the pivot identity of the upstream citizen
/// `angela` (Angela Claire Louise DUBOIS, born 1962-08-24 in Paris 7e), with `change` applied.
pub(crate) async fn angela_is(fc: &Fc, change: impl FnOnce(&mut Identity)) {
    let mut i = identity(&fc.s, NATIONAL_ID).await;
    i.given_name = "ANGELA CLAIRE LOUISE".into();
    i.family_name = "DUBOIS".into();
    i.email = Some("wossewodda-3728@yopmail.com".into());
    i.birth_date = Some("1962-08-24".into());
    i.birth_place = Some("75107".into());
    i.birth_country = Some("99100".into());
    change(&mut i);
    fc.s.put_identities("edit", vec![i])
        .await
        .expect("identity written");
}

/// The confirmation page's handle.
fn confirm_handle(a: &Answer) -> String {
    assert_eq!(a.status, 200, "the confirmation page: {}", a.body);
    assert!(a.body.contains(&fr("fc.confirm.title")), "{}", a.body);
    let start = a.body.find("name=\"link\" value=\"").expect("link handle") + 19;
    a.body[start..start + a.body[start..].find('"').expect("end")].to_owned()
}

/// Posts the confirmation page's answer from `b`.
async fn post_confirm(fc: &Fc, b: &Browser, handle: &str, confirm: &str) -> Answer {
    let r = b
        .http
        .post(format!("{}/auth/realms/edit/franceconnect/link", fc.s.base))
        .form(&[("link", handle), ("confirm", confirm)])
        .send()
        .await
        .expect("confirm");
    answer(r).await
}

/// The links stored: (national id, method).
async fn links(fc: &Fc) -> Vec<(String, String)> {
    fc.s.state
        .store
        .upstream_links("edit", None)
        .await
        .expect("links")
        .into_iter()
        .map(|l| (l.national_id, l.method))
        .collect()
}

both_dbs!(
    a_confirmed_pivot_identity_links_and_logs_in,
    |db| async move {
        let fc = start_opts(db, json!({}), true).await;
        angela_is(&fc, |_| {}).await;
        let b = fc.s.browser();
        let first = fc_login(&fc, &b, None, "angela").await;
        let handle = confirm_handle(&first);
        // The identity is named partially: names, and the national id masked.
        assert!(
            first.body.contains("ANGELA CLAIRE LOUISE"),
            "{}",
            first.body
        );
        assert!(first.body.contains("899•••••••96"), "{}", first.body);
        assert!(!first.body.contains(NATIONAL_ID), "{}", first.body);
        assert!(!first.body.contains("1962"), "{}", first.body);
        assert!(links(&fc).await.is_empty());

        // Another browser, with the handle but not the pending login: refused, nothing stored.
        let other = post_confirm(&fc, &fc.s.browser(), &handle, "yes").await;
        assert!(
            (400..500).contains(&other.status),
            "{} {}",
            other.status,
            other.body
        );
        // No handle, or a made-up one: refused too.
        let none = answer(
            b.http
                .post(format!("{}/auth/realms/edit/franceconnect/link", fc.s.base))
                .form(&[("confirm", "yes")])
                .send()
                .await
                .expect("confirm"),
        )
        .await;
        assert!((400..500).contains(&none.status), "{}", none.body);
        let forged = post_confirm(&fc, &b, "forged-handle-0123456789abcdef0123", "yes").await;
        assert!((400..500).contains(&forged.status), "{}", forged.body);
        assert!(links(&fc).await.is_empty());
        assert!(audited(&fc, "upstream.link").await.is_empty());

        // The person confirms: linked, audited, logged in through FranceConnect.
        let yes = post_confirm(&fc, &b, &handle, "yes").await;
        assert_eq!(yes.status, 303, "{}", yes.body);
        let cb = url::Url::parse(yes.location.as_deref().expect("to the client")).expect("URL");
        assert!(cb.as_str().starts_with(REDIRECT), "{cb}");
        let tokens = redeem_in(&fc.s, "edit", &param(&cb, "code").expect("code")).await;
        let c = id_claims(&fc, &tokens).await;
        assert_eq!(c["authMode"], "FRANCECONNECT", "{c}");
        assert_eq!(c["acr"], "eidas1", "{c}");
        assert!(
            c["sub"].as_str().is_some_and(|s| s.ends_with(NATIONAL_ID)),
            "{c}"
        );
        assert_eq!(
            links(&fc).await,
            vec![(NATIONAL_ID.to_owned(), "pivot_identity".to_owned())]
        );
        let audit = audited(&fc, "upstream.link").await;
        assert_eq!(audit.len(), 1, "{audit:?}");
        assert!(audit[0].0.starts_with("edit/fc/b6048e"), "{audit:?}");
        let details: Value = serde_json::from_str(&audit[0].1).expect("details");
        assert_eq!(details["method"], "pivot_identity", "{details}");
        assert_eq!(details["national_id"], NATIONAL_ID, "{details}");

        // The confirmation is spent: posting it again changes nothing.
        let again = post_confirm(&fc, &b, &handle, "yes").await;
        assert!((400..500).contains(&again.status), "{}", again.body);
        assert_eq!(links(&fc).await.len(), 1);
        assert_eq!(audited(&fc, "upstream.link").await.len(), 1);

        // Next time, in another browser, FranceConnect alone logs the professional in.
        let next = fc_login(&fc, &fc.s.browser(), None, "angela").await;
        assert_eq!(next.status, 303, "{}", next.body);
        assert!(
            next.location
                .as_deref()
                .is_some_and(|l| l.starts_with(REDIRECT)),
            "{next:?}"
        );
    }
);

both_dbs!(
    without_an_exact_match_or_when_declined_a_proof_is_asked,
    |db| async move {
        let fc = start_opts(db, json!({}), true).await;

        // Names and e-mail equal, birth date one day off: no match, the proof page.
        angela_is(&fc, |i| i.birth_date = Some("1962-08-25".into())).await;
        let a = fc_login(&fc, &fc.s.browser(), None, "angela").await;
        link_handle(&a);
        assert!(!a.body.contains(&fr("fc.confirm.title")), "{}", a.body);
        // Same birth, another birth place: no match either.
        angela_is(&fc, |i| i.birth_place = Some("75108".into())).await;
        link_handle(&fc_login(&fc, &fc.s.browser(), None, "angela").await);

        // A partial birth date upstream (1992-11-00) never matches, whatever the record.
        angela_is(&fc, |i| {
            i.given_name = "PAUL".into();
            i.family_name = "MARTIN".into();
            i.email = Some("paul.martin@example.org".into());
            i.birth_date = Some("1992-11-01".into());
            i.birth_place = Some("2A004".into());
        })
        .await;
        link_handle(&fc_login(&fc, &fc.s.browser(), None, "partial").await);

        // Homonyms: two records equal to the pivot identity, none is offered.
        angela_is(&fc, |_| {}).await;
        let mut twin =
            fc.s.state
                .store
                .identities("edit", 2)
                .await
                .expect("identities")
                .into_iter()
                .find(|i| i.national_id.as_str() != NATIONAL_ID)
                .expect("another identity");
        let mine = identity(&fc.s, NATIONAL_ID).await;
        let before = twin.clone();
        (twin.given_name, twin.family_name) = (mine.given_name, mine.family_name);
        (twin.birth_date, twin.birth_place, twin.birth_country) =
            (mine.birth_date, mine.birth_place, mine.birth_country);
        twin.active = true;
        fc.s.put_identities("edit", vec![twin])
            .await
            .expect("identity written");
        link_handle(&fc_login(&fc, &fc.s.browser(), None, "angela").await);
        fc.s.put_identities("edit", vec![before])
            .await
            .expect("identity written");

        // An exact match declined: the proof page, nothing linked; the offer is withdrawn.
        let b = fc.s.browser();
        let handle = confirm_handle(&fc_login(&fc, &b, None, "angela").await);
        let no = post_confirm(&fc, &b, &handle, "no").await;
        assert_eq!(link_handle(&no), handle);
        let late = post_confirm(&fc, &b, &handle, "yes").await;
        assert!((400..500).contains(&late.status), "{}", late.body);
        assert!(links(&fc).await.is_empty());
        assert!(audited(&fc, "upstream.link").await.is_empty());
        // The proof still links, by card.
        let a = post_link(&fc, &b, &handle, "card").await;
        assert_eq!(a.status, 303, "to the card listener: {}", a.body);
        let root = root_pem(&fc.s).await;
        let c = card(&fc.s, &identity(&fc.s, NATIONAL_ID).await).await;
        let leg = card_leg(
            &card_client(&root, Some(&c.auth.identity_pem)),
            a.location.as_deref().expect("to"),
        )
        .await;
        back_to_client(&b, &back_url(&fc.s, "edit", &leg)).await;
        assert_eq!(
            links(&fc).await,
            vec![(NATIONAL_ID.to_owned(), "card".to_owned())]
        );
    }
);

both_dbs!(
    without_the_option_an_exact_match_still_needs_a_proof,
    |db| async move {
        let fc = start(db, json!({})).await;
        angela_is(&fc, |_| {}).await;
        let b = fc.s.browser();
        let a = fc_login(&fc, &b, None, "angela").await;
        let handle = link_handle(&a);
        assert!(!a.body.contains(&fr("fc.confirm.title")), "{}", a.body);
        // A confirmation posted anyway links nothing.
        let forced = post_confirm(&fc, &b, &handle, "yes").await;
        assert!((400..500).contains(&forced.status), "{}", forced.body);
        assert!(links(&fc).await.is_empty());
    }
);
