//! The SSO session: its cookies and how a request finds it.

use crate::state::{AppState, RealmRt};
use crate::store::SessionRow;
use axum::http::HeaderMap;
use coeur_oauth::acr::Acr;
use coeur_oauth::authorize::SessionView;
use coeur_oauth::jose::token_hash;
use coeur_oauth::realm::AuthMethod;
use coeur_web::cookie;

pub(crate) const SESSION_COOKIE: &str = "COEUR_SESSION";
pub(crate) const LOGIN_COOKIE: &str = "COEUR_LOGIN";

pub(crate) fn cookie_path(rt: &RealmRt) -> String {
    format!("/auth/realms/{}/", rt.realm.name)
}

pub(crate) fn secure(st: &AppState) -> bool {
    st.urls.public_url.starts_with("https:")
}

pub(crate) async fn current_session(
    st: &AppState,
    rt: &RealmRt,
    headers: &HeaderMap,
    now: i64,
) -> anyhow::Result<Option<SessionView>> {
    let Some(c) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(row) = st
        .store
        .session(&rt.realm.name, &token_hash(&c), now)
        .await?
    else {
        return Ok(None);
    };
    Ok(session_view(&row))
}

pub(crate) fn session_view(row: &SessionRow) -> Option<SessionView> {
    Some(SessionView {
        sid: row.sid.clone(),
        national_id: row.national_id.clone(),
        auth_time: row.auth_time,
        method: AuthMethod::parse(&row.method)?,
        acr: Acr::parse(&row.acr)?,
    })
}
