//! The directory's FHIR API over HTTP (axum): `GET /metadata`, `GET /{type}` and
//! `POST /{type}/_search` (search), `GET /{type}/{id}` (read) for `Practitioner`,
//! `PractitionerRole`, `Organization` and `HealthcareService`.
//! JSON only (`application/fhir+json`); every error is an `OperationOutcome`.
//!
//! Callers present coeur access tokens (client credentials): signature against the provider's
//! JWKS ([`JwksSource`](coeur_resource_server::JwksSource), refetched on an unknown `kid`),
//! issuer, expiry, an audience among the configured ones and the [`DirectoryRead`] scope.
//! With [`Access::PublicReads`] a request without a token is served too (a token presented is
//! still checked). Each caller (client id, or all anonymous callers together) has its own
//! rate limit: `429` with `Retry-After` past it. `/metadata` is public.

use crate::fhir::capability::capability_statement;
use crate::fhir::lookup::{Driver, driver};
use crate::fhir::map::{instant, key_of_id, kinds_of, resource};
use crate::fhir::model::{OperationOutcome, Resource};
use crate::fhir::page::{CursorKey, Position, count_only, searchset};
use crate::fhir::query::{Handling, Include, Query, ResourceType, RevInclude, parse};
use crate::record::RecordKind;
use crate::space::contact::Contact;
use crate::store::search::{FoundRows, Lookup, Value};
use crate::store::{Store, StoredRecord};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use coeur_common::random::Clock;
use coeur_resource_server::ratelimit::{Limiter, RateLimit};
use coeur_resource_server::{Binding, Scope, TokenError, Verifier, scope};
use std::collections::HashMap;
use std::sync::Arc;

scope! {
    pub DirectoryRead = "directory:read";
}

/// Who may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A valid token is required.
    Tokens,
    /// Anyone may read; tokens presented are checked.
    PublicReads,
}

/// How the service runs.
pub struct Config {
    /// The API's base URL as clients see it, without a trailing `/` (links, `fullUrl`).
    pub base_url: String,
    /// Accepted `aud` values. coeur puts the client id in `aud` of client-credentials tokens,
    /// so this lists the clients the directory serves.
    pub audiences: Vec<String>,
    /// Token required or public reads.
    pub access: Access,
    /// The per-caller limit.
    pub rate_limit: RateLimit,
    /// The key paging cursors are signed with (random per process: cursors do not survive
    /// a restart).
    pub cursor_key: [u8; 32],
}

/// The service's state.
pub struct Directory {
    store: Store,
    verifier: Arc<Verifier>,
    clock: Arc<dyn Clock>,
    config: Config,
    limiter: Limiter,
    cursors: CursorKey,
    started: String,
    /// The writer of kept resources ([`kept::Keeper`]), started by the first search that
    /// keeps some.
    keeper: std::sync::OnceLock<kept::Keeper>,
    /// Searches run as many at a time as the store has connections, the others waiting their
    /// turn in arrival order ([`tokio::sync::Semaphore`] is fair). A search runs several
    /// statements (a name search, one or two per family name its prefix begins), and each
    /// statement took its turn for a connection of the pool behind those of every other
    /// search: a search of many statements waited many times. One wait a search instead:
    /// measured at national size on one core, 32 connections, same throughput, the slowest
    /// name search 21–23 ms instead of 38–50 ms, p99 16.5–18.8 ms instead of 19.5–20.8 ms.
    searches: tokio::sync::Semaphore,
}

