//! The directory's FHIR R4 API, pure part: resource models ([`model`]), records → resources
//! ([`map`]), search parameters → a typed query ([`query`]), the index lookup driving a search ([`lookup`]), keyset paging and bundles
//! ([`page`]), the CapabilityStatement ([`capability`]), `_elements` ([`elements`]), Annuaire Santé's
//! extensions (data trace, cards: [`extensions`]). The HTTP shell is [`crate::http`].

pub mod capability;
pub mod elements;
pub mod extensions;
pub mod lookup;
pub mod map;
pub mod model;
pub mod page;
pub mod query;

#[cfg(test)]
mod service_tests;
