//! The pages in both languages: French unless `ui_locales` or the browser's `Accept-Language`
//! asks for English, every message from the catalogues (wallet, its field errors, error pages,
//! logout, help, home); the service's name, line and help link as the deployment sets them.

use crate::both_dbs;
use crate::support::*;

/// GETs `url` with an optional `Accept-Language`; (status, page).
async fn get(b: &Browser, url: &str, accept: Option<&str>) -> (u16, String) {
    let mut req = b.http.get(url);
    if let Some(a) = accept {
        req = req.header("accept-language", a);
    }
    let r = req.send().await.expect("GET");
    let status = r.status().as_u16();
    (status, r.text().await.expect("page"))
}

/// Asserts `html` is a page in `lang` saying the catalogue's `key`, and nothing of the other
/// language's version of it.
fn assert_speaks(html: &str, lang: &str, key: &str) {
    assert!(
        html.contains(&format!("<html lang=\"{lang}\">")),
        "{key}: lang {lang}: {html}"
    );
    let (said, other) = match lang {
        "fr" => (fr(key), en(key)),
        _ => (en(key), fr(key)),
    };
    assert!(html.contains(&said), "{key} in {lang}: {html}");
    assert!(
        !html.contains(&other),
        "{key}: not the other language: {html}"
    );
}

both_dbs!(
    pages_speak_french_unless_english_is_asked_for,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        let b = s.browser();
        // The wallet page: ui_locales first, then the browser's languages.
        for (extra, accept, lang) in [
            (&[][..], None, "fr"),
            (&[("ui_locales", "en")][..], None, "en"),
            (&[][..], Some("en-GB,en;q=0.9,fr;q=0.5"), "en"),
            (&[("ui_locales", "fr")][..], Some("en"), "fr"),
            (&[("ui_locales", "de en")][..], Some("fr"), "en"),
        ] {
            let (status, html) = get(&b, &rp_authz_url(&s, "edit", extra), accept).await;
            assert_eq!(status, 200, "{html}");
            assert_speaks(&html, lang, "wallet.heading");
            assert_speaks(&html, lang, "wallet.national_id.hint");
            assert_speaks(&html, lang, "method.card");
        }

        // A refusal on the wallet page stays in the language the request asked for, beside
        // the field it is about.
        let page = b
            .authorize(&rp_authz_url(&s, "edit", &[("ui_locales", "en")]))
            .await;
        let r = b.login(&s.base, &page, "899700218890", "test").await;
        assert_eq!(r.status(), 400);
        let html = r.text().await.unwrap();
        assert_speaks(&html, "en", "national_id.rpps_key");
        assert!(html.contains("aria-invalid=\"true\""), "{html}");

        // Error pages: the request's language; the technical detail for developers as is.
        let unknown = authz_url(
            &s,
            "edit",
            &[("client_id", "nobody"), ("response_type", "code")],
        );
        for (accept, lang) in [(None, "fr"), (Some("en"), "en")] {
            let (status, html) = get(&b, &unknown, accept).await;
            assert_eq!(status, 400, "{html}");
            assert_speaks(&html, lang, "error.unknown_client.message");
            assert_speaks(&html, lang, "error.detail");
            assert!(
                html.contains("unknown client_id for this realm: nobody"),
                "{html}"
            );
        }
        let (status, html) = get(
            &b,
            &format!(
                "{}/auth/realms/nowhere/protocol/openid-connect/auth?ui_locales=en",
                s.base
            ),
            None,
        )
        .await;
        assert_eq!(status, 404);
        assert_speaks(&html, "en", "error.unknown_realm.message");

        // The logout page reads ui_locales (RP-Initiated Logout 1.0 §2).
        let logout = s.endpoint("edit", "logout");
        for (q, lang) in [("", "fr"), ("?ui_locales=en", "en")] {
            let (status, html) = get(&b, &format!("{logout}{q}"), None).await;
            assert_eq!(status, 200, "{html}");
            assert_speaks(&html, lang, "logout.done.title");
        }

        // Help and home.
        for (accept, lang) in [(None, "fr"), (Some("en-US"), "en")] {
            let (status, html) = get(&b, &format!("{}/help", s.base), accept).await;
            assert_eq!(status, 200);
            assert_speaks(&html, lang, "help.card.text");
            let (status, html) = get(&b, &format!("{}/", s.base), accept).await;
            assert_eq!(status, 200);
            assert_speaks(&html, lang, "home.environments_heading");
            assert!(!html.contains("Royaume"), "{html}");
        }
    }
);

both_dbs!(
    the_service_presents_itself_as_the_deployment_says,
    |db| async move {
        let s = TestServer::start_with(db, &realms_dir(), |c| {
            c.serve.service_name = Some("Connexion Santé Région".into());
            c.serve.service_tagline_fr = Some("Le service d'identité de la région".into());
            c.serve.service_tagline_en = Some("The region's identity service".into());
            c.serve.help_url = Some("https://aide.example/connexion".into());
        })
        .await;
        s.add_rp("edit").await;
        let b = s.browser();
        for (accept, tagline) in [
            (None, "Le service d&#x27;identité de la région"),
            (Some("en"), "The region&#x27;s identity service"),
        ] {
            for url in [
                rp_authz_url(&s, "edit", &[]),
                format!("{}/", s.base),
                format!("{}/help", s.base),
            ] {
                let (_, html) = get(&b, &url, accept).await;
                assert!(html.contains("Connexion Santé Région"), "{url}: {html}");
                assert!(html.contains(tagline), "{url}: {html}");
                assert!(
                    html.contains("href=\"https:&#x2f;&#x2f;aide.example&#x2f;connexion\"")
                        || html.contains("href=\"https://aide.example/connexion\""),
                    "{url}: {html}"
                );
            }
        }
        // By default: coeur's own line and help page.
        let d = TestServer::start(db).await;
        let (_, html) = get(&d.browser(), &format!("{}/", d.base), None).await;
        assert!(html.contains(&fr("service.tagline")), "{html}");
        assert!(
            html.contains("href=\"&#x2f;help\"") || html.contains("href=\"/help\""),
            "{html}"
        );
    }
);

both_dbs!(
    a_help_link_or_line_that_would_break_the_page_is_refused_at_start,
    |db| async move {
        for (name, help, why) in [
            (None, Some("javascript:alert(1)"), "--help-url"),
            (None, Some("//evil.example/"), "--help-url"),
            (Some("two\nlines"), None, "--service-name"),
        ] {
            let r = TestServer::try_start_with(db, &realms_dir(), |c| {
                c.serve.service_name = name.map(str::to_owned);
                c.serve.help_url = help.map(str::to_owned);
            })
            .await;
            let e = r.err().unwrap_or_else(|| panic!("{why}: refused"));
            assert!(format!("{e:#}").contains(why), "{why}: {e:#}");
        }
    }
);
