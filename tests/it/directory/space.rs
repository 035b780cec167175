//! The professionals' own space, on SQLite and PostgreSQL: a sandbox identity that is also a
//! practitioner of the directory (a crafted extract) logs in through coeur (authorization
//! code with PKCE, the wallet's test login), sees their record, edits their contact details
//! (then in `Practitioner.telecom`, the practitioner's version moved); a bad e-mail gets a
//! clear error and changes nothing; a forged or missing CSRF token is refused; the logout at
//! coeur ends both sessions. Then headless Chromium takes the same way through every page of
//! the space, in French and English, at desktop and phone width: axe-core clean, `<html
//! lang>` right, screenshots kept in `target/screenshots` (or `COEUR_SCREENSHOTS`) as
//! `annuaire-PAGE-DB.LANG.WIDTH.png`.

use super::import::PA_HEADER;
use super::store;
use crate::both_dbs;
use crate::support::*;
use coeur::common::random::{Clock, Random};
use coeur::resource_server::ratelimit::RateLimit;
use coeur_directory::fhir::map::id_of_key;
use coeur_directory::http::{Access, Config, Directory, router};
use coeur_directory::import::{Outcome, import_file};
use coeur_directory::record::RecordKind;
use coeur_directory::space::{self, Space, SpaceConfig};
use coeur_directory::store::Store;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

const NOW: i64 = 1_767_225_600;

/// An exercise of the sandbox identity [`NATIONAL_ID`] at a FINESS site.
fn exercise_row() -> String {
    let mut f = vec![""; 52];
    f[0] = "8";
    f[1] = &NATIONAL_ID[1..];
    f[2] = NATIONAL_ID;
    f[3] = "DR";
    f[4] = "Docteur";
    f[7] = "BERNARD";
    f[8] = "CLAIRE";
    f[9] = "10";
    f[10] = "Médecin";
    f[13] = "S";
    f[14] = "Spécialité ordinale";
    f[15] = "SM54";
    f[16] = "Médecine générale";
    f[17] = "L";
    f[18] = "Libéral";
    f[21] = "750000002";
    f[23] = "R1";
    f[24] = "CABINET DU PARC";
    f[28] = "12";
    f[31] = "Rue";
    f[32] = "des Lilas";
    f[35] = "75012";
    f[37] = "Paris";
    format!("{}|\n", f.join("|"))
}

/// Imports the crafted extract holding the sandbox identity.
async fn import_professional(store: &Store) {
    let file = format!("{PA_HEADER}\n{}", exercise_row());
    let mut out = Outcome::default();
    import_file(
        store,
        "PS_LibreAcces_Personne_activite_202501010000.txt",
        file.as_bytes(),
        true,
        NOW,
        &mut out,
        &mut |_, _| {},
    )
    .await
    .expect("import");
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
}

/// Serves the directory (public reads) with its space over `store`, logging in through the
/// test server's realm `edit` as client `annuaire`; its base URL.
async fn start_directory(s: &TestServer, store: Store) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let mut spec = rp_spec("annuaire");
    spec.redirect_uris = vec![space::redirect_uri(&base)];
    spec.post_logout_redirect_uris = vec![space::post_logout_redirect_uri(&base)];
    s.add_client("edit", spec, Some(SECRET)).await;
    serve_instance(s, store, listener, &base, SECRET).await;
    base
}

