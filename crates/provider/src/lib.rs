//! coeur's OpenID Connect provider, in the role of Pro Santé Connect: realms, clients and
//! their keys, the wallet page and its login methods (card, sandbox test logins), codes,
//! tokens and sessions, and the demo relying party. Decisions come from `coeur-oauth`
//! (pure); this crate does the IO (HTTP, its store, key files).
#![forbid(unsafe_code)]
// Handlers return a finished `Response` as their error value on purpose (an error page or an
// OAuth error body); boxing it would only add an allocation on the error path.
#![allow(clippy::result_large_err)]

mod card;
pub mod clients;
mod demo;
mod oidc;
pub mod state;
pub mod store;
pub mod tokens;

pub use state::AppState;

use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;

/// Shared state type of handlers.
type St = axum::extract::State<Arc<AppState>>;

/// The routes only the card listener serves (the card login); it serves the main routes too,
/// as their mutual-TLS aliases.
pub fn card_routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/auth/realms/{realm}/card/login", get(card::card_login))
        .with_state(state)
}

/// The provider's routes: per realm discovery, authorization, wallet, token, userinfo, JWKS,
/// logout, introspection, revocation; the demo relying party; `/healthz`.
pub fn router(state: Arc<AppState>) -> Router {
    let realm = "/auth/realms/{realm}";
    let oc = "/auth/realms/{realm}/protocol/openid-connect";
    Router::new()
        .route("/", get(demo::home))
        .route("/demo/login", get(demo::login))
        .route("/demo/callback", get(demo::callback))
        .route("/healthz", get(|| async { "ok" }))
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
        .with_state(state)
}
