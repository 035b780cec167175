//! What the device API and the e-CPS login refuse, each refusal a clear JSON error (or page)
//! that leaves the request and the devices as they were.

use super::*;
use coeur::oauth::ecps::{REQUEST_TTL, Status};
use coeur::provider::store::ApprovalRow;

async fn row(s: &TestServer, id: &str) -> ApprovalRow {
    s.state.store.approval("edit", id).await.unwrap().unwrap()
}

/// The request is still pending, decided by nobody.
async fn untouched(s: &TestServer, id: &str, what: &str) {
    let r = row(s, id).await;
    assert_eq!(r.status, Status::Pending, "{what}");
    assert_eq!(r.device_id, None, "{what}");
    assert_eq!(r.decided_at, None, "{what}");
}

both_dbs!(ecps_refusals_change_nothing, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let me = me(&s).await;
    let mine = enrolled(&s, &me).await;
    let my_other = enrolled(&s, &me).await;
    let (someone, _) = first_card_clean(&s).await;
    let theirs = enrolled(&s, &someone).await;

    let (_b, waiting) = start_login(&s, NATIONAL_ID).await;
    let id = request_of(&waiting);
    let pending = mine.pending(&s).await;
    assert_eq!(pending.len(), 1);
    let req = pending[0].clone();
    assert_eq!(
        my_other.pending(&s).await.len(),
        1,
        "every device of mine sees it"
    );
    assert!(
        theirs.pending(&s).await.is_empty(),
        "not another professional's"
    );

    // Another professional's device, even with a valid signature of its own.
    let r = theirs.decide(&s, &req, Decision::Approve).await;
    expect_error(r, 404, "unknown_request", "another identity's device").await;
    untouched(&s, &id, "another identity's device").await;

    // Another device's key: my other device's credential, my first device's signature.
    let body = json!({ "decision": "approve", "signature": mine.sign(&req, Decision::Approve) });
    let r = my_other.decide_raw(&s, &id, &body.to_string()).await;
    expect_error(r, 403, "invalid_signature", "another device's key").await;
    untouched(&s, &id, "another device's key").await;

    // A signature of the other decision.
    let body = json!({ "decision": "approve", "signature": mine.sign(&req, Decision::Deny) });
    let r = mine.decide_raw(&s, &id, &body.to_string()).await;
    expect_error(r, 403, "invalid_signature", "the deny signature").await;
    untouched(&s, &id, "the deny signature").await;

    // Bad JSON, unknown decisions, bad base64.
    for (body, what) in [
        ("{", "truncated JSON"),
        ("{\"decision\":\"approve\"}", "no signature"),
        (
            "{\"decision\":\"maybe\",\"signature\":\"AA\"}",
            "unknown decision",
        ),
        (
            "{\"decision\":\"approve\",\"signature\":\"***\"}",
            "not base64url",
        ),
        (
            "{\"decision\":\"approve\",\"signature\":\"AA\",\"x\":1}",
            "unknown member",
        ),
    ] {
        let r = mine.decide_raw(&s, &id, body).await;
        expect_error(r, 400, "invalid_request", what).await;
        untouched(&s, &id, what).await;
    }

    // No credential, or a wrong one.
    let r = http()
        .get(api(&s, "edit", "requests"))
        .send()
        .await
        .unwrap();
    let h = expect_error(r, 401, "invalid_token", "no credential").await;
    assert!(h.get("www-authenticate").is_some());
    let forged = Device {
        key: device_key(),
        id: String::new(),
        credential: "forged".into(),
    };
    let r = forged.decide(&s, &req, Decision::Approve).await;
    expect_error(r, 401, "invalid_token", "a forged credential").await;
    untouched(&s, &id, "a forged credential").await;
});

