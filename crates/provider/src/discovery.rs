//! Discovery documents and the realm's public keys.

use crate::St;
use crate::error::realm_or_404;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use coeur_oauth::discovery::{self};
use coeur_web::internal;

pub(crate) async fn discovery(st: St, Path(realm): Path<String>) -> Response {
    match realm_or_404(&st, &realm) {
        Ok(rt) => {
            axum::Json(discovery::document(&rt.realm, &st.urls.card_public_url)).into_response()
        }
        Err(r) => r,
    }
}

pub(crate) async fn jwks(st: St, Path(realm): Path<String>) -> Response {
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
