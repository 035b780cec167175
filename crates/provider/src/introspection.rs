//! Token introspection (RFC 7662) and revocation (RFC 7009).

use crate::St;
use crate::access_tokens::verify_unbound;
use crate::client_auth::authenticate_client;
use crate::token::TokenFailure;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use coeur_oauth::authorize::Params;
use coeur_oauth::error::OAuthError;
use coeur_oauth::jose::token_hash;
use coeur_oauth::token::{self as tok, RefreshDecision};
use coeur_web::mtls::PeerCertificate;
use coeur_web::{form_pairs, internal, no_store, oauth_error};
use serde_json::json;

pub(crate) async fn introspect(
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

pub(crate) async fn revoke(
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
