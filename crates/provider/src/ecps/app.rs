//! The e-CPS web app, an installable progressive web app served at
//! `/auth/realms/{realm}/ecps/app/`: enrolment with an activation code (typed, or from the
//! QR code of the enrolment page, which links here with `#activate=CODE`), the live feed of
//! requests to approve or deny (signed in the browser with a non-extractable WebCrypto key),
//! and the professional's devices. It is a client of the device API like `coeur ecps`.
//!
//! Its page is a template (words from the catalogues, in the request's language; the strings
//! its script needs travel in the page); its script, service worker, manifest and icon are
//! files of `crates/provider/assets/ecps-app/`, embedded in the binary. No build step: plain
//! JavaScript modules.

use crate::St;
use crate::error::{ProviderError, realm_or_404};
use crate::state::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use coeur_web::localized_page;
use std::sync::Arc;

/// The policy of pages running coeur's own scripts: scripts, fetches, the manifest and the
/// service worker from coeur's origin only; nothing inline but styles (the pages' shared
/// stylesheet is inline), no framing.
const SCRIPTED_PAGE_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
img-src 'self'; style-src 'self' 'unsafe-inline'; manifest-src 'self'; worker-src 'self'; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The app's files: name, content type, text.
const ASSETS: [(&str, &str, &str); 7] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/ecps-app/app.js"),
    ),
    (
        "store.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/ecps-app/store.js"),
    ),
    (
        "sw.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/ecps-app/sw.js"),
    ),
    (
        "passkey.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/ecps-app/passkey.js"),
    ),
    (
        "wait.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/ecps-app/wait.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_str!("../../assets/ecps-app/icon.svg"),
    ),
    (
        "manifest.webmanifest",
        "application/manifest+json",
        include_str!("../../assets/ecps-app/manifest.webmanifest"),
    ),
];

/// The web app's routes (main listener).
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/auth/realms/{realm}/ecps/app", get(to_app))
        .route("/auth/realms/{realm}/ecps/app/", get(app_page))
        .route("/auth/realms/{realm}/ecps/app/{file}", get(asset))
}

/// Lets a page run coeur's own scripts (see [`SCRIPTED_PAGE_CSP`]).
pub(crate) fn allow_scripts(res: &mut Response) {
    res.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(SCRIPTED_PAGE_CSP),
    );
}

async fn to_app(Path(realm): Path<String>) -> Response {
    Redirect::permanent(&format!("/auth/realms/{realm}/ecps/app/")).into_response()
}

/// `GET …/ecps/app/`: the app's page.
async fn app_page(st: St, Path(realm): Path<String>) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let mut res = localized_page(
        StatusCode::OK,
        "ecps_app.html",
        minijinja::context! {
            realm => rt.realm.display_name,
            realm_name => rt.realm.name,
            api => format!("/auth/realms/{}/ecps/", rt.realm.name),
        },
    );
    allow_scripts(&mut res);
    Ok(res)
}

/// `GET …/ecps/app/{file}`: one of the app's files.
async fn asset(Path((_realm, file)): Path<(String, String)>) -> Response {
    let Some((_, kind, body)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    // Revalidated on each use: a new coeur serves its new app at once.
    (
        [
            (header::CONTENT_TYPE, *kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        *body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_manifest_is_json_naming_its_icon_and_start() {
        let (_, _, text) = super::ASSETS
            .iter()
            .find(|(n, _, _)| *n == "manifest.webmanifest")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["start_url"], "./");
        assert_eq!(v["display"], "standalone");
        assert_eq!(v["icons"][0]["src"], "icon.svg");
    }
}
