//! The CA over HTTP: public distribution (CA certificates, CRLs, OCSP) and the JSON API for
//! structures and operators, authorised by coeur's own access tokens (scopes `ca:request`,
//! `ca:approve`, `ca:revoke`, `ca:read`). See `docs/ca-api.yaml`.

use crate::ca::{CaError, IssueRequest, KeyRequest, cert_pem, pkcs7_certs};
use crate::policy::{Caller, IssuancePolicy, RequestScope};
use crate::service::CaService;
use crate::store::ListFilter;
use axum::body::Bytes;
use axum::extract::FromRef;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use coeur_pki::csr::SubjectRequest;
use coeur_pki::revocation::Reason;
use coeur_resource_server::{Bearer, Verifier, api_error, scope};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

scope! {
    pub CaRequest = "ca:request";
    pub CaApprove = "ca:approve";
    pub CaRevoke = "ca:revoke";
    pub CaRead = "ca:read";
}

/// The state of the CA's routes.
#[derive(Clone)]
pub struct CaState(pub Arc<CaService>);

impl std::ops::Deref for CaState {
    type Target = CaService;
    fn deref(&self) -> &CaService {
        &self.0
    }
}

impl FromRef<CaState> for Arc<Verifier> {
    fn from_ref(st: &CaState) -> Self {
        st.0.verifier.clone()
    }
}

type St = axum::extract::State<CaState>;

/// The CA's public routes: distribution under `/pki/` (CA certificates, chains, CRLs, OCSP)
/// and the API under `/pki/api/v1/`.
pub fn router(ca: Arc<CaService>) -> axum::Router {
    axum::Router::new()
        .route("/pki/ca/{file}", get(ca_cert))
        .route("/pki/chain/{file}", get(chain))
        .route("/pki/crl/{file}", get(crl))
        .route("/pki/ocsp", post(ocsp_post))
        .route("/pki/ocsp/{*req}", get(ocsp_get))
        .route("/pki/api/v1/requests", post(submit))
        .route("/pki/api/v1/requests/{id}/approve", post(approve))
        .route("/pki/api/v1/requests/{id}/reject", post(reject))
        .route("/pki/api/v1/certificates", get(list))
        .route("/pki/api/v1/certificates/{ca}/{serial}", get(get_cert))
        .route(
            "/pki/api/v1/certificates/{ca}/{serial}/revoke",
            post(revoke),
        )
        .with_state(CaState(ca))
}

/// The CA's operator routes, for the admin listener only: `/metrics` (LDAP publication
/// figures).
pub fn admin_router(ca: Arc<CaService>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(crate::ldap::publisher::http_metrics))
        .with_state(CaState(ca))
}

fn typed(ct: &'static str, body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(ct))],
        body,
    )
        .into_response()
}

impl IntoResponse for CaError {
    /// The one mapping of the CA's refusals to API answers: bad input 400, policy refusals 403
    /// `access_denied`, unknown objects 404, wrong state 409, the rest 500 (logged, never shown).
    fn into_response(self) -> Response {
        match self {
            CaError::Csr(c) => {
                api_error(StatusCode::BAD_REQUEST, "invalid_request", &c.to_string())
            }
            e @ (CaError::Invalid(_) | CaError::UnknownCa(_) | CaError::UnknownProfile(_)) => {
                api_error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string())
            }
            CaError::Refused(r) => api_error(StatusCode::FORBIDDEN, "access_denied", &r.0),
            CaError::NotFound => api_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such request or certificate",
            ),
            e @ CaError::AlreadyRevoked => {
                api_error(StatusCode::CONFLICT, "already_revoked", &e.to_string())
            }
            CaError::Conflict(m) => api_error(StatusCode::CONFLICT, "conflict", &m),
            CaError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "CA internal error");
                api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error",
                )
            }
        }
    }
}

// ---------------------------------------------------------------- public distribution

async fn ca_cert(st: St, Path(file): Path<String>) -> Response {
    let (id, pem) = match (file.strip_suffix(".cer"), file.strip_suffix(".pem")) {
        (Some(id), _) => (id, false),
        (_, Some(id)) => (id, true),
        _ => return api_error(StatusCode::NOT_FOUND, "not_found", "no such file"),
    };
    match st.ca.ca(id) {
        Ok(c) if pem => typed("application/x-pem-file", cert_pem(&c.cert_der).into_bytes()),
        Ok(c) => typed("application/pkix-cert", c.cert_der.clone()),
        Err(_) => api_error(StatusCode::NOT_FOUND, "not_found", "no such CA"),
    }
}

