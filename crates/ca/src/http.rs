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
use coeur_oauth::claims::AccessTokenClaims;
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

fn ca_error(e: CaError) -> Response {
    match e {
        CaError::Csr(c) => api_error(StatusCode::BAD_REQUEST, "invalid_request", &c.to_string()),
        CaError::UnknownCa(_) | CaError::UnknownProfile(_) => {
            api_error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string())
        }
        CaError::NotFound => api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such request or certificate",
        ),
        CaError::AlreadyRevoked => {
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
        Ok(path) => match tokio::fs::File::open(&path).await {
            Ok(f) => {
                let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(f));
                (
                    StatusCode::OK,
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/pkix-crl"),
                    )],
                    body,
                )
                    .into_response()
            }
            Err(e) => ca_error(CaError::Internal(e.into())),
        },
        Err(CaError::UnknownCa(_)) => api_error(StatusCode::NOT_FOUND, "not_found", "no such CA"),
        Err(e) => ca_error(e),
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

async fn submit(st: St, bearer: Bearer<CaRequest>, body: Bytes) -> Response {
    let who = bearer.caller();
    let b: SubmitBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("body: {e}"),
            );
        }
    };
    let csr = match (&b.csr, &b.generate_key) {
        (Some(_), Some(_)) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send either csr or generate_key",
            );
        }
        (None, None) => {
            return api_error(StatusCode::BAD_REQUEST, "invalid_request", "csr is missing");
        }
        (csr, _) => csr.as_deref(),
    };
    if let Some(refused) = policy_refusal(&*st.policy, &bearer.claims, &b) {
        return refused;
    }
    if let Some(g) = &b.generate_key {
        return submit_generated_key(&st, &who, &b, g).await;
    }
    let csr = csr.unwrap_or_default();
    match st
        .ca
        .submit(
            &st.store,
            &*st.rng,
            &IssueRequest {
                requester: &who,
                ca_id: &b.ca,
                profile: &b.profile,
                csr: csr.as_bytes(),
                subject: &b.subject,
            },
            st.now(),
        )
        .await
    {
        Ok(o) => (StatusCode::CREATED, axum::Json(o)).into_response(),
        Err(e) => ca_error(e),
    }
}

/// The issuance policy's refusal of a submission, as a 403 `access_denied` answer; `None`
/// when the policy allows it.
fn policy_refusal(
    policy: &dyn IssuancePolicy,
    claims: &AccessTokenClaims,
    b: &SubmitBody,
) -> Option<Response> {
    let caller = Caller::from_claims(claims);
    policy
        .may_request(&caller, &RequestScope::of(&b.ca, &b.profile, &b.subject))
        .err()
        .map(|r| api_error(StatusCode::FORBIDDEN, "access_denied", &r.0))
}

/// Sandbox only: the CA generates the key pair and answers the certificate with a PKCS#12.
async fn submit_generated_key(
    st: &CaState,
    who: &str,
    b: &SubmitBody,
    g: &GenerateKey,
) -> Response {
    let issued = st
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
        .await;
    match issued {
        Ok((serial, cert, p12)) => (
            StatusCode::CREATED,
            axum::Json(json!({
                "status": "issued", "serial": serial, "certificate": cert_pem(&cert),
                "pkcs12": coeur_common::encoding::b64(&p12),
            })),
        )
            .into_response(),
        Err(e) => ca_error(e),
    }
}

async fn approve(st: St, bearer: Bearer<CaApprove>, Path(id): Path<String>) -> Response {
    let who = bearer.caller();
    match st
        .ca
        .approve(&st.store, &*st.rng, &id, &who, st.now())
        .await
    {
        Ok(o) => axum::Json(o).into_response(),
        Err(e) => ca_error(e),
    }
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
) -> Response {
    let who = bearer.caller();
    let b: ReasonBody = serde_json::from_slice(&body).unwrap_or_default();
    match st
        .ca
        .reject(
            &st.store,
            &id,
            &who,
            b.reason.as_deref().unwrap_or("rejected"),
            st.now(),
        )
        .await
    {
        Ok(()) => axum::Json(json!({ "id": id, "status": "rejected" })).into_response(),
        Err(e) => ca_error(e),
    }
}

