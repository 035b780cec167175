//! The demo relying party at `/` ("essaie ta connexion"): a real authorization code flow with
//! PKCE against the sandbox realm, through `coeur-rp` over HTTP to coeur's own public endpoints
//! like any third party, showing the ID token claims and the userinfo answer.

use crate::St;
use crate::session::secure;
use crate::state::AppState;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use coeur_oauth::discovery::Endpoints;
use coeur_rp::{Http, PendingLogin, RelyingParty, RpError};
use coeur_web::{cookie, error_page, page, query_pairs, set_cookie};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The demo client registered in sandbox realms.
pub const DEMO_CLIENT: &str = "demo-rp";

fn demo_realm(st: &AppState) -> Option<String> {
    let mut names: Vec<&String> = st
        .realms
        .iter()
        .filter(|(_, r)| {
            r.realm.sandbox && r.realm.clients.iter().any(|c| c.client_id == DEMO_CLIENT)
        })
        .map(|(n, _)| n)
        .collect();
    names.sort();
    names.first().map(|s| (*s).clone())
}

/// The issuer of the demo realm.
fn demo_issuer(st: &AppState) -> Option<String> {
    let name = demo_realm(st)?;
    Some(st.realm(&name)?.realm.issuer.clone())
}

pub(super) async fn home(st: St) -> Response {
    let mut realms: Vec<minijinja::Value> = Vec::new();
    for n in st.realms.names() {
        let Some(rt) = st.realm(n) else { continue };
        let r = &rt.realm;
        realms.push(minijinja::context! {
            name => r.name, sandbox => r.sandbox, issuer => r.issuer,
            discovery => format!("{}/.well-known/openid-configuration", r.issuer),
            jwks => Endpoints::of(&r.issuer).jwks,
        });
    }
    page(
        StatusCode::OK,
        "home.html",
        minijinja::context! { realms, demo_realm => demo_realm(&st) },
    )
}

fn callback_url(st: &AppState) -> String {
    format!("{}/demo/callback", st.urls.public_url)
}

/// What the demo asks for.
const SCOPES: &[&str] = &["openid", "scope_all", "profile", "email"];

/// The demo client at the demo realm, discovered over HTTP, with the provider's clock and
/// randomness.
async fn relying_party(st: &AppState, issuer: &str) -> Result<RelyingParty, RpError> {
    // coeur's own roots are trusted too, for `serve --tls-self-issued`.
    let roots = st
        .ca
        .ca
        .cas
        .values()
        .filter(|c| c.def.is_root())
        .map(|c| c.cert_der.as_slice());
    let http = Http::with_roots(roots)?;

    let rp = RelyingParty::discover(issuer, DEMO_CLIENT, None, &callback_url(st), http).await?;
    let (clock, rng) = (st.clock.clone(), st.rng.clone());
    Ok(rp
        .with_clock(Arc::new(move || clock.now()))
        .with_random(Arc::new(move |b: &mut [u8]| rng.fill(b))))
}

pub(super) async fn login(st: St) -> Response {
    let Some(issuer) = demo_issuer(&st) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Démo indisponible",
            "No sandbox realm registers the demo client.",
        );
    };
    let started = match relying_party(&st, &issuer).await {
        Ok(rp) => rp.authorize_url(SCOPES, &[("acr_values", "eidas1")]),
        Err(e) => Err(e),
    };
    let (url, pending) = match started {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e.report(), "demo login");
            return error_page(StatusCode::BAD_GATEWAY, "Démo indisponible", &e.report());
        }
    };
    let sealed = match seal_login(&st, pending) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "demo login");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Démo indisponible",
                "The login could not be started.",
            );
        }
    };
    let mut r = Redirect::to(url.as_str()).into_response();
    let c = set_cookie(
        DEMO_COOKIE,
        &sealed,
        DEMO_PATH,
        Some(LOGIN_TTL),
        secure(&st),
    );
    r.headers_mut().append(header::SET_COOKIE, c);
    r
}

