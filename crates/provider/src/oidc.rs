//! OpenID Connect endpoints.

use crate::St;
use crate::state::{AppState, RealmRt};
use crate::store::{CodeRow, CodeUse, GrantRow, RefreshRow, SessionRow};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use coeur_common::identity::NationalId;
use coeur_common::random::{id128, token as random_token};
use coeur_oauth::acr::Acr;
use coeur_oauth::authorize::{
    self, AuthorizationRequest, AuthzError, Decision, Params, SessionView,
};
use coeur_oauth::claims::Confirmation;
use coeur_oauth::claims::{AccessTokenClaims, IdTokenClaims, userinfo as userinfo_doc};
use coeur_oauth::client::{Client, GrantType};
use coeur_oauth::discovery::{self, Endpoints};
use coeur_oauth::error::{ErrorCode, OAuthError};
use coeur_oauth::jose::{SigAlg, half_hash, sign_hs256, token_hash};
use coeur_oauth::realm::AuthMethod;
use coeur_oauth::token::{self as tok, AuthOutcome, ClientAuthenticated, RefreshDecision};
use coeur_resource_server::{Binding, TokenError, Verifier};
use coeur_web::mtls::PeerCertificate;
use coeur_web::{
    cookie, error_page, form_pairs, internal, no_store, oauth_error, page, query_pairs, set_cookie,
};
use serde_json::json;
use std::sync::Arc;

const SESSION_COOKIE: &str = "COEUR_SESSION";
const LOGIN_COOKIE: &str = "COEUR_LOGIN";

fn realm_or_404(st: &AppState, name: &str) -> Result<Arc<RealmRt>, Response> {
    st.realm(name).cloned().ok_or_else(|| {
        error_page(
            StatusCode::NOT_FOUND,
            "Royaume inconnu",
            "This realm does not exist.",
        )
    })
}

fn cookie_path(rt: &RealmRt) -> String {
    format!("/auth/realms/{}/", rt.realm.name)
}

fn secure(st: &AppState) -> bool {
    st.urls.public_url.starts_with("https:")
}

/// 302 Found to `url`.
fn found(url: &str) -> Response {
    (
        StatusCode::FOUND,
        [(
            header::LOCATION,
            HeaderValue::from_str(url).unwrap_or_else(|_| HeaderValue::from_static("/")),
        )],
    )
        .into_response()
}

// ---------------------------------------------------------------- discovery and keys

pub(super) async fn discovery(st: St, Path(realm): Path<String>) -> Response {
    match realm_or_404(&st, &realm) {
        Ok(rt) => {
            axum::Json(discovery::document(&rt.realm, &st.urls.card_public_url)).into_response()
        }
        Err(r) => r,
    }
}

pub(super) async fn jwks(st: St, Path(realm): Path<String>) -> Response {
    let rt = match realm_or_404(&st, &realm) {
        Ok(r) => r,
        Err(r) => return r,
    };
    if let Err(e) = st.refresh_ring(&rt) {
        return internal(e);
    }
    let ring = rt.ring();
    let mut res = axum::Json(ring.jwks.clone()).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    res
}

// ---------------------------------------------------------------- authorization

pub(super) async fn authorize_get(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    authorize(
        &st,
        &realm,
        &headers,
        Params::from_pairs(query_pairs(q.as_deref())),
    )
    .await
}

pub(super) async fn authorize_post(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authorize(&st, &realm, &headers, Params::from_pairs(form_pairs(&body))).await
}

async fn authorize(st: &AppState, realm: &str, headers: &HeaderMap, params: Params) -> Response {
    let rt = match realm_or_404(st, realm) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let (req, client) = match validate_request(st, &rt, &params).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = st.now();
    let session = match current_session(st, &rt, headers, now).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let hint_matches = req.id_token_hint.as_deref().map(|h| {
        let sub = verify_id_token_hint(st, &rt, h, Some(&client)).map(|c| c.sub);
        match (&session, sub) {
            (Some(s), Some(sub)) => sub == rt.realm.subject_of(&s.national_id),
            _ => false,
        }
    });
    match authorize::decide(&req, session.as_ref(), hint_matches, now) {
        Decision::UseSession => {
            let Some(s) = session else {
                return internal(anyhow::anyhow!("session vanished"));
            };
            let code = random_token(&*st.rng);
            let (grant, code_row) = grant_and_code(st, &rt, &req, &s, now);
            if let Err(e) = st
                .store
                .issue_code(&rt.realm.name, &grant, &token_hash(&code), &code_row, now)
                .await
            {
                return internal(e);
            }
            found(&success_redirect(&rt, &req, &code))
        }
        Decision::Refuse(e) => found(&authorize::error_redirect(
            &req.redirect_uri,
            req.state.as_deref(),
            &e,
            &rt.realm.issuer,
        )),
        Decision::Login => start_login(st, &rt, &req, &params, now).await,
    }
}

