//! The whole round trip in headless Chromium: coeur's wallet page, the upstream's own login
//! page, back to coeur and on to the application (tests/node/fc-browser.mjs).

use super::*;

/// Runs tests/node/fc-browser.mjs: its report.
fn drive(chromium: std::path::PathBuf, authorize: String, login: &str) -> Value {
    let out = std::process::Command::new("node")
        .arg(repo_dir().join("tests/node/fc-browser.mjs"))
        .arg(&authorize)
        .arg(login)
        .env("COEUR_CHROMIUM", chromium)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser driver failed ({}): {}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("report {stdout:?}: {e}"))
}

both_dbs!(franceconnect_plus_round_trip_in_chromium, |db| async move {
    let Some(chromium) = chromium_or_skip(&["playwright-core", "oidc-provider"]) else {
        return;
    };
    let fc = start(db, json!({})).await;
    link_by_card(&fc, Some("eidas2"), "angela").await;
    let params = [
        ("client_id", "rp"),
        ("response_type", "code"),
        ("scope", "openid scope_all"),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("nonce", NONCE),
        ("acr_values", "eidas2"),
    ];
    let url = authz_url(&fc.s, "edit", &params);
    let c = chromium.clone();
    let report = tokio::task::spawn_blocking(move || drive(c, url, "angela"))
        .await
        .expect("driver");
    assert_eq!(report["upstream"], fc.plus.issuer.as_str(), "{report:#}");
    let cb = url::Url::parse(
        report["callback"]
            .as_str()
            .expect("back to the application"),
    )
    .expect("URL");
    assert!(cb.as_str().starts_with(REDIRECT), "{report:#}");
    let tokens = redeem_in(&fc.s, "edit", &param(&cb, "code").expect("code")).await;
    let claims = id_claims(&fc, &tokens).await;
    assert_eq!(claims["authMode"], "FRANCECONNECT", "{claims}");
    assert_eq!(claims["acr"], "eidas2", "{claims}");

    // A citizen seen for the first time lands on coeur's linking page, not the application.
    let url = authz_url(&fc.s, "edit", &params);
    let report = tokio::task::spawn_blocking(move || drive(chromium, url, "abroad"))
        .await
        .expect("driver");
    assert!(report["callback"].is_null(), "{report:#}");
    assert_eq!(
        report["h1"], "Lier votre compte FranceConnect",
        "{report:#}"
    );
});

both_dbs!(
    franceconnect_pages_pass_the_accessibility_audit,
    |db| async move {
        let Some(chromium) = chromium_or_skip(&["playwright-core", "oidc-provider", "axe-core"])
        else {
            return;
        };
        if matches!(db, Db::Postgres) {
            // The pages do not depend on the database; one run writes the screenshots.
            return;
        }
        // The upstream `fc` links by pivot identity: its confirmation page is audited too.
        let fc = start_opts(db, json!({}), true).await;
        super::pivot::angela_is(&fc, |_| {}).await;
        let authorize_at = |extra: &[(&str, &str)]| {
            let mut p = vec![
                ("client_id", "rp"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", REDIRECT),
                ("state", "st"),
                ("nonce", NONCE),
            ];
            p.extend_from_slice(extra);
            authz_url(&fc.s, "edit", &p)
        };
        let authorize_eidas1 = authorize_at(&[]);
        let authorize = authorize_at(&[("acr_values", "eidas2")]);
        let named = |up: &str, login: Option<&str>| {
            let mut steps = vec![json!({ "click": format!("button[name=upstream][value={up}]") })];
            match login {
                Some(l) => steps.extend([
                    json!({ "fill": "#login", "value": l }),
                    json!({ "fill": "#password", "value": "123" }),
                    json!({ "click": "#submit" }),
                ]),
                None => steps.push(json!({ "click": "#cancel" })),
            }
            steps
        };
        let upstream = |login: Option<&str>| named("fcplus", login);
        let mut list = Vec::new();
        for (lang, accept) in [("fr", "fr-FR,fr;q=0.9"), ("en", "en-GB,en;q=0.9")] {
            for (name, url, steps) in [
                ("franceconnect-link", &authorize, upstream(Some("abroad"))),
                ("franceconnect-denied", &authorize, upstream(None)),
                (
                    "franceconnect-confirm",
                    &authorize_eidas1,
                    named("fc", Some("angela")),
                ),
            ] {
                list.push(json!({
                    "name": format!("{name}.{lang}"), "url": url, "lang": lang,
                    "accept_language": accept, "steps": steps,
                }));
            }
        }
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("pages.json");
        std::fs::write(&file, serde_json::to_string(&list).expect("json")).expect("write");
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("node")
                .arg(repo_dir().join("tests/node/pages.mjs"))
                .arg(&file)
                .env("COEUR_CHROMIUM", chromium)
                .output()
                .expect("node")
        })
        .await
        .expect("driver");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("report");
        let pages = report["pages"].as_array().expect("pages");
        assert_eq!(pages.len(), 12, "{report:#}");
        for p in pages {
            assert!(p.get("error").is_none(), "{p:#}");
            assert_eq!(p["html_lang"], p["lang_expected"], "{p:#}");
            let bad: Vec<&Value> = p["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
                .collect();
            assert!(bad.is_empty(), "{}: {bad:#?}", p["name"]);
            if p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("franceconnect-confirm"))
            {
                let title = p["title"].as_str().unwrap_or_default();
                let want = match p["lang_expected"].as_str() {
                    Some("en") => en("fc.confirm.title"),
                    _ => fr("fc.confirm.title"),
                };
                assert!(title.contains(&want), "{p:#}");
            }
        }
    }
);
