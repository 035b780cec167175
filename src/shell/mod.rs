//! The IO shell: configuration, HTTP, database, key files, clock. Handlers parse input into
//! typed values, call `crate::core`, persist, and answer.

pub mod ca;
pub mod card;
pub mod config;
pub mod http;
pub mod keystore;
pub mod ldap;
pub mod state;
pub mod store;
pub mod trust;