/// Looks the client up and validates the request; errors are pages or redirects.
async fn validate_request(
    st: &AppState,
    rt: &RealmRt,
    params: &Params,
) -> Result<(AuthorizationRequest, Client), Response> {
    let page_err = |m: &str| error_page(StatusCode::BAD_REQUEST, "Requête refusée", m);
    let client_id = authorize::client_id(params).map_err(|e| match e {
        AuthzError::Page(m) => page_err(&m),
        AuthzError::Redirect { .. } => page_err("invalid request"),
    })?;
    let client = match st.client(rt, client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(page_err("Unknown client_id for this realm.")),
        Err(e) => return Err(internal(e)),
    };
    let req = authorize::validate(params, &client).map_err(|e| match e {
        AuthzError::Page(m) => page_err(&m),
        AuthzError::Redirect {
            redirect_uri,
            state,
            error,
        } => found(&authorize::error_redirect(
            &redirect_uri,
            state.as_deref(),
            &error,
            &rt.realm.issuer,
        )),
    })?;
    Ok((req, client))
}

async fn current_session(
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

fn session_view(row: &SessionRow) -> Option<SessionView> {
    Some(SessionView {
        sid: row.sid.clone(),
        national_id: row.national_id.clone(),
        auth_time: row.auth_time,
        method: AuthMethod::parse(&row.method)?,
        acr: Acr::parse(&row.acr)?,
    })
}

fn grant_and_code(
    st: &AppState,
    rt: &RealmRt,
    req: &AuthorizationRequest,
    s: &SessionView,
    now: i64,
) -> (GrantRow, CodeRow) {
    let l = &rt.realm.lifetimes;
    let offline = req.scope.iter().any(|x| x == "offline_access");
    let grant = GrantRow {
        grant_id: id128(&*st.rng),
        client_id: req.client_id.clone(),
        national_id: s.national_id.clone(),
        sid: s.sid.clone(),
        scope: req.scope.join(" "),
        nonce: req.nonce.clone(),
        auth_time: s.auth_time,
        acr: s.acr.as_str().to_owned(),
        method: s.method.as_str().to_owned(),
        expires_at: now
            + if offline {
                l.offline_refresh_token
            } else {
                l.refresh_token.max(l.sso_session)
            },
        revoked_at: None,
    };
    let code = CodeRow {
        grant_id: grant.grant_id.clone(),
        client_id: req.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        redirect_uri_given: req.redirect_uri_given,
        code_challenge: req.code_challenge.as_ref().map(|c| c.as_str().to_owned()),
        expires_at: now + l.authorization_code,
        used_at: None,
    };
    (grant, code)
}

fn success_redirect(rt: &RealmRt, req: &AuthorizationRequest, code: &str) -> String {
    let mut p = vec![("code", code)];
    if let Some(s) = &req.state {
        p.push(("state", s));
    }
    p.push(("iss", &rt.realm.issuer));
    authorize::redirect_with(&req.redirect_uri, &p)
}

async fn start_login(
    st: &AppState,
    rt: &RealmRt,
    req: &AuthorizationRequest,
    params: &Params,
    now: i64,
) -> Response {
    let request_id = random_token(&*st.rng);
    let browser = random_token(&*st.rng);
    let stored: Vec<(&str, &str)> = params.pairs().collect();
    let stored = match serde_json::to_string(&stored) {
        Ok(s) => s,
        Err(e) => return internal(e.into()),
    };
    if let Err(e) = st
        .store
        .put_pending(
            &token_hash(&request_id),
            &rt.realm.name,
            &token_hash(&browser),
            &stored,
            now + rt.realm.lifetimes.login_page,
        )
        .await
    {
        return internal(e);
    }
    let prefill = req
        .login_hint
        .as_deref()
        .and_then(|h| NationalId::parse(h).ok())
        .map(|n| n.to_string())
        .unwrap_or_default();
    let mut res = wallet_page(rt, req, &request_id, &prefill, None, StatusCode::OK);
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LOGIN_COOKIE,
            &browser,
            &cookie_path(rt),
            Some(rt.realm.lifetimes.login_page),
            secure(st),
        ),
    );
    res
}

