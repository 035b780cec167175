//! The pure OAuth 2.0 / OpenID Connect core of coeur: realms, clients, authorization
//! requests, client authentication, PKCE, tokens and claims (PSC's shape), discovery, JOSE,
//! Back-Channel Logout tokens.
//!
//! Everything here takes its inputs as typed values (time as `now`, randomness through
//! [`coeur_common::random::Random`]) and returns decisions; no network, database, file or
//! clock access. The provider crate does the IO around it.
#![forbid(unsafe_code)]

pub mod acr;
pub mod authorize;
pub mod ciba;
pub mod claims;
pub mod client;
pub mod cors;
pub mod discovery;
pub mod ecps;
pub mod error;
pub mod hs256;
pub mod jose;
pub mod jwe;
pub mod keyring;
pub mod logout;
pub mod pivot;
pub mod pkce;
pub mod realm;
pub mod secret;
pub mod token;
pub mod upstream;
pub mod webauthn;
