//! coeur's persistence base, shared by the domains: the database connection with its embedded
//! migrations ([`db::Db`]), the notifications between instances sharing a PostgreSQL database
//! ([`bus::Bus`]), and the key store in the database ([`keystore`]: the master key that
//! seals every private key and secret at rest, realms' versioned key rings, keys held for the
//! CA; its statements in [`store`]).
#![forbid(unsafe_code)]

pub mod bus;
pub mod db;
pub mod keystore;
pub mod store;

pub use bus::{Bus, Event, Heard};
pub use db::Db;
