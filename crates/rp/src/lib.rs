#![forbid(unsafe_code)]
//! Relying-party helper: the OpenID Connect authorization code flow with PKCE (S256), on the
//! `openidconnect` crate, for the services that log users in with an OpenID provider (Pro Santé
//! Connect, FranceConnect, coeur's own demo page).
//!
//! 1. [`RelyingParty::discover`] reads the issuer's metadata and signing keys.
//! 2. [`RelyingParty::authorize_url`] gives the URL to send the browser to and a
//!    [`PendingLogin`] (state, nonce, PKCE verifier) to keep until the callback, e.g. in a
//!    sealed cookie ([`session::SessionCookies`]).
//! 3. On the callback, [`RelyingParty::check_callback_issuer`] checks the `iss` parameter and
//!    [`RelyingParty::exchange`] redeems the code and verifies the ID token (signature against
//!    the issuer's keys, issuer, audience, nonce, expiry, `at_hash`), giving a [`Login`].
//! 4. [`RelyingParty::userinfo_for`] reads the userinfo endpoint for that login.
//!
//! Pages of a relying party keep their logins in progress and their logged-in users' sessions
//! in cookies sealed under a key derived from the client secret ([`sealed`],
//! [`session::SessionCookies`]): nothing in memory, so any instance sharing the secret reads
//! them, after a restart too. Each form post is checked against its session's CSRF token
//! ([`session::CsrfChecked`]).
//!
//! HTTP goes through [`Http`], reqwest with rustls on aws-lc-rs, never following redirects.
//! Time and randomness may be injected ([`RelyingParty::with_clock`],
//! [`RelyingParty::with_random`]); by default they come from the system.

mod error;
mod http;
mod lazy;
mod login;
mod party;
pub mod sealed;
pub mod session;

pub use error::RpError;
pub use http::Http;
pub use lazy::{LazyParty, PartySettings};
pub use login::{IdClaims, Login, PendingLogin};
pub use party::{Clock, ExtraMetadata, Metadata, RandomFill, RelyingParty};
