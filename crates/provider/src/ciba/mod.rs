//! CIBA (OpenID Connect CIBA Core 1.0) at Keycloak's path, as Pro Santé Connect runs it: the
//! authentication request endpoint (`auth`), the token endpoint's grant (`grant`), the card
//! channel's approval page on the card listener (`card`), and the ping sent to a client once
//! its request is decided ([`decided`]). The checks are `coeur_oauth::ciba`'s.
//!
//! A request is an approval request of origin `ciba` (`store/approvals.rs`): on channel
//! `MOBILE` it is shown on the professional's e-CPS devices, which sign their decision; on
//! `CARD` the professional presents their card on the approval page. The `auth_req_id` is a
//! 256-bit secret of the client's, stored hashed; a ping client's `auth_req_id` and
//! notification token are kept sealed under the master key until the ping is sent.

pub(crate) mod card;
pub(crate) mod grant;
pub(crate) mod polls;

use crate::St;
use crate::authorize::verify_id_token_hint;
use crate::client_auth::{AuthAt, authenticate_client};
use crate::ecps::limiter::Rule;
use crate::error::{ProviderError, realm_or_invalid};
use crate::state::{AppState, RealmRt};
use crate::store::{ApprovalRow, NewApproval};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coeur_common::identity::NationalId;
use coeur_common::random::{id128, token as random_token};
use coeur_oauth::authorize::Params;
use coeur_oauth::ciba::{self, DeliveryMode, Hint, INTERVAL};
use coeur_oauth::client::Client;
use coeur_oauth::discovery::Endpoints;
use coeur_oauth::ecps::{Channel, Origin, Status};
use coeur_oauth::error::OAuthError;
use coeur_oauth::jose::token_hash;
use coeur_web::mtls::PeerCertificate;
use coeur_web::{client_form, no_store};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What a CIBA request keeps for its completion (`params` of its approval request).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Stored {
    /// The scopes granted.
    pub scope: String,
    /// Ping: the `auth_req_id` and notification token, sealed ([`Ping`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping: Option<String>,
}

/// What a ping needs, sealed while the request waits.
#[derive(Serialize, Deserialize)]
struct Ping {
    auth_req_id: String,
    token: String,
}

/// The sealing context of request `id`'s ping.
fn ping_context(realm: &str, id: &str) -> String {
    format!("coeur/ciba-ping/{realm}/{id}")
}

/// `POST {issuer}/protocol/openid-connect/ext/ciba/auth`: a client asks for a professional's
/// approval. Client authentication is the token endpoint's. Whether the professional exists,
/// or has a device, is not looked at: the request is created and answered all the same, and
/// one nobody can approve expires.
pub(crate) async fn authentication_request(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let rt = realm_or_invalid(&st, &realm)?;
    let form = Params::from_pairs(client_form(&headers, &body)?);
    let auth = authenticate_client(&st, &rt, AuthAt::Ciba, &headers, &form, peer.as_ref()).await?;
    let client = auth.client();
    let now = st.now();
    let (params, signed) = match form.get("request") {
        Some(jwt) => (signed_params(&st, &rt, client, jwt, now).await?, true),
        None => (form, false),
    };
    let req = ciba::validate(&params, client, &rt.realm, signed)?;
    let national_id = professional(&rt, client, &ciba::hint(&params)?, now)?;
    if let Err(wait) = st.ecps_limits.hit(
        &format!("{}:ciba:nid:{}", rt.realm.name, national_id.as_str()),
        Rule::per_minute(rt.realm.limits.ecps_per_national_id),
        now,
    ) {
        return Err(too_many(wait));
    }
    let id = id128(&*st.rng);
    let auth_req_id = random_token(&*st.rng);
    let ping = match (&req.delivery, &req.client_notification_token) {
        (DeliveryMode::Ping, Some(token)) => {
            let p = Ping {
                auth_req_id: auth_req_id.clone(),
                token: token.clone(),
            };
            let plain = serde_json::to_vec(&p).map_err(anyhow::Error::from)?;
            Some(
                st.keys
                    .master()
                    .seal(&ping_context(&rt.realm.name, &id), &plain)?,
            )
        }
        _ => None,
    };
    let stored = Stored {
        scope: req.scope.join(" "),
        ping,
    };
    let params_json = serde_json::to_string(&stored).map_err(anyhow::Error::from)?;
    let nonce = random_token(&*st.rng);
    st.store
        .create_approval(&NewApproval {
            id: &id,
            realm: &rt.realm.name,
            national_id: national_id.as_str(),
            client_id: client.id(),
            origin: Origin::Ciba,
            channel: req.channel,
            binding_message: req.binding_message.as_deref(),
            acr: req.acr_min.map(|a| a.as_str()),
            nonce: &nonce,
            params: &params_json,
            secret_hash: Some(&token_hash(&auth_req_id)),
            poll_interval: Some(INTERVAL),
            created_at: now,
            expires_at: now + req.expires_in,
        })
        .await?;
    if req.channel == Channel::Mobile {
        crate::ecps::events::requests_changed(&st, &rt.realm.name, national_id.as_str());
    }
    tracing::info!(realm = %rt.realm.name, client = %client.id(), request = %id, channel = req.channel.as_str(), delivery = req.delivery.as_str(), "CIBA request");
    let body =
        json!({ "auth_req_id": auth_req_id, "expires_in": req.expires_in, "interval": INTERVAL });
    Ok((StatusCode::OK, no_store(), axum::Json(body)).into_response())
}