impl Directory {
    /// A service over `store`, checking tokens with `verifier`, reading time from `clock`.
    pub fn new(
        store: Store,
        verifier: Arc<Verifier>,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Arc<Self> {
        let started = instant(clock.now());
        let searches = tokio::sync::Semaphore::new(store.connections().max(1) as usize);
        Arc::new(Self {
            searches,
            store,
            verifier,
            limiter: Limiter::new(config.rate_limit),
            cursors: CursorKey::new(&config.cursor_key),
            clock,
            config,
            started,
            keeper: std::sync::OnceLock::new(),
        })
    }
}

type St = State<Arc<Directory>>;

/// The FHIR routes, at the root of the router (nest it under the base URL's path).
pub fn router(directory: Arc<Directory>) -> axum::Router {
    axum::Router::new()
        .route("/metadata", get(metadata))
        .route("/{rtype}", get(search))
        .route("/{rtype}/_search", post(search_post))
        .route("/{rtype}/{id}", get(read))
        .fallback(not_found_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(directory)
}

const FHIR_JSON: &str = "application/fhir+json";

fn fhir(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn outcome(status: StatusCode, code: &str, diagnostics: impl Into<String>) -> Response {
    fhir(
        status,
        &Resource::OperationOutcome(OperationOutcome::error(code, diagnostics)),
    )
}

fn internal(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "directory request");
    outcome(
        StatusCode::INTERNAL_SERVER_ERROR,
        "exception",
        "internal error",
    )
}

fn unauthorized(diagnostics: &str, challenge: &'static str) -> Response {
    let mut r = outcome(StatusCode::UNAUTHORIZED, "login", diagnostics);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

/// The caller, for rate limiting.
enum Caller {
    Client(String),
    Anonymous,
}

async fn authorize(d: &Directory, headers: &HeaderMap) -> Result<Caller, Response> {
    let Some(token) = coeur_web::bearer_token(headers) else {
        return match d.config.access {
            Access::PublicReads => Ok(Caller::Anonymous),
            Access::Tokens => Err(unauthorized("a bearer access token is required", "Bearer")),
        };
    };
    let claims = match d.verifier.verify(&token, Binding::None).await {
        Ok(c) => c,
        Err(TokenError::Invalid(why)) => {
            return Err(unauthorized(why, "Bearer error=\"invalid_token\""));
        }
        Err(TokenError::Internal(e)) => return Err(internal(e)),
    };
    if !d.config.audiences.contains(&claims.aud) {
        return Err(unauthorized(
            "the access token is meant for another audience",
            "Bearer error=\"invalid_token\"",
        ));
    }
    if !claims.scope.split(' ').any(|s| s == DirectoryRead::NAME) {
        let mut r = outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this operation needs the {} scope", DirectoryRead::NAME),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer error=\"insufficient_scope\", scope=\"directory:read\"",
            ),
        );
        return Err(r);
    }
    Ok(Caller::Client(claims.client_id))
}

/// Authorises and counts the request against the caller's limit.
async fn admit(d: &Directory, headers: &HeaderMap) -> Result<(), Response> {
    let caller = authorize(d, headers).await?;
    let key = match &caller {
        Caller::Client(id) => format!("client:{id}"),
        Caller::Anonymous => "anonymous".to_owned(),
    };
    d.limiter.check(&key, d.clock.now()).map_err(|t| {
        t.answer(outcome(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            "too many requests: retry later",
        ))
    })
}

async fn not_found_route() -> Response {
    outcome(StatusCode::NOT_FOUND, "not-supported", "no such endpoint")
}

async fn method_not_allowed() -> Response {
    outcome(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        "the directory is read-only: GET, or POST to _search",
    )
}

async fn metadata(State(d): St) -> Response {
    let access = d.config.access == Access::PublicReads;
    fhir(
        StatusCode::OK,
        &capability_statement(&d.config.base_url, &d.started, access),
    )
}

fn unknown_type(name: &str) -> Response {
    outcome(
        StatusCode::NOT_FOUND,
        "not-supported",
        format!("resource type {name:?} is not served"),
    )
}

async fn load(d: &Directory, rtype: &str, id: &str) -> anyhow::Result<Option<StoredRecord>> {
    let Some(key) = key_of_id(id) else {
        return Ok(None);
    };
    for kind in kinds_of(rtype) {
        if let Some(s) = d.store.get(*kind, &key).await? {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

async fn read(
    State(d): St,
    headers: HeaderMap,
    Path((rtype, id)): Path<(String, String)>,
) -> Response {
    let Some(t) = ResourceType::parse(&rtype) else {
        return unknown_type(&rtype);
    };
    if let Err(r) = admit(&d, &headers).await {
        return r;
    }
    match load(&d, t.as_str(), &id).await {
        Ok(Some(s)) => match full_resource(&d.store, &s).await {
            Ok(Some(r)) => fhir(StatusCode::OK, &r),
            Ok(None) => internal(anyhow::anyhow!("record without resource")),
            Err(e) => internal(e),
        },
        Ok(None) => outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("{}/{id} is not known", t.as_str()),
        ),
        Err(e) => internal(e),
    }
}

/// Records scanned per store round trip.
const SCAN: i64 = 500;

#[path = "http_related.rs"]
mod related;
use related::{full_resource, full_resources, resolve};

#[path = "http_kept.rs"]
mod kept;

/// The next candidates of a search after `after`, each with its position, and the position to
/// go on from when there may be more: index rows in the index's order, records by key or all
/// of the kinds in change order. Through the index, the contact details of the practitioners
/// found come too (`Some`, by key, those who gave some).
async fn candidates(
    d: &Directory,
    kinds: &[RecordKind],
    driver: Option<&Driver>,
    after: &Position,
    limit: i64,
) -> anyhow::Result<(
    Vec<(Position, StoredRecord)>,
    Option<Position>,
    Option<HashMap<String, Contact>>,
)> {
    let by_version = |chunk: Vec<StoredRecord>| {
        let more = chunk.len() as i64 == limit;
        let next = chunk
            .last()
            .filter(|_| more)
            .map(|s| Position::Version(s.version));
        let chunk = chunk
            .into_iter()
            .map(|s| (Position::Version(s.version), s))
            .collect();
        (chunk, next, None)
    };
    let by_row = |(chunk, next, contacts): FoundRows| {
        let chunk = chunk
            .into_iter()
            .map(|(p, s)| (Position::Row(p), s))
            .collect();
        (chunk, next.map(Position::Row), Some(contacts))
    };
    let row = match after {
        Position::Row(r) => Some(r),
        Position::Version(_) => None,
    };
    Ok(match (driver, after) {
        (Some(Driver::Index(lookup)), Position::Row(_) | Position::Version(0)) => by_row(
            d.store
                .by_index_with_contacts(kinds, lookup, row, limit)
                .await?,
        ),
        (Some(Driver::Names(names)), Position::Row(_) | Position::Version(0)) => by_row(
            d.store
                .by_names_with_contacts(kinds, names, row, limit)
                .await?,
        ),
        (Some(Driver::Keys(keys)), Position::Version(v)) => {
            by_version(d.store.by_keys(kinds, keys, *v, limit).await?)
        }
        (None, Position::Version(v)) => by_version(d.store.scan(kinds, *v, limit).await?),
        _ => anyhow::bail!("a paging position of another kind of search"),
    })
}

async fn search(
    State(d): St,
    headers: HeaderMap,
    Path(rtype): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    search_with(d, headers, rtype, raw.unwrap_or_default().as_bytes(), &[]).await
}

/// `POST [type]/_search`: the parameters in the URL and the form body together.
async fn search_post(
    State(d): St,
    headers: HeaderMap,
    Path(rtype): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form && !body.is_empty() {
        return outcome(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            "_search takes application/x-www-form-urlencoded parameters",
        );
    }
    search_with(d, headers, rtype, raw.unwrap_or_default().as_bytes(), &body).await
}

async fn search_with(
    d: Arc<Directory>,
    headers: HeaderMap,
    rtype: String,
    url_query: &[u8],
    body: &[u8],
) -> Response {
    let Some(t) = ResourceType::parse(&rtype) else {
        return unknown_type(&rtype);
    };
    if let Err(r) = admit(&d, &headers).await {
        return r;
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(url_query)
        .chain(url::form_urlencoded::parse(body))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let prefer = headers.get("prefer").and_then(|v| v.to_str().ok());
    let query = match parse(t, &params, Handling::of_prefer(prefer)) {
        Ok(q) => q,
        Err(e) => return outcome(StatusCode::BAD_REQUEST, e.code(), e.to_string()),
    };
    let after = match query.page.as_deref() {
        None => Position::Version(0),
        Some(c) => match d.cursors.open(&query, c) {
            Some(p) => p,
            None => {
                return outcome(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "_page is not a paging cursor of this search (or it has expired with a restart)",
                );
            }
        },
    };
    let mut query = query;
    // Its turn among the searches ([`Directory::searches`]), held to the answer. The
    // semaphore is never closed.
    let Ok(_turn) = d.searches.acquire().await else {
        return internal(anyhow::anyhow!("the searches' turns are closed"));
    };
    if let Err(e) = resolve(&d.store, &mut query).await {
        return internal(e);
    }
    match run_search(&d, &query, after).await {
        Ok(r) => r,
        Err(e) => internal(e),
    }
}

async fn run_search(d: &Directory, query: &Query, mut after: Position) -> anyhow::Result<Response> {
    let kinds = kinds_of(query.resource.as_str());
    let base = &d.config.base_url;
    let driver = driver(query);
    if query.summary_count {
        let total = count_matches(d, query, kinds, driver.as_ref(), after).await?;
        return Ok(fhir(
            StatusCode::OK,
            &Resource::Bundle(count_only(base, query, total)),
        ));
    }
    // `_total`: every match of the search, whichever page this is.
    let total = if query.total {
        Some(count_matches(d, query, kinds, driver.as_ref(), Position::Version(0)).await?)
    } else {
        None
    };
    if let Some(drv) = driver.as_ref().filter(|d| kept::answered_as_kept(query, d)) {
        let (matches, next_after) = kept::kept_page(d, query, drv, &after).await?;
        let mut bundle = searchset(base, query, &d.cursors, matches, next_after, vec![]);
        bundle.total = total;
        return Ok(fhir(StatusCode::OK, &Resource::Bundle(bundle)));
    }
    // Each candidate mapped once: checked, then completed if it is answered.
    let mut matched: Vec<(Position, StoredRecord, Resource)> = vec![];
    // A page and one more first: the index's criteria select nearly only matches; more
    // candidates a round after that.
    let mut limit = (query.count as i64 + 1).min(SCAN);
    // The contact details of every candidate, when all came with them.
    let mut contacts: Option<HashMap<String, Contact>> = Some(HashMap::new());
    'scan: loop {
        let (chunk, next, found) = candidates(d, kinds, driver.as_ref(), &after, limit).await?;
        contacts = contacts.zip(found).map(|(mut all, found)| {
            all.extend(found);
            all
        });
        limit = SCAN;
        for (position, s) in chunk {
            let Some(r) = resource(&s) else { continue };
            if query.matches(&s, &r) {
                matched.push((position, s, r));
                if matched.len() > query.count {
                    break 'scan;
                }
            }
        }
        match next {
            Some(next) => after = next,
            None => break,
        }
    }
    let next_after = if matched.len() > query.count {
        matched.truncate(query.count);
        matched.last().map(|(p, _, _)| p.clone())
    } else {
        None
    };
    let matched: Vec<(StoredRecord, Resource)> =
        matched.into_iter().map(|(_, s, r)| (s, r)).collect();
    let matches = full_resources(&d.store, matched, contacts.as_mut()).await?;
    let included = includes(d, query, &matches).await?;
    let matches = matches.into_iter().map(Into::into).collect();
    let mut bundle = searchset(base, query, &d.cursors, matches, next_after, included);
    bundle.total = total;
    if query.elements.is_empty() {
        return Ok(fhir(StatusCode::OK, &Resource::Bundle(bundle)));
    }
    let mut json = serde_json::to_value(Resource::Bundle(bundle))?;
    crate::fhir::elements::subset_matches(&mut json, &query.elements);
    Ok(fhir(StatusCode::OK, &json))
}

/// How many records match `query` from the position `after` on.
async fn count_matches(
    d: &Directory,
    query: &Query,
    kinds: &[RecordKind],
    driver: Option<&Driver>,
    mut after: Position,
) -> anyhow::Result<u64> {
    let mut total = 0u64;
    loop {
        let (chunk, next, _) = candidates(d, kinds, driver, &after, SCAN).await?;
        total += chunk
            .iter()
            .filter(|(_, s)| resource(s).is_some_and(|r| query.matches(s, &r)))
            .count() as u64;
        match next {
            Some(next) => after = next,
            None => return Ok(total),
        }
    }
}

fn ref_id(r: Option<&crate::fhir::model::Reference>) -> Option<&str> {
    r?.reference.as_deref()?.split_once('/').map(|(_, id)| id)
}

async fn includes(
    d: &Directory,
    query: &Query,
    matches: &[Resource],
) -> anyhow::Result<Vec<Resource>> {
    let mut out = vec![];
    for inc in &query.include {
        for m in matches {
            let target = match (inc, m) {
                (Include::RolePractitioner, Resource::PractitionerRole(r)) => {
                    ref_id(r.practitioner.as_ref()).map(|id| ("Practitioner", id))
                }
                (Include::RoleOrganization, Resource::PractitionerRole(r)) => {
                    ref_id(r.organization.as_ref()).map(|id| ("Organization", id))
                }
                (Include::OrganizationPartOf, Resource::Organization(o)) => {
                    ref_id(o.part_of.as_ref()).map(|id| ("Organization", id))
                }
                (Include::ServiceOrganization, Resource::HealthcareService(h)) => {
                    ref_id(h.provided_by.as_ref()).map(|id| ("Organization", id))
                }
                _ => None,
            };
            if let Some((rtype, id)) = target
                && let Some(s) = load(d, rtype, id).await?
                && let Some(r) = full_resource(&d.store, &s).await?
            {
                out.push(r);
            }
        }
    }
    for rev in &query.revinclude {
        match rev {
            RevInclude::RolesOfPractitioner => {
                let keys: Vec<String> = matches
                    .iter()
                    .filter_map(|m| match m {
                        Resource::Practitioner(p) => key_of_id(&p.id),
                        _ => None,
                    })
                    .collect();
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                if !keys.is_empty() {
                    for s in d
                        .store
                        .owned_by_any(&[RecordKind::PractitionerRole], &keys, None)
                        .await?
                    {
                        out.extend(resource(&s));
                    }
                }
            }
            RevInclude::RolesAtOrganization | RevInclude::ServicesAtOrganization => {
                let kinds: &[RecordKind] = if *rev == RevInclude::RolesAtOrganization {
                    &[RecordKind::PractitionerRole]
                } else {
                    kinds_of("HealthcareService")
                };
                let ids: Vec<String> = matches
                    .iter()
                    .filter_map(|m| match m {
                        Resource::Organization(o) => Some(o.id.clone()),
                        _ => None,
                    })
                    .collect();
                if ids.is_empty() {
                    continue;
                }
                let lookup = Lookup::of(
                    vec![crate::index::ORGANIZATION],
                    ids.into_iter()
                        .map(|code| Value::Token {
                            system: Some(String::new()),
                            code,
                        })
                        .collect(),
                );
                let mut after = None;
                loop {
                    let (chunk, next) = d
                        .store
                        .by_index(kinds, &lookup, after.as_ref(), SCAN)
                        .await?;
                    out.extend(chunk.iter().filter_map(|(_, s)| resource(s)));
                    match next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                }
            }
        }
    }
    Ok(out)
}
