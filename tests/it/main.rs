//! coeur's integration tests: one binary, real servers on loopback, each test run on SQLite
//! and on PostgreSQL.

mod support;

pub(crate) use coeur_testkit::both_dbs;

mod acr_unmet;
mod approvals;
mod backchannel_logout;
mod backup;
mod ca;
mod ca_policy;
mod card;
mod card_external;
mod ciba;
mod ciba_openid_client;
mod cluster;
mod compat;
mod compat_apache;
mod compat_authlib;
mod compat_discovery;
mod conformance_basic;
mod conformance_config;
mod cors;
mod cors_browser;
mod demo;
mod deploy;
mod directory;
mod ecps;
mod ecps_app;
mod edit_identities;
mod fd_limit;
mod franceconnect;
mod instances;
mod keystore;
mod ldap;
mod lifecycle;
mod listeners;
mod mtls;
mod negative;
mod ocsp;
mod offer;
mod openidconnect_client;
mod pages_a11y;
mod pages_i18n;
mod prometheus;
mod resource_server;
mod smoke;
mod stats;
mod token_edges;
mod wallet_page;
