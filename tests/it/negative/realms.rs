//! Realm rules: the production realm refuses test logins, and bad realm files are refused
//! with their file and line.

use super::*;

// ---------------------------------------------------------------- production realm

both_dbs!(production_realm_refuses_test_logins, |db| async move {
    let s = TestServer::start(db).await;
    s.add_client("esante-wallet", rp_spec("rp"), Some(SECRET))
        .await;
    // Even an identity the realm knows and that is active cannot use the test method.
    let known = s
        .state
        .store
        .identity("edit", NATIONAL_ID)
        .await
        .expect("store")
        .expect("sandbox identity");
    assert!(known.active);
    s.put_identities("esante-wallet", vec![known])
        .await
        .expect("identity");

    // The sandbox shows the test button: the check below can fail.
    let b = s.browser();
    s.add_rp("edit").await;
    let sandbox_page = b.authorize(&authz(&s, "edit", "rp", &[])).await;
    let Authz::LoginPage { html, .. } = &sandbox_page else {
        panic!("sandbox login page: {sandbox_page:?}")
    };
    assert!(html.contains("value=\"test\""), "sandbox offers test");

    let b = s.browser();
    let page = b.authorize(&authz(&s, "esante-wallet", "rp", &[])).await;
    let Authz::LoginPage { html, .. } = &page else {
        panic!("production login page: {page:?}")
    };
    assert!(
        !html.contains("value=\"test\""),
        "no test button in production"
    );
    assert!(
        html.contains("value=\"card\""),
        "the real methods are shown"
    );
    let mut statuses = Vec::new();
    for national_id in [NATIONAL_ID, "", "899700218897", "not-an-id"] {
        let r = b.login(&s.base, &page, national_id, "test").await;
        let status = r.status().as_u16();
        let what = format!("method=test with {national_id:?}");
        expect_page(r, status, &what).await;
        statuses.push((what, status));
    }
    // Extra or repeated fields change nothing.
    let Authz::LoginPage {
        request_id, action, ..
    } = &page
    else {
        unreachable!()
    };
    let r = b
        .http
        .post(format!("{}{action}", s.base))
        .form(&[
            ("request_id", request_id.as_str()),
            ("national_id", NATIONAL_ID),
            ("method", "test"),
            ("method", "card"),
            ("sandbox", "true"),
        ])
        .send()
        .await
        .expect("login");
    let status = r.status().as_u16();
    expect_page(r, status, "method=test with extra fields").await;
    statuses.push(("method=test with extra fields".to_owned(), status));
    // Posted without a pending request at all.
    let r = b
        .http
        .post(format!("{}{action}", s.base))
        .form(&[("national_id", NATIONAL_ID), ("method", "test")])
        .send()
        .await
        .expect("login");
    expect_page(r, 400, "method=test without request_id").await;
    // The page is still the production page: nothing was logged in.
    let again = b.authorize(&authz(&s, "esante-wallet", "rp", &[])).await;
    assert!(
        matches!(again, Authz::LoginPage { .. }),
        "no session: {again:?}"
    );
    let prompt_none = b
        .authorize(&authz(&s, "esante-wallet", "rp", &[("prompt", "none")]))
        .await;
    expect_authz_error(
        prompt_none,
        &s,
        "esante-wallet",
        "login_required",
        "no session",
    );
    // The refusal says what it is: test logins are forbidden here (403), not a malformed
    // form (400).
    for (what, status) in statuses {
        assert_eq!(status, 403, "{what}");
    }
});

// ---------------------------------------------------------------- realm files

/// Loads a realm directory holding one file.
fn load_one(file: &str, text: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(file), text).expect("write");
    match coeur::provider::state::load_realms(dir.path(), "http://127.0.0.1:1") {
        Ok(r) => panic!(
            "{file} accepted: {:?}",
            r.iter().map(|r| &r.name).collect::<Vec<_>>()
        ),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn bad_realm_files_are_refused_with_file_and_line() {
    const HEAD: &str = "name = \"edit\"\nsandbox = true\nauth_methods = [\"test\"]\n";
    const PUBLIC_CLIENT: &str = "\n[[clients]]\nclient_id = \"c\"\npublic = true\n\
        token_endpoint_auth_method = \"none\"\nredirect_uris = [\"https://rp.example/cb\"]\n";
    // (case, file text, line the error must name)
    let cases: Vec<(&str, String, usize)> = vec![
        (
            "wrong type",
            "name = \"edit\"\nsandbox = \"yes\"\nauth_methods = [\"test\"]\n".into(),
            2,
        ),
        ("syntax error", "name = \"edit\"\nsandbox = tru\n".into(), 2),
        (
            "unknown method",
            "name = \"edit\"\nsandbox = true\nauth_methods = [\"password\"]\n".into(),
            3,
        ),
        ("unknown key", format!("{HEAD}colour = \"blue\"\n"), 4),
        (
            "unknown lifetime",
            format!("{HEAD}\n[lifetimes]\naccess_tokens = 60\n"),
            6,
        ),
        (
            "client with an http redirect URI",
            format!(
                "{HEAD}\n[[clients]]\nclient_id = \"c\"\npublic = true\n\
                 token_endpoint_auth_method = \"none\"\n\
                 redirect_uris = [\"http://rp.example/cb\"]\n"
            ),
            5,
        ),
        (
            "confidential client without secret",
            format!(
                "{HEAD}\n[[clients]]\nclient_id = \"c\"\n\
                 redirect_uris = [\"https://rp.example/cb\"]\n"
            ),
            5,
        ),
        (
            "client defined twice",
            format!("{HEAD}{PUBLIC_CLIENT}{PUBLIC_CLIENT}"),
            11,
        ),
        (
            "unknown client field",
            format!("{HEAD}{PUBLIC_CLIENT}colour = 1\n"),
            10,
        ),
    ];
    for (what, text, line) in &cases {
        let e = load_one("edit.toml", text);
        assert!(
            e.contains(&format!("edit.toml:{line}:")),
            "{what}: expected edit.toml:{line}: in {e:?}"
        );
    }
    // Errors about the whole file name the file.
    for (what, file, text, reason) in [
        (
            "test method in a production realm",
            "prod.toml",
            "name = \"prod\"\nsandbox = false\nauth_methods = [\"test\"]\n",
            "sandbox",
        ),
        (
            "name differs from the file",
            "edit.toml",
            "name = \"other\"\nsandbox = true\nauth_methods = [\"test\"]\n",
            "file name",
        ),
        (
            "code lifetime over 600 s",
            "edit.toml",
            "name = \"edit\"\nsandbox = true\nauth_methods = [\"test\"]\n\
             [lifetimes]\nauthorization_code = 601\n",
            "authorization_code",
        ),
        (
            "HS256 realm key",
            "edit.toml",
            "name = \"edit\"\nsandbox = true\nauth_methods = [\"test\"]\nsigning_algs = [\"HS256\"]\n",
            "signing_algs",
        ),
        (
            "no method",
            "edit.toml",
            "name = \"edit\"\nsandbox = true\nauth_methods = []\n",
            "auth_methods",
        ),
    ] {
        let e = load_one(file, text);
        assert!(e.contains(file), "{what}: no file name in {e:?}");
        assert!(e.contains(reason), "{what}: no reason in {e:?}");
    }
    // Control: the shipped realms load.
    let realms = coeur::provider::state::load_realms(&realms_dir(), "http://127.0.0.1:1")
        .expect("shipped realms");
    assert_eq!(realms.len(), 2);
}
