//! Completing a login, whatever the method: the pending request, the SSO session, the code.

use super::LoginMethod;
use crate::authorize::{grant_and_code, success_redirect};
use crate::backchannel;
use crate::error::ProviderError;
use crate::session::{LOGIN_COOKIE, SESSION_COOKIE, cookie_path, secure};
use crate::state::{AppState, RealmRt};
use crate::store::SessionRow;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use coeur_common::identity::NationalId;
use coeur_common::random::{id128, token as random_token};
use coeur_oauth::authorize::{self, AuthorizationRequest, Params, SessionView};
use coeur_oauth::error::OAuthError;
use coeur_oauth::jose::token_hash;
use coeur_web::{Text, cookie, set_cookie};

/// Why a login could not complete.
pub(crate) enum LoginRefusal {
    /// Shown to the user (on the wallet page, or an error page).
    Message(Text, StatusCode),
    /// About the national identifier the user typed: shown beside that field.
    NationalId(Text, StatusCode),
    /// The pending request was already used.
    Expired,
    /// Too many attempts: try again in so many seconds.
    RateLimited(i64),
    /// Internal failure.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for LoginRefusal {
    fn from(e: anyhow::Error) -> Self {
        LoginRefusal::Internal(e)
    }
}

/// What a login continues: the authorization request, its pending record, and this request.
#[derive(Clone, Copy)]
pub(crate) struct LoginContext<'a> {
    /// The provider.
    pub st: &'a AppState,
    /// The realm.
    pub rt: &'a RealmRt,
    /// The authorization request the login answers.
    pub req: &'a AuthorizationRequest,
    /// The pending request's hash, consumed when the login completes.
    pub pending_hash: &'a str,
    /// This request's headers (the browser's cookies).
    pub headers: &'a HeaderMap,
    /// The time of this request.
    pub now: i64,
}

/// Completes a login once the user is authenticated by `login` as `national_id`: checks the
/// identity, opens the SSO session, issues the code, and redirects to the client. Counted in
/// `coeur_logins_total` by realm, method and outcome.
pub(crate) async fn finish_login(
    cx: &LoginContext<'_>,
    national_id: &NationalId,
    login: &dyn LoginMethod,
) -> Result<Response, LoginRefusal> {
    let r = complete(cx, national_id, login).await;
    let outcome = match &r {
        Ok(_) => "success",
        Err(LoginRefusal::Message(..) | LoginRefusal::NationalId(..)) => "refused",
        Err(LoginRefusal::Expired) => "expired",
        Err(LoginRefusal::RateLimited(_)) => "rate_limited",
        Err(LoginRefusal::Internal(_)) => "error",
    };
    crate::metrics::login(&cx.rt.realm.name, login.method(), outcome);
    r
}

async fn complete(
    cx: &LoginContext<'_>,
    national_id: &NationalId,
    login: &dyn LoginMethod,
) -> Result<Response, LoginRefusal> {
    let LoginContext {
        st,
        rt,
        req,
        pending_hash,
        headers,
        now,
    } = *cx;
    let method = login.method();
    check_identity(cx, national_id).await?;
    let acr = login.acr(&rt.realm);
    if !authorize::method_meets(req, acr) {
        return Err(LoginRefusal::Message(
            Text::new("login.too_weak"),
            StatusCode::BAD_REQUEST,
        ));
    }
    let session = SessionView {
        sid: id128(&*st.rng),
        national_id: national_id.to_string(),
        auth_time: now,
        method,
        acr,
    };
    let session_row = SessionRow {
        sid: session.sid.clone(),
        national_id: session.national_id.clone(),
        auth_time: now,
        method: method.as_str().into(),
        acr: acr.as_str().into(),
    };
    let cookie_value = random_token(&*st.rng);
    let previous = cookie(headers, SESSION_COOKIE).map(|c| token_hash(&c));
    let code = random_token(&*st.rng);
    let (grant, code_row) = grant_and_code(st, rt, req, &session, now);
    let done = st
        .store
        .complete_login(
            pending_hash,
            previous.as_deref(),
            (
                &rt.realm.name,
                &token_hash(&cookie_value),
                &session_row,
                now + rt.realm.lifetimes.sso_session,
            ),
            &grant,
            &token_hash(&code),
            &code_row,
            now,
        )
        .await?;
    let Some(done) = done else {
        return Err(LoginRefusal::Expired);
    };
    super::franceconnect::after_login(cx, &done.sid, national_id, method).await;
    // The browser's previous session ended: its relying parties are told, as at a logout.
    if let Some(replaced) = &done.replaced {
        backchannel::session_ended(st, rt, replaced).await;
    }
    tracing::info!(realm = %rt.realm.name, client = %req.client_id, method = method.as_str(), "login");
    Ok(logged_in(cx, &code, &cookie_value))
}

