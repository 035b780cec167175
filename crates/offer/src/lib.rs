//! The offer service (ROR, Répertoire Opérationnel des Ressources) as its own service: the
//! healthcare services of structures, the locations where they are offered and those
//! locations' capacities (beds, places…), served as FHIR R4 (the ROR's MEv3 model).
//!
//! Pure core: the value sets ([`codes`]), the records and their FHIR resources ([`model`],
//! [`fhir`]), dates ([`time`]), generated offer data ([`generate`]), search parsing
//! ([`query`]), the positions held for `near` ([`positions`]), JSON Patch of capacities ([`patch`]), authorisation decisions ([`authz`]).
//! The IO shell: the sqlx store ([`store`]), the directory's FHIR API as a client
//! ([`directory`]), the one write path of capacities ([`edit`]), the HTTP API ([`http`]) and
//! the editors' pages ([`pages`]: login through coeur, their structures, the capacity form,
//! history, a regional dashboard). The offer depends neither on the provider nor
//! on the directory: it reaches the provider through OAuth/OIDC (access tokens checked against
//! its JWKS) and the directory through its FHIR API.
#![forbid(unsafe_code)]

pub mod authz;
pub mod capability;
pub mod codes;
pub mod directory;
pub mod edit;
pub mod fhir;
pub mod generate;
pub mod http;
pub mod model;
pub mod pages;
pub mod patch;
pub mod positions;
pub mod query;
pub mod store;
pub mod time;
