//! Login with an e-CPS: the wallet form names the professional; an approval request (origin
//! wallet, channel MOBILE) awaits their devices, and the browser waits on a page that checks
//! again by itself until the request is decided or expires. The e-CPS routes (device API,
//! enrolment by card) are this method's routes too.

use super::{
    Listener, LoginContext, LoginMethod, LoginRefusal, WalletSubmission, finish_login,
    national_id_error, pending_for_browser,
};
use crate::St;
use crate::authorize::validate_request;
use crate::ecps::{Attempt, api, app, contact, enrol, events, limit};
use crate::error::{ProviderError, realm_or_404};
use crate::state::{AppState, RealmRt};
use crate::store::{ApprovalRow, NewApproval};
use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use coeur_common::identity::NationalId;
use coeur_common::random::{id128, token as random_token};
use coeur_oauth::authorize::{self, Params};
use coeur_oauth::ecps::{Channel, Origin, REQUEST_TTL, Status};
use coeur_oauth::realm::AuthMethod;
use coeur_web::{Text, localized_page, query_pairs};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::sync::Arc;

/// Login with an e-CPS device.
pub(crate) struct EcpsLogin;

impl LoginMethod for EcpsLogin {
    fn method(&self) -> AuthMethod {
        AuthMethod::Ecps
    }

    fn start<'a>(
        &'a self,
        form: WalletSubmission<'a>,
    ) -> BoxFuture<'a, Result<Response, LoginRefusal>> {
        Box::pin(async move {
            let cx = &form.login;
            if !authorize::method_meets(cx.req, self.acr(&cx.rt.realm)) {
                return Err(LoginRefusal::Message(
                    Text::new("login.too_weak"),
                    StatusCode::BAD_REQUEST,
                ));
            }
            let national_id = NationalId::parse(form.typed_national_id).map_err(|e| {
                LoginRefusal::NationalId(national_id_error(&e), StatusCode::BAD_REQUEST)
            })?;
            if let Err(wait) = limit(
                cx.st,
                &cx.rt.realm,
                Attempt::Login,
                &form.source,
                Some(national_id.as_str()),
            ) {
                return Err(LoginRefusal::RateLimited(wait));
            }
            start_request(cx, &national_id).await
        })
    }

    fn routes(&self, listener: Listener) -> Router<Arc<AppState>> {
        let e = "/auth/realms/{realm}/ecps";
        match listener {
            Listener::Main => Router::new()
                .route(
                    "/auth/realms/{realm}/protocol/openid-connect/auth/ecps",
                    get(waiting),
                )
                .route(&format!("{e}/devices"), get(api::devices).post(api::enrol))
                .route(
                    &format!("{e}/activations"),
                    post(contact::request_activation),
                )
                .route(&format!("{e}/devices/revoke"), post(api::revoke))
                .route(&format!("{e}/requests"), get(api::requests))
                .route(&format!("{e}/requests/{{id}}"), post(api::decide))
                .route(
                    "/auth/realms/{realm}/protocol/openid-connect/auth/ecps/events",
                    get(events::wait_events),
                )
                .route(&format!("{e}/requests/events"), get(events::request_events))
                .merge(app::routes()),
            Listener::Card => Router::new().route(&format!("{e}/enrol"), get(enrol::enrol_page)),
        }
    }
}

/// Creates the approval request for `national_id` and sends the browser to the waiting page.
/// Whether the professional exists or has a device is not looked at: the request is created
/// all the same, and one nobody can approve simply expires.
async fn start_request(
    cx: &LoginContext<'_>,
    national_id: &NationalId,
) -> Result<Response, LoginRefusal> {
    let LoginContext { st, rt, req, .. } = *cx;
    let id = id128(&*st.rng);
    let nonce = random_token(&*st.rng);
    let params = json!({ "pending_hash": cx.pending_hash }).to_string();
    st.store
        .create_approval(&NewApproval {
            id: &id,
            realm: &rt.realm.name,
            national_id: national_id.as_str(),
            client_id: &req.client_id,
            origin: Origin::Wallet,
            channel: Channel::Mobile,
            binding_message: None,
            acr: req.acr_min.map(|a| a.as_str()),
            nonce: &nonce,
            params: &params,
            secret_hash: None,
            poll_interval: None,
            created_at: cx.now,
            expires_at: cx.now + REQUEST_TTL,
        })
        .await?;
    events::requests_changed(st, &rt.realm.name, national_id.as_str());
    Ok(Redirect::to(&waiting_url(&rt.realm.name, &id)).into_response())
}

