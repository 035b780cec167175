//! coeur's integration tests: one binary, real servers on loopback, each test run on SQLite
//! and on PostgreSQL.

mod support;

pub(crate) use coeur_testkit::both_dbs;

mod ca;
mod ca_policy;
mod card;
mod card_external;
mod conformance_basic;
mod conformance_config;
mod demo;
mod ldap;
mod mtls;
mod negative;
mod openidconnect_client;
mod resource_server;
mod smoke;
