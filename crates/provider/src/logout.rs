//! RP-initiated logout.

use crate::St;
use crate::authorize::verify_id_token_hint;
use crate::error::{found, realm_or_404};
use crate::session::{SESSION_COOKIE, cookie_path, current_session, secure};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use coeur_oauth::authorize::{self, Params};
use coeur_oauth::jose::token_hash;
use coeur_web::{cookie, error_page, form_pairs, internal, page, query_pairs, set_cookie};

pub(crate) async fn logout_get(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    logout(
        &st,
        &realm,
        &headers,
        Params::from_pairs(query_pairs(q.as_deref())),
    )
    .await
}

pub(crate) async fn logout_post(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    logout(&st, &realm, &headers, Params::from_pairs(form_pairs(&body))).await
}

pub(crate) async fn logout(st: &AppState, realm: &str, headers: &HeaderMap, p: Params) -> Response {
    let rt = match realm_or_404(st, realm) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let refuse = |m: &str| error_page(StatusCode::BAD_REQUEST, "Déconnexion refusée", m);
    let now = st.now();
    let cookie_value = cookie(headers, SESSION_COOKIE);
    let session = match current_session(st, &rt, headers, now).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let clear = set_cookie(SESSION_COOKIE, "", &cookie_path(&rt), Some(0), secure(st));
    let logged_out = |st_code: StatusCode| {
        let mut r = page(
            st_code,
            "logout.html",
            minijinja::context! { realm => rt.realm.display_name, confirm => false },
        );
        r.headers_mut().append(header::SET_COOKIE, clear.clone());
        r
    };
    // Confirmation of a logout without id_token_hint: the token proves the form came from
    // this browser's own page.
    if p.get("confirm") == Some("yes") {
        let expected = cookie_value
            .as_deref()
            .map(|c| token_hash(&format!("logout:{c}")));
        if expected.is_none() || p.get("logout_token") != expected.as_deref() {
            return refuse("The logout confirmation is not valid.");
        }
        if let Some(s) = &session
            && let Err(e) = st.store.end_session(&s.sid, now).await
        {
            return internal(e);
        }
        return logged_out(StatusCode::OK);
    }
    let client_param = p.get("client_id");
    let hint = match p.get("id_token_hint") {
        Some(h) => {
            let aud = jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(h)
                .ok()
                .and_then(|c| c.get("aud").and_then(|a| a.as_str()).map(str::to_owned));
            let client = match aud {
                Some(a) => match st.client(&rt, &a).await {
                    Ok(c) => c,
                    Err(e) => return internal(e),
                },
                None => None,
            };
            match verify_id_token_hint(st, &rt, h, client.as_ref()) {
                Some(c) => Some((c, client)),
                None => return refuse("The id_token_hint is not a valid ID token of this realm."),
            }
        }
        None => None,
    };
    if let (Some((c, _)), Some(cp)) = (&hint, client_param)
        && c.aud != cp
    {
        return refuse("client_id does not match the id_token_hint.");
    }
    let redirect = match p.get("post_logout_redirect_uri") {
        None => None,
        Some(u) => {
            let client = match &hint {
                Some((_, c)) => c.clone(),
                None => match client_param {
                    Some(id) => match st.client(&rt, id).await {
                        Ok(c) => c,
                        Err(e) => return internal(e),
                    },
                    None => None,
                },
            };
            match client {
                Some(c) if c.spec.post_logout_redirect_uris.iter().any(|r| r == u) => {
                    Some(u.to_owned())
                }
                _ => return refuse("post_logout_redirect_uri is not registered for this client."),
            }
        }
    };
    match (&hint, session) {
        (Some(_), Some(s)) => {
            if let Err(e) = st.store.end_session(&s.sid, now).await {
                return internal(e);
            }
        }
        (None, Some(_)) => {
            // No proof the request comes from the relying party: ask the user.
            let token = cookie_value
                .as_deref()
                .map(|c| token_hash(&format!("logout:{c}")))
                .unwrap_or_default();
            return page(
                StatusCode::OK,
                "logout.html",
                minijinja::context! {
                    realm => rt.realm.display_name, confirm => true, logout_token => token,
                    action => format!("/auth/realms/{}/protocol/openid-connect/logout", rt.realm.name),
                },
            );
        }
        (_, None) => {}
    }
    match (redirect, hint.is_some()) {
        (Some(u), true) => {
            let mut params = vec![];
            if let Some(s) = p.get("state") {
                params.push(("state", s));
            }
            let mut r = found(&authorize::redirect_with(&u, &params));
            r.headers_mut().append(header::SET_COOKIE, clear);
            r
        }
        _ => logged_out(StatusCode::OK),
    }
}
