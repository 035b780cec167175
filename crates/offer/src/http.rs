//! The offer's FHIR API over HTTP (axum): `GET /metadata`, `GET /{type}` (search) and
//! `GET /{type}/{id}` (read) for `Location` and `HealthcareService`, `PATCH /Location/{id}`
//! (JSON Patch of its capacities, `If-Match` with the version), `GET /Location/{id}/_history`
//! and `/_history/{vid}`. JSON only (`application/fhir+json`); every error is an
//! OperationOutcome and changes nothing.
//!
//! Callers present coeur access tokens, checked against the provider's JWKS: issuer, expiry,
//! an audience among the configured ones, and the scope (`offer:read` to read, `offer:write`
//! to change). Each client then takes one request from its bucket ([`Limiter`]): over its
//! limit it gets `429` with `Retry-After`. A change is then allowed only to an editor tied to the location's structure
//! ([`authorise_edit`]), asked on every write: a professional through the directory, a
//! service account through the offer's own table.

use crate::authz::{Editor, READ_SCOPE, Refused, WRITE_SCOPE, has_scope};
use crate::capability::{Organizations, capability_statement};
use crate::directory::DirectoryClient;
use crate::edit::{Edited, edit_capacities};
use crate::fhir::OperationOutcome;
use crate::model::LocationRecord;
use crate::patch::{PatchError, apply};
use crate::query::{Query, ResourceType, parse};
use crate::store::Store;
use crate::time::instant;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use coeur_common::random::Clock;
use coeur_resource_server::ratelimit::{Limiter, RateLimit};
use coeur_resource_server::{Binding, TokenError, Verifier};
use serde_json::{Value, json};
use std::sync::Arc;

/// How the API runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The API's base URL as clients see it, without a trailing `/`.
    pub base_url: String,
    /// Accepted `aud` values (coeur puts the client id in `aud`).
    pub audiences: Vec<String>,
    /// The per-client limit of the API's requests.
    pub rate_limit: RateLimit,
}

/// The service's state, shared by the API and the pages.
pub struct Offer {
    /// The store.
    pub store: Store,
    /// Checks access tokens.
    pub verifier: Arc<Verifier>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: Config,
    /// The directory, to tie professionals to structures (`None`: no professional may write).
    pub directory: Option<Arc<DirectoryClient>>,
    /// Each client's bucket of requests.
    limiter: Limiter,
}

impl Offer {
    /// The service over `store`, checking tokens with `verifier`, reading time from `clock`,
    /// asking `directory` which structures a professional works for.
    pub fn new(
        store: Store,
        verifier: Arc<Verifier>,
        clock: Arc<dyn Clock>,
        config: Config,
        directory: Option<Arc<DirectoryClient>>,
    ) -> Self {
        Self {
            store,
            verifier,
            clock,
            limiter: Limiter::new(config.rate_limit),
            config,
            directory,
        }
    }
}

type St = State<Arc<Offer>>;

/// The FHIR routes, at the root of the router (nest it under the base URL's path).
pub fn router(offer: Arc<Offer>) -> axum::Router {
    axum::Router::new()
        .route("/metadata", get(metadata))
        .route("/{rtype}", get(search))
        .route("/{rtype}/{id}", get(read).patch(patch_location))
        .route("/{rtype}/{id}/_history", get(history))
        .route("/{rtype}/{id}/_history/{vid}", get(vread))
        .fallback(not_found_route)
        .with_state(offer)
}

const FHIR_JSON: &str = "application/fhir+json";

/// A FHIR JSON answer.
pub fn fhir(status: StatusCode, body: &impl serde::Serialize) -> Response {
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

/// An OperationOutcome answer.
pub fn outcome(status: StatusCode, code: &str, diagnostics: impl Into<String>) -> Response {
    fhir(status, &OperationOutcome::error(code, diagnostics))
}

pub(crate) fn internal(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "offer request");
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

fn insufficient(scope: &'static str) -> Response {
    let mut r = outcome(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("this operation needs the {scope} scope"),
    );
    let challenge = format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"");
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// A verified caller.
struct Caller {
    /// The client the token was issued to (the rate limit's key).
    client_id: String,
    scope: String,
    /// `None`: a user token without the professional's national identifier (no
    /// `scope_all`), which may read but never write.
    editor: Option<Editor>,
}

async fn authenticate(o: &Offer, headers: &HeaderMap) -> Result<Caller, Response> {
    let Some(token) = coeur_web::bearer_token(headers) else {
        return Err(unauthorized("a bearer access token is required", "Bearer"));
    };
    let claims = match o.verifier.verify(&token, Binding::None).await {
        Ok(c) => c,
        Err(TokenError::Invalid(why)) => {
            return Err(unauthorized(why, "Bearer error=\"invalid_token\""));
        }
        Err(TokenError::Internal(e)) => return Err(internal(e)),
    };
    if !o.config.audiences.contains(&claims.aud) {
        return Err(unauthorized(
            "the access token is meant for another audience",
            "Bearer error=\"invalid_token\"",
        ));
    }
    // Client credentials: the subject is the client itself.
    let editor = match claims.subject_name_id {
        Some(national_id) => Some(Editor::Professional { national_id }),
        None if claims.sub == claims.client_id => Some(Editor::ServiceAccount {
            client_id: claims.client_id.clone(),
        }),
        None => None,
    };
    Ok(Caller {
        client_id: claims.client_id,
        scope: claims.scope,
        editor,
    })
}

/// Counts the request of an authorised caller against its client's limit.
// The error is the answer itself, made once per request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn admit(o: &Offer, caller: &Caller) -> Result<(), Response> {
    o.limiter
        .check(&caller.client_id, o.clock.now())
        .map_err(|t| {
            t.answer(outcome(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "too many requests: retry later",
            ))
        })
}

