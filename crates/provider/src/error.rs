//! How endpoints answer when they do not answer normally: [`ProviderError`], which handlers
//! return and propagate with `?`, and the answers shared by the endpoints.

use crate::state::{AppState, RealmRt};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coeur_oauth::error::{ErrorCode, OAuthError};
use coeur_resource_server::TokenError;
use coeur_web::{Text, error_page, internal, oauth_error};
use serde_json::json;
use std::sync::Arc;

/// Why a handler did not answer normally, and so how it answers.
#[derive(Debug)]
pub(crate) enum ProviderError {
    /// A JSON OAuth error (RFC 6749 §5.2), with a Basic challenge on a 401 when the client
    /// authenticated with Basic.
    OAuth {
        /// The error.
        error: OAuthError,
        /// Whether the client used HTTP Basic.
        basic_used: bool,
    },
    /// A protected resource's refusal of a bearer token (RFC 6750 §3), with its
    /// `WWW-Authenticate` challenge.
    Bearer(OAuthError),
    /// An HTML error page, in the request's language.
    Page {
        /// Its status.
        status: StatusCode,
        /// Its title.
        title: Text,
        /// What it says.
        message: Text,
        /// The technical reason, for the application's developers (as the protocol says it).
        detail: Option<String>,
    },
    /// An answer already built: an error sent back to the client's redirect URI, the wallet
    /// page with a message.
    Answer(Response),
    /// An internal failure: logged, answered with a generic `server_error`.
    Internal(anyhow::Error),
}

impl ProviderError {
    /// An HTML error page.
    pub(crate) fn page(status: StatusCode, title: Text, message: Text) -> Self {
        ProviderError::Page {
            status,
            title,
            message,
            detail: None,
        }
    }

    /// The page of a login page that expired or was already used.
    pub(crate) fn page_expired() -> Self {
        Self::page(
            StatusCode::BAD_REQUEST,
            Text::new("error.page_expired.title"),
            Text::new("error.page_expired.message"),
        )
    }

    /// The same page, with the technical reason for developers.
    pub(crate) fn with_detail(self, reason: impl Into<String>) -> Self {
        match self {
            ProviderError::Page {
                status,
                title,
                message,
                ..
            } => ProviderError::Page {
                status,
                title,
                message,
                detail: Some(reason.into()),
            },
            other => other,
        }
    }

    /// The same refusal, told to a protected resource's caller: an OAuth error becomes a
    /// bearer-token error.
    pub(crate) fn bearer(self) -> Self {
        match self {
            ProviderError::OAuth { error, .. } => ProviderError::Bearer(error),
            other => other,
        }
    }
}

impl IntoResponse for ProviderError {
    fn into_response(self) -> Response {
        match self {
            ProviderError::OAuth { error, basic_used } => oauth_error(&error, basic_used),
            ProviderError::Bearer(e) => bearer_error(&e),
            ProviderError::Page {
                status,
                title,
                message,
                detail,
            } => error_page(status, &title, &message, detail.as_deref()),
            ProviderError::Answer(r) => r,
            ProviderError::Internal(e) => internal(e),
        }
    }
}

impl From<OAuthError> for ProviderError {
    fn from(error: OAuthError) -> Self {
        ProviderError::OAuth {
            error,
            basic_used: false,
        }
    }
}

impl From<anyhow::Error> for ProviderError {
    fn from(e: anyhow::Error) -> Self {
        ProviderError::Internal(e)
    }
}

impl From<serde_json::Error> for ProviderError {
    fn from(e: serde_json::Error) -> Self {
        ProviderError::Internal(e.into())
    }
}

impl From<TokenError> for ProviderError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(d) => OAuthError::new(ErrorCode::InvalidToken, d).into(),
            TokenError::Internal(e) => ProviderError::Internal(e),
        }
    }
}

/// A bearer-token error (RFC 6750 §3): 400 for a malformed request, 401 otherwise, with the
/// error in the challenge and in a JSON body.
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

/// The realm `name`, or a 404 page.
pub(crate) fn realm_or_404(st: &AppState, name: &str) -> Result<Arc<RealmRt>, ProviderError> {
    st.realm(name).cloned().ok_or_else(|| {
        ProviderError::page(
            StatusCode::NOT_FOUND,
            Text::new("error.unknown_realm.title"),
            Text::new("error.unknown_realm.message"),
        )
    })
}

/// The realm `name`, or a JSON 404 (discovery and keys: clients parse the answer as JSON).
pub(crate) fn realm_or_json_404(st: &AppState, name: &str) -> Result<Arc<RealmRt>, ProviderError> {
    st.realm(name).cloned().ok_or_else(|| {
        ProviderError::Answer(
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({ "error": "not_found", "error_description": "unknown realm" })),
            )
                .into_response(),
        )
    })
}

/// The realm `name`, or an OAuth `invalid_request` (endpoints clients call directly).
pub(crate) fn realm_or_invalid(st: &AppState, name: &str) -> Result<Arc<RealmRt>, ProviderError> {
    st.realm(name)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_request("unknown realm").into())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn header(r: &Response, name: header::HeaderName) -> Option<&str> {
        r.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn oauth_errors_keep_their_status_and_challenge() {
        let basic = ProviderError::OAuth {
            error: OAuthError::invalid_client("client authentication failed"),
            basic_used: true,
        }
        .into_response();
        assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&basic, header::WWW_AUTHENTICATE),
            Some("Basic realm=\"coeur\"")
        );
        assert_eq!(header(&basic, header::CACHE_CONTROL), Some("no-store"));
        let plain: ProviderError = OAuthError::invalid_request("code is missing").into();
        let plain = plain.into_response();
        assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
        assert_eq!(header(&plain, header::WWW_AUTHENTICATE), None);
    }

    #[test]
    fn bearer_errors_carry_the_error_in_the_challenge() {
        let e: ProviderError = TokenError::Invalid("expired").into();
        let r = e.bearer().into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let challenge = header(&r, header::WWW_AUTHENTICATE).unwrap();
        assert!(challenge.starts_with("Bearer error=\"invalid_token\""));
        let r = ProviderError::Bearer(OAuthError::invalid_request("send the access token once"))
            .into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn internal_failures_answer_a_generic_server_error() {
        let r = ProviderError::from(anyhow::anyhow!("disk on fire"))
            .bearer()
            .into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
