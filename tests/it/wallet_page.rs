//! The wallet page's buttons: Enter submits the sandbox's test login (or e-CPS), not the card; methods
//! this server does not implement yet are disabled with their reason in visible text, in the
//! page's language.

use crate::both_dbs;
use crate::support::*;

/// The wallet page of realm `edit` for client `rp`, with `extra` parameters.
async fn wallet(s: &TestServer, extra: &[(&str, &str)]) -> String {
    match s.browser().authorize(&rp_authz_url(s, "edit", extra)).await {
        Authz::LoginPage { html, .. } => html,
        other => panic!("not a login page: {other:?}"),
    }
}

/// The method buttons in document order: (method, disabled, the visible reason if any).
fn buttons(html: &str) -> Vec<(String, bool, Option<String>)> {
    html.split("<button")
        .skip(1)
        .map(|b| &b[..b.find('>').expect("tag end")])
        .filter(|tag| tag.contains("name=\"method\""))
        .map(|tag| {
            let value = tag.split("value=\"").nth(1).expect("value");
            let value = value[..value.find('"').expect("quote")].to_owned();
            let why = tag.contains("aria-describedby=").then(|| {
                let id = format!("id=\"why-{value}\"");
                let at = html.find(&id).unwrap_or_else(|| panic!("no reason {id}"));
                let text = &html[at..];
                let text = &text[text.find('>').expect("span") + 1..];
                text[..text.find('<').expect("end")].to_owned()
            });
            (value, tag.contains(" disabled"), why)
        })
        .collect()
}

both_dbs!(
    enter_submits_the_test_login_and_absent_methods_say_why,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        let b = buttons(&wallet(&s, &[]).await);
        // HTML's implicit submission presses the form's first submit button (none if disabled):
        // the test login, never the card's certificate prompt.
        assert_eq!(b[0].0, "test", "{b:?}");
        assert!(!b[0].1, "{b:?}");
        for m in ["card", "ecps"] {
            let x = b.iter().find(|x| x.0 == m).expect("button");
            assert!(!x.1 && x.2.is_none(), "{x:?}");
        }
        let x = b.iter().find(|x| x.0 == "franceconnect").expect("button");
        assert!(x.1, "franceconnect is disabled: {x:?}");
        assert_eq!(
            x.2.as_deref(),
            Some("Pas encore disponible sur ce serveur.")
        );
        // Enabled ones first.
        let first_disabled = b.iter().position(|x| x.1).expect("some disabled");
        assert!(b[first_disabled..].iter().all(|x| x.1), "{b:?}");

        let b = buttons(&wallet(&s, &[("ui_locales", "en")]).await);
        let x = b.iter().find(|x| x.0 == "franceconnect").expect("button");
        assert_eq!(x.2.as_deref(), Some("Not available on this server yet."));
    }
);

both_dbs!(
    a_level_the_test_login_misses_leaves_ecps_and_the_card_first,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        let html = wallet(&s, &[("acr_values", "eidas2")]).await;
        let b = buttons(&html);
        // e-CPS, then the card (a certificate prompt, so never what Enter submits).
        assert_eq!(b[0].0, "ecps", "{b:?}");
        assert!(!b[0].1);
        assert_eq!(b[1].0, "card", "{b:?}");
        assert!(!b[1].1);
        let test = b.iter().find(|x| x.0 == "test").expect("test button");
        assert!(test.1, "{test:?}");
        assert_eq!(
            test.2.as_deref(),
            Some("Niveau d&#x27;authentification insuffisant pour cette application."),
            "HTML-escaped"
        );
        assert!(!html.contains("title=\""), "reasons are text, not tooltips");
    }
);