async fn chain(st: St, Path(file): Path<String>) -> Response {
    let Some(id) = file.strip_suffix(".p7b") else {
        return api_error(StatusCode::NOT_FOUND, "not_found", "no such file");
    };
    if st.ca.ca(id).is_err() {
        return api_error(StatusCode::NOT_FOUND, "not_found", "no such CA");
    }
    typed("application/pkcs7-mime", pkcs7_certs(&st.ca.chain(id)))
}

async fn crl(st: St, Path(file): Path<String>) -> Response {
    let Some(name) = file.strip_suffix(".crl") else {
        return api_error(StatusCode::NOT_FOUND, "not_found", "no such file");
    };
    let (id, delta) = match name.strip_suffix("-delta") {
        Some(id) => (id, true),
        None => (name, false),
    };
    match st.ca.current_crl(&st.store, id, delta, st.now()).await {
        Ok(der) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pkix-crl"),
            )],
            der.to_vec(),
        )
            .into_response(),
        Err(CaError::UnknownCa(_)) => api_error(StatusCode::NOT_FOUND, "not_found", "no such CA"),
        Err(e) => e.into_response(),
    }
}

fn ocsp_response(body: Vec<u8>, cacheable: bool) -> Response {
    let mut r = typed("application/ocsp-response", body);
    if cacheable {
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=300, public, no-transform, must-revalidate"),
        );
    }
    r
}

async fn ocsp_get(st: St, Path(b64): Path<String>) -> Response {
    use base64::Engine as _;
    let decoded = percent_decode(&b64);
    let der = base64::engine::general_purpose::STANDARD
        .decode(decoded.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(decoded.trim()));
    match der {
        Ok(d) => ocsp_response(st.ca.ocsp(&st.store, &d, st.now()).await, true),
        Err(_) => ocsp_response(
            coeur_pki::ocsp::refusal(coeur_pki::ocsp::OcspRefusal::Malformed),
            false,
        ),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn ocsp_post(st: St, body: Bytes) -> Response {
    ocsp_response(st.ca.ocsp(&st.store, &body, st.now()).await, false)
}

// ---------------------------------------------------------------- API

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    ca: String,
    profile: String,
    #[serde(default)]
    csr: Option<String>,
    #[serde(default)]
    subject: SubjectRequest,
    /// Sandbox only: the CA generates the key pair and answers a PKCS#12.
    #[serde(default)]
    generate_key: Option<GenerateKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateKey {
    key_type: coeur_pki::hierarchy::KeyType,
    password: String,
}

async fn submit(st: St, bearer: Bearer<CaRequest>, body: Bytes) -> Result<Response, CaError> {
    let who = bearer.caller();
    let b: SubmitBody =
        serde_json::from_slice(&body).map_err(|e| CaError::Invalid(format!("body: {e}")))?;
    let csr = match (&b.csr, &b.generate_key) {
        (Some(_), Some(_)) => {
            return Err(CaError::Invalid("send either csr or generate_key".into()));
        }
        (None, None) => return Err(CaError::Invalid("csr is missing".into())),
        (csr, _) => csr.as_deref(),
    };
    let entitlements = st.requesters.entitlements(&bearer.claims.client_id).await?;
    let caller = Caller::from_claims(&bearer.claims, entitlements);
    may_request(&st, &*st.policy, &caller, &b)?;
    if let Some(g) = &b.generate_key {
        return submit_generated_key(&st, &who, &b, g).await;
    }
    let outcome = st
        .ca
        .submit(
            &st.store,
            &*st.rng,
            &IssueRequest {
                requester: &who,
                ca_id: &b.ca,
                profile: &b.profile,
                csr: csr.unwrap_or_default().as_bytes(),
                subject: &b.subject,
            },
            st.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(outcome)).into_response())
}

/// The issuance policy's decision on a submission, before anything is written: `Err` is the
/// refusal (403 `access_denied`), or an unknown profile (400).
fn may_request(
    st: &CaService,
    policy: &dyn IssuancePolicy,
    caller: &Caller,
    b: &SubmitBody,
) -> Result<(), CaError> {
    let profile = st
        .ca
        .profile(&b.profile)
        .ok_or_else(|| CaError::UnknownProfile(b.profile.clone()))?;
    let scope = RequestScope::of(&b.ca, &b.profile, profile.subject, &b.subject);
    Ok(policy.may_request(caller, &scope)?)
}

/// Sandbox only: the CA generates the key pair and answers the certificate with a PKCS#12.
async fn submit_generated_key(
    st: &CaState,
    who: &str,
    b: &SubmitBody,
    g: &GenerateKey,
) -> Result<Response, CaError> {
    let (serial, cert, p12) = st
        .ca
        .issue_with_generated_key(
            &*st.rng,
            &KeyRequest {
                requester: who,
                ca_id: &b.ca,
                profile: &b.profile,
                key_type: g.key_type,
                subject: &b.subject,
                password: &g.password,
            },
            st.now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "status": "issued", "serial": serial, "certificate": cert_pem(&cert),
            "pkcs12": coeur_common::encoding::b64(&p12),
        })),
    )
        .into_response())
}

