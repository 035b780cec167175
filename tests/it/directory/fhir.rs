//! The directory's FHIR R4 API over a generated extract: reads and searches checked against
//! the imported rows, paging while data changes, includes, `_summary=count`,
//! OperationOutcome errors, coeur access tokens (missing, wrong audience, wrong scope,
//! expired) and the per-client rate limit.

use super::store;
use crate::both_dbs;
use crate::support::*;
use coeur::common::random::Clock;
use coeur::resource_server::ratelimit::RateLimit;
use coeur::resource_server::{JwksSource, Verifier};
use coeur_directory::fhir::query::fold;
use coeur_directory::generate::{Writers, generate};
use coeur_directory::http::{Access, Config, Directory, router};
use coeur_directory::import::{Outcome, import_file};
use coeur_directory::record::{Plan, Record, RecordKind};
use coeur_directory::store::{Store, StoredRecord};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const NOW: i64 = 1_767_225_600;
pub(crate) const READER: &str = "annuaire-reader";

/// Imports a generated extract of 50 professionals and 10 structures.
pub(crate) async fn import_generated(store: &Store) {
    let (mut a, mut s, mut d, mut m, mut f, mut c) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    generate(
        11,
        50,
        10,
        Writers {
            activite: &mut a,
            savoir_faire: &mut s,
            diplome: &mut d,
            mssante: &mut m,
            finess: &mut f,
            cartes: &mut c,
        },
    )
    .expect("generate");
    for (name, bytes) in [
        ("a", &a),
        ("s", &s),
        ("d", &d),
        ("m", &m),
        ("f", &f),
        ("c", &c),
    ] {
        let mut out = Outcome::default();
        import_file(
            store,
            name,
            bytes.as_slice(),
            true,
            NOW,
            &mut out,
            &mut |_, _| {},
        )
        .await
        .expect("import");
        assert!(out.rejected.is_empty() && out.skipped.is_empty(), "{name}");
    }
}

/// Registers a client_credentials client with `scopes`.
async fn client(s: &TestServer, id: &str, scopes: &[&str]) {
    let mut spec = rp_spec(id);
    spec.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    s.add_client("edit", spec, Some(SECRET)).await;
}

/// Starts the directory's API over `store`, trusting the test server's `edit` realm through
/// its JWKS; returns its base URL.
pub(crate) async fn start_directory(
    s: &TestServer,
    store: Store,
    access: Access,
    rate: RateLimit,
) -> String {
    let source = JwksSource::discover(&s.issuer("edit"), reqwest::Client::new())
        .await
        .expect("discovery");
    let clock: Arc<dyn Clock> = s.clock.clone();
    let verifier = Arc::new(Verifier::new(Arc::new(source), clock.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/fhir", listener.local_addr().expect("addr"));
    let config = Config {
        base_url: base.clone(),
        audiences: vec![READER.to_owned()],
        access,
        rate_limit: rate,
        cursor_key: [42; 32],
    };
    let app = axum::Router::new().nest(
        "/fhir",
        router(Directory::new(store, verifier, clock, config)),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: reqwest::header::HeaderMap,
    pub(super) body: Value,
}

pub(super) async fn fhir_get(url: &str, token: Option<&str>) -> Answer {
    let mut rb = reqwest::Client::new().get(url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.json().await.expect("JSON body");
    Answer {
        status,
        headers,
        body,
    }
}

pub(super) fn assert_outcome(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.headers["content-type"], "application/fhir+json");
    assert_eq!(a.body["resourceType"], "OperationOutcome", "{}", a.body);
    assert_eq!(a.body["issue"][0]["severity"], "error");
    assert_eq!(a.body["issue"][0]["code"], code, "{}", a.body);
}

fn entries<'a>(bundle: &'a Value, mode: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |e| e["search"]["mode"] == mode)
        .map(|e| &e["resource"])
}

pub(super) fn ids(bundle: &Value, mode: &str) -> Vec<String> {
    entries(bundle, mode)
        .map(|r| {
            format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            )
        })
        .collect()
}

pub(super) fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")
        .map(|l| l["url"].as_str().expect("url").to_owned())
}

/// A provider with the reading client, and the directory over the generated extract, served
/// with tokens and a generous rate limit: (provider, store, its files, base URL, a reader's
/// token).
pub(super) async fn reading(db: Db) -> (TestServer, Store, tempfile::TempDir, String, String) {
    let s = TestServer::start(db).await;
    client(&s, READER, &["directory:read"]).await;
    let (store, dir) = store(db).await;
    import_generated(&store).await;
    let base = start_directory(
        &s,
        store.clone(),
        Access::Tokens,
        RateLimit {
            burst: 10_000,
            per_second: 1_000,
        },
    )
    .await;
    let token = s
        .client_credentials_token("edit", READER, "directory:read")
        .await;
    (s, store, dir, base, token)
}

