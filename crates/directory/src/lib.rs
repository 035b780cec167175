//! The health directory (Annuaire Santé: RPPS and FINESS) as its own service.
//!
//! Pure core, no IO beyond the `Read`/`Write` it is handed: check keys ([`keys`]), the
//! streaming extract reader and row-to-record mapping ([`extract`]), records with their content
//! hash and the import plan against the stored state ([`record`]), synthetic extracts
//! ([`generate`]), the FHIR R4 models, search parsing and paging ([`fhir`]), the search
//! index's rows of a record ([`index`]); its per-client rate limits are
//! `coeur_resource_server::ratelimit`'s, shared with the offer. The IO shell: the sqlx
//! store ([`store`]), the import ([`import`]), the FHIR API over HTTP ([`http`]) and the
//! professionals' own space ([`space`]: web pages behind a login through coeur, where they see
//! their record and edit their contact details). The directory does not depend on the
//! provider: it talks to it
//! only through OAuth/OIDC like any third party (its access tokens, checked against its JWKS).
#![forbid(unsafe_code)]

pub mod extract;
pub mod fhir;
pub mod generate;
pub mod http;
pub mod import;
pub mod index;
pub mod keys;
pub mod record;
pub mod space;
pub mod store;
pub mod summary;
