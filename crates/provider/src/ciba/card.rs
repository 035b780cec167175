//! The card channel of CIBA (`channel=CARD`): on the card listener, the professional opens the
//! approval page in any browser and presents their CPS card; the page lists the CIBA requests
//! awaiting that card's holder, each to approve or deny. The card is checked again when a
//! decision is posted, and the form carries a token matching a cookie of the page's (a page of
//! another site cannot post a decision).

use crate::St;
use crate::error::ProviderError;
use crate::login::card::{card_holder, refused};
use crate::state::{AppState, RealmRt};
use crate::store::Decided;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coeur_common::identity::NationalId;
use coeur_common::random::token as random_token;
use coeur_oauth::authorize::Params;
use coeur_oauth::ecps::{Channel, Decision, Origin};
use coeur_oauth::realm::AuthMethod;
use coeur_web::mtls::PeerCertificate;
use coeur_web::{Text, cookie, form_pairs, localized_page, set_cookie};
use std::sync::Arc;

/// The cookie holding the approval page's form token.
const CSRF_COOKIE: &str = "coeur_ciba_csrf";

/// The path of the approval page of `realm`.
pub(crate) fn approve_path(realm: &str) -> String {
    format!("/auth/realms/{realm}/ciba/approve")
}

/// The card's holder, for a request of the card listener.
async fn holder(
    st: &AppState,
    realm: &str,
    peer: &PeerCertificate,
) -> Result<(Arc<RealmRt>, NationalId), ProviderError> {
    let Some(rt) = st.realm(realm).cloned() else {
        return Err(refused(
            StatusCode::NOT_FOUND,
            Text::new("error.unknown_realm.message"),
        ));
    };
    let Some(cert) = &peer.0 else {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            Text::new("card.no_certificate"),
        ));
    };
    let (national_id, _valid) = card_holder(st, &rt, cert).await?;
    Ok((rt, national_id))
}

/// `GET /auth/realms/{realm}/ciba/approve` on the card listener: the requests awaiting the
/// card's holder.
pub(crate) async fn approve_page(
    st: St,
    Path(realm): Path<String>,
    Extension(peer): Extension<PeerCertificate>,
    headers: HeaderMap,
) -> Result<Response, ProviderError> {
    let (rt, national_id) = holder(&st, &realm, &peer).await?;
    page(&st, &rt, &national_id, &headers, None).await
}

/// `POST /auth/realms/{realm}/ciba/approve` on the card listener: `request`, `decision`
/// (`approve` or `deny`) and the form token.
pub(crate) async fn approve_post(
    st: St,
    Path(realm): Path<String>,
    Extension(peer): Extension<PeerCertificate>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let (rt, national_id) = holder(&st, &realm, &peer).await?;
    let form = Params::from_pairs(form_pairs(&body));
    let expected = cookie(&headers, CSRF_COOKIE);
    if expected.is_none() || form.get("csrf") != expected.as_deref() {
        return Err(refused(
            StatusCode::FORBIDDEN,
            Text::new("error.page_expired.message"),
        ));
    }
    let decision = form.get("decision").and_then(Decision::parse);
    let (Some(id), Some(decision)) = (form.get("request"), decision) else {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            Text::new("card.incomplete"),
        ));
    };
    let now = st.now();
    let row = st.store.approval(&rt.realm.name, id).await?;
    // Only a CIBA request on the card channel awaiting this very card's holder.
    let row = row.filter(|r| {
        r.origin == Origin::Ciba
            && r.channel == Channel::Card
            && r.national_id == national_id.as_str()
    });
    let Some(row) = row else {
        return page(&st, &rt, &national_id, &headers, Some("gone")).await;
    };
    let amr = AuthMethod::Card.amr().join(" ");
    let d = Decided {
        approved: decision == Decision::Approve,
        device_id: None,
        method: AuthMethod::Card.as_str(),
        amr: &amr,
        at: now,
    };
    if !st
        .store
        .decide_approval(&rt.realm.name, &row.id, &d)
        .await?
    {
        return page(&st, &rt, &national_id, &headers, Some("gone")).await;
    }
    tracing::info!(realm = %rt.realm.name, request = %row.id, approved = d.approved, "CIBA request decided with the card");
    if let Some(after) = st.store.approval(&rt.realm.name, &row.id).await? {
        super::decided(&st, &after).await;
    }
    let outcome = if d.approved { "approved" } else { "denied" };
    page(&st, &rt, &national_id, &headers, Some(outcome)).await
}

/// The page: the pending requests of `national_id` on the card channel, and the outcome of
/// the decision just posted, if any.
async fn page(
    st: &AppState,
    rt: &RealmRt,
    national_id: &NationalId,
    headers: &HeaderMap,
    outcome: Option<&str>,
) -> Result<Response, ProviderError> {
    let now = st.now();
    let pending = st
        .store
        .pending_approvals(&rt.realm.name, national_id.as_str(), Channel::Card, now)
        .await?;
    let requests: Vec<_> = pending
        .iter()
        .filter(|r| r.origin == Origin::Ciba)
        .map(|r| {
            minijinja::context! {
                id => r.id,
                client_id => r.client_id,
                binding_message => r.binding_message,
                acr => r.acr,
                seconds => (r.expires_at - now).max(0),
            }
        })
        .collect();
    // The page's own token is kept; anything else in the cookie is replaced.
    let csrf = cookie(headers, CSRF_COOKIE)
        .filter(|c| {
            c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or_else(|| random_token(&*st.rng));
    let mut res = localized_page(
        StatusCode::OK,
        "ciba_approve.html",
        minijinja::context! {
            realm => rt.realm.display_name,
            requests,
            outcome,
            csrf,
            action => approve_path(&rt.realm.name),
        },
    );
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            CSRF_COOKIE,
            &csrf,
            &approve_path(&rt.realm.name),
            None,
            true,
        ),
    );
    Ok(res.into_response())
}