async fn approve(
    st: St,
    bearer: Bearer<CaApprove>,
    Path(id): Path<String>,
) -> Result<Response, CaError> {
    let who = bearer.caller();
    let outcome = st
        .ca
        .approve(&st.store, &*st.rng, &id, &who, st.now())
        .await?;
    Ok(axum::Json(outcome).into_response())
}

#[derive(Deserialize, Default)]
struct ReasonBody {
    #[serde(default)]
    reason: Option<String>,
}

async fn reject(
    st: St,
    bearer: Bearer<CaApprove>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, CaError> {
    let who = bearer.caller();
    let b: ReasonBody = serde_json::from_slice(&body).unwrap_or_default();
    let reason = b.reason.as_deref().unwrap_or("rejected");
    st.ca.reject(&st.store, &id, &who, reason, st.now()).await?;
    Ok(axum::Json(json!({ "id": id, "status": "rejected" })).into_response())
}

async fn list(
    st: St,
    _bearer: Bearer<CaRead>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, CaError> {
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let filter = ListFilter {
        ca: q.get("ca").map(String::as_str),
        profile: q.get("profile").map(String::as_str),
        subject_contains: q.get("q").map(String::as_str),
        limit,
    };
    let v = st.ca.list(&st.store, filter).await?;
    Ok(axum::Json(json!({ "certificates": v })).into_response())
}

async fn get_cert(
    st: St,
    _bearer: Bearer<CaRead>,
    Path((ca, serial)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, CaError> {
    let der = st.ca.certificate(&st.store, &ca, &serial).await?;
    Ok(match q.get("format").map(String::as_str).unwrap_or("pem") {
        "pem" => typed("application/x-pem-file", cert_pem(&der).into_bytes()),
        "der" => typed("application/pkix-cert", der),
        "p7b" => {
            let mut certs = vec![der];
            certs.extend(st.ca.chain(&ca));
            typed("application/pkcs7-mime", pkcs7_certs(&certs))
        }
        _ => return Err(CaError::Invalid("format is pem, der or p7b".into())),
    })
}

async fn revoke(
    st: St,
    bearer: Bearer<CaRevoke>,
    Path((ca, serial)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, CaError> {
    let who = bearer.caller();
    let b: ReasonBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(_) if body.is_empty() => ReasonBody::default(),
        Err(e) => return Err(CaError::Invalid(format!("body: {e}"))),
    };
    let reason = match b.reason.as_deref() {
        None => Reason::Unspecified,
        Some(r) => Reason::parse(r).ok_or_else(|| {
            CaError::Invalid(
                "reason is an RFC 5280 CRLReason name (keyCompromise, superseded, …)".into(),
            )
        })?,
    };
    st.ca
        .revoke(&st.store, &ca, &serial, reason, &who, st.now())
        .await?;
    Ok(
        axum::Json(json!({ "ca": ca, "serial": serial, "status": "revoked", "reason": reason }))
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyRefusal;

    async fn answer(e: CaError) -> (StatusCode, serde_json::Value) {
        let r = e.into_response();
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn every_ca_error_has_one_answer() {
        let refused = CaError::Refused(PolicyRefusal("ca-client may not ask for this".into()));
        assert_eq!(
            answer(refused).await,
            (
                StatusCode::FORBIDDEN,
                json!({
                    "error": "access_denied",
                    "error_description": "ca-client may not ask for this",
                })
            )
        );
        let cases = [
            (
                CaError::Invalid("csr is missing".into()),
                400,
                "invalid_request",
            ),
            (CaError::UnknownProfile("X".into()), 400, "invalid_request"),
            (CaError::NotFound, 404, "not_found"),
            (CaError::AlreadyRevoked, 409, "already_revoked"),
            (CaError::Conflict("pending".into()), 409, "conflict"),
            (
                CaError::Internal(anyhow::anyhow!("secret detail")),
                500,
                "server_error",
            ),
        ];
        for (e, status, error) in cases {
            let (st, v) = answer(e).await;
            assert_eq!(
                (st.as_u16(), v["error"].as_str()),
                (status, Some(error)),
                "{v}"
            );
            assert!(!v.to_string().contains("secret detail"), "{v}");
        }
    }
}
