//! The demo relying party at `/` ("essaie ta connexion"): a real authorization code flow with
//! PKCE against the sandbox realm, through `coeur-rp` over HTTP to coeur's own public endpoints
//! like any third party, showing the ID token claims and the userinfo answer.

use crate::St;
use crate::state::AppState;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use coeur_oauth::discovery::Endpoints;
use coeur_rp::{Http, RelyingParty, RpError};
use coeur_web::{error_page, page, query_pairs};
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

pub(super) async fn home(st: St) -> Response {
    let mut realms: Vec<minijinja::Value> = Vec::new();
    for n in st.realms.names() {
        let r = &st.realms[n.as_str()].realm;
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
async fn relying_party(st: &AppState, realm: &str) -> Result<RelyingParty, RpError> {
    // coeur's own roots are trusted too, for `serve --tls-self-issued`.
    let roots = st
        .ca
        .ca
        .cas
        .values()
        .filter(|c| c.def.is_root())
        .map(|c| c.cert_der.as_slice());
    let http = Http::with_roots(roots)?;
    let issuer = &st.realms[realm].realm.issuer;
    let rp = RelyingParty::discover(issuer, DEMO_CLIENT, None, &callback_url(st), http).await?;
    let (clock, rng) = (st.clock.clone(), st.rng.clone());
    Ok(rp
        .with_clock(Arc::new(move || clock.now()))
        .with_random(Arc::new(move |b: &mut [u8]| rng.fill(b))))
}

pub(super) async fn login(st: St) -> Response {
    let Some(realm) = demo_realm(&st) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Démo indisponible",
            "No sandbox realm registers the demo client.",
        );
    };
    let started = match relying_party(&st, &realm).await {
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
    if !st.demo.insert(pending, st.now()) {
        tracing::warn!("too many pending demo logins");
    }
    Redirect::to(url.as_str()).into_response()
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

pub(super) async fn callback(st: St, RawQuery(q): RawQuery) -> Response {
    let p: HashMap<String, String> = query_pairs(q.as_deref()).into_iter().collect();
    if let Some(e) = p.get("error") {
        return failed(&format!(
            "{e}: {}",
            p.get("error_description")
                .map(String::as_str)
                .unwrap_or_default()
        ));
    }
    let Some(realm) = demo_realm(&st) else {
        return failed("no demo realm");
    };
    let Some(pending) = p.get("state").and_then(|s| st.demo.take(s, st.now())) else {
        return failed("unknown or reused state");
    };
    let rp = match relying_party(&st, &realm).await {
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
