//! The simplest end-to-end path, as a canary for the harness.

use crate::both_dbs;
use crate::support::*;

both_dbs!(code_flow_and_userinfo, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let b = s.browser();
    let cb = login_code(&s, &b, &[]).await;
    assert_eq!(param(&cb, "state").as_deref(), Some("st"));
    assert_eq!(param(&cb, "iss"), Some(s.issuer("edit")));
    let code = param(&cb, "code").expect("code");
    let r = redeem(&s, &code, &[]).await;
    assert_eq!(r.status(), 200);
    let t: serde_json::Value = r.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    let ui: serde_json::Value = reqwest::Client::new()
        .get(s.endpoint("edit", "userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui["SubjectNameID"], NATIONAL_ID);
});