fn wallet_page(
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
pub(super) async fn wallet_login(
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
pub(super) enum LoginRefusal {
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
pub(super) async fn finish_login(
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
async fn pending_for_browser(
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

/// Sends the browser to the card listener with a one-time hand-off token.
async fn card_handoff(st: &AppState, rt: &RealmRt, pending_hash: &str, now: i64) -> Response {
    let handoff = random_token(&*st.rng);
    if let Err(e) = st
        .store
        .put_card_handoff(
            &token_hash(&handoff),
            pending_hash,
            &rt.realm.name,
            now + 300,
        )
        .await
    {
        return internal(e);
    }
    let url = format!(
        "{}/auth/realms/{}/card/login?handoff={handoff}",
        st.urls.card_public_url, rt.realm.name
    );
    Redirect::to(&url).into_response()
}

/// Back from the card listener: completes the login on this origin, for the browser that
/// started it.
pub(super) async fn card_return(
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
    match finish_login(
        &st,
        &rt,
        &req,
        &pending_hash,
        &headers,
        &national_id,
        AuthMethod::Card,
        now,
    )
    .await
    {
        Ok(r) => r,
        Err(LoginRefusal::Message(m, status)) => error_page(status, "Connexion refusée", &m),
        Err(LoginRefusal::Expired) => expired(),
        Err(LoginRefusal::Internal(e)) => internal(e),
    }
}

/// Verifies an ID token this realm issued (expiry ignored, as for hints). HS256 tokens are
/// verified with the client's secret.
fn verify_id_token_hint(
    st: &AppState,
    rt: &RealmRt,
    token: &str,
    client: Option<&Client>,
) -> Option<IdTokenClaims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v.set_issuer(&[&rt.realm.issuer]);
    let claims = if header.alg == jsonwebtoken::Algorithm::HS256 {
        let secret = client?.hmac_secret.as_ref()?;
        jsonwebtoken::decode::<IdTokenClaims>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
            &v,
        )
        .ok()?
        .claims
    } else {
        let _ = st.refresh_ring(rt);
        let ring = rt.ring();
        let (key, dk) = ring.by_kid.get(header.kid.as_deref()?)?;
        if key.alg().to_jwt() != header.alg {
            return None;
        }
        jsonwebtoken::decode::<IdTokenClaims>(token, dk, &v)
            .ok()?
            .claims
    };
    if let Some(c) = client
        && claims.aud != c.id()
    {
        return None;
    }
    Some(claims)
}

// ---------------------------------------------------------------- token endpoint

/// Authenticates the client of a token, introspection or revocation request.
async fn authenticate_client(
    st: &AppState,
    rt: &RealmRt,
    headers: &HeaderMap,
    form: &Params,
    peer: Option<&Extension<PeerCertificate>>,
) -> Result<ClientAuthenticated, (OAuthError, bool)> {
    let authz = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let basic = authz.is_some();
    let presented = tok::presented(authz, form).map_err(|e| (e, basic))?;
    let bad = || {
        (
            OAuthError::invalid_client("client authentication failed"),
            basic,
        )
    };
    let id = presented.claimed_id().ok_or_else(bad)?;
    let client = match st.client(rt, &id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(bad()),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "client lookup");
            return Err((OAuthError::server_error(), basic));
        }
    };
    if client.spec.token_endpoint_auth_method == coeur_oauth::client::TokenAuthMethod::TlsClientAuth
    {
        let cert = match peer.and_then(|p| p.0.0.clone()) {
            Some(der) => Some(client_certificate(st, &der).await.map_err(|e| (e, basic))?),
            None => None,
        };
        return tok::authenticate_tls(&presented, client, cert.as_ref()).map_err(|e| (e, basic));
    }
    let token_url = Endpoints::of(&rt.realm.issuer).token;
    let audiences = [token_url.as_str(), rt.realm.issuer.as_str()];
    match tok::authenticate(presented, client, &audiences, st.now()).map_err(|e| (e, basic))? {
        AuthOutcome::Authenticated(a) => Ok(a),
        AuthOutcome::NeedsJtiCheck(checked) => {
            let fresh = st
                .store
                .use_assertion_jti(&rt.realm.name, &id, &checked.jti, checked.exp)
                .await
                .map_err(|_| (OAuthError::server_error(), basic))?;
            checked.first_use(fresh).map_err(|e| (e, basic))
        }
    }
}

/// Validates an organisation's TLS client certificate: coeur's ORGANISATIONS CAs with the
/// revocation state of the store, or the configured external authorities.
async fn client_certificate(
    st: &AppState,
    der: &[u8],
) -> Result<tok::PresentedCertificate, OAuthError> {
    use coeur_pki::validate::Usage;
    match st.ca.check_client_certificate(der, Usage::ClientTls).await {
        Ok(Ok(v)) => Ok(tok::PresentedCertificate {
            subject: v.subject,
            dns: v.dns,
            thumbprint: v.thumbprint,
        }),
        Ok(Err(e)) => Err(OAuthError::invalid_client(format!(
            "client certificate refused: {e}"
        ))),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "client certificate check");
            Err(OAuthError::server_error())
        }
    }
}

