//! Passkeys (beyond PSC): a professional's e-CPS kept as a WebAuthn credential with user
//! verification, for same-device login, phishing-resistant.
//!
//! Registration, from the e-CPS web app (an active device's credential as bearer):
//! `POST …/ecps/passkeys/options` gives the options of `navigator.credentials.create` (a
//! one-time challenge for this professional, ES256, a discoverable credential, user
//! verification required, attestation `none`); `POST …/ecps/passkeys` with `{challenge,
//! client_data_json, attestation_object, name}` (base64url) records the credential once
//! `coeur_oauth::webauthn::verify_registration` accepts it. `GET …/ecps/passkeys` lists them and `DELETE …/ecps/passkeys/{credential_id}` removes one
//! (the professional's own only; a removed passkey logs nobody in).
//!
//! Login: the wallet's `method=passkey` answers a page whose script asks the browser for an
//! assertion by a discoverable credential (no national id typed: nothing tells who has a
//! passkey) over a one-time challenge bound to the pending login, then posts it to
//! `…/auth/passkey`; the login completes once `verify_assertion` accepts it and the counter is
//! stored (compare-and-set). ID token: `authMode` MOBILE (PSC knows no passkey; it is the
//! professional's mobile means), `amr` `hwk user mfa`, `acr` from the realm's mapping.
//!
//! The RP ID is the host of the server's public URL and the origin its origin: a passkey works
//! only on the origin that registered it.

use super::{
    Listener, LoginContext, LoginMethod, LoginRefusal, WalletSubmission, finish_login,
    pending_for_browser,
};
use crate::St;
use crate::authorize::validate_request;
use crate::ecps::ApiError;
use crate::ecps::api::{caller, realm_of};
use crate::ecps::app::allow_scripts;
use crate::error::{ProviderError, realm_or_404};
use crate::state::AppState;
use crate::store::{ChallengePurpose, NewPasskey};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coeur_common::identity::NationalId;
use coeur_common::random::token as random_token;
use coeur_oauth::ecps::{DevicePublicKey, REQUEST_TTL};
use coeur_oauth::jose::token_hash;
use coeur_oauth::realm::AuthMethod;
use coeur_oauth::webauthn::{self, RelyingParty};
use coeur_web::{Text, form_pairs, localized_page};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Login with a passkey.
pub(crate) struct PasskeyLogin;

/// The longest passkey name kept.
const MAX_NAME: usize = 100;

/// The server's RP ID and origin, from its public URL.
struct Rp {
    id: String,
    origin: String,
}

impl Rp {
    fn of(st: &AppState) -> anyhow::Result<Self> {
        let u = url::Url::parse(&st.urls.public_url)?;
        let id = u
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("the public URL has no host"))?
            .to_owned();
        Ok(Rp {
            id,
            origin: u.origin().ascii_serialization(),
        })
    }

    fn as_rp(&self) -> RelyingParty<'_> {
        RelyingParty {
            id: &self.id,
            origin: &self.origin,
        }
    }
}

impl LoginMethod for PasskeyLogin {
    fn method(&self) -> AuthMethod {
        AuthMethod::Passkey
    }

    fn start<'a>(
        &'a self,
        form: WalletSubmission<'a>,
    ) -> BoxFuture<'a, Result<Response, LoginRefusal>> {
        Box::pin(async move {
            let cx = &form.login;
            if !coeur_oauth::authorize::method_meets(cx.req, self.acr(&cx.rt.realm)) {
                return Err(LoginRefusal::Message(
                    Text::new("login.too_weak"),
                    StatusCode::BAD_REQUEST,
                ));
            }
            let challenge = random_token(&*cx.st.rng);
            cx.st
                .store
                .create_passkey_challenge(
                    &cx.rt.realm.name,
                    &token_hash(&challenge),
                    ChallengePurpose::Login,
                    cx.pending_hash,
                    cx.now,
                    cx.now + REQUEST_TTL,
                )
                .await?;
            let rp = Rp::of(cx.st)?;
            Ok(login_page(
                &cx.rt.realm.display_name,
                &cx.rt.realm.name,
                &rp,
                &challenge,
                StatusCode::OK,
                false,
            ))
        })
    }

    fn routes(&self, listener: Listener) -> Router<Arc<AppState>> {
        let e = "/auth/realms/{realm}/ecps";
        match listener {
            Listener::Main => Router::new()
                .route(
                    "/auth/realms/{realm}/protocol/openid-connect/auth/passkey",
                    post(login),
                )
                .route(&format!("{e}/passkeys/options"), post(register_options))
                .route(&format!("{e}/passkeys"), get(list).post(register))
                .route(&format!("{e}/passkeys/{{credential_id}}"), delete(remove)),
            Listener::Card => Router::new(),
        }
    }
}

