//! The demo relying party at `/` ("essaie ta connexion"): a real authorization code flow with
//! PKCE against the sandbox realm, over HTTP to coeur's own endpoints, showing the ID token
//! claims and the userinfo answer.

use crate::St;
use crate::state::AppState;
use aws_lc_rs::digest;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coeur_common::random::token as random_token;
use coeur_oauth::discovery::Endpoints;
use coeur_web::{error_page, page, query_pairs};
use std::collections::HashMap;

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

pub(super) async fn login(st: St) -> Response {
    let Some(realm) = demo_realm(&st) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Démo indisponible",
            "No sandbox realm registers the demo client.",
        );
    };
    let state = random_token(&*st.rng);
    let nonce = random_token(&*st.rng);
    let verifier = random_token(&*st.rng);
    let challenge = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    let now = st.now();
    if let Ok(mut m) = st.demo.lock() {
        m.retain(|_, v| v.2 > now);
        if m.len() < 10_000 {
            m.insert(state.clone(), (nonce.clone(), verifier, now + 900));
        }
    }
    let issuer = &st.realms[realm.as_str()].realm.issuer;
    let mut u = match url::Url::parse(&Endpoints::of(issuer).authorization) {
        Ok(u) => u,
        Err(_) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, "Erreur", "bad issuer"),
    };
    u.query_pairs_mut()
        .append_pair("client_id", DEMO_CLIENT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid scope_all profile email")
        .append_pair("redirect_uri", &callback_url(&st))
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("acr_values", "eidas1");
    Redirect::to(u.as_str()).into_response()
}

fn failed(msg: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "demo.html",
        minijinja::context! { error => msg },
    )
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
    let issuer = st.realms[realm.as_str()].realm.issuer.clone();
    let Some((nonce, verifier, _)) = p
        .get("state")
        .and_then(|s| st.demo.lock().ok().and_then(|mut m| m.remove(s)))
    else {
        return failed("unknown or reused state");
    };
    if p.get("iss") != Some(&issuer) {
        return failed("the iss parameter does not name the expected issuer");
    }
    let Some(code) = p.get("code") else {
        return failed("no code");
    };
    let ep = Endpoints::of(&issuer);
    // coeur's own roots are trusted too, for `serve --tls-self-issued`.
    let mut builder = reqwest::Client::builder();
    for c in st.ca.ca.cas.values().filter(|c| c.def.is_root()) {
        if let Ok(cert) = reqwest::Certificate::from_der(&c.cert_der) {
            builder = builder.add_root_certificate(cert);
        }
    }
    let http = match builder.build() {
        Ok(h) => h,
        Err(e) => return failed(&format!("HTTP client: {e}")),
    };
    let tokens: serde_json::Value = match http
        .post(&ep.token)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &callback_url(&st)),
            ("client_id", DEMO_CLIENT),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
    {
        Ok(r) => match r.json().await {
            Ok(v) => v,
            Err(e) => return failed(&format!("token response: {e}")),
        },
        Err(e) => return failed(&format!("token request: {e}")),
    };
    let (Some(at), Some(idt)) = (tokens["access_token"].as_str(), tokens["id_token"].as_str())
    else {
        return failed(&format!("token endpoint answered {tokens}"));
    };
    let rt = &st.realms[realm.as_str()];
    let claims = match jsonwebtoken::decode_header(idt).ok().and_then(|h| {
        let ring = rt.ring();
        let (_, dk) = ring.by_kid.get(h.kid.as_deref()?)?;
        let mut v = jsonwebtoken::Validation::new(h.alg);
        v.set_audience(&[DEMO_CLIENT]);
        v.set_issuer(&[&issuer]);
        jsonwebtoken::decode::<serde_json::Value>(idt, dk, &v).ok()
    }) {
        Some(d) => d.claims,
        None => return failed("the ID token does not verify"),
    };
    if claims["nonce"].as_str() != Some(nonce.as_str()) {
        return failed("nonce mismatch");
    }
    let userinfo: serde_json::Value = match http.get(&ep.userinfo).bearer_auth(at).send().await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(e) => return failed(&format!("userinfo: {e}")),
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
            id_token_claims => serde_json::to_string_pretty(&claims).unwrap_or_default(),
            userinfo => serde_json::to_string_pretty(&userinfo).unwrap_or_default(),
        },
    )
}