/// The cookie holding the demo's login in progress, sealed: the browser that started a login
/// is the only one that can finish it, and the demo keeps nothing per login.
const DEMO_COOKIE: &str = "COEUR_DEMO";
const DEMO_PATH: &str = "/demo/";
/// How long a login has to come back, in seconds.
const LOGIN_TTL: i64 = 900;
/// The sealing context of the demo's cookie.
const SEAL_CONTEXT: &str = "coeur/demo/login";

/// A login in progress and when it started, as sealed in the cookie.
#[derive(Serialize, Deserialize)]
struct SealedLogin {
    login: PendingLogin,
    started: i64,
}

fn seal_login(st: &AppState, login: PendingLogin) -> anyhow::Result<String> {
    let plain = serde_json::to_vec(&SealedLogin {
        login,
        started: st.now(),
    })?;
    st.keys.master().seal(SEAL_CONTEXT, &plain)
}

/// The login in progress of this browser for `state`, unless it expired.
fn open_login(st: &AppState, headers: &HeaderMap, state: &str) -> Option<PendingLogin> {
    let sealed = cookie(headers, DEMO_COOKIE)?;
    let plain = st.keys.master().open(SEAL_CONTEXT, &sealed).ok()?;
    let s: SealedLogin = serde_json::from_slice(&plain).ok()?;
    let fresh = (0..LOGIN_TTL).contains(&(st.now() - s.started));
    (fresh && s.login.state == state).then_some(s.login)
}

fn failed(msg: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "demo.html",
        minijinja::context! { error => msg },
    )
}

/// The demo page's words for a failed login.
fn failure(e: &RpError) -> String {
    match e {
        RpError::NonceMismatch => "nonce mismatch".into(),
        RpError::IdToken(_) => "the ID token does not verify".into(),
        other => other.report(),
    }
}

/// The callback: the demo's cookie is cleared whatever happens (a state is good once).
pub(super) async fn callback(st: St, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let mut r = finish(&st, &headers, q.as_deref()).await;
    let clear = set_cookie(DEMO_COOKIE, "", DEMO_PATH, Some(0), secure(&st));
    r.headers_mut().append(header::SET_COOKIE, clear);
    r
}

async fn finish(st: &AppState, headers: &HeaderMap, q: Option<&str>) -> Response {
    let p: HashMap<String, String> = query_pairs(q).into_iter().collect();
    if let Some(e) = p.get("error") {
        return failed(&format!(
            "{e}: {}",
            p.get("error_description")
                .map(String::as_str)
                .unwrap_or_default()
        ));
    }
    let Some(issuer) = demo_issuer(st) else {
        return failed("no demo realm");
    };
    let Some(pending) = p.get("state").and_then(|s| open_login(st, headers, s)) else {
        return failed("unknown or reused state");
    };
    let rp = match relying_party(st, &issuer).await {
        Ok(rp) => rp,
        Err(e) => return failed(&failure(&e)),
    };
    if let Err(e) = rp.check_callback_issuer(p.get("iss").map(String::as_str)) {
        return failed(&failure(&e));
    }
    let Some(code) = p.get("code") else {
        return failed("no code");
    };
    let login = match rp.exchange(code, pending).await {
        Ok(l) => l,
        Err(e) => {
            tracing::info!(error = %e.report(), "demo login refused");
            return failed(&failure(&e));
        }
    };
    let userinfo = match rp.userinfo_for(&login).await {
        Ok(u) => u,
        Err(e) => return failed(&failure(&e)),
    };
    let name = format!(
        "{} {}",
        userinfo["given_name"].as_str().unwrap_or_default(),
        userinfo["family_name"].as_str().unwrap_or_default()
    );
    page(
        StatusCode::OK,
        "demo.html",
        minijinja::context! {
            name,
            id_token_claims => serde_json::to_string_pretty(&login.claims.all).unwrap_or_default(),
            userinfo => serde_json::to_string_pretty(&userinfo).unwrap_or_default(),
        },
    )
}
