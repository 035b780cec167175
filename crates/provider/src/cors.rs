//! CORS at the token, userinfo and revocation endpoints, for browser applications: an answer
//! may be read by the origins the client concerned registered (`coeur_oauth::cors` decides);
//! a preflight, which names no client, by the origins of any client of the realm.
//!
//! The headers are added around the handlers, which answer as they would without them: an
//! origin changes what a browser lets the page read, never what the request does.

use crate::St;
use crate::state::{AppState, RealmRt};
use axum::body::Body;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use coeur_oauth::authorize::Params;
use coeur_oauth::cors::{OriginAllowed, WebOrigins};
use coeur_oauth::token as tok;
use coeur_web::cors::{allow_origin, preflight, request_origin};

/// Set by a handler on its answer: the client whose origins may read it (userinfo: the
/// access token's client, once the token is verified).
#[derive(Debug, Clone)]
pub(crate) struct CorsClient(pub String);

/// The largest body read to find the client of a request (the listeners' body limit).
const BODY_LIMIT: usize = 64 * 1024;

/// Token and revocation: the client the form names (its `client_id`, Basic user name or
/// assertion), whether or not it authenticates; its origins may read the answer, errors
/// included.
pub(crate) async fn form_client(
    st: St,
    Path(realm): Path<String>,
    req: Request,
    next: Next,
) -> Response {
    let Some(origin) = request_origin(req.headers()).map(str::to_owned) else {
        return vary(next.run(req).await);
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return vary(StatusCode::PAYLOAD_TOO_LARGE.into_response());
    };
    let client_id = claimed_client(&parts.headers, &bytes);
    let mut res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let allowed = match (st.realm(&realm), client_id) {
        (Some(rt), Some(id)) => client_allows(&st, rt, &id, &origin).await,
        _ => None,
    };
    allow_origin(&mut res, allowed.as_ref(), None);
    res
}

/// Userinfo: the client the handler names ([`CorsClient`]); an answer naming none (the token
/// is missing or invalid, so no client is known) may be read by the realm's origins, so that
/// an application sees its `401` and logs in again.
pub(crate) async fn handler_client(
    st: St,
    Path(realm): Path<String>,
    req: Request,
    next: Next,
) -> Response {
    let Some(origin) = request_origin(req.headers()).map(str::to_owned) else {
        return vary(next.run(req).await);
    };
    let mut res = next.run(req).await;
    let client = res.extensions().get::<CorsClient>().map(|c| c.0.clone());
    let allowed = match (st.realm(&realm), client) {
        (Some(rt), Some(id)) => client_allows(&st, rt, &id, &origin).await,
        (Some(rt), None) => realm_allows(&st, rt, &origin).await,
        (None, _) => None,
    };
    allow_origin(
        &mut res,
        allowed.as_ref(),
        Some(header::WWW_AUTHENTICATE.as_str()),
    );
    res
}

/// Preflight of an endpoint taking `POST` (token, revocation).
pub(crate) async fn preflight_post(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer_preflight(&st, &realm, &headers, "POST").await
}

/// Preflight of an endpoint taking `GET` and `POST` (userinfo).
pub(crate) async fn preflight_get_post(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer_preflight(&st, &realm, &headers, "GET, POST").await
}

async fn answer_preflight(
    st: &AppState,
    realm: &str,
    headers: &HeaderMap,
    methods: &str,
) -> Response {
    let allowed = match (st.realm(realm), request_origin(headers)) {
        (Some(rt), Some(origin)) => realm_allows(st, rt, origin).await,
        _ => None,
    };
    preflight(allowed.as_ref(), methods)
}

/// The client a token or revocation request names, if its body is a form.
fn claimed_client(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let form = Params::from_pairs(coeur_web::client_form(headers, body).ok()?);
    let authz = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    tok::presented(authz, &form)
        .ok()
        .and_then(|p| p.claimed_id())
        .or_else(|| form.get("client_id").map(str::to_owned))
}

async fn client_allows(
    st: &AppState,
    rt: &RealmRt,
    client_id: &str,
    origin: &str,
) -> Option<OriginAllowed> {
    match st.client(rt, client_id).await {
        Ok(c) => c.and_then(|c| WebOrigins::of_client(&c.spec).allow(origin)),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "client lookup for CORS");
            None
        }
    }
}

async fn realm_allows(st: &AppState, rt: &RealmRt, origin: &str) -> Option<OriginAllowed> {
    match st.realm_origins(rt).await {
        Ok(o) => o.allow(origin),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "realm origins for CORS");
            None
        }
    }
}

/// An answer that depends on the request's origin, to a request without one.
fn vary(mut res: Response) -> Response {
    allow_origin(&mut res, None, None);
    res
}
