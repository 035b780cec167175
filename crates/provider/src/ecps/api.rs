//! The device API, JSON under `/auth/realms/{realm}/ecps/`: enrolment with an activation
//! code, then, with the device credential as a bearer token, the requests awaiting the
//! device's professional, signed decisions, the professional's devices, and revocation.
//! A refusal is a JSON error and writes nothing.

use super::{ApiError, Attempt, decided, limit, source};
use crate::St;
use crate::state::{AppState, RealmRt};
use crate::store::{ApprovalRow, Decided, DeviceRow, Enrolment, NewDevice};
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coeur_common::random::token as random_token;
use coeur_oauth::ecps::contact::ActivationParts;
use coeur_oauth::ecps::{self, Challenge, Channel, Decision, DevicePublicKey, EcpsError};
use coeur_oauth::jose::token_hash;
use coeur_web::bearer_token;
use coeur_web::listener::PeerAddr;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// What RFC 8176 says a decision by an e-CPS device proves: a software-held key (`swk`),
/// unlocked on the device by the professional's PIN (`pin`), two factors (`mfa`). The
/// same as the login's `amr` (`AuthMethod::Ecps.amr()`).
pub(crate) const DECISION_AMR: &str = "swk pin mfa";

/// The longest device name kept.
const MAX_NAME: usize = 100;

pub(super) fn bad_request(description: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
}

pub(crate) fn realm_of(st: &AppState, realm: &str) -> Result<Arc<RealmRt>, ApiError> {
    st.realm(realm)
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown_realm", "no such realm"))
}

pub(super) fn json_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("the body is not the JSON expected: {e}")))
}

fn b64url(field: &str, s: &str) -> Result<Vec<u8>, ApiError> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| bad_request(format!("{field} is not base64url")))
}

/// The active device whose credential is the request's bearer token.
pub(crate) async fn caller(
    st: &AppState,
    rt: &RealmRt,
    headers: &HeaderMap,
) -> Result<DeviceRow, ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "unknown, revoked or expired device credential",
        )
    };
    let credential = bearer_token(headers).ok_or_else(refused)?;
    let device = st
        .store
        .device(&rt.realm.name, &token_hash(&credential))
        .await?
        .ok_or_else(refused)?;
    if !device.active(st.now()) {
        return Err(refused());
    }
    Ok(device)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolBody {
    activation_code: String,
    /// With an activation by contact details: the SMS code (`activation_code` is then the
    /// e-mail code).
    #[serde(default)]
    second_code: Option<String>,
    public_key: String,
    name: String,
}

/// `POST …/ecps/devices`: `{activation_code, public_key, name}` (a card's `first.second`
/// code), or `{activation_code, second_code, public_key, name}` (the e-mail code and the SMS
/// code of an activation by contact details) → `{device_id, credential, expires_at}` (201).
pub(crate) async fn enrol(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let rt = realm_of(&st, &realm)?;
    limit(
        &st,
        &rt.realm,
        Attempt::Enrolment,
        &source(&st, peer.as_deref(), &headers),
        None,
    )
    .map_err(ApiError::rate_limited)?;
    let b: EnrolBody = json_body(&body)?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(bad_request(format!(
            "name must be 1 to {MAX_NAME} printable characters"
        )));
    }
    let key = DevicePublicKey::from_sec1(&b64url("public_key", &b.public_key)?)
        .map_err(|e| bad_request(e.to_string()))?;
    let Some(parts) = ActivationParts::parse(&b.activation_code, b.second_code.as_deref()) else {
        return Err(invalid_activation());
    };
    let now = st.now();
    let credential = random_token(&*st.rng);
    let device_id = token_hash(&credential);
    let expires_at = now + rt.realm.lifetimes.ecps_validity;
    let new = NewDevice {
        device_id: &device_id,
        name,
        public_key: &URL_SAFE_NO_PAD.encode(key.as_bytes()),
        created_at: now,
        expires_at,
    };
    let done = st
        .store
        .enrol_device(
            &rt.realm.name,
            &token_hash(&parts.first),
            &token_hash(&parts.second),
            &new,
        )
        .await?;
    let Enrolment::Enrolled(_) = done else {
        return Err(invalid_activation());
    };
    tracing::info!(realm = %rt.realm.name, device = %device_id, "e-CPS device enrolled");
    let out = json!({ "device_id": device_id, "credential": credential, "expires_at": expires_at });
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

fn invalid_activation() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_activation",
        "unknown, expired or used activation code",
    )
}

fn device_json(d: &DeviceRow, caller: &str, now: i64) -> Value {
    json!({
        "device_id": d.device_id,
        "name": d.name,
        "created_at": d.created_at,
        "expires_at": d.expires_at,
        "revoked_at": d.revoked_at,
        "last_used_at": d.last_used_at,
        "active": d.active(now),
        "this_device": d.device_id == caller,
    })
}

