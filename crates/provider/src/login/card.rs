//! Login with a CPS card: the hand-off to the card listener, its page (certificate →
//! identity), and the return to the main origin.

use super::{
    Listener, LoginContext, LoginMethod, LoginRefusal, WalletSubmission, finish_login,
    pending_for_browser,
};
use crate::St;
use crate::authorize::validate_request;
use crate::error::{ProviderError, realm_or_404};
use crate::state::{AppState, RealmRt};
use crate::store::CardPresented;
use axum::Extension;
use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use coeur_common::identity::NationalId;
use coeur_common::random::token as random_token;
use coeur_oauth::authorize;
use coeur_oauth::authorize::Params;
use coeur_oauth::jose::token_hash;
use coeur_oauth::realm::AuthMethod;
use coeur_pki::validate::{Refusal, Revoked, Usage, Validated};
use coeur_web::mtls::PeerCertificate;
use coeur_web::{Text, query_pairs};
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// Login with a CPS card: the wallet sends the browser to the card listener, which reads the
/// card's certificate and sends it back to `card-return` on this origin.
pub(crate) struct CardLogin;

impl LoginMethod for CardLogin {
    fn method(&self) -> AuthMethod {
        AuthMethod::Card
    }

    fn start<'a>(
        &'a self,
        form: WalletSubmission<'a>,
    ) -> BoxFuture<'a, Result<Response, LoginRefusal>> {
        Box::pin(async move {
            let cx = &form.login;
            // Refused before the hand-off: the card would not be enough once read.
            if !authorize::method_meets(cx.req, self.acr(&cx.rt.realm)) {
                return Err(LoginRefusal::Message(
                    Text::new("login.too_weak"),
                    StatusCode::BAD_REQUEST,
                ));
            }
            card_handoff(cx).await
        })
    }

    fn routes(&self, listener: Listener) -> Router<Arc<AppState>> {
        match listener {
            Listener::Main => Router::new().route(
                "/auth/realms/{realm}/protocol/openid-connect/auth/card-return",
                get(card_return),
            ),
            Listener::Card => {
                Router::new().route("/auth/realms/{realm}/card/login", get(card_login))
            }
        }
    }
}

/// A refused card login, as a page of the card listener.
pub(crate) fn refused(status: StatusCode, message: Text) -> ProviderError {
    ProviderError::page(status, Text::new("card.title"), message)
}

/// `GET /auth/realms/{realm}/card/login?handoff=…` on the card listener.
async fn card_login(
    st: St,
    Path(realm): Path<String>,
    Extension(peer): Extension<PeerCertificate>,
    RawQuery(q): RawQuery,
) -> Result<Response, ProviderError> {
    let Some(rt) = st.realm(&realm).cloned() else {
        return Err(refused(
            StatusCode::NOT_FOUND,
            Text::new("error.unknown_realm.message"),
        ));
    };
    let now = st.now();
    let params = Params::from_pairs(query_pairs(q.as_deref()));
    let Some(handoff) = params.get("handoff") else {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            Text::new("card.incomplete"),
        ));
    };
    let handoff_hash = token_hash(handoff);
    if !st
        .store
        .open_card_handoff(&handoff_hash, &rt.realm.name, now)
        .await?
    {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            Text::new("error.page_expired.message"),
        ));
    }
    let Some(cert) = peer.0 else {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            Text::new("card.no_certificate"),
        ));
    };
    let (national_id, valid) = card_holder(&st, &rt, &cert).await?;
    let result = random_token(&*st.rng);
    let card = CardPresented {
        national_id: national_id.as_str(),
        ca_id: &valid.ca_id,
        serial: &valid.serial,
    };
    if !st
        .store
        .complete_card_handoff(&handoff_hash, &token_hash(&result), &card)
        .await?
    {
        return Err(refused(StatusCode::BAD_REQUEST, Text::new("card.used")));
    }
    tracing::info!(realm = %rt.realm.name, ca = %valid.ca_id, serial = %valid.serial, "card authenticated");
    Ok(Redirect::to(&format!(
        "{}/auth/realms/{}/protocol/openid-connect/auth/card-return?result={result}",
        st.urls.public_url, rt.realm.name
    ))
    .into_response())
}

