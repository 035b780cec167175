//! Token introspection (RFC 7662) and revocation (RFC 7009).

use crate::St;
use crate::access_tokens::verify_unbound;
use crate::client_auth::{AuthAt, authenticate_client};
use crate::error::{ProviderError, realm_or_invalid};
use crate::state::{AppState, RealmRt};
use crate::token::refresh_decision;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use coeur_oauth::authorize::Params;
use coeur_oauth::claims::AccessTokenClaims;
use coeur_oauth::client::TokenAuthMethod;
use coeur_oauth::error::OAuthError;
use coeur_oauth::jose::token_hash;
use coeur_oauth::token::{ClientAuthenticated, RefreshDecision};
use coeur_web::mtls::PeerCertificate;
use coeur_web::{client_form, no_store};
use serde_json::json;

/// A 200 JSON answer that is not cached.
fn answer(body: serde_json::Value) -> Response {
    (StatusCode::OK, no_store(), axum::Json(body)).into_response()
}

/// The introspection endpoint: an access token (a JWT) of the calling client or of a client
/// it is a resource server for, or a refresh token of the calling client; anything else is
/// `active: false`.
pub(crate) async fn introspect(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let rt = realm_or_invalid(&st, &realm)?;
    let form = Params::from_pairs(client_form(&headers, &body)?);
    let auth = authenticate_client(
        &st,
        &rt,
        AuthAt::Introspection,
        &headers,
        &form,
        peer.as_ref(),
    )
    .await?;
    // RFC 7662 §2.1: the caller must authenticate; a public client cannot.
    if auth.client().spec.token_endpoint_auth_method == TokenAuthMethod::None {
        return Err(OAuthError::invalid_client("public clients cannot use introspection").into());
    }
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let active = if token.contains('.') {
        match verify_unbound(&st, &rt, token).await {
            Ok(c) if c.introspectable_by(auth.client()) => Some(access_token_info(&c)),
            Ok(_) => None,
            Err(ProviderError::OAuth { .. }) => None,
            Err(e) => return Err(e),
        }
    } else {
        refresh_token_info(&st, &rt, &auth, token).await?
    };
    Ok(answer(active.unwrap_or_else(|| json!({ "active": false }))))
}

/// What introspection says of a valid access token.
fn access_token_info(c: &AccessTokenClaims) -> serde_json::Value {
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
    body
}

/// What introspection says of `token` as a refresh token of the calling client: `None` when
/// it is not an active one (unknown, another client's, used, expired, revoked).
async fn refresh_token_info(
    st: &AppState,
    rt: &RealmRt,
    auth: &ClientAuthenticated,
    token: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let now = st.now();
    let Some(row) = st.store.refresh(&rt.realm.name, &token_hash(token)).await? else {
        return Ok(None);
    };
    let decision = refresh_decision(st, rt, &row, auth.client().id(), now).await?;
    if decision != Ok(RefreshDecision::Rotate) {
        return Ok(None);
    }
    let Some(grant) = st.store.grant(&row.grant_id).await? else {
        return Ok(None);
    };
    Ok(Some(json!({
        "active": true, "token_type": "refresh_token", "client_id": row.client_id, "scope": grant.scope,
        "exp": row.expires_at, "sub": rt.realm.subject_of(&grant.national_id), "iss": rt.realm.issuer,
    })))
}

/// The revocation endpoint: an access token (its `jti`) or a refresh token (its whole grant)
/// of the calling client; anything else is answered 200 all the same.
pub(crate) async fn revoke(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let rt = realm_or_invalid(&st, &realm)?;
    let form = Params::from_pairs(client_form(&headers, &body)?);
    let auth =
        authenticate_client(&st, &rt, AuthAt::Revocation, &headers, &form, peer.as_ref()).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let now = st.now();
    if token.contains('.') {
        match verify_unbound(&st, &rt, token).await {
            Ok(c) if c.client_id == auth.client().id() => {
                st.store.revoke_jti(&c.jti, c.exp, now).await?;
            }
            Ok(_) | Err(ProviderError::OAuth { .. }) => {}
            Err(e) => return Err(e),
        }
    } else if let Some(row) = st.store.refresh(&rt.realm.name, &token_hash(token)).await?
        && row.client_id == auth.client().id()
    {
        // Revoking a refresh token revokes its grant: the refresh chain and its access tokens.
        st.store.revoke_grant(&row.grant_id, now).await?;
    }
    Ok((StatusCode::OK, no_store()).into_response())
}