async fn reader(o: &Offer, headers: &HeaderMap) -> Result<(), Response> {
    let c = authenticate(o, headers).await?;
    if has_scope(&c.scope, READ_SCOPE) || has_scope(&c.scope, WRITE_SCOPE) {
        admit(o, &c)
    } else {
        Err(insufficient(READ_SCOPE))
    }
}

fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Offer {
    /// Whether the structures' Organizations can be read (from the directory).
    fn organizations(&self) -> Organizations {
        match self.directory {
            Some(_) => Organizations::FromDirectory,
            None => Organizations::Unavailable,
        }
    }
}

async fn metadata(State(o): St) -> Response {
    fhir(
        StatusCode::OK,
        &capability_statement(
            &o.config.base_url,
            &instant(o.clock.now()),
            o.organizations(),
        ),
    )
}

async fn not_found_route() -> Response {
    outcome(StatusCode::NOT_FOUND, "not-supported", "no such route")
}

// The error is the answer itself, made once per request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn rtype_of(s: &str) -> Result<ResourceType, Response> {
    ResourceType::parse(s).ok_or_else(|| {
        outcome(
            StatusCode::NOT_FOUND,
            "not-supported",
            format!("{s} is not a resource type of this server"),
        )
    })
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("W/\"{version}\"")).unwrap_or(HeaderValue::from_static(""))
}

fn location_answer(status: StatusCode, l: &LocationRecord) -> Response {
    let mut r = fhir(status, &l.resource());
    r.headers_mut().insert(header::ETAG, etag(l.version));
    r
}

async fn read(
    State(o): St,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = reader(&o, &headers).await {
        return r;
    }
    let gone = || {
        outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("{rtype}/{id} is not known"),
        )
    };
    match rtype_of(&rtype) {
        Err(r) => r,
        Ok(ResourceType::Location) => match o.store.location(&id).await {
            Ok(Some(l)) => location_answer(StatusCode::OK, &l),
            Ok(None) => gone(),
            Err(e) => internal(e),
        },
        Ok(ResourceType::HealthcareService) => match o.store.service(&id).await {
            Ok(Some(s)) => {
                let mut r = fhir(StatusCode::OK, &s.resource());
                r.headers_mut().insert(header::ETAG, etag(s.version));
                r
            }
            Ok(None) => gone(),
            Err(e) => internal(e),
        },
    }
}

fn page_link(base: &str, rtype: ResourceType, pairs: &[(String, String)], offset: usize) -> String {
    let mut url = format!("{base}/{}?", rtype.as_str());
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "_offset") {
        ser.append_pair(k, v);
    }
    ser.append_pair("_offset", &offset.to_string());
    url.push_str(&ser.finish());
    url
}

fn entry(base: &str, resource: Value, mode: &str) -> Value {
    let full = format!(
        "{base}/{}/{}",
        resource["resourceType"].as_str().unwrap_or(""),
        resource["id"].as_str().unwrap_or("")
    );
    json!({"fullUrl": full, "resource": resource, "search": {"mode": mode}})
}

