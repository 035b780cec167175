//! Request objects: `request_uri` and unsigned `request` refused as unsupported, and a request
//! object's `redirect_uri` never used.

use super::*;

// 33. oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported
both_dbs!(
    oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported,
    |db| async move {
        let s = start(db).await;
        let d = discovery(&s).await;
        assert_eq!(d["request_uri_parameter_supported"], false);
        let b = s.browser();
        let url = authz_url(
            &s,
            "edit",
            &params("rp", &[("request_uri", "https://rp.example/request.jwt")]),
        );
        let u = b.authorize(&url).await.redirect();
        check_error_callback(
            &s,
            &u,
            REDIRECT,
            &["request_uri_not_supported"],
            Some(STATE),
        );
    }
);

/// An unsigned request object for `rp`.
fn request_object(s: &TestServer, redirect: &str) -> String {
    unsigned_jwt(&json!({
        "iss": "rp",
        "aud": s.issuer("edit"),
        "client_id": "rp",
        "response_type": "code",
        "scope": "openid scope_all",
        "redirect_uri": redirect,
        "state": STATE,
        "nonce": NONCE,
    }))
}

// 34. oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported
both_dbs!(
    oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported,
    |db| async move {
        let s = start(db).await;
        let d = discovery(&s).await;
        assert_eq!(d["request_parameter_supported"], false);
        let b = s.browser();
        let ro = request_object(&s, REDIRECT);
        let url = authz_url(&s, "edit", &params("rp", &[("request", ro.as_str())]));
        let u = b.authorize(&url).await.redirect();
        check_error_callback(&s, &u, REDIRECT, &["request_not_supported"], Some(STATE));
    }
);

// 36. oidcc-ensure-request-object-with-redirect-uri: rejected, to the redirect URI of the
// plain parameters.
both_dbs!(
    oidcc_ensure_request_object_with_redirect_uri,
    |db| async move {
        let s = start(db).await;
        let b = s.browser();
        let ro = request_object(&s, REDIRECT2);
        let url = authz_url(&s, "edit", &params("rp", &[("request", ro.as_str())]));
        let u = b.authorize(&url).await.redirect();
        check_error_callback(&s, &u, REDIRECT, &["request_not_supported"], Some(STATE));
    }
);
