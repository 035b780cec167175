//! coeur's shared web plumbing: pages (minijinja, auto-escaped), cookies, form and query
//! parsing, OAuth error bodies, security headers, the `Authorization` header, and the
//! mutual-TLS listener ([`mtls`]). No domain logic: the provider and the CA build on it.
#![forbid(unsafe_code)]
// Handlers return a finished `Response` as their error value on purpose (an error page or an
// OAuth error body); boxing it would only add an allocation on the error path.
#![allow(clippy::result_large_err)]

pub mod cors;
pub mod i18n;
pub mod lifecycle;
pub mod listener;
pub mod metrics;
pub mod mtls;
mod pages;
pub mod proxy;

pub use i18n::Text;
pub use pages::{
    Lang, ServiceIdentity, error_page, help_page, localized_page, page, page_lang, render_pages,
    request_lang,
};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coeur_oauth::error::{ErrorCode, OAuthError};

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if any.
/// The one Bearer parser of coeur (RFC 6750 §2.1).
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
}

/// Headers every answer carries (no sniffing, no framing, no referrer; pages are not cached
/// and get a strict content security policy unless they set their own).
pub async fn security_headers(mut res: Response) -> Response {
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
        // A page that runs its own scripts (the e-CPS web app) sets a policy of its own.
        if !h.contains_key("content-security-policy") {
            h.insert(
                "content-security-policy",
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'"),
            );
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
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

/// A `303 See Other` to `location` (a page's own URL or a provider's endpoint, never one a
/// request named), setting `cookies`.
pub fn see_other(location: &str, cookies: &[HeaderValue]) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    r
}

/// Parses an `application/x-www-form-urlencoded` body.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Parses the form body of a request a client sends directly (token, introspection,
/// revocation): its `Content-Type` must be `application/x-www-form-urlencoded` (parameters such
/// as `charset` allowed). Any other type is `invalid_request`: a form read whatever its type
/// would accept `text/plain`, which a page of any site can make a browser post.
pub fn client_form(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim());
    match essence {
        Some(t) if t.eq_ignore_ascii_case("application/x-www-form-urlencoded") => {
            Ok(form_pairs(body))
        }
        _ => Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )),
    }
}

/// Parses a query string.
pub fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The layers every listener's router gets: pages rendered in their language as `service`
/// presents itself, security headers, a 64 KiB body limit, and request logs that carry
/// method and path only (queries can carry codes and states).
pub fn with_common_layers(
    router: axum::Router,
    service: std::sync::Arc<ServiceIdentity>,
) -> axum::Router {
    router
        .layer(axum::middleware::from_fn_with_state(service, render_pages))
        .layer(axum::middleware::map_response(security_headers))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<_>| {
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
                },
            )
            .on_failure(log_failure),
        )
        .layer(axum::middleware::from_fn(metrics::record_http))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(ct: Option<&str>) -> Result<Vec<(String, String)>, OAuthError> {
        let mut h = HeaderMap::new();
        if let Some(ct) = ct {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        client_form(&h, b"grant_type=client_credentials")
    }

    #[test]
    fn client_forms_must_say_they_are_forms() {
        for ok in [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=UTF-8",
            "Application/X-WWW-Form-Urlencoded;charset=utf-8",
        ] {
            assert_eq!(typed(Some(ok)).unwrap().len(), 1, "{ok}");
        }
        for bad in [
            None,
            Some("text/plain"),
            Some("text/plain; x=application/x-www-form-urlencoded"),
            Some("application/json"),
            Some("multipart/form-data; boundary=x"),
            Some("application/x-www-form-urlencodedx"),
        ] {
            let e = typed(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{bad:?}");
        }
    }
}

/// Logs a failed response: at ERROR, except 501 (a feature this server does not offer, e.g.
/// a login method a realm lists before it exists), which is no fault of the server.
fn log_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: std::time::Duration,
    span: &tracing::Span,
) {
    use tower_http::classify::ServerErrorsFailureClass as Class;
    let ms = latency.as_millis();
    match class {
        Class::StatusCode(StatusCode::NOT_IMPLEMENTED) => {
            tracing::debug!(parent: span, latency_ms = ms, "not implemented here")
        }
        class => {
            tracing::error!(parent: span, classification = %class, latency_ms = ms, "response failed")
        }
    }
}

#[cfg(test)]
mod log_tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tower::Service as _;

    /// A log sink the test reads back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The ERROR lines logged while a router with the common layers answers `status`.
    fn errors_logged_for(status: StatusCode) -> String {
        let sink = Sink::default();
        let w = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::ERROR)
            .with_ansi(false)
            .with_writer(move || w.clone())
            .finish();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tracing::subscriber::with_default(subscriber, || {
            rt.block_on(async {
                let mut app = with_common_layers(
                    axum::Router::new()
                        .route("/", axum::routing::get(move || async move { status })),
                    Default::default(),
                );
                let r = app
                    .call(axum::http::Request::new(axum::body::Body::empty()))
                    .await
                    .unwrap();
                assert_eq!(r.status(), status);
            })
        });
        String::from_utf8(sink.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn not_implemented_is_not_an_error_of_the_server() {
        // A login method the realm lists but this server does not offer yet answers 501.
        assert_eq!(errors_logged_for(StatusCode::NOT_IMPLEMENTED), "");
        assert!(errors_logged_for(StatusCode::INTERNAL_SERVER_ERROR).contains("ERROR"));
    }
}
