//! The authorization endpoint: validation, SSO reuse, the start of a login.

use crate::St;
use crate::error::{ProviderError, found, realm_or_404};
use crate::login::wallet_page;
use crate::session::{LOGIN_COOKIE, cookie_path, current_session, secure};
use crate::state::{AppState, RealmRt};
use crate::store::{CodeRow, GrantRow};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use coeur_common::identity::NationalId;
use coeur_common::random::{id128, token as random_token};
use coeur_oauth::authorize::{
    self, AuthorizationRequest, AuthzError, Decision, Params, SessionView,
};
use coeur_oauth::claims::IdTokenClaims;
use coeur_oauth::client::Client;
use coeur_oauth::jose::token_hash;
use coeur_web::{Text, form_pairs, query_pairs, set_cookie};

/// `GET` authorization request: parameters in the query.
pub(crate) async fn authorize_get(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ProviderError> {
    authorize(
        &st,
        &realm,
        &headers,
        Params::from_pairs(query_pairs(q.as_deref())),
    )
    .await
}

/// `POST` authorization request: parameters in the form.
pub(crate) async fn authorize_post(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    authorize(&st, &realm, &headers, Params::from_pairs(form_pairs(&body))).await
}

/// Answers an authorization request: with the SSO session when it suffices, with an error
/// sent to the client, or with the wallet page.
async fn authorize(
    st: &AppState,
    realm: &str,
    headers: &HeaderMap,
    params: Params,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(st, realm)?;
    let (req, client) = validate_request(st, &rt, &params).await?;
    let now = st.now();
    let session = current_session(st, &rt, headers, now).await?;
    let hint_matches = req.id_token_hint.as_deref().map(|h| {
        let sub = verify_id_token_hint(&rt, h, Some(&client)).map(|c| c.sub);
        match (&session, sub) {
            (Some(s), Some(sub)) => sub == rt.realm.subject_of(&s.national_id),
            _ => false,
        }
    });
    match authorize::decide(&req, session.as_ref(), hint_matches, now) {
        Decision::UseSession => {
            let Some(s) = session else {
                return Err(anyhow::anyhow!("session vanished").into());
            };
            let code = random_token(&*st.rng);
            let (grant, code_row) = grant_and_code(st, &rt, &req, &s, now);
            st.store
                .issue_code(&rt.realm.name, &grant, &token_hash(&code), &code_row, now)
                .await?;
            Ok(found(&success_redirect(&rt, &req, &code)))
        }
        Decision::Refuse(e) => Ok(found(&authorize::error_redirect(
            &req.redirect_uri,
            req.state.as_deref(),
            &e,
            &rt.realm.issuer,
        ))),
        Decision::Login => {
            let lang = crate::login::lang_of(&req, headers);
            start_login(st, &rt, &req, &params, now, lang).await
        }
    }
}

/// Looks the client up and validates the request; errors are pages or redirects.
pub(crate) async fn validate_request(
    st: &AppState,
    rt: &RealmRt,
    params: &Params,
) -> Result<(AuthorizationRequest, Client), ProviderError> {
    let refused = |message: Text, detail: String| {
        ProviderError::page(
            StatusCode::BAD_REQUEST,
            Text::new("error.request_refused.title"),
            message,
        )
        .with_detail(detail)
    };
    let page_err = |m: String| refused(Text::new("error.bad_request.message"), m);
    let client_id = authorize::client_id(params).map_err(|e| match e {
        AuthzError::Page(m) => page_err(m),
        AuthzError::Redirect { .. } => page_err("invalid request".into()),
    })?;
    let client = st.client(rt, client_id).await?.ok_or_else(|| {
        refused(
            Text::new("error.unknown_client.message"),
            format!("unknown client_id for this realm: {client_id}"),
        )
    })?;
    let req = authorize::validate(params, &client).map_err(|e| match e {
        AuthzError::Page(m) => page_err(m),
        AuthzError::Redirect {
            redirect_uri,
            state,
            error,
        } => ProviderError::Answer(found(&authorize::error_redirect(
            &redirect_uri,
            state.as_deref(),
            &error,
            &rt.realm.issuer,
        ))),
    })?;
    Ok((req, client))
}

/// The grant a login (or the SSO session) gives the client, and its authorization code.
pub(crate) fn grant_and_code(
    st: &AppState,
    rt: &RealmRt,
    req: &AuthorizationRequest,
    s: &SessionView,
    now: i64,
) -> (GrantRow, CodeRow) {
    let l = &rt.realm.lifetimes;
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
        expires_at: grant_expiry(rt, &req.scope, now),
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

/// When a grant of `scope` made now expires (the end of its refresh chain).
pub(crate) fn grant_expiry(rt: &RealmRt, scope: &[String], now: i64) -> i64 {
    let l = &rt.realm.lifetimes;
    now + if scope.iter().any(|x| x == "offline_access") {
        l.offline_refresh_token
    } else {
        l.refresh_token.max(l.sso_session)
    }
}

/// The client's redirect URI with the code, `state` and `iss`.
pub(crate) fn success_redirect(rt: &RealmRt, req: &AuthorizationRequest, code: &str) -> String {
    let mut p = vec![("code", code)];
    if let Some(s) = &req.state {
        p.push(("state", s));
    }
    p.push(("iss", &rt.realm.issuer));
    authorize::redirect_with(&req.redirect_uri, &p)
}

/// Stores the request as pending and shows the wallet page, with the login cookie that ties
/// the login to this browser.
async fn start_login(
    st: &AppState,
    rt: &RealmRt,
    req: &AuthorizationRequest,
    params: &Params,
    now: i64,
    lang: coeur_web::Lang,
) -> Result<Response, ProviderError> {
    let request_id = random_token(&*st.rng);
    let browser = random_token(&*st.rng);
    let stored: Vec<(&str, &str)> = params.pairs().collect();
    let stored = serde_json::to_string(&stored)?;
    st.store
        .put_pending(
            &token_hash(&request_id),
            &rt.realm.name,
            &token_hash(&browser),
            &stored,
            now + rt.realm.lifetimes.login_page,
        )
        .await?;
    let prefill = req
        .login_hint
        .as_deref()
        .and_then(|h| NationalId::parse(h).ok())
        .map(|n| n.to_string())
        .unwrap_or_default();
    let mut res = wallet_page(rt, req, &request_id, &prefill, None, StatusCode::OK, lang);
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
    Ok(res)
}

/// Verifies an ID token this realm issued (expiry ignored, as for hints). HS256 tokens are
/// verified with the client's secret.
pub(crate) fn verify_id_token_hint(
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
