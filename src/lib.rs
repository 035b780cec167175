//! coeur: an OpenID Connect provider and certificate authority for the French health sector.
//!
//! The root package is the `coeur` binary: configuration ([`config`]), wiring ([`app`], the
//! health directory served beside the provider: [`directory`], the offer service (ROR):
//! [`offer`]) and
//! the command line (the binary's `src/cli/`). The domains live in the workspace's crates
//! (`crates/`): pure protocol crates (`coeur-oauth`, `coeur-pki`, `coeur-common`), the
//! provider, the CA, and the shared plumbing. See `docs/ARCHITECTURE.md`.
#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod directory;
pub mod offer;
mod service_clients;

pub use coeur_ca as ca;
pub use coeur_common as common;
pub use coeur_directory as health_directory;
pub use coeur_oauth as oauth;
pub use coeur_offer as offer_service;
pub use coeur_pki as pki;
pub use coeur_provider as provider;
pub use coeur_resource_server as resource_server;
pub use coeur_storage as storage;
pub use coeur_web as web;