pub(super) async fn all(store: &Store, kind: RecordKind) -> Vec<StoredRecord> {
    store.scan(&[kind], 0, 100_000).await.expect("scan")
}

both_dbs!(fhir_search_read_and_paging, |db| async move {
    let (_s, store, _dir, base, token) = reading(db).await;
    let t = Some(token.as_str());
    let practitioners = all(&store, RecordKind::Practitioner).await;
    assert_eq!(practitioners.len(), 50);
    let establishments = all(&store, RecordKind::Establishment).await;
    assert_eq!(establishments.len(), 10);

    // The CapabilityStatement is public.
    let cap = fhir_get(&format!("{base}/metadata"), None).await;
    assert_eq!(cap.status, 200);
    assert_eq!(cap.body["resourceType"], "CapabilityStatement");
    assert_eq!(cap.body["fhirVersion"], "4.0.1");

    // Read by id, checked against the imported row.
    let p = &practitioners[3];
    let r = fhir_get(&format!("{base}/Practitioner/{}", p.record.key), t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/fhir+json");
    assert_eq!(r.body["resourceType"], "Practitioner");
    assert_eq!(r.body["id"], p.record.key.as_str());
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["name"][0]["family"], p.record.get("Nom d'exercice"));
    let rpps = p.record.get("Identifiant PP");
    assert!(
        r.body["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["system"] == "https://rpps.esante.gouv.fr" && i["value"] == rpps)
    );
    // Unknown and malformed ids: 404.
    assert_outcome(
        &fhir_get(&format!("{base}/Practitioner/800000000000"), t).await,
        404,
        "not-found",
    );
    assert_outcome(
        &fhir_get(&format!("{base}/Practitioner/not_an_id"), t).await,
        404,
        "not-found",
    );
    assert_outcome(
        &fhir_get(&format!("{base}/Patient/1"), t).await,
        404,
        "not-supported",
    );

    // Identifier with its system: exactly that professional.
    let b = fhir_get(
        &format!("{base}/Practitioner?identifier=https://rpps.esante.gouv.fr|{rpps}"),
        t,
    )
    .await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(b.body["resourceType"], "Bundle");
    assert_eq!(
        ids(&b.body, "match"),
        [format!("Practitioner/{}", p.record.key)]
    );
    // The RPPS number under the IdNat system is not a match.
    let b = fhir_get(
        &format!("{base}/Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.1|{rpps}"),
        t,
    )
    .await;
    assert_eq!(ids(&b.body, "match"), Vec::<String>::new());

    // Family name: the same set as the imported rows.
    let family = p.record.get("Nom d'exercice");
    let wanted: BTreeSet<String> = practitioners
        .iter()
        .filter(|x| fold(x.record.get("Nom d'exercice")).starts_with(&fold(family)))
        .map(|x| format!("Practitioner/{}", x.record.key))
        .collect();
    let b = fhir_get(
        &format!(
            "{base}/Practitioner?family={}&_count=500",
            family.to_lowercase()
        ),
        t,
    )
    .await;
    assert_eq!(
        ids(&b.body, "match").into_iter().collect::<BTreeSet<_>>(),
        wanted
    );
    let given = p.record.get("Prénom d'exercice");
    let b = fhir_get(
        &format!("{base}/Practitioner?name={given}&family={family}"),
        t,
    )
    .await;
    assert!(ids(&b.body, "match").contains(&format!("Practitioner/{}", p.record.key)));

    // mailbox-mss: the owner of an imported mailbox, which its telecom shows.
    let mailboxes = all(&store, RecordKind::Mailbox).await;
    let m = mailboxes
        .iter()
        .find(|m| !m.record.get("Identification nationale PP").is_empty())
        .expect("a professional's mailbox");
    let owner = m.record.get("Identification nationale PP");
    let address: String = url::form_urlencoded::byte_serialize(m.record.key.as_bytes()).collect();
    let b = fhir_get(&format!("{base}/Practitioner?mailbox-mss={address}"), t).await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(ids(&b.body, "match"), [format!("Practitioner/{owner}")]);
    let found = entries(&b.body, "match").next().expect("owner");
    assert!(
        found["telecom"]
            .as_array()
            .expect("telecom")
            .iter()
            .any(|c| c["system"] == "email" && c["value"] == m.record.key.as_str()),
        "{found}"
    );

    // qualification-code: the professionals whose exercises or qualifications carry the
    // profession.
    let roles = all(&store, RecordKind::PractitionerRole).await;
    let qualifications = all(&store, RecordKind::Qualification).await;
    let code = roles[0].record.get("Code profession");
    let wanted: BTreeSet<String> = roles
        .iter()
        .chain(&qualifications)
        .filter(|r| r.record.get("Code profession") == code)
        .map(|r| format!("Practitioner/{}", r.record.key.split('|').next().unwrap()))
        .collect();
    let b = fhir_get(
        &format!(
            "{base}/Practitioner?qualification-code={}|{code}&_count=500",
            coeur_directory::fhir::map::SYSTEM_G15
        ),
        t,
    )
    .await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(
        ids(&b.body, "match").into_iter().collect::<BTreeSet<_>>(),
        wanted
    );
    for p in entries(&b.body, "match") {
        assert!(
            p["qualification"]
                .as_array()
                .expect("qualification")
                .iter()
                .any(|q| q["code"]["coding"][0]["code"] == code)
        );
    }

    // POST _search: the same answer as GET; other methods: 405.
    let posted = reqwest::Client::new()
        .post(format!("{base}/Practitioner/_search"))
        .bearer_auth(&token)
        .form(&[("identifier", format!("https://rpps.esante.gouv.fr|{rpps}"))])
        .send()
        .await
        .expect("POST _search");
    assert_eq!(posted.status(), 200);
    let posted: Value = posted.json().await.expect("bundle");
    assert_eq!(
        ids(&posted, "match"),
        [format!("Practitioner/{}", p.record.key)]
    );
    let deleted = reqwest::Client::new()
        .delete(format!("{base}/Practitioner/{}", p.record.key))
        .bearer_auth(&token)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), 405);
    let body: Value = deleted.json().await.expect("outcome");
    assert_eq!(body["resourceType"], "OperationOutcome");

    // Organizations by town and postal code, against the imported rows.
    let e = &establishments[0];
    let cp = e.record.get("codepostal");
    let wanted: BTreeSet<String> = establishments
        .iter()
        .filter(|x| x.record.get("codepostal") == cp)
        .map(|x| format!("Organization/{}", x.record.key))
        .collect();
    let b = fhir_get(&format!("{base}/Organization?address-postalcode={cp}"), t).await;
    assert_eq!(
        ids(&b.body, "match").into_iter().collect::<BTreeSet<_>>(),
        wanted
    );
    let town = e
        .record
        .get("ligneacheminement")
        .trim_start_matches(cp)
        .trim()
        .to_owned();
    let b = fhir_get(
        &format!("{base}/Organization?address-city={}", town.to_lowercase()),
        t,
    )
    .await;
    assert!(ids(&b.body, "match").contains(&format!("Organization/{}", e.record.key)));
    for o in entries(&b.body, "match") {
        assert!(fold(o["address"][0]["city"].as_str().unwrap()).starts_with(&fold(&town)));
    }
    let b = fhir_get(
        &format!("{base}/Organization?type=GEOGRAPHICAL-ENTITY&_summary=count"),
        t,
    )
    .await;
    assert_eq!(b.body["total"], 10);

    // Active and _summary=count.
    let b = fhir_get(
        &format!("{base}/Practitioner?active=true&_summary=count"),
        t,
    )
    .await;
    assert_eq!(b.body["total"], 50);
    assert!(b.body.get("entry").is_none());
    let b = fhir_get(
        &format!("{base}/Practitioner?active=false&_summary=count"),
        t,
    )
    .await;
    assert_eq!(b.body["total"], 0);
    let b = fhir_get(
        &format!("{base}/Practitioner?_lastUpdated=ge2026-01-01&_summary=count"),
        t,
    )
    .await;
    assert_eq!(b.body["total"], 50);
    let b = fhir_get(
        &format!("{base}/Practitioner?_lastUpdated=lt2026-01-01&_summary=count"),
        t,
    )
    .await;
    assert_eq!(b.body["total"], 0);

    // Paging with next links: every professional once, also with one added (at the end of
    // the change order) while the client pages.
    let mut url = format!("{base}/Practitioner?_count=7");
    let mut seen = vec![];
    let mut pages = 0;
    loop {
        let b = fhir_get(&url, t).await;
        assert_eq!(b.status, 200, "{}", b.body);
        let page = ids(&b.body, "match");
        assert!(page.len() <= 7);
        seen.extend(page);
        pages += 1;
        if pages == 2 {
            let key = "810001045367".to_owned();
            let record = Record {
                kind: RecordKind::Practitioner,
                key: key.clone(),
                fields: [("Nom d'exercice".into(), "AJOUT".to_owned())].into(),
            };
            let plan = Plan {
                insert: vec![(RecordKind::Practitioner, key.clone())],
                ..Plan::default()
            };
            let records: BTreeMap<_, _> = [((RecordKind::Practitioner, key), record)].into();
            store
                .apply(&plan, &records, NOW + 60, &mut |_, _| {})
                .await
                .expect("insert during paging");
        }
        match next_link(&b.body) {
            Some(next) => url = next,
            None => break,
        }
    }
    let everyone: BTreeSet<String> = all(&store, RecordKind::Practitioner)
        .await
        .iter()
        .map(|x| format!("Practitioner/{}", x.record.key))
        .collect();
    assert_eq!(everyone.len(), 51);
    assert_eq!(seen.len(), 51, "no professional twice");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), everyone);
    assert_eq!(pages, 8);

    // A cursor altered, or replayed on another search: 400.
    let first = fhir_get(&format!("{base}/Practitioner?_count=7"), t).await;
    let next = next_link(&first.body).expect("next");
    let cursor = next.split("_page=").nth(1).expect("cursor");
    let mut forged = cursor.to_owned();
    forged.replace_range(0..1, if cursor.starts_with('A') { "B" } else { "A" });
    assert_outcome(
        &fhir_get(&format!("{base}/Practitioner?_count=7&_page={forged}"), t).await,
        400,
        "invalid",
    );
    assert_outcome(
        &fhir_get(&format!("{base}/Practitioner?_count=8&_page={cursor}"), t).await,
        400,
        "invalid",
    );

    // _include: each exercise with its professional and its site.
    let b = fhir_get(
        &format!(
            "{base}/PractitionerRole?_count=5&_include=PractitionerRole:practitioner&_include=PractitionerRole:organization"
        ),
        t,
    )
    .await;
    assert_eq!(b.status, 200, "{}", b.body);
    let included: BTreeSet<String> = ids(&b.body, "include").into_iter().collect();
    let roles: Vec<&Value> = entries(&b.body, "match").collect();
    assert_eq!(roles.len(), 5);
    for role in roles {
        let who = role["practitioner"]["reference"].as_str().unwrap();
        let site = role["organization"]["reference"].as_str().unwrap();
        assert!(
            included.contains(who) && included.contains(site),
            "{who} {site}"
        );
    }
    // _revinclude: a professional with all its exercises.
    let b = fhir_get(
        &format!(
            "{base}/Practitioner?_id={}&_revinclude=PractitionerRole:practitioner",
            p.record.key
        ),
        t,
    )
    .await;
    let roles_of_p: BTreeSet<String> = all(&store, RecordKind::PractitionerRole)
        .await
        .iter()
        .filter(|r| r.record.key.starts_with(&format!("{}|", p.record.key)))
        .map(|r| coeur_directory::fhir::map::id_of_key(&r.record.key))
        .map(|id| format!("PractitionerRole/{id}"))
        .collect();
    assert!(!roles_of_p.is_empty());
    assert_eq!(
        ids(&b.body, "include").into_iter().collect::<BTreeSet<_>>(),
        roles_of_p
    );
    // Organization:partof, PractitionerRole:organization on Organization.
    let b = fhir_get(
        &format!(
            "{base}/Organization?_id={}&_include=Organization:partof&_revinclude=PractitionerRole:organization",
            e.record.key
        ),
        t,
    )
    .await;
    let inc = ids(&b.body, "include");
    assert!(inc.contains(&format!("Organization/{}", e.record.get("nofinessej"))));
    assert!(inc.iter().any(|i| i.starts_with("PractitionerRole/")));

    // Unknown or unsupported parameters: 400 (strict), ignored on request (lenient).
    assert_outcome(
        &fhir_get(&format!("{base}/Practitioner?colour=blue"), t).await,
        400,
        "not-supported",
    );
    assert_outcome(
        &fhir_get(&format!("{base}/Practitioner?active=maybe"), t).await,
        400,
        "invalid",
    );
    let lenient = reqwest::Client::new()
        .get(format!("{base}/Practitioner?colour=blue&_summary=count"))
        .bearer_auth(&token)
        .header("prefer", "handling=lenient")
        .send()
        .await
        .expect("lenient");
    assert_eq!(lenient.status(), 200);
});