both_dbs!(
    ecps_replays_late_answers_and_dead_devices_change_nothing,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        let me = me(&s).await;
        let mine = enrolled(&s, &me).await;
        let my_other = enrolled(&s, &me).await;
        let (_b, waiting) = start_login(&s, NATIONAL_ID).await;
        let id = request_of(&waiting);
        let req = mine.pending(&s).await[0].clone();

        // Approved once; a replay (of the same answer, or the other) is refused.
        let r = mine.decide(&s, &req, Decision::Approve).await;
        assert_eq!(r.status().as_u16(), 200);
        let decided = row(&s, &id).await;
        for (d, who) in [
            (Decision::Approve, &mine),
            (Decision::Deny, &mine),
            (Decision::Deny, &my_other),
        ] {
            let r = who.decide(&s, &req, d).await;
            expect_error(r, 409, "request_closed", "a replay").await;
            assert_eq!(row(&s, &id).await, decided, "a replay changes nothing");
        }

        // After expiry.
        let (_b, waiting) = start_login(&s, NATIONAL_ID).await;
        let id = request_of(&waiting);
        let req = mine.pending(&s).await[0].clone();
        s.clock.advance(REQUEST_TTL);
        let r = mine.decide(&s, &req, Decision::Approve).await;
        expect_error(r, 409, "request_closed", "after expiry").await;
        untouched(&s, &id, "after expiry").await;
        assert!(mine.pending(&s).await.is_empty());

        // A revoked device: refused, and the request it could have approved stays pending.
        let (_b, waiting) = start_login(&s, NATIONAL_ID).await;
        let id = request_of(&waiting);
        let req = mine.pending(&s).await[0].clone();
        let r = http()
            .post(api(&s, "edit", "devices/revoke"))
            .bearer_auth(&mine.credential)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let r = mine.decide(&s, &req, Decision::Approve).await;
        expect_error(r, 401, "invalid_token", "a revoked device").await;
        untouched(&s, &id, "a revoked device").await;
        let listed: Value = my_other.get(&s, "devices").await.json().await.unwrap();
        // Both enrolled in the same second: listed in an order of their ids.
        let mut states: Vec<(bool, bool)> = listed["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["active"].as_bool().unwrap(),
                    d["this_device"].as_bool().unwrap(),
                )
            })
            .collect();
        states.sort();
        assert_eq!(states, [(false, false), (true, true)], "{listed}");

        // An expired device.
        let validity = s.state.realm("edit").unwrap().realm.lifetimes.ecps_validity;
        s.clock.advance(validity);
        let r = my_other.get(&s, "requests").await;
        expect_error(r, 401, "invalid_token", "an expired device").await;
    }
);

both_dbs!(ecps_activation_and_rate_limits, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let me = me(&s).await;
    let code = activation_code(&s, &me).await;
    let key = device_key();
    // A bad key, a bad name, bad JSON: refused, the code still usable.
    for (body, what) in [
        (
            json!({"activation_code": code, "public_key": "AAAA", "name": "x"}),
            "not a P-256 point",
        ),
        (
            json!({"activation_code": code, "public_key": URL_SAFE_NO_PAD.encode(key.public_key().as_ref()), "name": ""}),
            "empty name",
        ),
        (json!({"activation_code": code}), "missing members"),
    ] {
        let r = http()
            .post(api(&s, "edit", "devices"))
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "invalid_request", what).await;
    }
    // A wrong second part counts an attempt; five of them end the code.
    let (first, _) = code.split_once('.').unwrap();
    for _ in 0..5 {
        let r = enrol_with(&s, &format!("{first}.wrongwrong"), &key).await;
        expect_error(r, 400, "invalid_activation", "a wrong second part").await;
    }
    let r = enrol_with(&s, &code, &key).await;
    expect_error(r, 400, "invalid_activation", "after five wrong attempts").await;
    assert!(
        s.state
            .store
            .devices("edit", NATIONAL_ID)
            .await
            .unwrap()
            .is_empty()
    );
    // An expired code.
    let code = activation_code(&s, &me).await;
    s.clock.advance(coeur::oauth::ecps::ACTIVATION_TTL);
    let r = enrol_with(&s, &code, &key).await;
    expect_error(r, 400, "invalid_activation", "an expired code").await;

    // An unknown national id gets the same answer as a real one; the sixth e-CPS login in a
    // minute for one national id is held back.
    let nobody = stranger(&s).await;
    for _ in 0..5 {
        start_login(&s, &nobody).await;
    }
    let b = s.browser();
    let page = wallet(&s, &b, "edit").await;
    let r = b.login(&s.base, &page, &nobody, "ecps").await;
    assert_eq!(r.status().as_u16(), 429);
    let wait: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("name=\"request_id\""),
        "the wallet page again: {html}"
    );
    s.clock.advance(60);
    start_login(&s, &nobody).await;
});