/// The parameters of a signed request, its `jti` checked to be new.
async fn signed_params(
    st: &AppState,
    rt: &RealmRt,
    client: &Client,
    jwt: &str,
    now: i64,
) -> Result<Params, ProviderError> {
    let e = Endpoints::of(&rt.realm.issuer);
    let audiences = [
        rt.realm.issuer.as_str(),
        e.backchannel_authentication.as_str(),
    ];
    let r = ciba::signed_request(jwt, client, &audiences, now)?;
    // Kept beside client assertions' identifiers, apart from them.
    let fresh = st
        .store
        .use_assertion_jti(
            &rt.realm.name,
            client.id(),
            &format!("ciba-request:{}", r.jti),
            r.remember_until,
        )
        .await?;
    if !fresh {
        return Err(OAuthError::invalid_request("request object: jti was already used").into());
    }
    Ok(r.params)
}

/// The professional the request's hint names.
fn professional(
    rt: &RealmRt,
    client: &Client,
    hint: &Hint,
    now: i64,
) -> Result<NationalId, ProviderError> {
    let text = match hint {
        Hint::LoginHint(h) => h.clone(),
        Hint::LoginHintToken(t) => ciba::login_hint_token(t, client, now)?,
        Hint::IdTokenHint(t) => {
            let claims = verify_id_token_hint(rt, t, Some(client)).ok_or_else(|| {
                OAuthError::invalid_request(
                    "id_token_hint is not an ID token of this realm issued to this client",
                )
            })?;
            rt.realm
                .national_id_of_subject(&claims.sub)
                .ok_or_else(|| OAuthError::invalid_request("id_token_hint: unknown subject"))?
        }
    };
    let national_id = NationalId::parse(&text)
        .map_err(|e| OAuthError::invalid_request(format!("the hint is not a national id: {e}")))?;
    national_id
        .admissible_in(rt.realm.environment())
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    Ok(national_id)
}

/// Too many requests for one professional (push-bombing): 429 with `Retry-After`.
fn too_many(seconds: i64) -> ProviderError {
    let body = json!({
        "error": "slow_down",
        "error_description": format!("too many requests for this professional: try again in {seconds} s"),
    });
    let mut res = (StatusCode::TOO_MANY_REQUESTS, no_store(), axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    ProviderError::Answer(res)
}

/// After request `row` (as stored after its decision) was decided: a ping client is told.
/// Never fails: a ping that cannot be sent is logged, and the client can still poll.
pub(crate) async fn decided(st: &AppState, row: &ApprovalRow) {
    if row.origin != Origin::Ciba || !matches!(row.status, Status::Approved | Status::Denied) {
        return;
    }
    // Its next poll reads the decision, here and on the other instances.
    st.ciba_polls.decided(&row.id);
    if st.bus.shared() {
        st.bus
            .publish(&coeur_storage::Event::CibaDecided {
                request_id: row.id.clone(),
            })
            .await;
    }
    let Some(rt) = st.realm(&row.realm).cloned() else {
        return;
    };
    let Ok(stored) = serde_json::from_str::<Stored>(&row.params) else {
        tracing::warn!(realm = %row.realm, request = %row.id, "CIBA request: stored parameters unreadable");
        return;
    };
    let Some(sealed) = stored.ping else {
        return;
    };
    let client = match st.client(&rt, &row.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(realm = %row.realm, client = %row.client_id, error = %format!("{e:#}"), "CIBA ping: client not read");
            return;
        }
    };
    let Some(uri) = client
        .spec
        .ciba
        .as_ref()
        .and_then(|c| c.client_notification_endpoint.clone())
    else {
        return;
    };
    let opened = st
        .keys
        .master()
        .open(&ping_context(&row.realm, &row.id), &sealed)
        .ok()
        .and_then(|p| serde_json::from_slice::<Ping>(&p).ok());
    let Some(ping) = opened else {
        tracing::warn!(realm = %row.realm, request = %row.id, "CIBA ping: sealed parameters unreadable");
        return;
    };
    st.backchannel
        .ping(&row.client_id, &uri, ping.token, ping.auth_req_id);
}
