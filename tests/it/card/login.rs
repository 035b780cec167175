//! Card logins that succeed: the full code flow with the card leg made by reqwest and by
//! `curl --cert`, and cards whose serial starts with a zero digit (login, then revocation).

use super::*;

both_dbs!(card_login_through_reqwest, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let root = root_pem(&s).await;
    let c = card(&s, &identity(&s, NATIONAL_ID).await).await;
    let with_card = card_client(&root, Some(&c.auth.identity_pem));

    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_card, &handoff_url).await;
    let back = back_url(&s, "edit", &a);

    // The hand-off is one-time: a second use, even with the same valid card, is refused.
    let again = card_leg(&with_card, &handoff_url).await;
    assert_one_time(&again, &fr("error.page_expired.message"));

    let code = back_to_client(&b, &back).await;
    // The result is one-time too.
    let again = answer(b.http.get(&back).send().await.expect("card return")).await;
    assert_one_time(&again, &fr("error.page_expired.message"));

    let tokens = redeem_in(&s, "edit", &code).await;
    check_card_id_token(&s, "edit", &tokens, NATIONAL_ID).await;

    // The SSO session the card opened serves the next authorization without a new login.
    let silent = b.authorize(&authz_url(&s, "edit", &authz_params())).await;
    let cb = silent.redirect();
    assert!(cb.as_str().starts_with(REDIRECT), "{cb}");
    let tokens = redeem_in(&s, "edit", &param(&cb, "code").expect("code")).await;
    check_card_id_token(&s, "edit", &tokens, NATIONAL_ID).await;
});

both_dbs!(card_login_through_curl, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let w = Work::new();
    let root = w.write("root.pem", root_pem(&s).await);
    let c = card(&s, &identity(&s, NATIONAL_ID).await).await;
    let p12 = w.write("card.p12", &c.auth.p12);

    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = curl_card_leg(&handoff_url, &p12, &root).await;
    let back = back_url(&s, "edit", &a);
    let code = back_to_client(&b, &back).await;
    let tokens = redeem_in(&s, "edit", &code).await;
    check_card_id_token(&s, "edit", &tokens, NATIONAL_ID).await;

    // The signature certificate of the same card is refused through curl as well.
    let sign = w.write("card-sign.p12", &c.sign.p12);
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = curl_card_leg(&handoff_url, &sign, &root).await;
    assert_refused(&a, 403, "not for this use");
});

both_dbs!(card_with_a_leading_zero_serial, |db| async move {
    // Serials are stored as lowercase hex without leading zero bytes, so about one in nine
    // starts with the digit 0 ("0b3f…"). Such a card must log in and be revocable like any
    // other.
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let root = root_pem(&s).await;
    let holder = other_active_identities(&s)
        .await
        .into_iter()
        .nth(1)
        .expect("an active identity");
    let mut found = None;
    for _ in 0..100 {
        let c = issue_card(&s, &holder).await;
        if c.auth.serial.starts_with('0') {
            found = Some(c);
            break;
        }
    }
    let c = found.expect("a card serial starting with 0 in 100 cards");
    let with_card = card_client(&root, Some(&c.auth.identity_pem));
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_card, &handoff_url).await;
    assert_eq!(
        a.status, 303,
        "card {} (serial starting with 0) accepted: {}",
        c.auth.serial, a.body
    );
    let code = back_to_client(&b, &back_url(&s, "edit", &a)).await;
    redeem_in(&s, "edit", &code).await;
    let done = s
        .state
        .ca
        .ca
        .revoke_cards(
            &s.ca.store,
            holder.national_id.as_str(),
            Reason::KeyCompromise,
            "test",
            s.clock.now(),
        )
        .await
        .expect("opposition of every card of the holder");
    assert!(
        done.iter().any(|(_, serial)| *serial == c.auth.serial),
        "{} revoked: {done:?}",
        c.auth.serial
    );
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_card, &handoff_url).await;
    assert_refused(&a, 403, &fr("card.revoked"));
});