/// Refuses an EDIT test identity outside the sandbox, and an unknown or inactive identity.
async fn check_identity(
    cx: &LoginContext<'_>,
    national_id: &NationalId,
) -> Result<(), LoginRefusal> {
    // Whatever the method (a card too) and whatever the realm's store holds.
    if let Err(e) = national_id.admissible_in(cx.rt.realm.environment()) {
        tracing::warn!(realm = %cx.rt.realm.name, "login refused: {e}");
        return Err(LoginRefusal::NationalId(
            Text::new("login.edit_in_production"),
            StatusCode::FORBIDDEN,
        ));
    }
    let identity = cx
        .st
        .store
        .identity(&cx.rt.realm.name, national_id.as_str())
        .await?;
    let Some(identity) = identity else {
        return Err(LoginRefusal::NationalId(
            Text::new("login.unknown_identity"),
            StatusCode::BAD_REQUEST,
        ));
    };
    if !identity.active {
        return Err(LoginRefusal::NationalId(
            Text::new("login.inactive_identity"),
            StatusCode::FORBIDDEN,
        ));
    }
    Ok(())
}

/// The redirect to the client with `code`, setting the new session's cookie and clearing the
/// login cookie.
fn logged_in(cx: &LoginContext<'_>, code: &str, cookie_value: &str) -> Response {
    let LoginContext { st, rt, req, .. } = *cx;
    let mut res = Redirect::to(&success_redirect(rt, req, code)).into_response();
    let path = cookie_path(rt);
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, cookie_value, &path, None, secure(st)),
    );
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", &path, Some(0), secure(st)),
    );
    res
}

/// The redirect to the client with `error` (its `state` and `iss`), clearing the login cookie:
/// the user went back to the application without logging in.
pub(crate) fn back_to_client(
    st: &AppState,
    rt: &RealmRt,
    req: &AuthorizationRequest,
    error: &OAuthError,
) -> Response {
    let to = authorize::error_redirect(
        &req.redirect_uri,
        req.state.as_deref(),
        error,
        &rt.realm.issuer,
    );
    let mut res = Redirect::to(&to).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", &cookie_path(rt), Some(0), secure(st)),
    );
    res
}

/// The pending authorization request `pending_hash` of this realm, still live and started by
/// this browser (its login cookie), as parameters; `expired` answers for a missing or stale one.
pub(crate) async fn pending_for_browser(
    st: &AppState,
    rt: &RealmRt,
    pending_hash: &str,
    headers: &HeaderMap,
    now: i64,
    expired: impl Fn() -> ProviderError,
) -> Result<Params, ProviderError> {
    let Some((p_realm, browser_hash, stored, expires_at)) = st.store.pending(pending_hash).await?
    else {
        return Err(expired());
    };
    if p_realm != rt.realm.name || now >= expires_at {
        return Err(expired());
    }
    if cookie(headers, LOGIN_COOKIE)
        .map(|c| token_hash(&c))
        .as_deref()
        != Some(browser_hash.as_str())
    {
        return Err(ProviderError::page(
            StatusCode::BAD_REQUEST,
            Text::new("error.request_refused.title"),
            Text::new("error.other_browser.message"),
        ));
    }
    let pairs: Vec<(String, String)> = serde_json::from_str(&stored)?;
    Ok(Params::from_pairs(pairs))
}
