//! Pure types shared by every coeur domain: health professionals' identifiers (IdNat with its
//! RPPS Luhn key, identities, the sandbox's generated identities) and the injected clock and
//! randomness ([`random::Clock`], [`random::Random`]), the sandbox/production
//! [`environment::Environment`], the statements of a schema file ([`schema::statements`]).
//! No IO.
#![forbid(unsafe_code)]

pub mod encoding;
pub mod environment;
pub mod identity;
pub mod random;
pub mod schema;
