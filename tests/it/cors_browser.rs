//! A single-page application in a real browser: `oidc-client-ts` in headless Chromium, on a page
//! of another origin (`http://localhost:<port>`, served here), completes the code flow with
//! PKCE against the sandbox realm as a public client, reads userinfo and revokes its tokens:
//! every call a cross-origin fetch the browser checks. A client that did not register the
//! page's origin gets nowhere: the browser keeps the token answer from the page.
//!
//! The browser is Debian's Chromium, driven by tests/node/spa.mjs (playwright-core); both and
//! `oidc-client-ts` are installed by scripts/test.sh (tests/node/package.json). Without them
//! the test is skipped with a message, unless `COEUR_REQUIRE_PEERS` is set: then it fails.

use crate::both_dbs;
use crate::support::*;
use axum::http::header;
use coeur::oauth::client::{ClientSpec, GrantType, TokenAuthMethod};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// Serves the application (tests/node/spa, the `oidc-client-ts` browser bundle, and its
/// configuration naming `issuer`) on a loopback port; returns its port.
async fn serve_app(issuer: String) -> u16 {
    let node = repo_dir().join("tests/node");
    let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
    let index = read(node.join("spa/index.html"));
    let app = read(node.join("spa/app.js"));
    let lib = read(node.join("node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js"));
    let config = format!(
        "window.COEUR_ISSUER = {};",
        serde_json::to_string(&issuer).expect("issuer")
    );
    let js =
        |body: String| move || async move { ([(header::CONTENT_TYPE, "text/javascript")], body) };
    let router = axum::Router::new()
        .route("/config.js", axum::routing::get(js(config)))
        .route("/app.js", axum::routing::get(js(app)))
        .route("/oidc-client-ts.min.js", axum::routing::get(js(lib)))
        .fallback(move || async move { axum::response::Html(index) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

fn spa(id: &str, app: &str, web_origins: Option<Vec<String>>) -> ClientSpec {
    ClientSpec {
        public: true,
        token_endpoint_auth_method: TokenAuthMethod::None,
        redirect_uris: vec![format!("{app}/{id}/callback")],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        web_origins,
        ..rp_spec(id)
    }
}

/// Runs tests/node/spa.mjs for `clients`; its report per client.
fn drive(chromium: PathBuf, app: String, clients: &[&str]) -> Value {
    let out = Command::new("node")
        .arg(repo_dir().join("tests/node/spa.mjs"))
        .arg(&app)
        .arg(NATIONAL_ID)
        .args(clients)
        .env("COEUR_CHROMIUM", chromium)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser driver failed ({}): {}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("report {stdout:?}: {e}"))
}

both_dbs!(oidc_client_ts_in_chromium, |db| async move {
    let Some(chromium) = chromium_or_skip(&["playwright-core", "oidc-client-ts"]) else {
        return;
    };
    let s = TestServer::start(db).await;
    let port = serve_app(s.issuer("edit")).await;
    // `localhost` and coeur's `127.0.0.1`: another origin, another site.
    let app = format!("http://localhost:{port}");
    s.add_client("edit", spa("spa", &app, None), None).await;
    let elsewhere = Some(vec!["https://elsewhere.example".to_owned()]);
    s.add_client("edit", spa("spa-elsewhere", &app, elsewhere), None)
        .await;

    let clients = ["spa", "spa-elsewhere"];
    let report = tokio::task::spawn_blocking(move || drive(chromium, app, &clients))
        .await
        .expect("driver task");

    let ok = &report["spa"];
    assert_eq!(ok["ok"], true, "{ok:#}");
    assert_eq!(ok["origin"], format!("http://localhost:{port}"), "{ok:#}");
    let profile = &ok["profile"];
    assert_eq!(
        profile["sub"],
        format!("f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:{NATIONAL_ID}"),
        "{ok:#}"
    );
    // From userinfo (a GET with a bearer token: preflighted).
    assert_eq!(profile["preferred_username"], NATIONAL_ID, "{ok:#}");
    assert!(profile["otherIds"].is_array(), "{ok:#}");
    assert_eq!(ok["had_refresh_token"], true, "{ok:#}");
    // Revoking the refresh token revoked the grant; the page reads userinfo's refusal.
    assert_eq!(ok["after_revocation"]["status"], 401, "{ok:#}");
    assert!(
        ok["after_revocation"]["www_authenticate"]
            .as_str()
            .is_some_and(|h| h.contains("invalid_token")),
        "{ok:#}"
    );

    // Same flow, a client that registered another origin: the token answer is kept from the
    // page.
    let blocked = &report["spa-elsewhere"];
    assert_eq!(blocked["ok"], false, "{blocked:#}");
    assert_eq!(blocked["step"], "signinRedirectCallback", "{blocked:#}");
    assert!(
        blocked["error"]
            .as_str()
            .is_some_and(|e| e.contains("Failed to fetch")),
        "{blocked:#}"
    );
    assert!(
        blocked["console"].to_string().contains("CORS policy"),
        "{blocked:#}"
    );
});
