//! The editors' pages of the offer service, on SQLite and PostgreSQL: a sandbox identity the
//! directory (a stand-in of its FHIR API) ties to a structure logs in through coeur
//! (authorization code with PKCE, the wallet's test login), sees their structure's locations
//! and capacities, changes a capacity through the form and finds it through the FHIR search
//! API and the history; bad input (a negative number, an unknown code, a form without its
//! version, a forged CSRF token) gets a clear answer and changes nothing; a second editor of
//! the same structure, logged in with a virtual CPS card, submits a form drawn from a version
//! that moved on and gets the conflict page, nothing changed; another structure's location is
//! refused, nothing changed; the regional dashboard draws its chart; the pages in English
//! (the conflict page among them) name the value sets' codes in English; the logout at coeur
//! ends both sessions. Then (on SQLite) headless Chromium takes the same way through every
//! page, in French and English, at desktop and phone width, the conflict page among them (a
//! service account of the structure changes the capacity through the API while the browser's
//! form is open: its save gets 409, the current values, a fresh form): axe-core clean,
//! `<html lang>` right, screenshots kept as `ror-PAGE-sqlite.LANG.WIDTH.png`.

use super::*;
use crate::both_dbs;
use crate::card::{back_url, card, card_client, card_leg, other_active_identities, root_pem};
use coeur::common::random::Random;
use coeur::web::Lang;
use coeur_offer::codes::{CAPACITY_STATUS, CAPACITY_TYPE};
use coeur_offer::directory::DirectorySettings;
use coeur_offer::pages::{self, Pages, PagesConfig};

/// Serves the offer's API and pages over `store` under `<base>/fhir`, logging in through the
/// test server's realm `edit` as client `ror`, asking `directory` about professionals; the
/// public URL.
async fn start(s: &TestServer, store: Store, directory: Arc<DirectoryClient>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/fhir", listener.local_addr().expect("addr"));
    let mut spec = rp_spec("ror");
    spec.redirect_uris = vec![pages::redirect_uri(&base)];
    spec.post_logout_redirect_uris = vec![pages::post_logout_redirect_uri(&base)];
    spec.scopes = [
        "openid",
        "scope_all",
        "offer:read",
        "offer:write",
        "directory:read",
    ]
    .map(str::to_owned)
    .to_vec();
    s.add_client("edit", spec, Some(SECRET)).await;
    serve_instance(s, store, directory, listener, &base, SECRET).await;
    base
}

/// Serves an instance of the offer's API and pages over `store` on `listener`, for the public
/// URL `public_url` (every instance behind a load balancer has the same), logging in through
/// the test server's realm `edit` as client `ror` with `secret`.
async fn serve_instance(
    s: &TestServer,
    store: Store,
    directory: Arc<DirectoryClient>,
    listener: tokio::net::TcpListener,
    public_url: &str,
    secret: &str,
) {
    let source = JwksSource::discover(&s.issuer("edit"), reqwest::Client::new())
        .await
        .expect("discovery");
    let clock: Arc<dyn Clock> = s.clock.clone();
    let verifier = Arc::new(Verifier::new(Arc::new(source), clock.clone()));
    let offer = Arc::new(Offer::new(
        store,
        verifier,
        clock,
        Config {
            base_url: public_url.to_owned(),
            audiences: vec![READER.to_owned(), SIH_A.to_owned()],
            rate_limit: super::GENEROUS,
        },
        Some(directory),
    ));
    let random: Arc<dyn Random> = s.state.rng.clone();
    let pages = Pages::new(
        offer.clone(),
        random,
        PagesConfig {
            issuer: s.issuer("edit"),
            client_id: "ror".into(),
            client_secret: secret.into(),
            public_url: public_url.to_owned(),
        },
        pages::Http::new().expect("http"),
    )
    .expect("pages");
    let app = axum::Router::new().nest("/fhir", router(offer).merge(pages::router(pages)));
    let app = coeur::web::with_common_layers(app, Arc::new(coeur::web::ServiceIdentity::default()));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

/// Another instance of the offer over `store` for the public URL `public_url`, on a port of its
/// own, with the client secret `secret`; its own base URL (`…/fhir`).
async fn another_instance(
    s: &TestServer,
    store: Store,
    directory: Arc<DirectoryClient>,
    public_url: &str,
    secret: &str,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let at = format!("http://{}/fhir", listener.local_addr().expect("addr"));
    serve_instance(s, store, directory, listener, public_url, secret).await;
    at
}

/// Follows the provider's answer back to the pages: the session opened, home.
async fn back_to_pages(b: &Browser, base: &str, r: reqwest::Response) -> String {
    assert_eq!(r.status(), 303, "the provider's login");
    let callback = location(&r);
    assert!(
        callback.as_str().starts_with(&pages::redirect_uri(base)),
        "{callback}"
    );
    let r = b.http.get(callback).send().await.expect("callback");
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .find(|c| c.starts_with("offre_session="))
        .expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/fhir/offre"] {
        assert!(session.contains(flag), "{session}");
    }
    assert_eq!(location(&r).as_str(), format!("{base}/offre"));
    let r = b
        .http
        .get(format!("{base}/offre"))
        .send()
        .await
        .expect("home");
    assert_eq!(r.status(), 200);
    r.text().await.expect("html")
}

