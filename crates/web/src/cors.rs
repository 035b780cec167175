//! CORS headers (Fetch standard, "CORS protocol"): for documents any page may read
//! ([`public`]), and for answers only the origins of the client concerned may read
//! ([`allow_origin`], [`preflight`]), whose decision is `coeur_oauth::cors`'s.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coeur_oauth::cors::OriginAllowed;

/// How long a browser may keep a preflight's answer, in seconds.
pub const PREFLIGHT_MAX_AGE: &str = "600";

/// The request headers a browser application may send to the token, userinfo and revocation
/// endpoints.
pub const ALLOWED_HEADERS: &str = "Authorization, Content-Type";

/// For documents every page may read (discovery, the realm's public keys): any origin, `GET`
/// only, no credentials. Answers preflights itself.
pub fn public() -> tower_http::cors::CorsLayer {
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET])
        .max_age(std::time::Duration::from_secs(600))
}

/// The request's `Origin` header, if it carries one (a browser's cross-origin request).
pub fn request_origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// Marks `res` as depending on the request's origin (`Vary: Origin`), and lets `allowed` read
/// it (`Access-Control-Allow-Origin`, and `expose`d headers). Without `allowed` the answer has
/// no CORS header and a browser keeps it from the page.
pub fn allow_origin(res: &mut Response, allowed: Option<&OriginAllowed>, expose: Option<&str>) {
    let h = res.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    let Some(allowed) = allowed else { return };
    if let Ok(v) = HeaderValue::from_str(allowed.origin()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    if let Some(v) = expose.and_then(|e| HeaderValue::from_str(e).ok()) {
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
    }
}

/// The answer to a preflight (`OPTIONS`) for an endpoint taking `methods` (`"POST"`,
/// `"GET, POST"`): 204, with the methods and headers allowed when `allowed`, else without any
/// CORS header, so that the browser does not send the request.
pub fn preflight(allowed: Option<&OriginAllowed>, methods: &str) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{methods}, OPTIONS")) {
        h.insert(header::ALLOW, v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ),
    );
    let Some(allowed) = allowed else { return res };
    if let Ok(v) = HeaderValue::from_str(allowed.origin()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    if let Ok(v) = HeaderValue::from_str(methods) {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use coeur_oauth::cors::WebOrigins;

    fn allowed() -> OriginAllowed {
        let spec: coeur_oauth::client::ClientSpec = serde_json::from_value(serde_json::json!({
            "client_id": "spa",
            "public": true,
            "token_endpoint_auth_method": "none",
            "redirect_uris": ["https://app.example/cb"],
        }))
        .unwrap();
        WebOrigins::of_client(&spec)
            .allow("https://app.example")
            .unwrap()
    }

    fn get(res: &Response, name: header::HeaderName) -> Option<&str> {
        res.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn an_allowed_origin_may_read_and_preflight() {
        let mut res = StatusCode::OK.into_response();
        allow_origin(&mut res, Some(&allowed()), Some("WWW-Authenticate"));
        assert_eq!(
            get(&res, header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("https://app.example")
        );
        assert_eq!(get(&res, header::VARY), Some("Origin"));
        assert_eq!(
            get(&res, header::ACCESS_CONTROL_EXPOSE_HEADERS),
            Some("WWW-Authenticate")
        );
        assert!(get(&res, header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
        let pre = preflight(Some(&allowed()), "GET, POST");
        assert_eq!(pre.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            get(&pre, header::ACCESS_CONTROL_ALLOW_METHODS),
            Some("GET, POST")
        );
        assert_eq!(
            get(&pre, header::ACCESS_CONTROL_ALLOW_HEADERS),
            Some(ALLOWED_HEADERS)
        );
        assert_eq!(get(&pre, header::ALLOW), Some("GET, POST, OPTIONS"));
    }

    #[test]
    fn another_origin_gets_no_cors_header() {
        let mut res = StatusCode::OK.into_response();
        allow_origin(&mut res, None, Some("WWW-Authenticate"));
        assert_eq!(get(&res, header::VARY), Some("Origin"));
        for h in [
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
        ] {
            assert!(get(&res, h).is_none());
        }
        let pre = preflight(None, "POST");
        assert_eq!(pre.status(), StatusCode::NO_CONTENT);
        for h in [
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
        ] {
            assert!(get(&pre, h).is_none());
        }
    }
}