/// The login page: its script asks for an assertion over `challenge` and posts it.
fn login_page(
    realm: &str,
    realm_name: &str,
    rp: &Rp,
    challenge: &str,
    status: StatusCode,
    refused: bool,
) -> Response {
    let mut res = localized_page(
        status,
        "passkey.html",
        minijinja::context! {
            realm,
            challenge,
            rp_id => rp.id,
            refused,
            action => format!("/auth/realms/{realm_name}/protocol/openid-connect/auth/passkey"),
            script => format!("/auth/realms/{realm_name}/ecps/app/passkey.js"),
        },
    );
    allow_scripts(&mut res);
    res
}

fn b64(field: &'static str, s: Option<&str>) -> Result<Vec<u8>, &'static str> {
    s.and_then(|v| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok())
        .ok_or(field)
}

/// `POST …/auth/passkey`: the assertion (`challenge`, `credential_id`, `client_data_json`,
/// `authenticator_data`, `signature`, base64url) for the pending login the challenge was
/// given for.
async fn login(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let now = st.now();
    let expired = ProviderError::page_expired;
    let form: std::collections::HashMap<String, String> = form_pairs(&body).into_iter().collect();
    let get = |k: &str| form.get(k).map(String::as_str);
    let challenge = get("challenge").ok_or_else(expired)?;
    let refused = || {
        ProviderError::page(
            StatusCode::BAD_REQUEST,
            Text::new("error.login_refused.title"),
            Text::new("passkey.refused"),
        )
    };
    let parsed = (|| {
        Ok::<_, &str>((
            b64("credential_id", get("credential_id"))?,
            b64("client_data_json", get("client_data_json"))?,
            b64("authenticator_data", get("authenticator_data"))?,
            b64("signature", get("signature"))?,
        ))
    })();
    let Ok((credential_id, client_data, auth_data, signature)) = parsed else {
        return Err(refused());
    };
    // The pending login the challenge was given for, in this browser; the challenge is used
    // up whatever follows.
    let Some(pending_hash) = st
        .store
        .take_passkey_challenge(
            &rt.realm.name,
            &token_hash(challenge),
            ChallengePurpose::Login,
            now,
        )
        .await?
    else {
        return Err(expired());
    };
    let params = pending_for_browser(&st, &rt, &pending_hash, &headers, now, expired).await?;
    let (req, _client) = validate_request(&st, &rt, &params).await?;
    let id = URL_SAFE_NO_PAD.encode(&credential_id);
    let Some(stored) = st.store.passkey(&rt.realm.name, &id).await? else {
        return Err(refused());
    };
    let key = URL_SAFE_NO_PAD
        .decode(&stored.public_key)
        .map_err(anyhow::Error::from)
        .and_then(|k| DevicePublicKey::from_sec1(&k).map_err(anyhow::Error::from))?;
    let rp = Rp::of(&st)?;
    let seen = u32::try_from(stored.sign_count).unwrap_or(u32::MAX);
    let verified = match webauthn::verify_assertion(
        &rp.as_rp(),
        challenge,
        &key,
        seen,
        &client_data,
        &auth_data,
        &signature,
    ) {
        Ok(v) => v,
        Err(e) => {
            tracing::info!(realm = %rt.realm.name, error = %e, "passkey assertion refused");
            return Err(refused());
        }
    };
    if !st
        .store
        .passkey_used(
            &rt.realm.name,
            &id,
            stored.sign_count,
            i64::from(verified.sign_count()),
            now,
        )
        .await?
    {
        return Err(refused());
    }
    let national_id = NationalId::parse(&stored.national_id).map_err(|_| refused())?;
    let cx = LoginContext {
        st: &st,
        rt: &rt,
        req: &req,
        pending_hash: &pending_hash,
        headers: &headers,
        now,
    };
    match finish_login(&cx, &national_id, &PasskeyLogin).await {
        Ok(r) => Ok(r),
        Err(LoginRefusal::Message(m, status) | LoginRefusal::NationalId(m, status)) => Err(
            ProviderError::page(status, Text::new("error.login_refused.title"), m),
        ),
        Err(LoginRefusal::Expired | LoginRefusal::RateLimited(_)) => Err(expired()),
        Err(LoginRefusal::Internal(e)) => Err(e.into()),
    }
}

/// The opaque user handle of a professional: no personal data in the authenticator.
fn user_handle(realm: &str, national_id: &str) -> String {
    let h = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("coeur-passkey\n{realm}\n{national_id}").as_bytes(),
    );
    URL_SAFE_NO_PAD.encode(h.as_ref())
}