/// Serves an instance of the directory (public reads) with its space over `store` on
/// `listener`, for the public URL `public_url` (every instance behind a load balancer has
/// the same), logging in through the test server's realm `edit` as client `annuaire` with
/// `secret`.
async fn serve_instance(
    s: &TestServer,
    store: Store,
    listener: tokio::net::TcpListener,
    public_url: &str,
    secret: &str,
) {
    let source =
        coeur::resource_server::JwksSource::discover(&s.issuer("edit"), reqwest::Client::new())
            .await
            .expect("discovery");
    let clock: Arc<dyn Clock> = s.clock.clone();
    let verifier = Arc::new(coeur::resource_server::Verifier::new(
        Arc::new(source),
        clock.clone(),
    ));
    let config = Config {
        base_url: public_url.to_owned(),
        audiences: vec!["annuaire".to_owned()],
        access: Access::PublicReads,
        rate_limit: RateLimit {
            burst: 10_000,
            per_second: 1_000,
        },
        cursor_key: [7; 32],
    };
    let random: Arc<dyn Random> = s.state.rng.clone();
    let space = Space::new(
        store.clone(),
        clock.clone(),
        random,
        SpaceConfig {
            issuer: s.issuer("edit"),
            client_id: "annuaire".to_owned(),
            client_secret: secret.to_owned(),
            public_url: public_url.to_owned(),
        },
        space::Http::new().expect("http"),
    )
    .expect("space");
    let app = router(Directory::new(store, verifier, clock, config)).merge(space::router(space));
    let app = coeur::web::with_common_layers(app, Arc::new(coeur::web::ServiceIdentity::default()));
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
}

/// Another instance of the directory over `store` for the public URL `public_url`, on a port
/// of its own, with the client secret `secret`; its own address.
async fn another_instance(s: &TestServer, store: Store, public_url: &str, secret: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let at = format!("http://{}", listener.local_addr().expect("addr"));
    serve_instance(s, store, listener, public_url, secret).await;
    at
}

/// A browser keeping cookies, not following redirects.
pub(super) fn browser() -> Browser {
    Browser {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    }
}

/// Logs the sandbox identity in to the space at `base`; the record page's HTML.
async fn log_in(s: &TestServer, b: &Browser, base: &str) -> String {
    log_in_as(s, b, base, NATIONAL_ID).await
}

/// Logs `national_id` in to the space at `base` through coeur's wallet (test login); the
/// record page's HTML.
pub(super) async fn log_in_as(
    s: &TestServer,
    b: &Browser,
    base: &str,
    national_id: &str,
) -> String {
    let r = b
        .http
        .get(format!("{base}/espace/connexion"))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.as_str().starts_with(&s.endpoint("edit", "auth")), "{to}");
    for (k, v) in [
        ("client_id", "annuaire"),
        ("response_type", "code"),
        ("code_challenge_method", "S256"),
        ("ui_locales", "fr"),
    ] {
        assert_eq!(param(&to, k).as_deref(), Some(v), "{k} in {to}");
    }
    let page = b.authorize(to.as_str()).await;
    let r = b.login(&s.base, &page, national_id, "test").await;
    assert_eq!(r.status(), 303, "the wallet's test login");
    let callback = location(&r);
    assert!(
        callback
            .as_str()
            .starts_with(&format!("{base}/espace/retour"))
    );
    let r = b.http.get(callback).send().await.expect("callback");
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("annuaire_session="))
        .expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/espace"] {
        assert!(session.contains(flag), "{session}");
    }
    assert_eq!(location(&r).as_str(), format!("{base}/espace"));
    let r = b
        .http
        .get(format!("{base}/espace"))
        .send()
        .await
        .expect("home");
    assert_eq!(r.status(), 200);
    r.text().await.expect("html")
}

/// The value of the hidden field `csrf` of a page.
pub(super) fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[at..at + html[at..].find('"').expect("end")].to_owned()
}