pub(super) async fn token(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rt = match st.realm(&realm) {
        Some(r) => r.clone(),
        None => return oauth_error(&OAuthError::invalid_request("unknown realm"), false),
    };
    let form = Params::from_pairs(form_pairs(&body));
    let gt = match tok::grant_type(&form) {
        Ok(g) => g.to_owned(),
        Err(e) => return oauth_error(&e, false),
    };
    let auth = match authenticate_client(&st, &rt, &headers, &form, peer.as_ref()).await {
        Ok(a) => a,
        Err((e, basic)) => return oauth_error(&e, basic),
    };
    let grant = match GrantType::parse(&gt) {
        Some(g) => g,
        None => {
            return oauth_error(
                &OAuthError::new(ErrorCode::UnsupportedGrantType, "unsupported grant_type"),
                false,
            );
        }
    };
    if !auth.client().allows_grant(grant) {
        return oauth_error(
            &OAuthError::unauthorized_client("this client may not use this grant type"),
            false,
        );
    }
    let result = match grant {
        GrantType::AuthorizationCode => code_grant(&st, &rt, &auth, &form).await,
        GrantType::RefreshToken => refresh_grant(&st, &rt, &auth, &form).await,
        GrantType::ClientCredentials => client_credentials(&st, &rt, &auth, &form),
    };
    match result {
        Ok(body) => (StatusCode::OK, no_store(), axum::Json(body)).into_response(),
        Err(TokenFailure::OAuth(e)) => oauth_error(&e, false),
        Err(TokenFailure::Internal(e)) => internal(e),
    }
}

pub(super) enum TokenFailure {
    OAuth(OAuthError),
    Internal(anyhow::Error),
}

impl From<OAuthError> for TokenFailure {
    fn from(e: OAuthError) -> Self {
        TokenFailure::OAuth(e)
    }
}
impl From<anyhow::Error> for TokenFailure {
    fn from(e: anyhow::Error) -> Self {
        TokenFailure::Internal(e)
    }
}

async fn code_grant(
    st: &AppState,
    rt: &RealmRt,
    auth: &ClientAuthenticated,
    form: &Params,
) -> Result<serde_json::Value, TokenFailure> {
    let now = st.now();
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let code_hash = token_hash(code);
    let row = st
        .store
        .code(&rt.realm.name, &code_hash)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown or expired code"))?;
    // A replay is detected before anything else (even an expired code): RFC 6749 §4.1.2 asks
    // to revoke what the first redemption issued.
    if row.used_at.is_some() {
        st.store.revoke_grant(&row.grant_id, now).await?;
        tracing::warn!(realm = %rt.realm.name, client = %row.client_id, "authorization code replayed; grant revoked");
        return Err(OAuthError::invalid_grant("the code was already used").into());
    }
    let grant_view = tok::CodeGrant {
        client_id: row.client_id.clone(),
        redirect_uri: row.redirect_uri.clone(),
        redirect_uri_given: row.redirect_uri_given,
        code_challenge: row.code_challenge.clone(),
        expires_at: row.expires_at,
    };
    let _redeemable = tok::check_code(
        &grant_view,
        auth,
        form.get("redirect_uri"),
        form.get("code_verifier"),
        now,
    )?;
    let grant = st
        .store
        .grant(&row.grant_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown grant"))?;
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the grant was revoked").into());
    }
    let refresh = auth
        .client()
        .allows_grant(GrantType::RefreshToken)
        .then(|| random_token(&*st.rng));
    let rt_row = refresh.as_ref().map(|_| RefreshRow {
        grant_id: grant.grant_id.clone(),
        client_id: grant.client_id.clone(),
        expires_at: refresh_expiry(rt, &grant, now),
        used_at: None,
    });
    let refresh_hash = refresh.as_deref().map(token_hash);
    let stored = refresh_hash.as_deref().zip(rt_row.as_ref());
    match st
        .store
        .redeem_code(&code_hash, &grant.grant_id, stored, now)
        .await?
    {
        CodeUse::First => {}
        CodeUse::Replay => {
            tracing::warn!(realm = %rt.realm.name, client = %grant.client_id, "authorization code replayed; grant revoked");
            return Err(OAuthError::invalid_grant("the code was already used").into());
        }
    }
    mint(
        st,
        rt,
        auth.client(),
        auth.bound_thumbprint(),
        &grant,
        refresh,
        true,
        now,
    )
    .await
}