async fn list(
    st: St,
    _bearer: Bearer<CaRead>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    match st
        .ca
        .list(
            &st.store,
            ListFilter {
                ca: q.get("ca").map(String::as_str),
                profile: q.get("profile").map(String::as_str),
                subject_contains: q.get("q").map(String::as_str),
                limit,
            },
        )
        .await
    {
        Ok(v) => axum::Json(json!({ "certificates": v })).into_response(),
        Err(e) => ca_error(e),
    }
}

async fn get_cert(
    st: St,
    _bearer: Bearer<CaRead>,
    Path((ca, serial)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let der = match st.ca.certificate(&st.store, &ca, &serial).await {
        Ok(d) => d,
        Err(e) => return ca_error(e),
    };
    match q.get("format").map(String::as_str).unwrap_or("pem") {
        "pem" => typed("application/x-pem-file", cert_pem(&der).into_bytes()),
        "der" => typed("application/pkix-cert", der),
        "p7b" => {
            let mut certs = vec![der];
            certs.extend(st.ca.chain(&ca));
            typed("application/pkcs7-mime", pkcs7_certs(&certs))
        }
        _ => api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "format is pem, der or p7b",
        ),
    }
}

async fn revoke(
    st: St,
    bearer: Bearer<CaRevoke>,
    Path((ca, serial)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let who = bearer.caller();
    let b: ReasonBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(_) if body.is_empty() => ReasonBody::default(),
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("body: {e}"),
            );
        }
    };
    let reason = match b.reason.as_deref() {
        None => Reason::Unspecified,
        Some(r) => match Reason::parse(r) {
            Some(r) => r,
            None => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "reason is an RFC 5280 CRLReason name (keyCompromise, superseded, …)",
                );
            }
        },
    };
    match st
        .ca
        .revoke(&st.store, &ca, &serial, reason, &who, st.now())
        .await
    {
        Ok(()) => {
            axum::Json(json!({ "ca": ca, "serial": serial, "status": "revoked", "reason": reason }))
                .into_response()
        }
        Err(e) => ca_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyRefusal;

    /// Refuses every request for profile `SSL_SERV`.
    struct NoServers;

    impl IssuancePolicy for NoServers {
        fn may_request(&self, c: &Caller, r: &RequestScope<'_>) -> Result<(), PolicyRefusal> {
            if r.profile == "SSL_SERV" {
                Err(PolicyRefusal(format!(
                    "{} may not ask for server certificates",
                    c.client_id
                )))
            } else {
                Ok(())
            }
        }
    }

    fn claims() -> AccessTokenClaims {
        serde_json::from_value(json!({
            "iss": "https://coeur.test/realms/sandbox", "sub": "u", "aud": "coeur-ca",
            "client_id": "structure-1", "exp": 2, "iat": 1, "jti": "j", "scope": "ca:request",
        }))
        .expect("claims")
    }

    fn body(profile: &str) -> SubmitBody {
        serde_json::from_value(json!({
            "ca": "MOD-EL-ORG-TEST", "profile": profile, "csr": "-",
            "subject": { "dns_names": ["a.test"] },
        }))
        .expect("body")
    }

    #[tokio::test]
    async fn a_policy_refusal_is_access_denied() {
        let refused = policy_refusal(&NoServers, &claims(), &body("SSL_SERV")).expect("refused");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let bytes = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(
            v,
            json!({
                "error": "access_denied",
                "error_description": "structure-1 may not ask for server certificates",
            })
        );
        assert!(policy_refusal(&NoServers, &claims(), &body("ORG_AUTH_CLI")).is_none());
        assert!(policy_refusal(&crate::policy::AllowAll, &claims(), &body("SSL_SERV")).is_none());
    }
}
