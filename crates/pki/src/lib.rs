#![forbid(unsafe_code)]
//! The certificate authority's pure core: hierarchy and profiles (data in `pki/`), CSR policy,
//! certificate building, CRL and OCSP encoding, and the audit chain. No IO: keys sign through
//! the [`rcgen::SigningKey`] / [`DigestSigner`] traits, time comes in as `now`.

pub mod audit;
pub mod csr;
pub mod der;
pub mod directory;
pub mod dn;
pub mod external;
pub mod hierarchy;
pub mod issue;
pub mod layout;
pub mod names;
pub mod ocsp;
pub mod revocation;
pub mod status;
pub mod validate;

/// Signs a precomputed SHA-2 digest (CRLs are hashed while they stream to disk).
pub trait DigestSigner {
    /// The DER AlgorithmIdentifier of the signature.
    fn algorithm_der(&self) -> Vec<u8>;
    /// Which digest the signature expects.
    fn digest_alg(&self) -> &'static aws_lc_rs::digest::Algorithm;
    /// Signs the digest of the to-be-signed bytes.
    fn sign_digest(&self, digest: &aws_lc_rs::digest::Digest) -> Result<Vec<u8>, SignError>;
}

/// Why a [`DigestSigner`] did not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The key refused to sign.
    #[error("signing failed")]
    Failed,
    /// There is no key to sign with.
    #[error("no key")]
    NoKey,
}
