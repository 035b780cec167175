//! Answers shared by the endpoints.

use crate::state::{AppState, RealmRt};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coeur_web::error_page;
use std::sync::Arc;

pub(crate) fn realm_or_404(st: &AppState, name: &str) -> Result<Arc<RealmRt>, Response> {
    st.realm(name).cloned().ok_or_else(|| {
        error_page(
            StatusCode::NOT_FOUND,
            "Royaume inconnu",
            "This realm does not exist.",
        )
    })
}

/// 302 Found to `url`.
pub(crate) fn found(url: &str) -> Response {
    (
        StatusCode::FOUND,
        [(
            header::LOCATION,
            HeaderValue::from_str(url).unwrap_or_else(|_| HeaderValue::from_static("/")),
        )],
    )
        .into_response()
}