fn waiting_url(realm: &str, id: &str) -> String {
    format!("/auth/realms/{realm}/protocol/openid-connect/auth/ecps?request={id}")
}

/// `GET …/auth/ecps?request=…`: the waiting page, for the browser that started the login;
/// completes the login once the request is approved.
async fn waiting(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let now = st.now();
    let expired = ProviderError::page_expired;
    let (row, params) = browser_request(&st, &rt, &headers, q.as_deref(), now).await?;
    let pending_hash = pending_of(&row).ok_or_else(expired)?;
    let (req, _client) = validate_request(&st, &rt, &params).await?;
    let state = wait_state(&row, now);
    if state == "consumed" {
        return Err(expired());
    }
    if state != "approved" {
        return Ok(waiting_page(&rt.realm.display_name, &row, state, now));
    }
    let national_id = NationalId::parse(&row.national_id).map_err(|_| expired())?;
    if !st.store.consume_approval(&rt.realm.name, &row.id).await? {
        return Err(expired());
    }
    let cx = LoginContext {
        st: &st,
        rt: &rt,
        req: &req,
        pending_hash: &pending_hash,
        headers: &headers,
        now,
    };
    match finish_login(&cx, &national_id, &EcpsLogin).await {
        Ok(r) => Ok(r),
        Err(LoginRefusal::Message(m, status) | LoginRefusal::NationalId(m, status)) => Err(
            ProviderError::page(status, Text::new("error.login_refused.title"), m),
        ),
        Err(LoginRefusal::Expired | LoginRefusal::RateLimited(_)) => Err(expired()),
        Err(LoginRefusal::Internal(e)) => Err(e.into()),
    }
}

/// Where a wallet request stands at `now`: `waiting`, `expired`, `denied`, `approved` or
/// `consumed`.
pub(crate) fn wait_state(row: &ApprovalRow, now: i64) -> &'static str {
    match row.status {
        Status::Pending if now < row.expires_at => "waiting",
        Status::Pending => "expired",
        Status::Denied => "denied",
        Status::Consumed => "consumed",
        Status::Approved => "approved",
    }
}

/// The wallet request named by the query's `request`, with the parameters of the pending
/// login it continues, for the browser that started that login only (its login cookie);
/// anything else is the expired page.
pub(crate) async fn browser_request(
    st: &AppState,
    rt: &RealmRt,
    headers: &HeaderMap,
    query: Option<&str>,
    now: i64,
) -> Result<(ApprovalRow, Params), ProviderError> {
    let expired = ProviderError::page_expired;
    let q = Params::from_pairs(query_pairs(query));
    let row = match q.get("request") {
        Some(id) => st.store.approval(&rt.realm.name, id).await?,
        None => None,
    };
    let Some(row) = row.filter(|r| r.origin == Origin::Wallet) else {
        return Err(expired());
    };
    let pending_hash = pending_of(&row).ok_or_else(expired)?;
    let params = pending_for_browser(st, rt, &pending_hash, headers, now, expired).await?;
    Ok((row, params))
}

/// The pending login a wallet request continues.
pub(crate) fn pending_of(row: &ApprovalRow) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(&row.params).ok()?;
    v.get("pending_hash")?.as_str().map(str::to_owned)
}

/// The waiting page in `state` (`waiting`, `denied`, `expired`). While waiting, its script
/// (`ecps/app/wait.js`) listens to the request's event stream and continues without reloading
/// (to this URL on approval, which completes the login; the reason shown in place on denial or
/// expiry); without scripts, a `<noscript>` refresh loads the page again every two seconds.
fn waiting_page(realm: &str, row: &ApprovalRow, state: &str, now: i64) -> Response {
    let mut res = localized_page(
        StatusCode::OK,
        "ecps_wait.html",
        minijinja::context! {
            realm,
            state,
            client_id => row.client_id,
            seconds => (row.expires_at - now).max(0),
            again => waiting_url(&row.realm, &row.id),
            events => format!("/auth/realms/{}/protocol/openid-connect/auth/ecps/events?request={}", row.realm, row.id),
            script => format!("/auth/realms/{}/ecps/app/wait.js", row.realm),
        },
    );
    app::allow_scripts(&mut res);
    res
}
