//! HTTP: the router and the helpers shared by handlers (cookies, pages, OAuth error bodies).

// Handlers return a finished `Response` as their error value on purpose (an error page or an
// OAuth error body); boxing it would only add an allocation on the error path.
#![allow(clippy::result_large_err)]

mod ca;
mod card;
mod demo;
mod oidc;

use super::state::AppState;
use crate::core::error::{ErrorCode, OAuthError};
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::{Arc, OnceLock};

/// Shared state type of handlers.
pub type St = axum::extract::State<Arc<AppState>>;

/// The card listener's router: card login, plus the main routes (their mutual-TLS aliases).
pub fn card_router(state: Arc<AppState>) -> Router {
    let card = Router::new()
        .route("/auth/realms/{realm}/card/login", get(card::card_login))
        .with_state(state.clone());
    router(state).merge(card)
}

/// The application router.
pub fn router(state: Arc<AppState>) -> Router {
    let realm = "/auth/realms/{realm}";
    let oc = "/auth/realms/{realm}/protocol/openid-connect";
    Router::new()
        .route("/", get(demo::home))
        .route("/demo/login", get(demo::login))
        .route("/demo/callback", get(demo::callback))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(super::ldap::publisher::http_metrics))
        .route(
            &format!("{realm}/.well-known/openid-configuration"),
            get(oidc::discovery),
        )
        .route(
            &format!("{realm}/.well-known/wallet-openid-configuration"),
            get(oidc::discovery),
        )
        .route(
            &format!("{oc}/auth"),
            get(oidc::authorize_get).post(oidc::authorize_post),
        )
        .route(&format!("{oc}/auth/login"), post(oidc::wallet_login))
        .route(&format!("{oc}/auth/card-return"), get(oidc::card_return))
        .route(&format!("{oc}/token"), post(oidc::token))
        .route(
            &format!("{oc}/userinfo"),
            get(oidc::userinfo_get).post(oidc::userinfo_post),
        )
        .route(&format!("{oc}/certs"), get(oidc::jwks))
        .route(
            &format!("{oc}/logout"),
            get(oidc::logout_get).post(oidc::logout_post),
        )
        .route(&format!("{oc}/token/introspect"), post(oidc::introspect))
        .route(&format!("{oc}/revoke"), post(oidc::revoke))
        .route("/pki/ca/{file}", get(ca::ca_cert))
        .route("/pki/chain/{file}", get(ca::chain))
        .route("/pki/crl/{file}", get(ca::crl))
        .route("/pki/ocsp", post(ca::ocsp_post))
        .route("/pki/ocsp/{*req}", get(ca::ocsp_get))
        .route("/pki/api/v1/requests", post(ca::submit))
        .route("/pki/api/v1/requests/{id}/approve", post(ca::approve))
        .route("/pki/api/v1/requests/{id}/reject", post(ca::reject))
        .route("/pki/api/v1/certificates", get(ca::list))
        .route("/pki/api/v1/certificates/{ca}/{serial}", get(ca::get_cert))
        .route(
            "/pki/api/v1/certificates/{ca}/{serial}/revoke",
            post(ca::revoke),
        )
        .layer(axum::middleware::map_response(security_headers))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<_>| {
                    // The path only: queries can carry codes and states.
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
                },
            ),
        )
        .with_state(state)
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if h.get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"))
    {
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        let all = [
            ("base.html", include_str!("../../../templates/base.html")),
            (
                "wallet.html",
                include_str!("../../../templates/wallet.html"),
            ),
            ("error.html", include_str!("../../../templates/error.html")),
            (
                "logout.html",
                include_str!("../../../templates/logout.html"),
            ),
            ("home.html", include_str!("../../../templates/home.html")),
            ("demo.html", include_str!("../../../templates/demo.html")),
        ];
        for (name, src) in all {
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env
    })
}

/// Renders a page.
pub fn page(status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
    match templates().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// An error page (never a redirect).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(status, "error.html", minijinja::context! { title, message })
}

/// A JSON OAuth error (RFC 6749 §5.2). `invalid_client` is 401, with a Basic challenge when
/// the client used Basic.
pub fn oauth_error(e: &OAuthError, basic_used: bool) -> Response {
    let status = match e.code {
        ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = serde_json::json!({ "error": e.code.as_str(), "error_description": e.description });
    let mut res = (status, no_store(), axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED && basic_used {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"coeur\""),
        );
    }
    res
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, for responses carrying tokens.
pub fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// Logs an internal failure and answers a generic error.
pub fn internal(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "internal error");
    oauth_error(&OAuthError::server_error(), false)
}

/// A cookie's value.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure on https.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
    secure: bool,
) -> HeaderValue {
    let mut s = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(m) = max_age {
        s.push_str(&format!("; Max-Age={m}"));
    }
    if secure {
        s.push_str("; Secure");
    }
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// Parses an `application/x-www-form-urlencoded` body.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Parses a query string.
pub fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}
