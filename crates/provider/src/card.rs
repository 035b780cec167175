//! The card listener's pages: certificate → identity, then back to the main origin.

use crate::St;
use crate::store::CardPresented;
use axum::Extension;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use coeur_common::identity::NationalId;
use coeur_common::random::token as random_token;
use coeur_oauth::authorize::Params;
use coeur_oauth::jose::token_hash;
use coeur_pki::validate::{Refusal, Revoked, Usage};
use coeur_web::mtls::PeerCertificate;
use coeur_web::{error_page, query_pairs};

fn refused(status: StatusCode, msg: &str) -> Response {
    error_page(status, "Connexion par carte refusée", msg)
}

/// `GET /auth/realms/{realm}/card/login?handoff=…` on the card listener.
pub(super) async fn card_login(
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
