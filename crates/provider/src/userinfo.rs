//! The userinfo endpoint: a protected resource, so its refusals are bearer-token errors
//! (RFC 6750).

use crate::St;
use crate::access_tokens::verify_bound;
use crate::cors::CorsClient;
use crate::error::ProviderError;
use crate::state::{AppState, RealmRt};
use crate::token::sign_for_client;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coeur_oauth::authorize::Params;
use coeur_oauth::claims::{AccessTokenClaims, userinfo as userinfo_doc};
use coeur_oauth::error::{ErrorCode, OAuthError};
use coeur_oauth::realm::AuthMethod;
use coeur_resource_server::Binding;
use coeur_web::mtls::PeerCertificate;
use coeur_web::{form_pairs, no_store};

/// `GET` userinfo: the token in the `Authorization` header.
pub(crate) async fn userinfo_get(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
) -> Result<Response, ProviderError> {
    let tp = thumbprint_of(peer.as_ref());
    userinfo(&st, &realm, &headers, None, tp.as_deref()).await
}

/// The thumbprint of the TLS client certificate, if one was presented.
fn thumbprint_of(peer: Option<&Extension<PeerCertificate>>) -> Option<String> {
    peer.and_then(|p| p.0.0.as_ref())
        .map(|c| coeur_pki::validate::thumbprint(c))
}

/// `POST` userinfo: the token in the header or in the form (`access_token`).
pub(crate) async fn userinfo_post(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
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

/// A bearer-token refusal saying `invalid_token`.
fn invalid_token(description: &str) -> ProviderError {
    ProviderError::Bearer(OAuthError::new(ErrorCode::InvalidToken, description))
}

/// The access token, sent exactly once (header or form); a bare `Bearer` challenge without.
fn presented_token(
    headers: &HeaderMap,
    body_token: Option<String>,
) -> Result<String, ProviderError> {
    let header_token = coeur_web::bearer_token(headers);
    match (header_token, body_token) {
        (Some(_), Some(_)) => Err(ProviderError::Bearer(OAuthError::invalid_request(
            "send the access token once",
        ))),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => {
            let mut res = StatusCode::UNAUTHORIZED.into_response();
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Err(ProviderError::Answer(res))
        }
    }
}

/// The user's claims the token's scopes allow, as JSON or, when the client registered a
/// signing algorithm for userinfo, as a signed JWT.
async fn userinfo(
    st: &AppState,
    realm: &str,
    headers: &HeaderMap,
    body_token: Option<String>,
    peer_thumbprint: Option<&str>,
) -> Result<Response, ProviderError> {
    let Some(rt) = st.realm(realm).cloned() else {
        return Err(invalid_token("unknown realm"));
    };
    let token = presented_token(headers, body_token)?;
    let claims = verify_bound(st, &rt, &token, Binding::of_certificate(peer_thumbprint))
        .await
        .map_err(ProviderError::bearer)?;
    // From here on the answer concerns the token's client: its origins may read it.
    let cors = CorsClient(claims.client_id.clone());
    let mut res = claims_answer(st, &rt, &claims).await.into_response();
    res.extensions_mut().insert(cors);
    Ok(res)
}

/// The answer for a verified access token: its user's claims, or why there are none.
async fn claims_answer(
    st: &AppState,
    rt: &RealmRt,
    claims: &AccessTokenClaims,
) -> Result<Response, ProviderError> {
    let Some(gid) = &claims.gid else {
        return Err(invalid_token("this token does not represent a user"));
    };
    let grant = st
        .store
        .grant(gid)
        .await?
        .ok_or_else(|| invalid_token("unknown grant"))?;
    let identity = st
        .store
        .identity(&rt.realm.name, &grant.national_id)
        .await?
        .filter(|i| i.active)
        .ok_or_else(|| invalid_token("the user is no longer active"))?;
    let scopes: Vec<String> = claims.scope.split(' ').map(str::to_owned).collect();
    let auth_mode = AuthMethod::parse(&grant.method).map(|m| m.auth_mode());
    let mut doc = userinfo_doc(&claims.sub, &identity, &scopes, auth_mode);
    let client = st.client(rt, &claims.client_id).await?;
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
        let jwt = sign_for_client(rt, c, alg, "JWT", &doc)?;
        return Ok((
            StatusCode::OK,
            no_store(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwt"),
            )],
            jwt,
        )
            .into_response());
    }
    Ok((StatusCode::OK, no_store(), axum::Json(doc)).into_response())
}