/// Starts a login at the pages: coeur's wallet page.
async fn to_wallet(s: &TestServer, b: &Browser, base: &str) -> Authz {
    let r = b
        .http
        .get(format!("{base}/offre/connexion"))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.as_str().starts_with(&s.endpoint("edit", "auth")), "{to}");
    assert_eq!(param(&to, "client_id").as_deref(), Some("ror"));
    assert_eq!(param(&to, "code_challenge_method").as_deref(), Some("S256"));
    let scope = param(&to, "scope").unwrap_or_default();
    assert!(scope.split(' ').any(|s| s == "offer:write"), "{scope}");
    let page = b.authorize(to.as_str()).await;
    assert!(matches!(page, Authz::LoginPage { .. }), "{page:?}");
    page
}

/// Logs the sandbox identity in with the wallet's test login; the home page.
async fn log_in(s: &TestServer, b: &Browser, base: &str) -> String {
    let page = to_wallet(s, b, base).await;
    let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
    back_to_pages(b, base, r).await
}

/// The value of the hidden field `name` of a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker).expect("hidden field") + marker.len();
    html[at..at + html[at..].find('"').expect("end")].to_owned()
}

/// The form as drawn, with `changes`, as pairs to post.
fn form_of(
    l: &LocationRecord,
    csrf: &str,
    version: i64,
    changes: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut form = vec![
        ("csrf".to_owned(), csrf.to_owned()),
        ("version".to_owned(), version.to_string()),
    ];
    for (i, c) in l.capacities.iter().enumerate() {
        form.push((format!("type-{i}"), c.capacity_type.clone()));
        form.push((format!("status-{i}"), c.status.clone()));
        form.push((format!("nb-{i}"), c.nb.to_string()));
    }
    for (k, v) in changes {
        match form.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = (*v).to_owned(),
            None => form.push(((*k).to_owned(), (*v).to_owned())),
        }
    }
    form
}

async fn post_form(b: &Browser, url: &str, form: &[(String, String)]) -> reqwest::Response {
    b.http.post(url).form(form).send().await.expect("post")
}

/// A page in `lang` names the types and statuses of `l`'s capacities in `lang`, not in the
/// other language (where the words differ).
fn labels_in(html: &str, l: &LocationRecord, lang: Lang) {
    let other = match lang {
        Lang::Fr => Lang::En,
        Lang::En => Lang::Fr,
    };
    assert!(
        html.contains(&format!("<html lang=\"{}\"", lang.tag())),
        "{html}"
    );
    for c in &l.capacities {
        for (vs, code) in [
            (&CAPACITY_TYPE, &c.capacity_type),
            (&CAPACITY_STATUS, &c.status),
        ] {
            let (shown, not) = (vs.label_in(code, lang), vs.label_in(code, other));
            let (shown, not) = (shown.expect("a code"), not.expect("a code"));
            assert!(html.contains(&format!(">{shown}<")), "{shown}: {html}");
            if shown != not {
                assert!(!html.contains(&format!(">{not}<")), "{not}: {html}");
            }
        }
    }
}

/// The page at `url` asking for English.
async fn in_english(b: &Browser, url: &str) -> String {
    let r = b
        .http
        .get(url)
        .header("accept-language", "en")
        .send()
        .await
        .expect("page");
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.expect("html")
}

