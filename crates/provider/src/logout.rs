//! RP-initiated logout; the relying parties of the ended session are told through the back
//! channel (`backchannel`).

use crate::St;
use crate::authorize::verify_id_token_hint;
use crate::backchannel;
use crate::error::{ProviderError, found, realm_or_404};
use crate::session::{SESSION_COOKIE, cookie_path, current_session, secure};
use crate::state::{AppState, RealmRt};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use coeur_oauth::authorize::{self, Params};
use coeur_oauth::claims::IdTokenClaims;
use coeur_oauth::client::Client;
use coeur_oauth::jose::token_hash;
use coeur_web::{Lang, Text, cookie, form_pairs, page, page_lang, query_pairs, set_cookie};

/// `GET` logout: parameters in the query.
pub(crate) async fn logout_get(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ProviderError> {
    logout(
        &st,
        &realm,
        &headers,
        Params::from_pairs(query_pairs(q.as_deref())),
    )
    .await
}

/// `POST` logout: parameters in the form (also the confirmation form).
pub(crate) async fn logout_post(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    logout(&st, &realm, &headers, Params::from_pairs(form_pairs(&body))).await
}

/// A refused logout, as a page.
fn refuse(message: Text) -> ProviderError {
    ProviderError::page(
        StatusCode::BAD_REQUEST,
        Text::new("error.logout_refused.title"),
        message,
    )
}

/// The language of the logout pages: the request's `ui_locales` (OpenID Connect RP-Initiated
/// Logout §2), else the browser's.
fn lang_of(headers: &HeaderMap, p: &Params) -> Lang {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    page_lang(p.get("ui_locales"), accept)
}

/// The proof a confirmation form came from this browser's own logout page.
fn logout_token(session_cookie: &str) -> String {
    token_hash(&format!("logout:{session_cookie}"))
}

/// The "logged out" page, clearing the session cookie.
fn logged_out(rt: &RealmRt, clear: HeaderValue, lang: Lang) -> Response {
    let mut r = page(
        StatusCode::OK,
        "logout.html",
        lang,
        minijinja::context! { realm => rt.realm.display_name, confirm => false },
    );
    r.headers_mut().append(header::SET_COOKIE, clear);
    r
}

/// Ends the browser's session: at once with a valid `id_token_hint` of this session's user
/// and session (then back to a registered `post_logout_redirect_uri`), after the user confirms
/// otherwise (then back only to a URI registered for the hint's client).
async fn logout(
    st: &AppState,
    realm: &str,
    headers: &HeaderMap,
    p: Params,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(st, realm)?;
    let now = st.now();
    let cookie_value = cookie(headers, SESSION_COOKIE);
    let session = current_session(st, &rt, headers, now).await?;
    let clear = set_cookie(SESSION_COOKIE, "", &cookie_path(&rt), Some(0), secure(st));
    // The confirmation form proves it came from this browser's own logout page.
    let confirmed = p.get("confirm") == Some("yes");
    if confirmed {
        let expected = cookie_value.as_deref().map(logout_token);
        if expected.is_none() || p.get("logout_token") != expected.as_deref() {
            return Err(refuse(Text::new("logout.invalid_confirmation")));
        }
    }
    let hint = checked_hint(st, &rt, &p).await?;
    let redirect = post_logout_redirect(st, &rt, &p, hint.as_ref()).await?;
    if let Some(s) = &session {
        let hint_is_this_session = hint
            .as_ref()
            .is_some_and(|(c, _)| c.sid == s.sid && c.sub == rt.realm.subject_of(&s.national_id));
        if !confirmed && !hint_is_this_session {
            return Ok(confirmation_page(
                &rt,
                cookie_value.as_deref(),
                &p,
                hint.is_some(),
                lang_of(headers, &p),
            ));
        }
        if let Some(ended) = st.store.end_session(&s.sid, now).await? {
            backchannel::session_ended(st, &rt, &ended).await;
        }
    }
    let next = match (redirect, hint.is_some()) {
        (Some(u), true) => {
            let mut params = vec![];
            if let Some(s) = p.get("state") {
                params.push(("state", s));
            }
            Some(authorize::redirect_with(&u, &params))
        }
        _ => None,
    };
    // A session opened through FranceConnect ends upstream too, then comes back here.
    let upstream = match &session {
        Some(s) => crate::login::upstream_logout(st, &rt, &s.sid, next.as_deref()).await,
        None => None,
    };
    match upstream.or(next) {
        Some(to) => {
            let mut r = found(&to);
            r.headers_mut().append(header::SET_COOKIE, clear);
            Ok(r)
        }
        None => Ok(logged_out(&rt, clear, lang_of(headers, &p))),
    }
}

/// The "logged out" page once back from an upstream's logout (the session cookie is already
/// cleared).
pub(crate) fn logged_out_page(st: &AppState, rt: &RealmRt, headers: &HeaderMap) -> Response {
    let clear = set_cookie(SESSION_COOKIE, "", &cookie_path(rt), Some(0), secure(st));
    logged_out(rt, clear, lang_of(headers, &Params::default()))
}

/// No proof the request comes from the relying party for this session: the page asking the
/// user to confirm, carrying the hint, the post-logout URI and state when there is a hint.
fn confirmation_page(
    rt: &RealmRt,
    session_cookie: Option<&str>,
    p: &Params,
    hinted: bool,
    lang: Lang,
) -> Response {
    let token = session_cookie.map(logout_token).unwrap_or_default();
    let kept = |k: &str| hinted.then(|| p.get(k)).flatten();
    page(
        StatusCode::OK,
        "logout.html",
        lang,
        minijinja::context! {
            realm => rt.realm.display_name, confirm => true, logout_token => token,
            action => format!("/auth/realms/{}/protocol/openid-connect/logout", rt.realm.name),
            id_token_hint => kept("id_token_hint"),
            post_logout_redirect_uri => kept("post_logout_redirect_uri"),
            state => kept("state"),
        },
    )
}

/// The `id_token_hint`, if given: verified (an HS256 hint with the secret of the client it
/// names), with that client, and consistent with `client_id`.
async fn checked_hint(
    st: &AppState,
    rt: &RealmRt,
    p: &Params,
) -> Result<Option<(IdTokenClaims, Option<Client>)>, ProviderError> {
    let Some(h) = p.get("id_token_hint") else {
        return Ok(None);
    };
    let aud = jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(h)
        .ok()
        .and_then(|c| c.get("aud").and_then(|a| a.as_str()).map(str::to_owned));
    let client = match aud {
        Some(a) => st.client(rt, &a).await?,
        None => None,
    };
    let Some(claims) = verify_id_token_hint(rt, h, client.as_ref()) else {
        return Err(refuse(Text::new("logout.invalid_hint"))
            .with_detail("the id_token_hint is not a valid ID token of this realm"));
    };
    if let Some(cp) = p.get("client_id")
        && claims.aud != cp
    {
        return Err(refuse(Text::new("logout.client_mismatch"))
            .with_detail("client_id does not match the id_token_hint"));
    }
    Ok(Some((claims, client)))
}

/// The `post_logout_redirect_uri`, if given, once found among those of the client (the
/// hint's, or `client_id`'s).
async fn post_logout_redirect(
    st: &AppState,
    rt: &RealmRt,
    p: &Params,
    hint: Option<&(IdTokenClaims, Option<Client>)>,
) -> Result<Option<String>, ProviderError> {
    let Some(u) = p.get("post_logout_redirect_uri") else {
        return Ok(None);
    };
    let client = match hint {
        Some((_, c)) => c.clone(),
        None => match p.get("client_id") {
            Some(id) => st.client(rt, id).await?,
            None => None,
        },
    };
    match client {
        Some(c) if c.spec.post_logout_redirect_uris.iter().any(|r| r == u) => {
            Ok(Some(u.to_owned()))
        }
        _ => Err(refuse(Text::new("logout.unregistered_uri"))
            .with_detail("post_logout_redirect_uri is not registered for this client")),
    }
}