async fn search(
    State(o): St,
    Path(rtype): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = reader(&o, &headers).await {
        return r;
    }
    let rtype = match rtype_of(&rtype) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let pairs = pairs(raw.as_deref());
    let q: Query = match parse(rtype, &pairs) {
        Ok(q) => q,
        Err(why) => return outcome(StatusCode::BAD_REQUEST, "invalid", why),
    };
    if q.include_organizations && o.organizations() == Organizations::Unavailable {
        return outcome(
            StatusCode::BAD_REQUEST,
            "not-supported",
            "_include=HealthcareService:organization: this server does not reach the directory",
        );
    }
    match search_bundle(&o, rtype, &q, &pairs).await {
        Ok(b) => fhir(StatusCode::OK, &b),
        Err(SearchError::Internal(e)) => internal(e),
        Err(SearchError::Directory(e)) => {
            tracing::warn!(error = %format!("{e:#}"), "the directory's organizations");
            outcome(
                StatusCode::SERVICE_UNAVAILABLE,
                "transient",
                "the directory does not answer for the structures to include; try again later",
            )
        }
    }
}

/// Why a search has no answer.
enum SearchError {
    /// The store (or the answer's encoding) failed.
    Internal(anyhow::Error),
    /// The directory did not give the Organizations to include.
    Directory(anyhow::Error),
}

impl From<anyhow::Error> for SearchError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl From<serde_json::Error> for SearchError {
    fn from(e: serde_json::Error) -> Self {
        Self::Internal(e.into())
    }
}

async fn search_bundle(
    o: &Offer,
    rtype: ResourceType,
    q: &Query,
    pairs: &[(String, String)],
) -> Result<Value, SearchError> {
    let base = &o.config.base_url;
    let mut entries = vec![];
    let more = match rtype {
        ResourceType::Location => {
            let (found, more) = o.store.search_locations(q).await?;
            let ids: Vec<String> = found.iter().map(|l| l.id.clone()).collect();
            for l in &found {
                entries.push(entry(base, serde_json::to_value(l.resource())?, "match"));
            }
            if q.revinclude_services {
                for s in o.store.services_at(&ids).await? {
                    entries.push(entry(base, serde_json::to_value(s.resource())?, "include"));
                }
            }
            more
        }
        ResourceType::HealthcareService => {
            let (found, more) = o.store.search_services(q).await?;
            let mut ids: Vec<String> = found.iter().map(|s| s.location_id.clone()).collect();
            ids.sort();
            ids.dedup();
            for s in &found {
                entries.push(entry(base, serde_json::to_value(s.resource())?, "match"));
            }
            if q.include_locations {
                for l in o.store.locations_by_id(&ids).await? {
                    entries.push(entry(base, serde_json::to_value(l.resource())?, "include"));
                }
            }
            if let (true, Some(d), false) =
                (q.include_organizations, &o.directory, found.is_empty())
            {
                let mut finess: Vec<String> = found.iter().map(|s| s.finess.clone()).collect();
                finess.sort();
                finess.dedup();
                let orgs = d
                    .organizations(&finess, q.include_partof)
                    .await
                    .map_err(SearchError::Directory)?;
                for org in orgs {
                    entries.push(json!({"fullUrl": org.full_url, "resource": org.resource,
                        "search": {"mode": "include"}}));
                }
            }
            more
        }
    };
    let mut links =
        vec![json!({"relation": "self", "url": page_link(base, rtype, pairs, q.offset)})];
    if more {
        links.push(
            json!({"relation": "next", "url": page_link(base, rtype, pairs, q.offset + q.count)}),
        );
    }
    if q.offset > 0 {
        links.push(json!({"relation": "previous",
            "url": page_link(base, rtype, pairs, q.offset.saturating_sub(q.count))}));
    }
    Ok(json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": entries,
    }))
}

/// The version an `If-Match` header names (`W/"3"`, `"3"`), `Ok(None)` without one.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, String> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| "If-Match is not text".to_owned())?
        .trim();
    let inner = v.strip_prefix("W/").unwrap_or(v);
    inner
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .and_then(|s| s.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| format!("If-Match {v:?} is not a version tag such as W/\"3\""))
}

