//! Enrolment by card, then wallet logins by e-CPS: approved (code, tokens, the ID token's
//! acr, authMode and amr), denied (the waiting page says so, no code).

use super::*;
use coeur::oauth::ecps::{REQUEST_TTL, Status};

both_dbs!(ecps_enrol_by_card_then_log_in, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let me = me(&s).await;
    let code = activation_code(&s, &me).await;
    let key = device_key();
    let r = enrol_with(&s, &code, &key).await;
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.unwrap();
    let device = Device {
        key,
        id: v["device_id"].as_str().unwrap().to_owned(),
        credential: v["credential"].as_str().unwrap().to_owned(),
    };
    let validity = s.state.realm("edit").unwrap().realm.lifetimes.ecps_validity;
    assert_eq!(v["expires_at"].as_i64(), Some(s.state.now() + validity));
    // The activation code is single use.
    let again = enrol_with(&s, &code, &device_key()).await;
    expect_error(again, 400, "invalid_activation", "a used activation code").await;

    let r = device.get(&s, "devices").await;
    let listed: Value = r.json().await.unwrap();
    assert_eq!(listed["national_id"], NATIONAL_ID);
    assert_eq!(listed["devices"].as_array().unwrap().len(), 1);
    assert_eq!(listed["devices"][0]["this_device"], true);
    assert!(device.pending(&s).await.is_empty());

    // Approved: the waiting page waits, then completes the login.
    let (b, waiting) = start_login(&s, NATIONAL_ID).await;
    let (status, html) = check(&b, &waiting).await;
    assert_eq!(status, 200);
    assert!(html.contains("http-equiv=\"refresh\""), "{html}");
    assert!(html.contains(&fr("ecps.wait.title")), "{html}");
    let pending = device.pending(&s).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    let req = &pending[0];
    assert_eq!(req["client_id"], "rp");
    assert_eq!(
        req["expires_at"].as_i64(),
        Some(s.state.now() + REQUEST_TTL)
    );
    let r = device.decide(&s, req, Decision::Approve).await;
    assert_eq!(r.status().as_u16(), 200);
    let row = s
        .state
        .store
        .approval("edit", &request_of(&waiting))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, Status::Approved);
    assert_eq!(row.device_id.as_deref(), Some(device.id.as_str()));
    assert_eq!(row.method.as_deref(), Some("ecps"));
    assert_eq!(row.amr.as_deref(), Some("swk pin mfa"));
    let (status, cb) = check(&b, &waiting).await;
    assert_eq!(status, 303, "{cb}");
    assert!(cb.starts_with(REDIRECT), "{cb}");
    let cb = url::Url::parse(&cb).unwrap();
    assert_eq!(param(&cb, "state").as_deref(), Some("st"));
    let tokens = redeem_in(&s, "edit", &param(&cb, "code").unwrap()).await;
    let c = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(c["authMode"], "MOBILE", "{c}");
    assert_eq!(c["acr"], "eidas2", "{c}");
    assert_eq!(c["amr"], json!(["swk", "pin", "mfa"]), "{c}");
    assert!(c["sub"].as_str().unwrap().ends_with(NATIONAL_ID), "{c}");
    // The approval is consumed: the waiting page cannot complete a second login.
    let (status, _) = check(&b, &waiting).await;
    assert_eq!(status, 400);
    let row = s
        .state
        .store
        .approval("edit", &row.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, Status::Consumed);

    // Denied: the page says so, and no code reaches the client.
    let (b, waiting) = start_login(&s, NATIONAL_ID).await;
    let pending = device.pending(&s).await;
    assert_eq!(pending.len(), 1);
    let r = device.decide(&s, &pending[0], Decision::Deny).await;
    assert_eq!(r.status().as_u16(), 200);
    let (status, html) = check(&b, &waiting).await;
    assert_eq!(status, 200);
    assert!(html.contains(&fr("ecps.wait.denied")), "{html}");
    assert!(!html.contains("http-equiv=\"refresh\""), "{html}");
    assert!(device.pending(&s).await.is_empty());
    let r = device.get(&s, "devices").await;
    let listed: Value = r.json().await.unwrap();
    assert_eq!(
        listed["devices"][0]["last_used_at"].as_i64(),
        Some(s.state.now())
    );
});

both_dbs!(ecps_waiting_page_in_english_and_expiry, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let (b, waiting) = start_login(&s, NATIONAL_ID).await;
    let r = b
        .http
        .get(&waiting)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains(&en("ecps.wait.title")), "{html}");
    s.clock.advance(REQUEST_TTL);
    let (status, html) = check(&b, &waiting).await;
    assert_eq!(status, 200);
    assert!(html.contains(&fr("ecps.wait.expired")), "{html}");
    // Another browser cannot follow this login.
    let other = s.browser();
    let (status, _) = check(&other, &waiting).await;
    assert_eq!(status, 400);
});
