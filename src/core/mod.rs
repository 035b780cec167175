//! The pure core of coeur: protocol logic with no network, database, file or clock access.
//!
//! Everything here takes its inputs as typed values (time as `now`, randomness through
//! [`random::Random`]) and returns decisions; the shell (`crate::shell`) does the IO.

pub mod acr;
pub mod authorize;
pub mod claims;
pub mod client;
pub mod discovery;
pub mod error;
pub mod identity;
pub mod jose;
pub mod keyring;
pub mod pkce;
pub mod pki;
pub mod random;
pub mod realm;
pub mod secret;
pub mod token;
