//! Login with a CPS card: the hand-off to the card listener, its page (certificate →
//! identity), and the return to the main origin.

use super::{
    Listener, LoginContext, LoginMethod, LoginRefusal, WalletSubmission, finish_login,
    pending_for_browser,
};
use crate::St;
use crate::authorize::validate_request;
use crate::error::realm_or_404;
use crate::state::AppState;
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
use coeur_pki::validate::{Refusal, Revoked, Usage};
use coeur_web::mtls::PeerCertificate;
use coeur_web::{error_page, internal, query_pairs};
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
                    "Ce moyen de connexion n'atteint pas le niveau demandé par l'application."
                        .into(),
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

fn refused(status: StatusCode, msg: &str) -> Response {
    error_page(status, "Connexion par carte refusée", msg)
}

/// `GET /auth/realms/{realm}/card/login?handoff=…` on the card listener.
async fn card_login(
    st: St,
    Path(realm): Path<String>,
    Extension(peer): Extension<PeerCertificate>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(rt) = st.realm(&realm).cloned() else {
        return refused(StatusCode::NOT_FOUND, "Unknown realm.");
    };
    let now = st.now();
    let params = Params::from_pairs(query_pairs(q.as_deref()));
    let Some(handoff) = params.get("handoff") else {
        return refused(
            StatusCode::BAD_REQUEST,
            "This card login link is incomplete.",
        );
    };
    let handoff_hash = token_hash(handoff);
    match st
        .store
        .open_card_handoff(&handoff_hash, &rt.realm.name, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "This card login has expired or was already used. Go back to the application and start again.",
            );
        }
        Err(e) => return coeur_web::internal(e),
    }
    let Some(cert) = peer.0 else {
        return refused(
            StatusCode::UNAUTHORIZED,
            "No card certificate was presented. Insert your CPS card, check the card reader software, and try again.",
        );
    };
    let valid = match st
        .ca
        .check_client_certificate(&cert, Usage::CardAuthentication)
        .await
    {
        Ok(Ok(v)) => v,
        Ok(Err(Refusal::Revoked(Revoked::Certificate))) => {
            return refused(
                StatusCode::FORBIDDEN,
                "Card refused: this card has been revoked (opposition).",
            );
        }
        Ok(Err(e @ Refusal::StatusUnavailable(_))) => {
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("Card refused: {e}. Try again in a few minutes."),
            );
        }
        Ok(Err(e)) => return refused(StatusCode::FORBIDDEN, &format!("Card refused: {e}.")),
        Err(e) => return coeur_web::internal(e),
    };
    let Some(national_id) = valid
        .cn
        .as_deref()
        .and_then(|cn| NationalId::parse(cn).ok())
    else {
        return refused(
            StatusCode::FORBIDDEN,
            "Card refused: the certificate does not carry a national identifier.",
        );
    };
    let identity = match st
        .store
        .identity(&rt.realm.name, national_id.as_str())
        .await
    {
        Ok(i) => i,
        Err(e) => return coeur_web::internal(e),
    };
    match identity {
        None => {
            return refused(
                StatusCode::FORBIDDEN,
                "Card refused: this professional is unknown in this realm.",
            );
        }
        Some(i) if !i.active => {
            return refused(
                StatusCode::FORBIDDEN,
                "Card refused: this professional's account is inactive.",
            );
        }
        Some(_) => {}
    }
    let result = random_token(&*st.rng);
    let card = CardPresented {
        national_id: national_id.as_str(),
        ca_id: &valid.ca_id,
        serial: &valid.serial,
    };
    match st
        .store
        .complete_card_handoff(&handoff_hash, &token_hash(&result), &card)
        .await
    {
        Ok(true) => {}
        Ok(false) => return refused(StatusCode::BAD_REQUEST, "This card login was already used."),
        Err(e) => return coeur_web::internal(e),
    }
    tracing::info!(realm = %rt.realm.name, ca = %valid.ca_id, serial = %valid.serial, "card authenticated");
    Redirect::to(&format!(
        "{}/auth/realms/{}/protocol/openid-connect/auth/card-return?result={result}",
        st.urls.public_url, rt.realm.name
    ))
    .into_response()
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
) -> Response {
    let rt = match realm_or_404(&st, &realm) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let now = st.now();
    let expired = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "Page expirée",
            "This card login has expired or was already used. Go back to the application and start again.",
        )
    };
    let params = Params::from_pairs(query_pairs(q.as_deref()));
    let Some(result) = params.get("result") else {
        return expired();
    };
    // Read first; the hand-off is consumed only once the browser is known to be the one that
    // started the login (a result opened elsewhere does not burn the user's login).
    let result_hash = token_hash(result);
    let (pending_hash, nid, exp) = match st.store.card_result(&result_hash, &rt.realm.name).await {
        Ok(Some(r)) => (r.pending_hash, r.national_id, r.expires_at),
        Ok(None) => return expired(),
        Err(e) => return internal(e),
    };
    if now >= exp {
        return expired();
    }
    let Some(national_id) = nid.and_then(|n| NationalId::parse(&n).ok()) else {
        return expired();
    };
    let params = match pending_for_browser(&st, &rt, &pending_hash, &headers, now, expired).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match st.store.consume_card_result(&result_hash).await {
        Ok(true) => {}
        Ok(false) => return expired(),
        Err(e) => return internal(e),
    }
    let (req, _client) = match validate_request(&st, &rt, &params).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cx = LoginContext {
        st: &st,
        rt: &rt,
        req: &req,
        pending_hash: &pending_hash,
        headers: &headers,
        now,
    };
    match finish_login(&cx, &national_id, &CardLogin).await {
        Ok(r) => r,
        Err(LoginRefusal::Message(m, status)) => error_page(status, "Connexion refusée", &m),
        Err(LoginRefusal::Expired) => expired(),
        Err(LoginRefusal::Internal(e)) => internal(e),
    }
}