fn refresh_expiry(rt: &RealmRt, g: &GrantRow, now: i64) -> i64 {
    let l = &rt.realm.lifetimes;
    let life = if g.scope.split(' ').any(|s| s == "offline_access") {
        l.offline_refresh_token
    } else {
        l.refresh_token
    };
    (now + life).min(g.expires_at)
}

async fn refresh_grant(
    st: &AppState,
    rt: &RealmRt,
    auth: &ClientAuthenticated,
    form: &Params,
) -> Result<serde_json::Value, TokenFailure> {
    let now = st.now();
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let hash = token_hash(presented);
    let row = st
        .store
        .refresh(&rt.realm.name, &hash)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
    let revoked = st.store.grant_revoked(&row.grant_id).await?;
    let rec = tok::RefreshRecord {
        client_id: row.client_id.clone(),
        expires_at: row.expires_at,
        used_at: row.used_at,
        revoked,
    };
    match tok::check_refresh(
        &rec,
        auth.client().id(),
        rt.realm.lifetimes.refresh_reuse_window,
        now,
    )? {
        RefreshDecision::RevokeFamily => {
            st.store.revoke_grant(&row.grant_id, now).await?;
            tracing::warn!(realm = %rt.realm.name, client = %row.client_id, "refresh token reused; grant revoked");
            return Err(OAuthError::invalid_grant("the refresh token was already used").into());
        }
        RefreshDecision::Rotate => {}
    }
    let grant = st
        .store
        .grant(&row.grant_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown grant"))?;
    if let Some(scope) = form.get("scope") {
        let granted: Vec<&str> = grant.scope.split(' ').collect();
        if scope
            .split(' ')
            .any(|s| !s.is_empty() && !granted.contains(&s))
        {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "scope exceeds the original grant",
            )
            .into());
        }
    }
    let next = random_token(&*st.rng);
    let next_row = RefreshRow {
        grant_id: grant.grant_id.clone(),
        client_id: grant.client_id.clone(),
        expires_at: refresh_expiry(rt, &grant, now),
        used_at: None,
    };
    st.store
        .rotate_refresh(&hash, &token_hash(&next), &next_row, now)
        .await?;
    let openid = grant.scope.split(' ').any(|s| s == "openid");
    mint(
        st,
        rt,
        auth.client(),
        auth.bound_thumbprint(),
        &grant,
        Some(next),
        openid,
        now,
    )
    .await
}

fn client_credentials(
    st: &AppState,
    rt: &RealmRt,
    auth: &ClientAuthenticated,
    form: &Params,
) -> Result<serde_json::Value, TokenFailure> {
    let now = st.now();
    let client = auth.client();
    let scope: Vec<String> = client
        .filter_scopes(
            form.get("scope")
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty()),
        )
        .into_iter()
        .filter(|s| s != "openid" && s != "offline_access")
        .collect();
    let at = AccessTokenClaims {
        iss: rt.realm.issuer.clone(),
        sub: client.id().to_owned(),
        aud: client.id().to_owned(),
        client_id: client.id().to_owned(),
        exp: now + rt.realm.lifetimes.access_token,
        iat: now,
        jti: id128(&*st.rng),
        scope: scope.join(" "),
        auth_time: None,
        acr: None,
        sid: None,
        gid: None,
        subject_name_id: None,
        cnf: auth.bound_thumbprint().map(|t| Confirmation {
            x5t_s256: t.to_owned(),
        }),
    };
    let ring = rt.ring();
    let key = ring
        .signer(SigAlg::ES256)
        .or_else(|| rt.realm.signing_algs.first().and_then(|a| ring.signer(*a)))
        .ok_or_else(|| anyhow::anyhow!("no active key"))?;
    let token = key
        .sign("at+jwt", &at)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut body = json!({ "access_token": token, "token_type": "Bearer", "expires_in": rt.realm.lifetimes.access_token });
    if !scope.is_empty() {
        body["scope"] = scope.join(" ").into();
    }
    Ok(body)
}