/// The Practitioner of the sandbox identity, as the FHIR API serves it.
async fn practitioner(base: &str) -> Value {
    let r = reqwest::get(format!("{base}/Practitioner/{}", id_of_key(NATIONAL_ID)))
        .await
        .expect("read");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

/// How many practitioners changed after `since` (`_lastUpdated=gt…`).
async fn changed_since(base: &str, since: &str) -> u64 {
    let r = reqwest::get(format!(
        "{base}/Practitioner?_summary=count&_lastUpdated=gt{since}"
    ))
    .await
    .expect("search");
    assert_eq!(r.status(), 200);
    let bundle: Value = r.json().await.expect("bundle");
    bundle["total"].as_u64().expect("total")
}

/// Posts the contact form.
pub(super) async fn post_contact(
    b: &Browser,
    base: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    b.http
        .post(format!("{base}/espace/coordonnees"))
        .form(form)
        .send()
        .await
        .expect("post")
}

both_dbs!(
    a_professional_logs_in_sees_their_record_and_edits_their_contact_details,
    |db| async move {
        let s = TestServer::start(db).await;
        let (store, _dir) = store(db).await;
        import_professional(&store).await;
        let base = start_directory(&s, store.clone()).await;
        let b = browser();

        // Not logged in: the login button, in French.
        let html = b
            .http
            .get(format!("{base}/espace"))
            .send()
            .await
            .expect("home")
            .text()
            .await
            .expect("html");
        assert!(html.contains(&fr("space.login")), "{html}");

        let html = log_in(&s, &b, &base).await;
        for shown in [
            "Docteur CLAIRE BERNARD",
            NATIONAL_ID,
            "Médecine générale",
            "CABINET DU PARC",
            "12 Rue des Lilas, 75012 Paris",
            "Libéral",
        ] {
            assert!(html.contains(shown), "{shown} missing: {html}");
        }
        let token = csrf(&html);
        let before = practitioner(&base).await;
        assert!(
            before["telecom"].as_array().is_none_or(|t| t.is_empty()),
            "{before}"
        );
        let since = before["meta"]["lastUpdated"]
            .as_str()
            .expect("lastUpdated")
            .to_owned();
        assert_eq!(changed_since(&base, &since).await, 0);

        // A bad e-mail: 400, a clear error beside the field, nothing written.
        let r = post_contact(
            &b,
            &base,
            &[
                ("csrf", &token),
                ("email", "claire.bernard@"),
                ("phone", "06 12 34 56 78"),
            ],
        )
        .await;
        assert_eq!(r.status(), 400);
        let html = r.text().await.expect("html");
        assert!(html.contains(&fr("space.contact.bad_email")), "{html}");
        assert!(html.contains("aria-invalid=\"true\""), "{html}");
        assert!(
            html.contains("value=\"claire.bernard@\""),
            "typed value kept"
        );
        assert_eq!(practitioner(&base).await, before, "nothing changed");

        // A forged token, or none: refused, nothing written.
        for form in [
            vec![("csrf", "forged-token"), ("email", "x@example.fr")],
            vec![("email", "x@example.fr")],
        ] {
            let r = post_contact(&b, &base, &form).await;
            assert_eq!(r.status(), 403, "{form:?}");
            assert!(
                r.text()
                    .await
                    .expect("html")
                    .contains(&fr("space.error.csrf"))
            );
        }
        // Another browser's post with this session's token but no session: no change.
        let r = post_contact(
            &browser(),
            &base,
            &[("csrf", &token), ("email", "x@example.fr")],
        )
        .await;
        assert_eq!(r.status(), 200, "the login page");
        assert_eq!(practitioner(&base).await, before, "nothing changed");

        // Good details: normalised, saved, in Practitioner.telecom (use work), the
        // practitioner's version and last update moved.
        s.clock.advance(60);
        let r = post_contact(
            &b,
            &base,
            &[
                ("csrf", &token),
                ("email", " Claire.Bernard@Cabinet-Du-Parc.FR "),
                ("phone", "06 12 34 56 78"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r).as_str(), format!("{base}/espace?enregistre=1"));
        let html = b
            .http
            .get(location(&r))
            .send()
            .await
            .expect("home")
            .text()
            .await
            .expect("html");
        assert!(html.contains(&fr("space.contact.saved")), "{html}");
        assert!(html.contains("Claire.Bernard@cabinet-du-parc.fr"), "{html}");
        let after = practitioner(&base).await;
        assert_eq!(
            after["telecom"],
            json!([
                {"system": "email", "value": "Claire.Bernard@cabinet-du-parc.fr", "use": "work"},
                {"system": "phone", "value": "+33612345678", "use": "work"},
            ]),
            "{after}"
        );
        let version = |p: &Value| {
            p["meta"]["versionId"]
                .as_str()
                .expect("versionId")
                .parse::<i64>()
                .expect("number")
        };
        assert!(version(&after) > version(&before), "{before} {after}");
        assert_eq!(
            changed_since(&base, &since).await,
            1,
            "a synchronisation by _lastUpdated sees the change"
        );
        assert_ne!(after["meta"]["lastUpdated"], before["meta"]["lastUpdated"]);
        let stored = store
            .get(RecordKind::Practitioner, NATIONAL_ID)
            .await
            .expect("get")
            .expect("practitioner");
        assert_eq!(stored.updated_at, s.clock.now());
        // Erasing the phone.
        let r = post_contact(
            &b,
            &base,
            &[
                ("csrf", &token),
                ("email", "Claire.Bernard@cabinet-du-parc.fr"),
                ("phone", ""),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        let telecom = practitioner(&base).await["telecom"].clone();
        assert_eq!(telecom.as_array().map(Vec::len), Some(1), "{telecom}");

        // Logout: the local session ends, then coeur's, and back to the space's page after it.
        let r = b
            .http
            .post(format!("{base}/espace/deconnexion"))
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .expect("logout");
        assert_eq!(r.status(), 303);
        let to = location(&r);
        assert!(
            to.as_str().starts_with(&s.endpoint("edit", "logout")),
            "{to}"
        );
        assert!(param(&to, "id_token_hint").is_some());
        let after_logout = space::post_logout_redirect_uri(&base);
        assert_eq!(
            param(&to, "post_logout_redirect_uri").as_deref(),
            Some(after_logout.as_str())
        );
        let r = b.http.get(to).send().await.expect("end session");
        assert!(r.status().is_redirection(), "{}", r.status());
        assert_eq!(location(&r).as_str(), after_logout);
        let html = b
            .http
            .get(&after_logout)
            .send()
            .await
            .expect("bye")
            .text()
            .await
            .expect("html");
        assert!(html.contains(&fr("space.logged_out")), "{html}");
        // The space asks for a login again, and so does coeur (its session ended too).
        let r = post_contact(&b, &base, &[("csrf", &token), ("email", "y@example.fr")]).await;
        assert!(r.text().await.expect("html").contains(&fr("space.login")));
        let r = b
            .http
            .get(format!("{base}/espace/connexion"))
            .send()
            .await
            .expect("login");
        let again = b.authorize(location(&r).as_str()).await;
        assert!(
            matches!(again, Authz::LoginPage { .. }),
            "coeur's session ended: {again:?}"
        );
        assert_eq!(practitioner(&base).await["telecom"], telecom);

        // A sandbox identity the directory does not know: told so, no session.
        let other = browser();
        let r = other
            .http
            .get(format!("{base}/espace/connexion"))
            .send()
            .await
            .expect("login");
        let page = other.authorize(location(&r).as_str()).await;
        let r = other
            .login(&s.base, &page, "ANS20231122132732", "test")
            .await;
        assert_eq!(r.status(), 303, "the wallet's test login");
        let r = other.http.get(location(&r)).send().await.expect("callback");
        assert_eq!(r.status(), 403);
        assert!(
            r.headers().get_all("set-cookie").iter().all(|c| !c
                .to_str()
                .unwrap_or_default()
                .starts_with("annuaire_session=")),
            "no session"
        );
        let html = r.text().await.expect("html");
        assert!(html.contains(&fr("space.error.unknown")), "{html}");

        audit_pages(&base, db).await;
    }
);

both_dbs!(
    a_login_and_a_session_hold_across_instances_and_restarts,
    |db| async move {
        // Instances behind a load balancer without stickiness: the same public URL, the same
        // client secret and database, nothing else shared. The browser's requests are sent to
        // one or the other by rewriting the public URL into an instance's own address.
        let s = TestServer::start(db).await;
        let (store, _dir) = store(db).await;
        import_professional(&store).await;
        let a = start_directory(&s, store.clone()).await;
        let b_at = another_instance(&s, store.clone(), &a, SECRET).await;
        let at = |instance: &str, u: &str| u.replacen(&a, instance, 1);
        let b = browser();

        // The login starts at A...
        let r = b
            .http
            .get(format!("{a}/espace/connexion"))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 303);
        let login_cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .find(|c| c.starts_with("annuaire_login="))
            .expect("login cookie");
        let to = location(&r);
        let state = param(&to, "state").expect("state");
        assert!(!login_cookie.contains(&state), "the state is sealed");
        let page = b.authorize(to.as_str()).await;
        let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
        assert_eq!(r.status(), 303, "the wallet's test login");
        let callback = location(&r);
        assert!(callback.as_str().starts_with(&space::redirect_uri(&a)));

        // ...and ends at B, which opens the session.
        let r = b
            .http
            .get(at(&b_at, callback.as_str()))
            .send()
            .await
            .expect("callback at B");
        assert_eq!(r.status(), 303, "{:?}", r.text().await);
        let cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect();
        let session = cookies
            .iter()
            .find(|c| c.starts_with("annuaire_session="))
            .expect("session cookie");
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/espace", "Max-Age=28800"] {
            assert!(session.contains(flag), "{session}");
        }
        let value = session["annuaire_session=".len()..]
            .split(';')
            .next()
            .unwrap_or_default();
        assert!(
            value.len() < 3800 && !value.contains(NATIONAL_ID),
            "sealed, fits a cookie: {} characters",
            value.len()
        );
        assert!(
            cookies
                .iter()
                .any(|c| c.starts_with("annuaire_login=;") && c.contains("Max-Age=0")),
            "the login cookie cleared: {cookies:?}"
        );

        // The session is good at both instances.
        let home = |instance: String| {
            let b = &b;
            async move {
                let r = b
                    .http
                    .get(format!("{instance}/espace"))
                    .send()
                    .await
                    .expect("home");
                assert_eq!(r.status(), 200);
                r.text().await.expect("html")
            }
        };
        let html = home(a.clone()).await;
        assert!(html.contains("Docteur CLAIRE BERNARD"), "{html}");
        let token = csrf(&html);
        let html = home(b_at.clone()).await;
        assert!(html.contains("Docteur CLAIRE BERNARD"), "{html}");
        assert_eq!(csrf(&html), token, "one session");
        // A form drawn at A is posted at B.
        let r = post_contact(
            &b,
            &b_at,
            &[("csrf", &token), ("email", "c.bernard@example.fr")],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert!(home(a.clone()).await.contains("c.bernard@example.fr"));

        // A restart: a new instance, the session still good; an hour later too.
        let c_at = another_instance(&s, store.clone(), &a, SECRET).await;
        s.clock.advance(3600);
        assert!(home(c_at.clone()).await.contains("Docteur CLAIRE BERNARD"));

        // An instance with another client secret reads neither the session nor a login.
        let d_at = another_instance(&s, store.clone(), &a, "another-client-secret").await;
        assert!(home(d_at.clone()).await.contains(&fr("space.login")));
        let other = browser();
        let r = other
            .http
            .get(format!("{a}/espace/connexion"))
            .send()
            .await
            .expect("login");
        let page = other.authorize(location(&r).as_str()).await;
        let r = other.login(&s.base, &page, NATIONAL_ID, "test").await;
        let r = other
            .http
            .get(at(&d_at, location(&r).as_str()))
            .send()
            .await
            .expect("callback at D");
        assert_eq!(r.status(), 400);
        assert!(
            r.text()
                .await
                .expect("html")
                .contains(&fr("space.error.login"))
        );

        // The session ends with its expiry, at every instance.
        s.clock.advance(7 * 3600);
        for instance in [&a, &b_at, &c_at] {
            assert!(home(instance.clone()).await.contains(&fr("space.login")));
        }
    }
);

/// The space's pages the browser audits: name, the steps from the space's home page (in one
/// browser context), the path it lands on.
const PAGES: &[(&str, &[Step], &str)] = &[
    ("login", &[], "/espace"),
    ("record", LOG_IN, "/espace"),
    (
        "contact-error",
        &[
            LOG_IN[0],
            LOG_IN[1],
            LOG_IN[2],
            Step::Fill("#email", "pas-une-adresse"),
            Step::Fill("#phone", "12"),
            Step::Click("button[name=save]"),
        ],
        "/espace/coordonnees",
    ),
    (
        "saved",
        &[
            LOG_IN[0],
            LOG_IN[1],
            LOG_IN[2],
            Step::Fill("#email", "claire.bernard@example.fr"),
            Step::Click("button[name=save]"),
        ],
        "/espace",
    ),
    (
        "logged-out",
        &[
            LOG_IN[0],
            LOG_IN[1],
            LOG_IN[2],
            Step::Click("button[name=logout]"),
        ],
        "/espace/au-revoir",
    ),
];

#[derive(Debug, Clone, Copy)]
enum Step {
    Fill(&'static str, &'static str),
    Click(&'static str),
}

const LOG_IN: &[Step] = &[
    Step::Click("form[action='/espace/connexion'] button"),
    Step::Fill("#national_id", NATIONAL_ID),
    Step::Click("button[name=method][value=test]"),
];

/// Every page of [`PAGES`] in French and English at both widths, in headless Chromium
/// (tests/node/pages.mjs): axe-core clean (no serious or critical violation), the page's
/// language, where it lands, a screenshot.
async fn audit_pages(base: &str, db: Db) {
    let Some(chromium) = chromium_or_skip(&["playwright-core", "axe-core"]) else {
        return;
    };
    let db = match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    let mut list = vec![];
    for (name, steps, _) in PAGES {
        for (lang, accept) in [("fr", "fr-FR,fr;q=0.9"), ("en", "en-GB,en;q=0.9")] {
            let steps: Vec<Value> = steps
                .iter()
                .map(|s| match s {
                    Step::Fill(f, v) => json!({ "fill": f, "value": v }),
                    Step::Click(c) => json!({ "click": c }),
                })
                .collect();
            list.push(json!({
                "name": format!("annuaire-{name}-{db}.{lang}"),
                "url": format!("{base}/espace"), "lang": lang,
                "accept_language": accept, "steps": steps,
            }));
        }
    }
    let work = tempfile::tempdir().expect("dir");
    let list_file = work.path().join("pages.json");
    std::fs::write(&list_file, serde_json::to_vec(&list).expect("list")).expect("write");
    let shots = std::env::var_os("COEUR_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_dir().join("target/screenshots"));
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let report = drive(&chromium, &list_file, &shots);
    let mut problems = vec![];
    let pages = report["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), list.len() * 2, "{report}");
    for p in pages {
        let at = format!("{} {}", p["name"], p["width"]);
        if let Some(e) = p["error"].as_str() {
            problems.push(format!("{at}: {e}"));
            continue;
        }
        let lang = p["lang_expected"].as_str().unwrap_or_default();
        if p["html_lang"].as_str() != Some(lang) {
            problems.push(format!("{at}: <html lang> is {}", p["html_lang"]));
        }
        let name = p["name"].as_str().unwrap_or_default();
        let lands = PAGES
            .iter()
            .find(|(n, _, _)| name.starts_with(&format!("annuaire-{n}-")))
            .map(|(_, _, l)| *l)
            .expect("page");
        let path = p["url"]
            .as_str()
            .and_then(|u| u.strip_prefix(base))
            .map(|u| u.split(['?', '#']).next().unwrap_or_default());
        if path != Some(lands) {
            problems.push(format!("{at}: landed on {} ({})", p["url"], p["status"]));
        }
        for v in p["violations"].as_array().into_iter().flatten() {
            let impact = v["impact"].as_str().unwrap_or("none");
            if ["serious", "critical"].contains(&impact) {
                problems.push(format!("{at}: {} ({impact}) {}", v["id"], v["nodes"]));
            } else {
                eprintln!("{at}: {} ({impact})", v["id"]);
            }
        }
        let shot = shots.join(format!(
            "{name}.{}.png",
            p["width"].as_str().unwrap_or_default()
        ));
        if !shot.metadata().is_ok_and(|m| m.len() > 0) {
            problems.push(format!("{at}: no screenshot at {}", shot.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Runs tests/node/pages.mjs on the list in `list_file`; its report.
fn drive(chromium: &Path, list_file: &Path, shots: &Path) -> Value {
    let out = Command::new("node")
        .arg(repo_dir().join("tests/node/pages.mjs"))
        .arg(list_file)
        .env("COEUR_CHROMIUM", chromium)
        .env("COEUR_SCREENSHOTS", shots)
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
