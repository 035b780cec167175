//! The userinfo endpoint.

use crate::St;
use crate::access_tokens::verify_bound;
use crate::state::AppState;
use crate::token::{TokenFailure, sign_for_client};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coeur_oauth::authorize::Params;
use coeur_oauth::claims::userinfo as userinfo_doc;
use coeur_oauth::error::{ErrorCode, OAuthError};
use coeur_oauth::realm::AuthMethod;
use coeur_resource_server::Binding;
use coeur_web::mtls::PeerCertificate;
use coeur_web::{form_pairs, internal, no_store};
use serde_json::json;

pub(crate) fn bearer_error(e: &OAuthError) -> Response {
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

pub(crate) async fn userinfo_get(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
) -> Response {
    let tp = thumbprint_of(peer.as_ref());
    userinfo(&st, &realm, &headers, None, tp.as_deref()).await
}

pub(crate) fn thumbprint_of(peer: Option<&Extension<PeerCertificate>>) -> Option<String> {
    peer.and_then(|p| p.0.0.as_ref())
        .map(|c| coeur_pki::validate::thumbprint(c))
}

pub(crate) async fn userinfo_post(
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

pub(crate) async fn userinfo(
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