async fn patch_location(
    State(o): St,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match authenticate(&o, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if rtype != "Location" {
        return outcome(
            StatusCode::METHOD_NOT_ALLOWED,
            "not-supported",
            "only a Location's capacities may be patched",
        );
    }
    if !has_scope(&caller.scope, WRITE_SCOPE) {
        return insufficient(WRITE_SCOPE);
    }
    if let Err(r) = admit(&o, &caller) {
        return r;
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json-patch+json") {
        return outcome(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            "the patch must be application/json-patch+json",
        );
    }
    let unknown = || {
        outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("Location/{id} is not known"),
        )
    };
    let Some(editor) = caller.editor else {
        return match o.store.location(&id).await {
            Ok(Some(_)) => outcome(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the access token does not name a professional (ask for scope_all)",
            ),
            Ok(None) => unknown(),
            Err(e) => internal(e),
        };
    };
    let expected = match if_match(&headers) {
        Ok(v) => v,
        Err(why) => return outcome(StatusCode::BAD_REQUEST, "invalid", why),
    };
    let edited = edit_capacities(&o, &editor, &caller.scope, &id, expected, |current| {
        apply(&current.resource(), &body)
    })
    .await;
    match edited {
        Ok(Edited::Done(l)) => location_answer(StatusCode::OK, &l),
        Ok(Edited::Stale(l)) => stale(l.version),
        Ok(Edited::Missing) => unknown(),
        Ok(Edited::Refused(Refused::Scope)) => insufficient(WRITE_SCOPE),
        Ok(Edited::Refused(Refused::NotTheirStructure)) => outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "you may change the capacities of your own structures only",
        ),
        Ok(Edited::Invalid(e @ PatchError::Malformed(_))) => {
            outcome(StatusCode::BAD_REQUEST, "structure", e.diagnostics())
        }
        Ok(Edited::Invalid(e @ PatchError::Unprocessable(_))) => outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "processing",
            e.diagnostics(),
        ),
        Ok(Edited::DirectoryDown(e)) => {
            tracing::warn!(error = %format!("{e:#}"), "the directory could not be asked");
            outcome(
                StatusCode::SERVICE_UNAVAILABLE,
                "transient",
                "the directory cannot say which structures you work for; try again later",
            )
        }
        Err(e) => internal(e),
    }
}

fn stale(current: i64) -> Response {
    let mut r = outcome(
        StatusCode::PRECONDITION_FAILED,
        "conflict",
        format!("the location has changed since (now version {current}): read it again"),
    );
    r.headers_mut().insert(header::ETAG, etag(current));
    r
}

/// The Location as it was at each version, newest first: `(version resource, who)`.
async fn versions(o: &Offer, id: &str) -> anyhow::Result<Option<Vec<(LocationRecord, String)>>> {
    let Some(current) = o.store.location(id).await? else {
        return Ok(None);
    };
    let entries = o.store.history(id).await?;
    Ok(Some(
        entries
            .into_iter()
            .map(|h| {
                let mut l = current.clone();
                l.capacities = h.capacities;
                l.version = h.version;
                l.updated_at = h.changed_at;
                (l, h.changed_by)
            })
            .collect(),
    ))
}

/// The extension naming who made a version (on the history bundle's entries).
pub const CHANGED_BY: &str =
    "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/coeur-changed-by";

async fn history(
    State(o): St,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = reader(&o, &headers).await {
        return r;
    }
    if rtype != "Location" {
        return outcome(
            StatusCode::NOT_FOUND,
            "not-supported",
            "history is kept for Locations",
        );
    }
    let base = &o.config.base_url;
    match versions(&o, &id).await {
        Ok(Some(vs)) => {
            let entries: Vec<Value> = vs
                .iter()
                .map(|(l, who)| {
                    json!({
                        "extension": [{"url": CHANGED_BY, "valueString": who}],
                        "fullUrl": format!("{base}/Location/{id}"),
                        "resource": l.resource(),
                        "request": {
                            "method": if l.version == 1 { "POST" } else { "PATCH" },
                            "url": format!("Location/{id}"),
                        },
                        "response": {
                            "status": "200",
                            "etag": format!("W/\"{}\"", l.version),
                            "lastModified": instant(l.updated_at),
                        },
                    })
                })
                .collect();
            fhir(
                StatusCode::OK,
                &json!({"resourceType": "Bundle", "type": "history", "total": entries.len(), "entry": entries}),
            )
        }
        Ok(None) => outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("Location/{id} is not known"),
        ),
        Err(e) => internal(e),
    }
}

async fn vread(
    State(o): St,
    Path((rtype, id, vid)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = reader(&o, &headers).await {
        return r;
    }
    let missing = || {
        outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("{rtype}/{id}/_history/{vid} is not known"),
        )
    };
    if rtype != "Location" {
        return missing();
    }
    match versions(&o, &id).await {
        Ok(Some(vs)) => match vs.iter().find(|(l, _)| l.version.to_string() == vid) {
            Some((l, _)) => location_answer(StatusCode::OK, l),
            None => missing(),
        },
        Ok(None) => missing(),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(if_match(&h), Ok(None));
        h.insert(header::IF_MATCH, HeaderValue::from_static("W/\"3\""));
        assert_eq!(if_match(&h), Ok(Some(3)));
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"4\""));
        assert_eq!(if_match(&h), Ok(Some(4)));
        h.insert(header::IF_MATCH, HeaderValue::from_static("3"));
        assert!(if_match(&h).is_err());
        h.insert(header::IF_MATCH, HeaderValue::from_static("W/\"x\""));
        assert!(if_match(&h).is_err());
    }
}