/// Signs the access token and (for `openid`) the ID token of a user grant.
#[allow(clippy::too_many_arguments)] // One token response's worth of inputs.
async fn mint(
    st: &AppState,
    rt: &RealmRt,
    client: &Client,
    bound: Option<&str>,
    grant: &GrantRow,
    refresh: Option<String>,
    id_token: bool,
    now: i64,
) -> Result<serde_json::Value, TokenFailure> {
    let identity = st
        .store
        .identity(&rt.realm.name, &grant.national_id)
        .await?;
    if !identity.as_ref().is_some_and(|i| i.active) {
        st.store.revoke_grant(&grant.grant_id, now).await?;
        return Err(OAuthError::invalid_grant("the user is no longer active").into());
    }
    let sub = rt.realm.subject_of(&grant.national_id);
    let l = &rt.realm.lifetimes;
    let scopes: Vec<String> = grant.scope.split(' ').map(str::to_owned).collect();
    let psc = scopes.iter().any(|s| s == "scope_all");
    let at = AccessTokenClaims {
        iss: rt.realm.issuer.clone(),
        sub: sub.clone(),
        aud: client.id().to_owned(),
        client_id: client.id().to_owned(),
        exp: now + l.access_token,
        iat: now,
        jti: id128(&*st.rng),
        scope: grant.scope.clone(),
        auth_time: Some(grant.auth_time),
        acr: Some(grant.acr.clone()),
        sid: Some(grant.sid.clone()),
        gid: Some(grant.grant_id.clone()),
        subject_name_id: psc.then(|| grant.national_id.clone()),
        cnf: bound.map(|t| Confirmation {
            x5t_s256: t.to_owned(),
        }),
    };
    let ring = rt.ring();
    let at_key = ring
        .signer(SigAlg::ES256)
        .or_else(|| rt.realm.signing_algs.first().and_then(|a| ring.signer(*a)))
        .ok_or_else(|| anyhow::anyhow!("no active key"))?;
    let access_token = at_key
        .sign("at+jwt", &at)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": l.access_token,
        "scope": grant.scope,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = r.into();
        body["refresh_expires_in"] = (refresh_expiry(rt, grant, now) - now).into();
    }
    if id_token {
        let method = AuthMethod::parse(&grant.method).unwrap_or(AuthMethod::Test);
        let claims = IdTokenClaims {
            iss: rt.realm.issuer.clone(),
            sub,
            aud: client.id().to_owned(),
            azp: client.id().to_owned(),
            exp: now + l.id_token,
            iat: now,
            jti: id128(&*st.rng),
            auth_time: grant.auth_time,
            nonce: grant.nonce.clone(),
            acr: grant.acr.clone(),
            amr: method.amr().iter().map(|s| (*s).to_owned()).collect(),
            sid: grant.sid.clone(),
            at_hash: Some(half_hash(&access_token)),
            auth_mode: method.auth_mode().to_owned(),
            subject_name_id: psc.then(|| grant.national_id.clone()),
            preferred_username: psc.then(|| grant.national_id.clone()),
        };
        body["id_token"] =
            sign_for_client(rt, client, client.id_token_alg(), "JWT", &claims)?.into();
    }
    Ok(body)
}

fn sign_for_client<T: serde::Serialize>(
    rt: &RealmRt,
    client: &Client,
    alg: SigAlg,
    typ: &str,
    claims: &T,
) -> Result<String, TokenFailure> {
    if alg == SigAlg::HS256 {
        let secret = client
            .hmac_secret
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("HS256 client without a sealed secret"))?;
        return Ok(sign_hs256(secret.as_bytes(), typ, claims).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let ring = rt.ring();
    let key = ring.signer(alg).ok_or_else(|| {
        anyhow::anyhow!("no active {} key in realm {}", alg.as_str(), rt.realm.name)
    })?;
    Ok(key.sign(typ, claims).map_err(|e| anyhow::anyhow!("{e}"))?)
}

// ---------------------------------------------------------------- access tokens

/// The verifier of `rt`'s access tokens (every realm has one).
fn verifier<'a>(st: &'a AppState, rt: &RealmRt) -> Result<&'a Arc<Verifier>, TokenFailure> {
    st.verifier(&rt.realm.name).ok_or_else(|| {
        TokenFailure::Internal(anyhow::anyhow!("no verifier for realm {}", rt.realm.name))
    })
}

impl From<TokenError> for TokenFailure {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(d) => {
                TokenFailure::OAuth(OAuthError::new(ErrorCode::InvalidToken, d))
            }
            TokenError::Internal(e) => TokenFailure::Internal(e),
        }
    }
}

/// Verifies one of this realm's access tokens for a request presenting `presented`.
async fn verify_bound(
    st: &AppState,
    rt: &RealmRt,
    token: &str,
    presented: Binding<'_>,
) -> Result<AccessTokenClaims, TokenFailure> {
    Ok(verifier(st, rt)?.verify(token, presented).await?)
}

/// Verifies one of this realm's access tokens, leaving its sender binding to the caller
/// (introspection reports `cnf`; revocation needs no proof of possession).
async fn verify_unbound(
    st: &AppState,
    rt: &RealmRt,
    token: &str,
) -> Result<AccessTokenClaims, TokenFailure> {
    Ok(verifier(st, rt)?.verify_unbound(token).await?)
}

