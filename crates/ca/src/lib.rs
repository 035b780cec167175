//! coeur's certificate authority service, in the role of IGC-Santé: CA keys and certificates,
//! issuance from CSRs with audit, revocation, CRLs and OCSP, trust in client certificates
//! (own CAs and external authorities), publication to LDAP, and its HTTP API.
//!
//! Protocol and policy decisions come from `coeur-pki` (pure); this crate does the IO.
//! It does not depend on the provider: API callers' tokens are checked through
//! `coeur-resource-server`.
#![forbid(unsafe_code)]

pub mod ca;
pub mod config;
pub mod http;
pub mod ldap;
pub mod policy;
pub mod service;
pub mod store;
pub mod trust;

pub use service::{CaService, CaSettings};
