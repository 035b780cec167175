//! coeur's OpenID Connect provider, in the role of Pro Santé Connect: realms, clients and
//! their keys, the wallet page and its login methods (card, sandbox test logins), codes,
//! tokens and sessions, and the demo relying party. Decisions come from `coeur-oauth`
//! (pure); this crate does the IO (HTTP, its store, key files).
#![forbid(unsafe_code)]
// Handlers' error value, `ProviderError`, can carry a finished `Response` (a redirect with an
// error, the wallet page with a message); boxing it would only add an allocation on the error
// path.
#![allow(clippy::result_large_err)]

mod access_tokens;
mod authorize;
mod backchannel;
pub mod ca_clients;
mod ciba;
mod client_auth;
pub mod client_cache;
pub mod clients;
mod cors;
pub mod delivery;
mod demo;
pub mod directory_sync;
mod discovery;
mod ecps;
mod error;
mod introspection;
mod login;
mod logout;
mod metrics;
mod session;
pub mod state;
pub mod stats;
pub mod store;
mod token;
pub mod tokens;
pub mod upstream;
mod userinfo;

pub use ecps::events::devices_changed_elsewhere;
pub use state::AppState;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use coeur_web::cors::public as public_cors;
use std::sync::Arc;

/// Shared state type of handlers.
type St = axum::extract::State<Arc<AppState>>;

/// The routes only the card listener serves (those login methods add to it: the card login);
/// it serves the main routes too, as their mutual-TLS aliases.
pub fn card_routes(state: Arc<AppState>) -> Router {
    login::routes(login::Listener::Card)
        .route(
            "/auth/realms/{realm}/ciba/approve",
            get(ciba::card::approve_page).post(ciba::card::approve_post),
        )
        .with_state(state)
}

/// The provider's operator routes, for the admin listener only: `/stats/logins` (connection
/// statistics per relying party, method and day, JSON or CSV).
pub fn admin_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/stats/logins", get(stats::http_logins))
        .with_state(state)
}

/// The provider's routes: per realm discovery, authorization, wallet, token, userinfo, JWKS,
/// logout, introspection, revocation, and the routes login methods add (the card's return);
/// the demo relying party; `/healthz`. Discovery and JWKS may be read from any origin; token,
/// userinfo and revocation by the origins of the client concerned (`cors`).
pub fn router(state: Arc<AppState>) -> Router {
    let realm = "/auth/realms/{realm}";
    let oc = "/auth/realms/{realm}/protocol/openid-connect";
    let form_client = from_fn_with_state(state.clone(), cors::form_client);
    let handler_client = from_fn_with_state(state.clone(), cors::handler_client);
    Router::new()
        .route("/", get(demo::home))
        .route("/demo/login", get(demo::login))
        .route("/demo/callback", get(demo::callback))
        .route("/help", get(coeur_web::help_page))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            &format!("{realm}/.well-known/openid-configuration"),
            get(discovery::discovery).layer(public_cors()),
        )
        .route(
            &format!("{realm}/.well-known/wallet-openid-configuration"),
            get(discovery::discovery).layer(public_cors()),
        )
        .route(
            &format!("{oc}/auth"),
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(&format!("{oc}/auth/login"), post(login::wallet_login))
        .route(
            &format!("{oc}/token"),
            post(token::token)
                .route_layer(form_client.clone())
                .options(cors::preflight_post),
        )
        .route(
            &format!("{oc}/userinfo"),
            get(userinfo::userinfo_get)
                .post(userinfo::userinfo_post)
                .route_layer(handler_client)
                .options(cors::preflight_get_post),
        )
        .route(
            &format!("{oc}/certs"),
            get(discovery::jwks).layer(public_cors()),
        )
        .route(
            &format!("{oc}/logout"),
            get(logout::logout_get).post(logout::logout_post),
        )
        .route(
            &format!("{oc}/ext/ciba/auth"),
            post(ciba::authentication_request),
        )
        .route(
            &format!("{oc}/token/introspect"),
            post(introspection::introspect),
        )
        .route(
            &format!("{oc}/revoke"),
            post(introspection::revoke)
                .route_layer(form_client)
                .options(cors::preflight_post),
        )
        .merge(login::routes(login::Listener::Main))
        .with_state(state)
}