fn bearer_error(e: &OAuthError) -> Response {
    let status = if e.code == ErrorCode::InvalidRequest {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::UNAUTHORIZED
    };
    let challenge = format!(
        "Bearer error=\"{}\", error_description=\"{}\"",
        e.code.as_str(),
        e.description
    );
    let mut res = (
        status,
        axum::Json(json!({ "error": e.code.as_str(), "error_description": e.description })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

pub(super) async fn userinfo_get(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
) -> Response {
    let tp = thumbprint_of(peer.as_ref());
    userinfo(&st, &realm, &headers, None, tp.as_deref()).await
}

fn thumbprint_of(peer: Option<&Extension<PeerCertificate>>) -> Option<String> {
    peer.and_then(|p| p.0.0.as_ref())
        .map(|c| coeur_pki::validate::thumbprint(c))
}

pub(super) async fn userinfo_post(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Params::from_pairs(form_pairs(&body));
    let tp = thumbprint_of(peer.as_ref());
    userinfo(
        &st,
        &realm,
        &headers,
        form.get("access_token").map(str::to_owned),
        tp.as_deref(),
    )
    .await
}

async fn userinfo(
    st: &AppState,
    realm: &str,
    headers: &HeaderMap,
    body_token: Option<String>,
    peer_thumbprint: Option<&str>,
) -> Response {
    let Some(rt) = st.realm(realm).cloned() else {
        return bearer_error(&OAuthError::new(ErrorCode::InvalidToken, "unknown realm"));
    };
    let header_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let token = match (header_token, body_token) {
        (Some(_), Some(_)) => {
            return bearer_error(&OAuthError::invalid_request("send the access token once"));
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => {
            let mut res = StatusCode::UNAUTHORIZED.into_response();
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return res;
        }
    };
    let claims = match verify_bound(st, &rt, &token, Binding::of_certificate(peer_thumbprint)).await
    {
        Ok(c) => c,
        Err(TokenFailure::OAuth(e)) => return bearer_error(&e),
        Err(TokenFailure::Internal(e)) => return internal(e),
    };
    let Some(gid) = &claims.gid else {
        return bearer_error(&OAuthError::new(
            ErrorCode::InvalidToken,
            "this token does not represent a user",
        ));
    };
    let grant = match st.store.grant(gid).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            return bearer_error(&OAuthError::new(ErrorCode::InvalidToken, "unknown grant"));
        }
        Err(e) => return internal(e),
    };
    let identity = match st.store.identity(&rt.realm.name, &grant.national_id).await {
        Ok(Some(i)) if i.active => i,
        Ok(_) => {
            return bearer_error(&OAuthError::new(
                ErrorCode::InvalidToken,
                "the user is no longer active",
            ));
        }
        Err(e) => return internal(e),
    };
    let scopes: Vec<String> = claims.scope.split(' ').map(str::to_owned).collect();
    let auth_mode = AuthMethod::parse(&grant.method).map(|m| m.auth_mode());
    let mut doc = userinfo_doc(&claims.sub, &identity, &scopes, auth_mode);
    let client = match st.client(&rt, &claims.client_id).await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    if let Some(c) = client.as_ref()
        && let Some(alg) = c.spec.userinfo_signed_response_alg
    {
        let now = st.now();
        if let Some(o) = doc.as_object_mut() {
            o.insert("iss".into(), rt.realm.issuer.clone().into());
            o.insert("aud".into(), c.id().into());
            o.insert("iat".into(), now.into());
            o.insert("exp".into(), (now + rt.realm.lifetimes.access_token).into());
        }
        return match sign_for_client(&rt, c, alg, "JWT", &doc) {
            Ok(jwt) => (
                StatusCode::OK,
                no_store(),
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/jwt"),
                )],
                jwt,
            )
                .into_response(),
            Err(TokenFailure::Internal(e)) => internal(e),
            Err(TokenFailure::OAuth(e)) => bearer_error(&e),
        };
    }
    (StatusCode::OK, no_store(), axum::Json(doc)).into_response()
}

// ---------------------------------------------------------------- introspection and revocation

