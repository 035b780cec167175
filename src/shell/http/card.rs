//! The card listener's pages: certificate → identity, then back to the main origin.

use super::{St, error_page, query_pairs};
use crate::core::authorize::Params;
use crate::core::identity::NationalId;
use crate::core::jose::token_hash;
use crate::core::pki::validate::{Refusal, Revoked, Usage};
use crate::core::random::token as random_token;
use crate::shell::card::PeerCertificate;
use axum::Extension;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sqlx::Row as _;

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
    let row = sqlx::query(
        "SELECT realm, expires_at, result_hash FROM card_handoffs WHERE handoff_hash = $1",
    )
    .bind(&handoff_hash)
    .fetch_optional(st.store.pool())
    .await;
    let row = match row {
        Ok(Some(r)) => r,
        Ok(None) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "This card login has expired or was already used. Go back to the application and start again.",
            );
        }
        Err(e) => return super::internal(e.into()),
    };
    let realm_ok = row
        .try_get::<String, _>("realm")
        .is_ok_and(|r| r == rt.realm.name);
    let live = row.try_get::<i64, _>("expires_at").is_ok_and(|e| now < e);
    let unused = row
        .try_get::<Option<String>, _>("result_hash")
        .is_ok_and(|r| r.is_none());
    if !(realm_ok && live && unused) {
        return refused(
            StatusCode::BAD_REQUEST,
            "This card login has expired or was already used. Go back to the application and start again.",
        );
    }
    let Some(cert) = peer.0 else {
        return refused(
            StatusCode::UNAUTHORIZED,
            "No card certificate was presented. Insert your CPS card, check the card reader software, and try again.",
        );
    };
    let valid = match st.trust.check(&st, &cert, Usage::CardAuthentication).await {
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
        Err(e) => return super::internal(e),
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
        Err(e) => return super::internal(e),
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
    let r = sqlx::query("UPDATE card_handoffs SET result_hash = $1, national_id = $2, cert_ca = $3, cert_serial = $4 WHERE handoff_hash = $5 AND result_hash IS NULL")
        .bind(token_hash(&result))
        .bind(national_id.as_str())
        .bind(&valid.ca_id)
        .bind(&valid.serial)
        .bind(&handoff_hash)
        .execute(st.store.pool())
        .await;
    match r {
        Ok(r) if r.rows_affected() == 1 => {}
        Ok(_) => return refused(StatusCode::BAD_REQUEST, "This card login was already used."),
        Err(e) => return super::internal(e.into()),
    }
    tracing::info!(realm = %rt.realm.name, ca = %valid.ca_id, serial = %valid.serial, "card authenticated");
    Redirect::to(&format!(
        "{}/auth/realms/{}/protocol/openid-connect/auth/card-return?result={result}",
        st.cfg.public_url, rt.realm.name
    ))
    .into_response()
}