/// `POST …/ecps/passkeys/options` (device credential): the options of
/// `navigator.credentials.create` (binary fields base64url).
async fn register_options(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rt = realm_of(&st, &realm)?;
    let me = caller(&st, &rt, &headers).await?;
    let now = st.now();
    let challenge = random_token(&*st.rng);
    st.store
        .create_passkey_challenge(
            &rt.realm.name,
            &token_hash(&challenge),
            ChallengePurpose::Register,
            &me.national_id,
            now,
            now + REQUEST_TTL,
        )
        .await?;
    let rp = Rp::of(&st)?;
    let exclude: Vec<Value> = st
        .store
        .passkeys(&rt.realm.name, &me.national_id)
        .await?
        .iter()
        .map(|p| json!({ "type": "public-key", "id": p.credential_id }))
        .collect();
    Ok(Json(json!({
        "challenge": challenge,
        "rp": { "id": rp.id, "name": rt.realm.display_name },
        "user": {
            "id": user_handle(&rt.realm.name, &me.national_id),
            "name": me.national_id,
            "displayName": me.national_id,
        },
        "pubKeyCredParams": [{ "type": "public-key", "alg": -7 }],
        "authenticatorSelection": {
            "residentKey": "required",
            "requireResidentKey": true,
            "userVerification": "required",
        },
        "attestation": "none",
        "timeout": REQUEST_TTL * 1000,
        "excludeCredentials": exclude,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    challenge: String,
    client_data_json: String,
    attestation_object: String,
    name: String,
}

fn bad(description: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// `POST …/ecps/passkeys` (device credential): records the credential made with the options'
/// challenge → `{credential_id}` (201).
async fn register(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let rt = realm_of(&st, &realm)?;
    let me = caller(&st, &rt, &headers).await?;
    let b: RegisterBody = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("the body is not the JSON expected: {e}")))?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(bad(format!(
            "name must be 1 to {MAX_NAME} printable characters"
        )));
    }
    let decode = |f: &'static str, v: &str| {
        b64(f, Some(v)).map_err(|f| bad(format!("{f} is not base64url")))
    };
    let client_data = decode("client_data_json", &b.client_data_json)?;
    let attestation = decode("attestation_object", &b.attestation_object)?;
    let now = st.now();
    let given_to = st
        .store
        .take_passkey_challenge(
            &rt.realm.name,
            &token_hash(&b.challenge),
            ChallengePurpose::Register,
            now,
        )
        .await?;
    if given_to.as_deref() != Some(me.national_id.as_str()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_challenge",
            "unknown, expired or used challenge",
        ));
    }
    let rp = Rp::of(&st)?;
    let done = webauthn::verify_registration(&rp.as_rp(), &b.challenge, &client_data, &attestation)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_credential", e.to_string()))?;
    let credential_id = URL_SAFE_NO_PAD.encode(&done.credential_id);
    let created = st
        .store
        .create_passkey(
            &rt.realm.name,
            &NewPasskey {
                credential_id: &credential_id,
                national_id: &me.national_id,
                name,
                public_key: &URL_SAFE_NO_PAD.encode(done.public_key.as_bytes()),
                sign_count: i64::from(done.sign_count),
                created_at: now,
            },
        )
        .await?;
    if !created {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "credential_exists",
            "this credential is already registered",
        ));
    }
    tracing::info!(realm = %rt.realm.name, device = %me.device_id, "passkey registered");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "credential_id": credential_id })),
    )
        .into_response())
}

/// `GET …/ecps/passkeys` (device credential): the professional's passkeys.
async fn list(st: St, Path(realm): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let rt = realm_of(&st, &realm)?;
    let me = caller(&st, &rt, &headers).await?;
    let all = st.store.passkeys(&rt.realm.name, &me.national_id).await?;
    let list: Vec<Value> = all
        .iter()
        .map(|p| {
            json!({
                "credential_id": p.credential_id,
                "name": p.name,
                "created_at": p.created_at,
                "last_used_at": p.last_used_at,
            })
        })
        .collect();
    Ok(Json(json!({ "passkeys": list })).into_response())
}

/// `DELETE …/ecps/passkeys/{credential_id}` (an active device's credential as bearer): removes
/// one of the caller's passkeys (`204`); another professional's or an unknown one is `404`.
async fn remove(
    st: St,
    Path((realm, credential_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rt = realm_of(&st, &realm)?;
    let me = caller(&st, &rt, &headers).await?;
    if !st
        .store
        .remove_passkey(&rt.realm.name, &me.national_id, &credential_id)
        .await?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_passkey",
            "no such passkey for this professional",
        ));
    }
    tracing::info!(realm = %rt.realm.name, device = %me.device_id, "passkey removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}