both_dbs!(
    a_login_and_a_session_hold_across_instances_and_restarts,
    |db| async move {
        // Instances behind a load balancer without stickiness: the same public URL, client
        // secret and database, nothing else shared. Requests go to one or the other by
        // rewriting the public URL into an instance's own address.
        let s = TestServer::start(db).await;
        let (store, _dir) = store(db).await;
        let (locations, services) = generated();
        store
            .insert_offer(&locations, &services)
            .await
            .expect("fill");
        let structures = synthetic_structures(12);
        let mine = structures[2].finess.clone();
        let directory = Arc::new(DirectoryClient::new(
            DirectorySettings {
                base_url: fake_directory(vec![(NATIONAL_ID.to_owned(), mine.clone())]).await,
                token_url: s.endpoint("edit", "token"),
                client_id: "ror".into(),
                client_secret: SECRET.into(),
            },
            reqwest::Client::new(),
            s.clock.clone(),
        ));
        let a = start(&s, store.clone(), directory.clone()).await;
        let b_at = another_instance(&s, store.clone(), directory.clone(), &a, SECRET).await;
        let at = |instance: &str, u: &str| u.replacen(&a, instance, 1);
        let b = s.browser();

        // The login starts at A and ends at B.
        let page = to_wallet(&s, &b, &a).await;
        let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
        assert_eq!(r.status(), 303, "the wallet's test login");
        let callback = location(&r);
        assert!(callback.as_str().starts_with(&pages::redirect_uri(&a)));
        let r = b
            .http
            .get(at(&b_at, callback.as_str()))
            .send()
            .await
            .expect("callback at B");
        assert_eq!(r.status(), 303, "{:?}", r.text().await);
        let session = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .find(|c| c.starts_with("offre_session="))
            .expect("session cookie");
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/fhir/offre"] {
            assert!(session.contains(flag), "{session}");
        }
        assert!(!session.contains(NATIONAL_ID), "sealed: {session}");

        // The session is good at both, and at a new instance (a restart).
        let home = |base: String| {
            let b = &b;
            async move {
                let r = b
                    .http
                    .get(format!("{base}/offre"))
                    .send()
                    .await
                    .expect("home");
                assert_eq!(r.status(), 200);
                r.text().await.expect("html")
            }
        };
        let html = home(a.clone()).await;
        assert!(html.contains(&structures[2].name), "{html}");
        let csrf = hidden(&html, "csrf");
        assert!(home(b_at.clone()).await.contains(&structures[2].name));
        let c_at = another_instance(&s, store.clone(), directory.clone(), &a, SECRET).await;
        assert!(home(c_at.clone()).await.contains(&structures[2].name));

        // A form drawn at A is posted at C: the change is made.
        let id = &locations
            .iter()
            .find(|l| l.finess == mine)
            .expect("a location")
            .id;
        let l = store.location(id).await.expect("read").expect("location");
        let nb = (l.capacities[0].nb + 1).to_string();
        let form = form_of(&l, &csrf, l.version, &[("nb-0", &nb)]);
        let r = post_form(&b, &format!("{c_at}/offre/lieux/{id}"), &form).await;
        assert_eq!(r.status(), 303, "{:?}", r.text().await);
        let after = store.location(id).await.expect("read").expect("location");
        assert_eq!(after.capacities[0].nb, l.capacities[0].nb + 1);

        // Another client secret reads no session; the session ends with its expiry.
        let d_at = another_instance(&s, store.clone(), directory, &a, "another-secret").await;
        assert!(home(d_at).await.contains(&fr("offer.login")));
        s.clock.advance(8 * 3600);
        for instance in [&a, &b_at, &c_at] {
            assert!(home(instance.clone()).await.contains(&fr("offer.login")));
        }
    }
);

