//! coeur: an OpenID Connect provider and certificate authority for the French health sector.
//!
//! `core` is the pure protocol logic; `shell` does all IO around it (HTTP, database, files,
//! clock). See `docs/ARCHITECTURE.md`.
#![forbid(unsafe_code)]

pub mod core;
pub mod shell;