both_dbs!(fhir_tokens_and_rate_limits, |db| async move {
    let s = TestServer::start(db).await;
    client(&s, READER, &["directory:read"]).await;
    client(&s, "other-service", &["directory:read"]).await;
    client(&s, "no-scope", &["ca:read"]).await;
    let (store, _dir) = store(db).await;
    import_generated(&store).await;
    let base = start_directory(
        &s,
        store.clone(),
        Access::Tokens,
        RateLimit {
            burst: 3,
            per_second: 1,
        },
    )
    .await;
    let url = format!("{base}/Practitioner?_summary=count");

    // No token, a wrong audience, a wrong scope: refused before any rate accounting.
    let r = fhir_get(&url, None).await;
    assert_outcome(&r, 401, "login");
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let other = s
        .client_credentials_token("edit", "other-service", "directory:read")
        .await;
    assert_outcome(&fhir_get(&url, Some(&other)).await, 401, "login");
    let no_scope = s
        .client_credentials_token("edit", "no-scope", "ca:read")
        .await;
    // A client outside the audience list is refused whatever its scope…
    assert_outcome(&fhir_get(&url, Some(&no_scope)).await, 401, "login");
    // …and a client inside it without directory:read gets 403.
    client(&s, "reader-without-scope", &["ca:read"]).await;
    let base2 = {
        let source = JwksSource::discover(&s.issuer("edit"), reqwest::Client::new())
            .await
            .expect("discovery");
        let clock: Arc<dyn Clock> = s.clock.clone();
        let verifier = Arc::new(Verifier::new(Arc::new(source), clock.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let config = Config {
            base_url: base.clone(),
            audiences: vec!["reader-without-scope".into()],
            access: Access::PublicReads,
            rate_limit: RateLimit {
                burst: 100,
                per_second: 10,
            },
            cursor_key: [1; 32],
        };
        let app = router(Directory::new(store.clone(), verifier, clock, config));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        base
    };
    let unscoped = s
        .client_credentials_token("edit", "reader-without-scope", "ca:read")
        .await;
    let r = fhir_get(
        &format!("{base2}/Practitioner?_summary=count"),
        Some(&unscoped),
    )
    .await;
    assert_outcome(&r, 403, "forbidden");
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    // Public reads: no token needed there, a bad one still refused.
    let r = fhir_get(&format!("{base2}/Practitioner?_summary=count"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["total"], 50);
    assert_outcome(
        &fhir_get(
            &format!("{base2}/Practitioner?_summary=count"),
            Some("not.a.token"),
        )
        .await,
        401,
        "login",
    );

    // The rate limit: 3 at once, then 429 with Retry-After; one more a second later.
    let token = s
        .client_credentials_token("edit", READER, "directory:read")
        .await;
    for _ in 0..3 {
        assert_eq!(fhir_get(&url, Some(&token)).await.status, 200);
    }
    let r = fhir_get(&url, Some(&token)).await;
    assert_outcome(&r, 429, "throttled");
    assert_eq!(r.headers["retry-after"], "1");
    s.clock.advance(1);
    assert_eq!(fhir_get(&url, Some(&token)).await.status, 200);

    // Expired: the directory's (injected) clock past the token's lifetime.
    s.clock.advance(24 * 3600);
    assert_outcome(&fhir_get(&url, Some(&token)).await, 401, "login");
});

both_dbs!(fhir_peer_fhirpy_and_fhir_resources, |db| async move {
    let Some(python) = python_peer("the FHIR peer (fhirpy, fhir.resources)") else {
        return;
    };
    let (_s, store, _dir, base, token) = reading(db).await;
    let practitioners = all(&store, RecordKind::Practitioner).await;
    let p = &practitioners[5];
    let rpps = p.record.get("Identifiant PP").to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(repo_dir().join("tests/python/fhir_peer.py"))
            .args([&base, &token, &rpps])
            .output()
            .expect("start the FHIR peer")
    })
    .await
    .expect("peer task");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the FHIR peer failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("peer report");
    assert_eq!(report["by_identifier"], serde_json::json!([p.record.key]));
    let every: Vec<&str> = report["all"]
        .as_array()
        .expect("all")
        .iter()
        .map(|v| v.as_str().expect("id"))
        .collect();
    assert_eq!(every.len(), 50, "each professional once");
    let wanted: BTreeSet<&str> = practitioners
        .iter()
        .map(|x| x.record.key.as_str())
        .collect();
    assert_eq!(every.into_iter().collect::<BTreeSet<_>>(), wanted);
    for kind in [
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Bundle",
        "OperationOutcome",
        "CapabilityStatement",
    ] {
        assert!(
            report["validated"][kind].as_u64().unwrap_or(0) > 0,
            "{kind} validated: {report}"
        );
    }
});