both_dbs!(
    an_editor_logs_in_changes_a_capacity_and_others_are_refused,
    |db| async move {
        let s = TestServer::start(db).await;
        client(&s, READER, &["offer:read"]).await;
        client(&s, SIH_A, &["offer:write"]).await;
        let (store, _dir) = store(db).await;
        let (locations, services) = generated();
        store
            .insert_offer(&locations, &services)
            .await
            .expect("fill");
        let structures = synthetic_structures(12);
        store
            .add_service_account(SIH_A, &structures[2].finess)
            .await
            .expect("account");
        let holder = other_active_identities(&s)
            .await
            .into_iter()
            .next()
            .expect("another identity");
        let holder_id = holder.national_id.to_string();
        let mine = structures[2].finess.clone();
        let directory = Arc::new(DirectoryClient::new(
            DirectorySettings {
                base_url: fake_directory(vec![
                    (NATIONAL_ID.to_owned(), mine.clone()),
                    (holder_id.clone(), mine.clone()),
                ])
                .await,
                token_url: s.endpoint("edit", "token"),
                client_id: "ror".into(),
                client_secret: SECRET.into(),
            },
            reqwest::Client::new(),
            s.clock.clone(),
        ));
        let base = start(&s, store.clone(), directory).await;

        let b = s.browser();

        // Not logged in: the login button, in French.
        let html = b
            .http
            .get(format!("{base}/offre"))
            .send()
            .await
            .expect("home")
            .text()
            .await
            .expect("html");
        assert!(html.contains(&fr("offer.login")), "{html}");

        // Logged in: their structure's locations and capacities, no other structure.
        let html = log_in(&s, &b, &base).await;
        let own: Vec<&LocationRecord> = locations.iter().filter(|l| l.finess == mine).collect();
        assert!(html.contains(&structures[2].name), "{html}");
        for l in &own {
            assert!(html.contains(&format!("lieux/{}\"", l.id)), "{html}");
        }
        assert!(!html.contains(&structures[0].name), "{html}");
        let csrf = hidden(&html, "csrf");
        let l = own[0].clone();
        let form_url = format!("{base}/offre/lieux/{}", l.id);
        let html = b
            .http
            .get(&form_url)
            .send()
            .await
            .expect("form")
            .text()
            .await
            .expect("html");
        assert!(html.contains(&fr("offer.form.heading")), "{html}");
        assert_eq!(hidden(&html, "version"), "1");
        for i in 0..l.capacities.len() {
            assert!(html.contains(&format!("<label for=\"nb-{i}\">")), "{html}");
        }

        // Bad input: a clear error beside the field, nothing changed.
        let before = store.location(&l.id).await.expect("read");
        for (changes, status, message, field) in [
            (vec![("nb-1", "-4")], 400, "offer.form.negative", "nb-1"),
            (
                vec![("type-0", "99")],
                400,
                "offer.form.unknown_type",
                "type-0",
            ),
            (
                vec![("status-2", "42")],
                400,
                "offer.form.unknown_status",
                "status-2",
            ),
            (
                vec![("nb-0", "douze")],
                400,
                "offer.form.not_a_number",
                "nb-0",
            ),
        ] {
            let r = post_form(&b, &form_url, &form_of(&l, &csrf, 1, &changes)).await;
            assert_eq!(r.status(), status, "{changes:?}");
            let html = r.text().await.expect("html");
            assert!(html.contains(&fr(message)), "{message}: {html}");
            assert!(html.contains(&fr("offer.form.not_saved")), "{html}");
            assert!(html.contains(&format!("href=\"#{field}\"")), "{html}");
            assert!(
                html.contains(&format!("aria-describedby=\"{field}-error\""))
                    || html.contains(&format!("{field}-error\"")),
                "{html}"
            );
            assert!(html.contains("aria-invalid=\"true\""), "{html}");
            assert_eq!(
                store.location(&l.id).await.expect("read"),
                before,
                "{changes:?}"
            );
        }
        let mut no_version = form_of(&l, &csrf, 1, &[]);
        no_version.retain(|(k, _)| k != "version");
        let r = post_form(&b, &form_url, &no_version).await;
        assert_eq!(r.status(), 400);
        assert!(
            r.text()
                .await
                .expect("html")
                .contains(&fr("offer.error.malformed"))
        );
        for token in ["forged-token", ""] {
            let r = post_form(&b, &form_url, &form_of(&l, token, 1, &[("nb-1", "3")])).await;
            assert_eq!(r.status(), 403);
            assert!(
                r.text()
                    .await
                    .expect("html")
                    .contains(&fr("offer.error.csrf"))
            );
        }
        // Another browser, with this session's token but no session: the login page.
        let r = post_form(
            &s.browser(),
            &form_url,
            &form_of(&l, &csrf, 1, &[("nb-1", "3")]),
        )
        .await;
        assert!(r.text().await.expect("html").contains(&fr("offer.login")));
        assert_eq!(
            store.location(&l.id).await.expect("read"),
            before,
            "nothing changed"
        );

        // A good change: confirmed, served by the FHIR API, found by its search.
        s.clock.advance(3_600);
        let reader = s
            .client_credentials_token("edit", READER, "offer:read")
            .await;
        let n = if l.capacities[1].nb == 7 { 8 } else { 7 };
        let r = post_form(
            &b,
            &form_url,
            &form_of(&l, &csrf, 1, &[("nb-1", &n.to_string())]),
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r).as_str(), format!("{form_url}?enregistre=2"));
        let html = b
            .http
            .get(location(&r))
            .send()
            .await
            .expect("saved")
            .text()
            .await
            .expect("html");
        assert!(
            html.contains(&fr_with("offer.location.saved", &[("version", "2")])),
            "{html}"
        );
        let read = get(&format!("{base}/Location/{}", l.id), Some(&reader)).await;
        assert_eq!(read.headers["etag"], "W/\"2\"");
        assert_eq!(read.body["extension"][1]["extension"][3]["valueInteger"], n);
        let found = get(
            &format!(
                "{base}/Location?_id={}&capacity-status=02&nb-capacity={n}",
                l.id
            ),
            Some(&reader),
        )
        .await
        .body;
        assert_eq!(ids(&found, "match"), [format!("Location/{}", l.id)]);
        let h = get(&format!("{base}/Location/{}/_history", l.id), Some(&reader))
            .await
            .body;
        assert_eq!(
            h["entry"][0]["extension"][0]["valueString"],
            format!("professional:{NATIONAL_ID}")
        );
        let stored = store
            .location(&l.id)
            .await
            .expect("read")
            .expect("location");
        assert_eq!(stored.updated_at, s.clock.now());
        assert_eq!(stored.capacities[1].update_date, s.clock.now());

        // A second editor of the structure logs in with a virtual card and draws the form at
        // version 2; the first saves version 3 meanwhile; the second's post gets the conflict
        // page with the current values, nothing changed.
        let root = root_pem(&s).await;
        let c = card(&s, &holder).await;
        let b2 = s.browser();
        let page = to_wallet(&s, &b2, &base).await;
        let r = b2.login(&s.base, &page, "", "card").await;
        assert_eq!(r.status(), 303, "to the card listener");
        let a = card_leg(
            &card_client(&root, Some(&c.auth.identity_pem)),
            location(&r).as_str(),
        )
        .await;
        let back = back_url(&s, "edit", &a);
        let r = b2.http.get(back).send().await.expect("card return");
        let html2 = back_to_pages(&b2, &base, r).await;
        assert!(html2.contains(&holder_id), "{html2}");
        let csrf2 = hidden(&html2, "csrf");
        let drawn = b2
            .http
            .get(&form_url)
            .send()
            .await
            .expect("form")
            .text()
            .await
            .expect("html");
        assert_eq!(hidden(&drawn, "version"), "2");
        let r = post_form(&b, &form_url, &form_of(&stored, &csrf, 2, &[("nb-2", "1")])).await;
        assert_eq!(r.status(), 303);
        let current = store
            .location(&l.id)
            .await
            .expect("read")
            .expect("location");
        assert_eq!(current.version, 3);
        let r = post_form(
            &b2,
            &form_url,
            &form_of(&stored, &csrf2, 2, &[("nb-1", "0")]),
        )
        .await;
        assert_eq!(r.status(), 409);
        let html = r.text().await.expect("html");
        assert!(html.contains(&fr("offer.conflict.title")), "{html}");
        assert!(
            html.contains(&fr_with("offer.conflict.text", &[("version", "3")])),
            "{html}"
        );
        assert_eq!(
            hidden(&html, "version"),
            "3",
            "a form drawn from the current version"
        );
        assert_eq!(
            store.location(&l.id).await.expect("read"),
            Some(current.clone())
        );
        labels_in(&html, &current, Lang::Fr);
        // The same post asking for English: the conflict page in English, codes named in
        // English, nothing changed.
        let r = post_form(
            &b2,
            &format!("{form_url}?ui_locales=en"),
            &form_of(&stored, &csrf2, 2, &[("nb-1", "0")]),
        )
        .await;
        assert_eq!(r.status(), 409);
        let html = r.text().await.expect("html");
        assert!(html.contains(&en("offer.conflict.title")), "{html}");
        labels_in(&html, &current, Lang::En);
        assert_eq!(
            store.location(&l.id).await.expect("read"),
            Some(current.clone())
        );
        // From the current version, the second editor's change is saved.
        let r = post_form(
            &b2,
            &form_url,
            &form_of(&current, &csrf2, 3, &[("nb-1", "0")]),
        )
        .await;
        assert_eq!(r.status(), 303);

        // Another structure's location: refused, to read its form and to post, nothing changed.
        let other = locations
            .iter()
            .find(|x| x.finess == structures[0].finess)
            .expect("other");
        let other_url = format!("{base}/offre/lieux/{}", other.id);
        let r = b.http.get(&other_url).send().await.expect("form");
        assert_eq!(r.status(), 403);
        assert!(
            r.text()
                .await
                .expect("html")
                .contains(&fr("offer.error.not_theirs"))
        );
        let r = post_form(&b, &other_url, &form_of(other, &csrf, 1, &[("nb-1", "0")])).await;
        assert_eq!(r.status(), 403);
        assert_eq!(
            store.location(&other.id).await.expect("read").as_ref(),
            Some(other)
        );
        let r = b
            .http
            .get(format!("{other_url}/historique"))
            .send()
            .await
            .expect("history");
        assert_eq!(r.status(), 403);
        let r = b
            .http
            .get(format!("{base}/offre/lieux/nope"))
            .send()
            .await
            .expect("form");
        assert_eq!(r.status(), 404);

        // The history: who, when, before and after.
        let html = b
            .http
            .get(format!("{form_url}/historique"))
            .send()
            .await
            .expect("history")
            .text()
            .await
            .expect("html");
        for shown in [NATIONAL_ID, holder_id.as_str()] {
            assert!(html.contains(shown), "{shown}: {html}");
        }
        assert!(html.contains(&fr("offer.history.generated")), "{html}");
        assert_eq!(html.matches("class=\"version\"").count(), 4, "{html}");
        labels_in(&html, &current, Lang::Fr);

        // In English: the structures, the form, the history name the codes in English.
        for url in [
            format!("{base}/offre"),
            form_url.clone(),
            format!("{form_url}/historique"),
        ] {
            labels_in(&in_english(&b, &url).await, &current, Lang::En);
        }

        // The region's dashboard: the chart with its title and description, the table.
        let r = b
            .http
            .get(format!("{base}/offre/region/{}", l.region))
            .send()
            .await
            .expect("region");
        assert_eq!(r.status(), 200);
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .to_owned();
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("script-src"),
            "{csp}"
        );
        let html = r.text().await.expect("html");
        for part in [
            "<svg role=\"img\"",
            "<title id=\"chart-title\">",
            "<desc id=\"chart-desc\">",
            "<polyline",
            "<table id=\"data\">",
        ] {
            assert!(html.contains(part), "{part}: {html}");
        }
        assert!(!html.contains("<script"), "{html}");
        // In English, the chart's legend and the table name the capacity types in English.
        let html = in_english(&b, &format!("{base}/offre/region/{}", l.region)).await;
        let kind = &current.capacities[0].capacity_type;
        let (en_kind, fr_kind) = (
            CAPACITY_TYPE.label_in(kind, Lang::En).expect("code"),
            CAPACITY_TYPE.label_in(kind, Lang::Fr).expect("code"),
        );
        assert!(
            html.contains(&format!("<th scope=\"col\">{en_kind}</th>")),
            "{html}"
        );
        assert!(html.contains(&format!("\">{en_kind}</text>")), "{html}");
        if en_kind != fr_kind {
            assert!(!html.contains(&format!(">{fr_kind}<")), "{html}");
        }
        let r = b
            .http
            .get(format!("{base}/offre/region/99"))
            .send()
            .await
            .expect("region");
        assert_eq!(r.status(), 404);

        let version = store
            .location(&l.id)
            .await
            .expect("read")
            .expect("l")
            .version;
        let sih = s
            .client_credentials_token("edit", SIH_A, "offer:write")
            .await;
        super::browser::audit(&base, db, &l.id, &other.id, &l.region, version, &sih).await;

        // Logout: the local session ends, then coeur's, and back to the page after it.
        let r = b
            .http
            .post(format!("{base}/offre/deconnexion"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .expect("logout");
        assert_eq!(r.status(), 303);
        let to = location(&r);
        assert!(
            to.as_str().starts_with(&s.endpoint("edit", "logout")),
            "{to}"
        );
        let after = pages::post_logout_redirect_uri(&base);
        assert_eq!(
            param(&to, "post_logout_redirect_uri").as_deref(),
            Some(after.as_str())
        );
        let r = b.http.get(to).send().await.expect("end session");
        assert!(r.status().is_redirection(), "{}", r.status());
        assert_eq!(location(&r).as_str(), after);
        let html = b
            .http
            .get(&after)
            .send()
            .await
            .expect("bye")
            .text()
            .await
            .expect("html");
        assert!(html.contains(&fr("offer.logged_out")), "{html}");
        let r = b.http.get(&form_url).send().await.expect("form");
        assert!(r.text().await.expect("html").contains(&fr("offer.login")));
        let again = to_wallet(&s, &b, &base).await;
        assert!(matches!(again, Authz::LoginPage { .. }));
    }
);
