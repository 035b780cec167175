//! The wallet page and its login methods; completing a login.

pub(crate) mod card;
use crate::St;
use crate::authorize::{grant_and_code, success_redirect, validate_request};
use crate::error::realm_or_404;
use crate::session::{LOGIN_COOKIE, SESSION_COOKIE, cookie_path, secure};
use crate::state::{AppState, RealmRt};
use crate::store::SessionRow;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use card::card_handoff;
use coeur_common::identity::NationalId;
use coeur_common::random::{id128, token as random_token};
use coeur_oauth::authorize::{self, AuthorizationRequest, Params, SessionView};
use coeur_oauth::jose::token_hash;
use coeur_oauth::realm::AuthMethod;
use coeur_web::{cookie, error_page, form_pairs, internal, page, set_cookie};

pub(crate) fn wallet_page(
    rt: &RealmRt,
    req: &AuthorizationRequest,
    request_id: &str,
    national_id: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let methods: Vec<minijinja::Value> = rt
        .realm
        .auth_methods
        .iter()
        .filter(|m| **m != AuthMethod::Test || rt.realm.sandbox)
        .map(|m| {
            let enabled = authorize::method_meets(req, rt.realm.acr.of(*m));
            minijinja::context! { value => m.as_str(), label => m.label(), enabled, why => "niveau insuffisant pour cette application" }
        })
        .collect();
    page(
        status,
        "wallet.html",
        minijinja::context! {
            realm => rt.realm.display_name,
            sandbox => rt.realm.sandbox,
            client_id => req.client_id,
            action => format!("/auth/realms/{}/protocol/openid-connect/auth/login", rt.realm.name),
            request_id,
            national_id,
            error,
            methods,
        },
    )
}

/// The wallet form: `request_id`, `national_id`, `method`.
pub(crate) async fn wallet_login(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rt = match realm_or_404(&st, &realm) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let form = Params::from_pairs(form_pairs(&body));
    let now = st.now();
    let expired = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "Page expirée",
            "This login page has expired or was already used. Go back to the application and start again.",
        )
    };
    let Some(request_id) = form.get("request_id") else {
        return expired();
    };
    let pending_hash = token_hash(request_id);
    let params = match pending_for_browser(&st, &rt, &pending_hash, &headers, now, expired).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (req, _client) = match validate_request(&st, &rt, &params).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let typed = form
        .get("national_id")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let again = |msg: &str, status: StatusCode| {
        wallet_page(&rt, &req, request_id, &typed, Some(msg), status)
    };
    let parsed = form.get("method").and_then(AuthMethod::parse);
    // Production realms never accept test logins, whatever the form says.
    if parsed == Some(AuthMethod::Test) && !rt.realm.sandbox {
        return again(
            "Les identités de test ne sont acceptées que dans le bac à sable.",
            StatusCode::FORBIDDEN,
        );
    }
    let method = match parsed {
        Some(m) if rt.realm.auth_methods.contains(&m) => m,
        _ => {
            return again(
                "Ce moyen de connexion n'est pas proposé ici.",
                StatusCode::BAD_REQUEST,
            );
        }
    };
    if method == AuthMethod::Card {
        if !authorize::method_meets(&req, rt.realm.acr.of(method)) {
            return again(
                "Ce moyen de connexion n'atteint pas le niveau demandé par l'application.",
                StatusCode::BAD_REQUEST,
            );
        }
        return card_handoff(&st, &rt, &pending_hash, now).await;
    }
    if method != AuthMethod::Test {
        return again(
            "Ce moyen de connexion n'est pas encore disponible sur ce serveur.",
            StatusCode::NOT_IMPLEMENTED,
        );
    }
    let national_id = match NationalId::parse(&typed) {
        Ok(n) => n,
        Err(e) => {
            return again(
                &format!("Identifiant national invalide : {e}."),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    match finish_login(
        &st,
        &rt,
        &req,
        &pending_hash,
        &headers,
        &national_id,
        method,
        now,
    )
    .await
    {
        Ok(r) => r,
        Err(LoginRefusal::Message(m, status)) => again(&m, status),
        Err(LoginRefusal::Expired) => expired(),
        Err(LoginRefusal::Internal(e)) => internal(e),
    }
}

/// Why a login could not complete.
pub(crate) enum LoginRefusal {
    /// Shown to the user (on the wallet page, or an error page).
    Message(String, StatusCode),
    /// The pending request was already used.
    Expired,
    /// Internal failure.
    Internal(anyhow::Error),
}

/// Completes a login once the user is authenticated by `method` as `national_id`: checks the
/// identity, opens the SSO session, issues the code, and redirects to the client.
#[allow(clippy::too_many_arguments)] // One login's worth of context.
pub(crate) async fn finish_login(
    st: &AppState,
    rt: &RealmRt,
    req: &AuthorizationRequest,
    pending_hash: &str,
    headers: &HeaderMap,
    national_id: &NationalId,
    method: AuthMethod,
    now: i64,
) -> Result<Response, LoginRefusal> {
    let identity = st
        .store
        .identity(&rt.realm.name, national_id.as_str())
        .await
        .map_err(LoginRefusal::Internal)?;
    let Some(identity) = identity else {
        return Err(LoginRefusal::Message(
            "Identité inconnue dans ce royaume.".into(),
            StatusCode::BAD_REQUEST,
        ));
    };
    if !identity.active {
        return Err(LoginRefusal::Message(
            "Cette identité est désactivée.".into(),
            StatusCode::FORBIDDEN,
        ));
    }
    let acr = rt.realm.acr.of(method);
    if !authorize::method_meets(req, acr) {
        return Err(LoginRefusal::Message(
            "Ce moyen de connexion n'atteint pas le niveau demandé par l'application.".into(),
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
        .await
        .map_err(LoginRefusal::Internal)?;
    if !done {
        return Err(LoginRefusal::Expired);
    }
    tracing::info!(realm = %rt.realm.name, client = %req.client_id, method = method.as_str(), "login");
    let mut res = Redirect::to(&success_redirect(rt, req, &code)).into_response();
    let path = cookie_path(rt);
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &cookie_value, &path, None, secure(st)),
    );
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", &path, Some(0), secure(st)),
    );
    Ok(res)
}

/// The pending authorization request `pending_hash` of this realm, still live and started by
/// this browser (its login cookie), as parameters; `expired` answers for a missing or stale one.
pub(crate) async fn pending_for_browser(
    st: &AppState,
    rt: &RealmRt,
    pending_hash: &str,
    headers: &HeaderMap,
    now: i64,
    expired: impl Fn() -> Response,
) -> Result<Params, Response> {
    let (p_realm, browser_hash, stored, expires_at) = match st.store.pending(pending_hash).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(expired()),
        Err(e) => return Err(internal(e)),
    };
    if p_realm != rt.realm.name || now >= expires_at {
        return Err(expired());
    }
    if cookie(headers, LOGIN_COOKIE)
        .map(|c| token_hash(&c))
        .as_deref()
        != Some(browser_hash.as_str())
    {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "Requête refusée",
            "This login was started in another browser.",
        ));
    }
    let pairs: Vec<(String, String)> =
        serde_json::from_str(&stored).map_err(|e| internal(e.into()))?;
    Ok(Params::from_pairs(pairs))
}
