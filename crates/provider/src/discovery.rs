//! Discovery documents and the realm's public keys.

use crate::St;
use crate::error::{ProviderError, realm_or_json_404};
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use coeur_oauth::discovery::{self};

/// The realm's discovery document (OpenID Connect Discovery, and the wallet's alias).
pub(crate) async fn discovery(
    st: St,
    Path(realm): Path<String>,
) -> Result<Response, ProviderError> {
    let rt = realm_or_json_404(&st, &realm)?;
    Ok(axum::Json(discovery::document(&rt.realm, &st.urls.card_public_url)).into_response())
}

/// The realm's public keys, reloaded first if another process rotated them (the store's
/// version read at most once a second).
pub(crate) async fn jwks(st: St, Path(realm): Path<String>) -> Result<Response, ProviderError> {
    let rt = realm_or_json_404(&st, &realm)?;
    rt.refresh_ring_soon(&st.keys).await?;
    let ring = rt.ring();
    let mut res = axum::Json(ring.jwks.clone()).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    Ok(res)
}
