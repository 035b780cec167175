//! coeur's persistence base, shared by the domains: the database connection with its embedded
//! migrations ([`db::Db`]), the notifications between instances sharing a PostgreSQL database
//! ([`bus::Bus`]), and the on-disk key store ([`keystore`]: the master key that seals
//! every private key and secret at rest, realms' key rings).
#![forbid(unsafe_code)]

pub mod bus;
pub mod db;
pub mod keystore;

pub use bus::{Bus, Event, Heard};
pub use db::Db;
