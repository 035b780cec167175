//! Userinfo and the claims of each scope: `oidcc-userinfo-*`, `oidcc-scope-*`,
//! `oidcc-claims-essential`.

use super::*;

/// `ValidateUserInfoStandardClaims`, for the claims coeur returns.
fn check_standard_claim_types(u: &Value) {
    for k in [
        "name",
        "given_name",
        "family_name",
        "preferred_username",
        "email",
        "phone_number",
    ] {
        if let Some(v) = u.get(k) {
            assert!(v.as_str().is_some_and(|x| !x.is_empty()), "{k}: {v}");
        }
    }
    for k in ["email_verified", "phone_number_verified"] {
        if let Some(v) = u.get(k) {
            assert!(v.is_boolean(), "{k}: {v}");
        }
    }
    if let Some(e) = u.get("email") {
        assert!(e.as_str().is_some_and(|e| e.contains('@')), "email {e}");
    }
    if let Some(a) = u.get("address") {
        let o = a.as_object().expect("address is an object");
        for k in [
            "formatted",
            "street_address",
            "locality",
            "region",
            "postal_code",
            "country",
        ] {
            if let Some(v) = o.get(k) {
                assert!(v.is_string(), "address.{k}: {v}");
            }
        }
    }
}

/// `oidcc-scope-*`: the scope is advertised, granted, and its claims (and only those of the
/// standard scopes that were requested) are in userinfo.
async fn scope_module(db: Db, scope: &str, present: &[&str]) {
    const STANDARD: &[&str] = &[
        "name",
        "given_name",
        "family_name",
        "email",
        "email_verified",
        "phone_number",
        "phone_number_verified",
        "address",
    ];
    let s = start(db).await;
    let d = discovery(&s).await;
    let supported = strings(&d["scopes_supported"]);
    for sc in scope.split(' ') {
        assert!(supported.contains(&sc.to_owned()), "{sc} is advertised");
    }
    let b = s.browser();
    let requested = format!("openid {scope}");
    let f = flow(&s, &b, &RP, &[("scope", requested.as_str())]).await;
    let granted: Vec<&str> = f.tokens["scope"]
        .as_str()
        .expect("scope")
        .split(' ')
        .collect();
    for sc in requested.split(' ') {
        assert!(granted.contains(&sc), "{sc} granted: {granted:?}");
    }
    let u = userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
    check_standard_claim_types(&u);
    for k in present {
        assert!(u.get(*k).is_some(), "{k} with scope {scope}: {u}");
    }
    for k in STANDARD.iter().filter(|k| !present.contains(k)) {
        assert!(u.get(*k).is_none(), "{k} was not requested: {u}");
    }
}

// 5. oidcc-userinfo-get
both_dbs!(oidcc_userinfo_get, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[]).await;
    let u = userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
    assert_eq!(u["SubjectNameID"], NATIONAL_ID);
    check_standard_claim_types(&u);
    // Without a token: a Bearer challenge; with a bad one: invalid_token.
    let r = reqwest::get(s.endpoint("edit", "userinfo")).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(header(&r, "www-authenticate").starts_with("Bearer"));
    assert_bearer_refused(userinfo_get(&s, &tamper_signature(&f.access)).await).await;
});

// 6. oidcc-userinfo-post-header
both_dbs!(oidcc_userinfo_post_header, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[]).await;
    let r = reqwest::Client::new()
        .post(s.endpoint("edit", "userinfo"))
        .bearer_auth(&f.access)
        .send()
        .await
        .unwrap();
    let u = userinfo_ok(r, &f).await;
    assert_eq!(u["SubjectNameID"], NATIONAL_ID);
});

// 7. oidcc-userinfo-post-body (RFC 6750 §2.2)
both_dbs!(oidcc_userinfo_post_body, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let f = flow(&s, &b, &RP, &[]).await;
    let r = reqwest::Client::new()
        .post(s.endpoint("edit", "userinfo"))
        .form(&[("access_token", f.access.as_str())])
        .send()
        .await
        .unwrap();
    let u = userinfo_ok(r, &f).await;
    assert_eq!(u["SubjectNameID"], NATIONAL_ID);
    // RFC 6750 §2: one method only.
    let r = reqwest::Client::new()
        .post(s.endpoint("edit", "userinfo"))
        .bearer_auth(&f.access)
        .form(&[("access_token", f.access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
});

// 9–13. oidcc-scope-*
both_dbs!(oidcc_scope_profile, |db| async move {
    scope_module(db, "profile", &["name", "given_name", "family_name"]).await;
});

both_dbs!(oidcc_scope_email, |db| async move {
    scope_module(db, "email", &["email", "email_verified"]).await;
});

both_dbs!(oidcc_scope_address, |db| async move {
    scope_module(db, "address", &["address"]).await;
});

both_dbs!(oidcc_scope_phone, |db| async move {
    scope_module(db, "phone", &["phone_number", "phone_number_verified"]).await;
});

both_dbs!(oidcc_scope_all, |db| async move {
    scope_module(
        db,
        "address email phone profile",
        &[
            "name",
            "given_name",
            "family_name",
            "email",
            "email_verified",
            "phone_number",
            "phone_number_verified",
            "address",
        ],
    )
    .await;
});

// 35. oidcc-claims-essential: a `claims` parameter does not break the flow.
both_dbs!(oidcc_claims_essential, |db| async move {
    let s = start(db).await;
    let b = s.browser();
    let claims = json!({"userinfo": {"name": {"essential": true}}}).to_string();
    let f = flow(&s, &b, &RP, &[("claims", claims.as_str())]).await;
    assert!(f.login_shown);
    userinfo_ok(userinfo_get(&s, &f.access).await, &f).await;
});