/// The active professional of this realm the card certificate `cert` names, with the
/// certificate's validation.
pub(crate) async fn card_holder(
    st: &AppState,
    rt: &RealmRt,
    cert: &[u8],
) -> Result<(NationalId, Validated), ProviderError> {
    let valid = match st
        .ca
        .check_client_certificate(cert, Usage::CardAuthentication, rt.realm.environment())
        .await?
    {
        Ok(v) => v,
        Err(Refusal::Revoked(Revoked::Certificate)) => {
            return Err(refused(StatusCode::FORBIDDEN, Text::new("card.revoked")));
        }
        Err(e @ Refusal::StatusUnavailable(_)) => {
            return Err(refused(
                StatusCode::SERVICE_UNAVAILABLE,
                Text::new("card.unavailable"),
            )
            .with_detail(e.to_string()));
        }
        Err(e) => {
            return Err(refused(StatusCode::FORBIDDEN, Text::new("card.invalid"))
                .with_detail(e.to_string()));
        }
    };
    let Some(national_id) = valid
        .cn
        .as_deref()
        .and_then(|cn| NationalId::parse(cn).ok())
    else {
        return Err(refused(
            StatusCode::FORBIDDEN,
            Text::new("card.no_national_id"),
        ));
    };
    match st
        .store
        .identity(&rt.realm.name, national_id.as_str())
        .await?
    {
        None => Err(refused(StatusCode::FORBIDDEN, Text::new("card.unknown"))),
        Some(i) if !i.active => Err(refused(StatusCode::FORBIDDEN, Text::new("card.inactive"))),
        Some(_) => Ok((national_id, valid)),
    }
}

/// Sends the browser to the card listener with a one-time hand-off token.
async fn card_handoff(cx: &LoginContext<'_>) -> Result<Response, LoginRefusal> {
    let LoginContext { st, rt, .. } = *cx;
    let handoff = random_token(&*st.rng);
    st.store
        .put_card_handoff(
            &token_hash(&handoff),
            cx.pending_hash,
            &rt.realm.name,
            cx.now + 300,
        )
        .await?;
    let url = format!(
        "{}/auth/realms/{}/card/login?handoff={handoff}",
        st.urls.card_public_url, rt.realm.name
    );
    Ok(Redirect::to(&url).into_response())
}

/// Back from the card listener: completes the login on this origin, for the browser that
/// started it.
async fn card_return(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let now = st.now();
    let expired = ProviderError::page_expired;
    let params = Params::from_pairs(query_pairs(q.as_deref()));
    let Some(result) = params.get("result") else {
        return Err(expired());
    };
    // Read first; the hand-off is consumed only once the browser is known to be the one that
    // started the login (a result opened elsewhere does not burn the user's login).
    let result_hash = token_hash(result);
    let Some(r) = st.store.card_result(&result_hash, &rt.realm.name).await? else {
        return Err(expired());
    };
    let (pending_hash, nid, exp) = (r.pending_hash, r.national_id, r.expires_at);
    if now >= exp {
        return Err(expired());
    }
    let Some(national_id) = nid.and_then(|n| NationalId::parse(&n).ok()) else {
        return Err(expired());
    };
    let params = pending_for_browser(&st, &rt, &pending_hash, &headers, now, expired).await?;
    if !st.store.consume_card_result(&result_hash).await? {
        return Err(expired());
    }
    let (req, _client) = validate_request(&st, &rt, &params).await?;
    let cx = LoginContext {
        st: &st,
        rt: &rt,
        req: &req,
        pending_hash: &pending_hash,
        headers: &headers,
        now,
    };
    match finish_login(&cx, &national_id, &CardLogin).await {
        Ok(r) => Ok(r),
        Err(LoginRefusal::Message(m, status) | LoginRefusal::NationalId(m, status)) => Err(
            ProviderError::page(status, Text::new("error.login_refused.title"), m),
        ),
        Err(LoginRefusal::Expired | LoginRefusal::RateLimited(_)) => Err(expired()),
        Err(LoginRefusal::Internal(e)) => Err(e.into()),
    }
}
