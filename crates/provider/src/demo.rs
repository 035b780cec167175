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
use coeur_web::{Text, cookie, error_page, localized_page, query_pairs, set_cookie};
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
            display_name => r.display_name, sandbox => r.sandbox, issuer => r.issuer,
            discovery => format!("{}/.well-known/openid-configuration", r.issuer),
            jwks => Endpoints::of(&r.issuer).jwks,
        });
    }
    localized_page(
        StatusCode::OK,
        "home.html",
        minijinja::context! { realms, demo_realm => demo_realm(&st) },
    )
}

/// The demo's error page.
fn unavailable(status: StatusCode, message: Text, detail: Option<&str>) -> Response {
    error_page(
        status,
        &Text::new("demo.unavailable.title"),
        &message,
        detail,
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
        return unavailable(StatusCode::NOT_FOUND, Text::new("demo.no_realm"), None);
    };
    let started = match relying_party(&st, &issuer).await {
        Ok(rp) => rp.authorize_url(SCOPES, &[("acr_values", "eidas1")]),
        Err(e) => Err(e),
    };
    let (url, pending) = match started {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e.report(), "demo login");
            return unavailable(
                StatusCode::BAD_GATEWAY,
                Text::new("demo.start_failed"),
                Some(&e.report()),
            );
        }
    };
    let sealed = match seal_login(&st, pending) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "demo login");
            return unavailable(
                StatusCode::INTERNAL_SERVER_ERROR,
                Text::new("demo.start_failed"),
                None,
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

/// The demo's page for a failed login: what happened, and the technical reason.
fn failed(error: Text, detail: impl Into<Option<String>>) -> Response {
    localized_page(
        StatusCode::BAD_REQUEST,
        "demo.html",
        minijinja::context! { error, detail => detail.into() },
    )
}

/// A failed login for `e`, as the demo page says it.
fn failure(e: &RpError) -> Response {
    let detail = match e {
        RpError::NonceMismatch => "nonce mismatch".into(),
        RpError::IdToken(_) => "the ID token does not verify".into(),
        other => other.report(),
    };
    failed(Text::new("demo.verify"), detail)
}

/// What a claim is, for the claims PSC's relying parties read most.
fn meaning(claim: &str) -> Option<Text> {
    Some(match claim {
        "sub" => Text::new("claim.sub"),
        "preferred_username" => Text::new("claim.preferred_username"),
        "SubjectNameID" => Text::new("claim.SubjectNameID"),
        "given_name" => Text::new("claim.given_name"),
        "family_name" => Text::new("claim.family_name"),
        "email" => Text::new("claim.email"),
        "acr" => Text::new("claim.acr"),
        "amr" => Text::new("claim.amr"),
        "auth_time" => Text::new("claim.auth_time"),
        "iss" => Text::new("claim.iss"),
        "aud" => Text::new("claim.aud"),
        "exp" => Text::new("claim.exp"),
        "iat" => Text::new("claim.iat"),
        "sid" => Text::new("claim.sid"),
        "nonce" => Text::new("claim.nonce"),
        "SubjectRefPro" => Text::new("claim.SubjectRefPro"),
        "SubjectOrganization" => Text::new("claim.SubjectOrganization"),
        "SubjectRole" => Text::new("claim.SubjectRole"),
        "otherIds" => Text::new("claim.otherIds"),
        "codeCivilite" => Text::new("claim.codeCivilite"),
        _ => return None,
    })
}

/// The rows of a claims table: each claim, its value (texts as they are, anything else as
/// compact JSON), and what it is when known.
fn claim_rows(claims: &serde_json::Map<String, serde_json::Value>) -> Vec<minijinja::Value> {
    claims
        .iter()
        .map(|(name, v)| {
            let (value, long) = match v {
                serde_json::Value::String(s) => (s.clone(), false),
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => (v.to_string(), true),
                other => (other.to_string(), false),
            };
            minijinja::context! { name, value, long, meaning => meaning(name) }
        })
        .collect()
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
        let description = p.get("error_description").map(String::as_str);
        return failed(
            Text::new("demo.provider_error"),
            format!("{e}: {}", description.unwrap_or_default()),
        );
    }
    let Some(issuer) = demo_issuer(st) else {
        return failed(Text::new("demo.no_realm"), None::<String>);
    };
    let Some(pending) = p.get("state").and_then(|s| open_login(st, headers, s)) else {
        return failed(
            Text::new("demo.state"),
            "unknown or reused state".to_owned(),
        );
    };
    let rp = match relying_party(st, &issuer).await {
        Ok(rp) => rp,
        Err(e) => return failure(&e),
    };
    if let Err(e) = rp.check_callback_issuer(p.get("iss").map(String::as_str)) {
        return failure(&e);
    }
    let Some(code) = p.get("code") else {
        return failed(Text::new("demo.verify"), "no code".to_owned());
    };
    let login = match rp.exchange(code, pending).await {
        Ok(l) => l,
        Err(e) => {
            tracing::info!(error = %e.report(), "demo login refused");
            return failure(&e);
        }
    };
    let userinfo = match rp.userinfo_for(&login).await {
        Ok(u) => u,
        Err(e) => return failure(&e),
    };
    let name = format!(
        "{} {}",
        userinfo["given_name"].as_str().unwrap_or_default(),
        userinfo["family_name"].as_str().unwrap_or_default()
    );
    let userinfo_rows = userinfo.as_object().map(claim_rows).unwrap_or_default();
    localized_page(
        StatusCode::OK,
        "demo.html",
        minijinja::context! {
            name,
            userinfo_rows,
            id_token_rows => claim_rows(&login.claims.all),
            id_token_claims => serde_json::to_string_pretty(&login.claims.all).unwrap_or_default(),
            userinfo => serde_json::to_string_pretty(&userinfo).unwrap_or_default(),
            // RP-initiated logout, back to the home page (registered for the demo client).
            logout_url => rp.end_session_endpoint().map(url::Url::as_str),
            id_token => login.id_token,
            post_logout_redirect_uri => format!("{}/", st.urls.public_url),
        },
    )
}
