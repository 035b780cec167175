//! The offer service (coeur-offer, ROR): its FHIR API over generated offer data, on SQLite
//! and PostgreSQL; searches checked against the generated records, capacity changes with
//! versions, history and authorisation; an independent FHIR client and models.

mod api;
mod browser;
mod codes;
mod includes;
mod limits;
mod pages;
mod search;
mod write;

use crate::support::*;
use axum::extract::Query;
use coeur::common::random::Clock;
use coeur::resource_server::ratelimit::RateLimit;
use coeur::resource_server::{JwksSource, Verifier};
use coeur_offer::directory::DirectoryClient;
use coeur_offer::generate::{offer_of, synthetic_structures};
use coeur_offer::http::{Config, Offer, router};
use coeur_offer::model::{LocationRecord, ServiceRecord};
use coeur_offer::store::Store;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// When the generated capacities were last updated.
pub(crate) const NOW: i64 = 1_767_225_600;
/// A reading client (client credentials, `offer:read`).
pub(crate) const READER: &str = "ror-reader";
/// The service accounts of the first and second structures.
pub(crate) const SIH_A: &str = "sih-a";
pub(crate) const SIH_B: &str = "sih-b";

/// A fresh offer store's URL on `db`, with the directory holding it (SQLite) to keep alive.
pub(crate) async fn store_url(db: Db) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match db {
        Db::Sqlite => format!("sqlite://{}/offre.db", dir.path().display()),
        Db::Postgres => coeur_testkit::pg::new_database_url().await,
    };
    (url, dir)
}

/// A fresh offer store on `db`, with the directory holding it (SQLite) kept alive.
pub(crate) async fn store(db: Db) -> (Store, tempfile::TempDir) {
    let (url, dir) = store_url(db).await;
    (Store::connect(&url).await.expect("offer store"), dir)
}

/// The generated data of 12 synthetic structures (8 towns: Paris, Lyon… then Paris again).
pub(crate) fn generated() -> (Vec<LocationRecord>, Vec<ServiceRecord>) {
    let (mut l, mut s) = (vec![], vec![]);
    for st in synthetic_structures(12) {
        let (a, b) = offer_of(&st, 3, NOW);
        l.extend(a);
        s.extend(b);
    }
    (l, s)
}

/// Registers a client_credentials client with `scopes`.
pub(crate) async fn client(s: &TestServer, id: &str, scopes: &[&str]) {
    let mut spec = rp_spec(id);
    spec.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    s.add_client("edit", spec, Some(SECRET)).await;
}

/// A limit no test reaches (the clock of the tests stands still).
pub(crate) const GENEROUS: RateLimit = RateLimit {
    burst: 10_000,
    per_second: 1_000,
};

/// Starts the offer's API over `store`, trusting the test server's `edit` realm through its
/// JWKS, asking `directory` about professionals; returns its base URL.
pub(crate) async fn start_offer(
    s: &TestServer,
    store: Store,
    audiences: &[&str],
    directory: Option<Arc<DirectoryClient>>,
) -> String {
    start_offer_limited(s, store, audiences, directory, GENEROUS).await
}

/// [`start_offer`] with each client limited to `rate`.
pub(crate) async fn start_offer_limited(
    s: &TestServer,
    store: Store,
    audiences: &[&str],
    directory: Option<Arc<DirectoryClient>>,
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
    let offer = Arc::new(Offer::new(
        store,
        verifier,
        clock,
        Config {
            base_url: base.clone(),
            audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
            rate_limit: rate,
        },
        directory,
    ));
    let app = axum::Router::new().nest("/fhir", router(offer));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

/// An answer.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

pub(crate) async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.json().await.expect("JSON body");
    Answer {
        status,
        headers,
        body,
    }
}

pub(crate) async fn get(url: &str, token: Option<&str>) -> Answer {
    let mut rb = reqwest::Client::new().get(url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    answer(rb.send().await.expect("request")).await
}

pub(crate) fn assert_outcome(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.headers["content-type"], "application/fhir+json");
    assert_eq!(a.body["resourceType"], "OperationOutcome", "{}", a.body);
    assert_eq!(a.body["issue"][0]["severity"], "error");
    assert_eq!(a.body["issue"][0]["code"], code, "{}", a.body);
}

/// The ids of a bundle's entries of search `mode`, sorted.
pub(crate) fn ids(bundle: &Value, mode: &str) -> Vec<String> {
    let mut v: Vec<String> = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == mode)
        .map(|e| {
            format!(
                "{}/{}",
                e["resource"]["resourceType"].as_str().expect("type"),
                e["resource"]["id"].as_str().expect("id")
            )
        })
        .collect();
    v.sort();
    v
}

/// A stand-in of the directory's FHIR API: each `(national id, FINESS)` of `ties` is a
/// practitioner working for that structure. Its base URL.
pub(crate) async fn fake_directory(ties: Vec<(String, String)>) -> String {
    let ties = Arc::new(ties);
    let known = ties.clone();
    let practitioner = move |Query(q): Query<HashMap<String, String>>| {
        let known = known.clone();
        async move {
            let asked = q.get("identifier").cloned().unwrap_or_default();
            let entry: Vec<Value> = if known.iter().any(|(n, _)| *n == asked) {
                vec![
                    json!({"resource": {"resourceType": "Practitioner", "id": format!("p{asked}")}}),
                ]
            } else {
                vec![]
            };
            axum::Json(json!({"resourceType": "Bundle", "type": "searchset", "entry": entry}))
        }
    };
    let roles = move |Query(q): Query<HashMap<String, String>>| {
        let ties = ties.clone();
        async move {
            let asked = q.get("practitioner").cloned().unwrap_or_default();
            let mut entry = vec![];
            for (i, (_, finess)) in ties
                .iter()
                .filter(|(n, _)| asked == format!("Practitioner/p{n}"))
                .enumerate()
            {
                entry.push(
                    json!({"resource": {"resourceType": "PractitionerRole", "id": format!("r{i}"),
                    "organization": {"reference": format!("Organization/o{i}")}}}),
                );
                entry.push(
                    json!({"resource": {"resourceType": "Organization", "id": format!("o{i}"),
                    "identifier": [{"system": "https://finess.esante.gouv.fr",
                        "type": {"coding": [{"code": "FINEG"}]}, "value": finess}]}}),
                );
            }
            axum::Json(json!({"resourceType": "Bundle", "type": "searchset", "entry": entry}))
        }
    };
    let app = axum::Router::new()
        .route("/Practitioner", axum::routing::get(practitioner))
        .route("/PractitionerRole", axum::routing::get(roles));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}