pub(super) async fn introspect(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(rt) = st.realm(&realm).cloned() else {
        return oauth_error(&OAuthError::invalid_request("unknown realm"), false);
    };
    let form = Params::from_pairs(form_pairs(&body));
    let auth = match authenticate_client(&st, &rt, &headers, &form, peer.as_ref()).await {
        Ok(a) => a,
        Err((e, basic)) => return oauth_error(&e, basic),
    };
    // RFC 7662 §2.1: the caller must authenticate; a public client cannot.
    if auth.client().spec.token_endpoint_auth_method == coeur_oauth::client::TokenAuthMethod::None {
        return oauth_error(
            &OAuthError::invalid_client("public clients cannot use introspection"),
            false,
        );
    }
    let Some(token) = form.get("token") else {
        return oauth_error(&OAuthError::invalid_request("token is missing"), false);
    };
    let inactive = || {
        (
            StatusCode::OK,
            no_store(),
            axum::Json(json!({ "active": false })),
        )
            .into_response()
    };
    if token.contains('.') {
        return match verify_unbound(&st, &rt, token).await {
            Ok(c) => {
                let mut body = json!({
                    "active": true, "scope": c.scope, "client_id": c.client_id, "token_type": "Bearer",
                    "exp": c.exp, "iat": c.iat, "sub": c.sub, "aud": c.aud, "iss": c.iss, "jti": c.jti,
                });
                if let Some(n) = &c.subject_name_id {
                    body["username"] = n.clone().into();
                    body["SubjectNameID"] = n.clone().into();
                }
                // RFC 8705 §3.2: the resource server checks the binding.
                if let Some(cnf) = &c.cnf {
                    body["cnf"] = json!({ "x5t#S256": cnf.x5t_s256 });
                }
                for (k, v) in [
                    ("acr", c.acr.clone().map(Into::into)),
                    ("auth_time", c.auth_time.map(Into::into)),
                    ("sid", c.sid.clone().map(Into::into)),
                ] {
                    if let Some(v) = v {
                        body[k] = v;
                    }
                }
                let _ = &auth;
                (StatusCode::OK, no_store(), axum::Json(body)).into_response()
            }
            Err(TokenFailure::OAuth(_)) => inactive(),
            Err(TokenFailure::Internal(e)) => internal(e),
        };
    }
    let now = st.now();
    let row = match st.store.refresh(&rt.realm.name, &token_hash(token)).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let Some(row) = row else { return inactive() };
    if row.client_id != auth.client().id() {
        return inactive();
    }
    let revoked = match st.store.grant_revoked(&row.grant_id).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let rec = tok::RefreshRecord {
        client_id: row.client_id.clone(),
        expires_at: row.expires_at,
        used_at: row.used_at,
        revoked,
    };
    match tok::check_refresh(
        &rec,
        auth.client().id(),
        rt.realm.lifetimes.refresh_reuse_window,
        now,
    ) {
        Ok(RefreshDecision::Rotate) if row.used_at.is_none() => {
            let grant = match st.store.grant(&row.grant_id).await {
                Ok(Some(g)) => g,
                Ok(None) => return inactive(),
                Err(e) => return internal(e),
            };
            let body = json!({
                "active": true, "token_type": "refresh_token", "client_id": row.client_id, "scope": grant.scope,
                "exp": row.expires_at, "sub": rt.realm.subject_of(&grant.national_id), "iss": rt.realm.issuer,
            });
            (StatusCode::OK, no_store(), axum::Json(body)).into_response()
        }
        _ => inactive(),
    }
}

pub(super) async fn revoke(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(rt) = st.realm(&realm).cloned() else {
        return oauth_error(&OAuthError::invalid_request("unknown realm"), false);
    };
    let form = Params::from_pairs(form_pairs(&body));
    let auth = match authenticate_client(&st, &rt, &headers, &form, peer.as_ref()).await {
        Ok(a) => a,
        Err((e, basic)) => return oauth_error(&e, basic),
    };
    let Some(token) = form.get("token") else {
        return oauth_error(&OAuthError::invalid_request("token is missing"), false);
    };
    let now = st.now();
    let ok = || (StatusCode::OK, no_store()).into_response();
    if token.contains('.') {
        return match verify_unbound(&st, &rt, token).await {
            Ok(c) if c.client_id == auth.client().id() => {
                match st.store.revoke_jti(&c.jti, c.exp).await {
                    Ok(()) => ok(),
                    Err(e) => internal(e),
                }
            }
            Ok(_) | Err(TokenFailure::OAuth(_)) => ok(),
            Err(TokenFailure::Internal(e)) => internal(e),
        };
    }
    match st.store.refresh(&rt.realm.name, &token_hash(token)).await {
        // Revoking a refresh token revokes its grant: the refresh chain and its access tokens.
        Ok(Some(row)) if row.client_id == auth.client().id() => {
            match st.store.revoke_grant(&row.grant_id, now).await {
                Ok(_) => ok(),
                Err(e) => internal(e),
            }
        }
        Ok(_) => ok(),
        Err(e) => internal(e),
    }
}

// ---------------------------------------------------------------- logout

pub(super) async fn logout_get(
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

pub(super) async fn logout_post(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    logout(&st, &realm, &headers, Params::from_pairs(form_pairs(&body))).await
}

async fn logout(st: &AppState, realm: &str, headers: &HeaderMap, p: Params) -> Response {
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