/// `GET …/ecps/devices`: the professional's devices.
pub(crate) async fn devices(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rt = realm_of(&st, &realm)?;
    let me = caller(&st, &rt, &headers).await?;
    let now = st.now();
    let all = st.store.devices(&rt.realm.name, &me.national_id).await?;
    let list: Vec<Value> = all
        .iter()
        .map(|d| device_json(d, &me.device_id, now))
        .collect();
    Ok(Json(json!({ "national_id": me.national_id, "devices": list })).into_response())
}

/// `POST …/ecps/devices/revoke`: the calling device revokes itself.
pub(crate) async fn revoke(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rt = realm_of(&st, &realm)?;
    let me = caller(&st, &rt, &headers).await?;
    st.store
        .revoke_device(&rt.realm.name, &me.device_id, st.now())
        .await?;
    tracing::info!(realm = %rt.realm.name, device = %me.device_id, "e-CPS device revoked");
    super::events::requests_changed(&st, &rt.realm.name, &me.national_id);
    Ok(Json(json!({ "device_id": me.device_id, "revoked": true })).into_response())
}

fn challenge(row: &ApprovalRow, decision: Decision) -> Challenge<'_> {
    Challenge {
        realm: &row.realm,
        request_id: &row.id,
        decision,
        client_id: &row.client_id,
        binding_message: row.binding_message.as_deref(),
        nonce: &row.nonce,
        expires_at: row.expires_at,
    }
}

pub(crate) fn request_json(row: &ApprovalRow) -> Value {
    let text = |d| challenge(row, d).signed_text().ok();
    json!({
        "id": row.id,
        "realm": row.realm,
        "client_id": row.client_id,
        "binding_message": row.binding_message,
        "acr": row.acr,
        "nonce": row.nonce,
        "expires_at": row.expires_at,
        "signed_text": {
            "approve": text(Decision::Approve),
            "deny": text(Decision::Deny),
        },
    })
}

/// `GET …/ecps/requests`: the pending requests awaiting the device's professional.
pub(crate) async fn requests(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rt = realm_of(&st, &realm)?;
    let me = caller(&st, &rt, &headers).await?;
    let rows = st
        .store
        .pending_approvals(&rt.realm.name, &me.national_id, Channel::Mobile, st.now())
        .await?;
    let list: Vec<Value> = rows.iter().map(request_json).collect();
    Ok(Json(json!({ "requests": list })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideBody {
    decision: String,
    signature: String,
}

/// `POST …/ecps/requests/{id}`: `{decision, signature}`, the signature (base64url, raw
/// `r || s` or DER) over the request's challenge for that decision.
pub(crate) async fn decide(
    st: St,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let rt = realm_of(&st, &realm)?;
    let me = caller(&st, &rt, &headers).await?;
    let b: DecideBody = json_body(&body)?;
    let decision = Decision::parse(&b.decision)
        .ok_or_else(|| bad_request("decision must be approve or deny"))?;
    let signature = b64url("signature", &b.signature)?;
    let now = st.now();
    let row = awaiting(&st, &rt, &me, &id, now).await?;
    let key = URL_SAFE_NO_PAD
        .decode(&me.public_key)
        .map_err(anyhow::Error::from)
        .and_then(|k| DevicePublicKey::from_sec1(&k).map_err(anyhow::Error::from))?;
    let verified = match ecps::verify(&key, &challenge(&row, decision), &signature, now) {
        Ok(v) => v,
        Err(EcpsError::Expired) => return Err(closed()),
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "invalid_signature",
                e.to_string(),
            ));
        }
    };
    let d = Decided {
        approved: verified.decision == Decision::Approve,
        device_id: Some(&me.device_id),
        method: "ecps",
        amr: DECISION_AMR,
        at: now,
    };
    if !st
        .store
        .decide_approval(&rt.realm.name, &row.id, &d)
        .await?
    {
        return Err(closed());
    }
    st.store
        .device_used(&rt.realm.name, &me.device_id, now)
        .await?;
    super::events::request_decided(&st, &rt.realm.name, &row.id, &row.national_id);
    if let Some(after) = st.store.approval(&rt.realm.name, &row.id).await? {
        decided(&st, &after).await;
    }
    Ok(Json(json!({ "id": row.id, "decision": verified.decision.as_str() })).into_response())
}

fn closed() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "request_closed",
        "the request was already decided or has expired",
    )
}

/// The pending, unexpired request `id` on the MOBILE channel awaiting `me`'s professional;
/// another professional's request is unknown to this device.
async fn awaiting(
    st: &AppState,
    rt: &RealmRt,
    me: &DeviceRow,
    id: &str,
    now: i64,
) -> Result<ApprovalRow, ApiError> {
    let row = st
        .store
        .approval(&rt.realm.name, id)
        .await?
        .filter(|r| r.national_id == me.national_id && r.channel == Channel::Mobile)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_request",
                "no such request awaits this device",
            )
        })?;
    if row.status != coeur_oauth::ecps::Status::Pending || now >= row.expires_at {
        return Err(closed());
    }
    Ok(row)
}
