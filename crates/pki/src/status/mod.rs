//! Revocation status of certificates issued by external authorities: where to ask (CRL
//! distribution points, OCSP responders of the AIA), what to ask (RFC 6960 requests), and
//! whether an answer can be believed (CRL and OCSP response signatures, issuer binding,
//! freshness, scope). No IO: the shell fetches and caches, this module decides.
//!
//! Parsing is `x509-parser` (CRLs) and `x509-ocsp` (OCSP); signatures are verified by
//! `x509-parser` over aws-lc-rs. What no crate does is the policy around them, written here.

use std::collections::HashSet;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer as _;

/// Clock skew tolerated between coeur and the authorities (seconds).
pub const CLOCK_SKEW: i64 = 300;
/// How long an OCSP answer without nextUpdate is believed after its thisUpdate (seconds).
pub const OCSP_NO_NEXT_UPDATE_MAX_AGE: i64 = 3600;

/// A DER structure that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DerError(String);

impl From<der::Error> for DerError {
    fn from(e: der::Error) -> Self {
        DerError(e.to_string())
    }
}

/// A signature of revocation data made with what path validation refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakSignature {
    /// SHA-1.
    #[error("signed with SHA-1")]
    Sha1,
    /// An RSA key under 2048 bits.
    #[error("signed with a {0}-bit RSA key")]
    ShortRsaKey(usize),
}

/// Why a CRL or OCSP answer is not believed, or a request cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// A certificate does not parse.
    #[error("unreadable certificate: {0}")]
    UnreadableCertificate(String),
    /// DER that does not decode or encode.
    #[error(transparent)]
    Der(#[from] DerError),
    /// The CRL does not parse.
    #[error("unreadable CRL: {0}")]
    UnreadableCrl(String),
    /// The CRL names another issuer.
    #[error("the CRL is issued by {named}, not by {issuer}")]
    CrlIssuer {
        /// The issuer the CRL names.
        named: String,
        /// The expected issuer.
        issuer: String,
    },
    /// The CRL's signature is too weak.
    #[error("the CRL is {0}")]
    CrlWeakSignature(WeakSignature),
    /// The CRL's signature does not verify.
    #[error("the CRL's signature does not verify")]
    CrlSignature,
    /// The issuer's key usage forbids CRL signing.
    #[error("{0} may not sign CRLs")]
    MayNotSignCrls(String),
    /// thisUpdate beyond the skew.
    #[error("the CRL is dated in the future")]
    CrlInTheFuture,
    /// Reasons, indirect or attribute-certificate CRLs.
    #[error("partitioned or indirect CRLs are not supported")]
    CrlPartitioned,
    /// A partition named relative to the issuer.
    #[error("CRL partitions named relative to the issuer are not supported")]
    CrlRelativePartition,
    /// A delta CRL.
    #[error("a delta CRL where a full CRL was expected")]
    DeltaCrl,
    /// A critical extension coeur does not read.
    #[error("unsupported critical CRL extension {0}")]
    CrlCriticalExtension(String),
    /// Past nextUpdate.
    #[error("the CRL is past its nextUpdate")]
    CrlStale,
    /// The CRL is of another issuer than the certificate's.
    #[error("the CRL is of another issuer")]
    CrlOfAnotherIssuer,
    /// The CRL covers only CAs, or only end entities.
    #[error("the CRL does not cover this kind of certificate")]
    CrlScope,
    /// The CRL covers another partition.
    #[error("the CRL covers another partition")]
    CrlPartition,
    /// The OCSP response does not parse.
    #[error("unreadable OCSP response: {0}")]
    UnreadableOcsp(String),
    /// The responder did not answer `successful`.
    #[error("the responder answered {0}")]
    ResponderStatus(String),
    /// `successful` without responseBytes.
    #[error("a successful response without content")]
    NoContent,
    /// Not id-pkix-ocsp-basic.
    #[error("not a basic OCSP response")]
    NotBasic,
    /// The BasicOCSPResponse does not parse.
    #[error("unreadable basic OCSP response: {0}")]
    UnreadableBasic(String),
    /// A responder certificate not issued by the CA.
    #[error("the responder's certificate is not issued by the CA")]
    ResponderNotIssued,
    /// A responder certificate without id-kp-OCSPSigning.
    #[error("the responder's certificate lacks id-kp-OCSPSigning")]
    ResponderNotDelegated,
    /// A responder certificate out of its validity.
    #[error("the responder's certificate is not valid now")]
    ResponderNotValid,
    /// No acceptable signer.
    #[error("the response is signed neither by the CA nor by a responder it delegated")]
    NoSigner,
    /// The signature algorithm does not parse.
    #[error("signature algorithm: {0}")]
    SignatureAlgorithm(String),
    /// The OCSP response's signature is too weak.
    #[error("the OCSP response is {0}")]
    OcspWeakSignature(WeakSignature),
    /// The OCSP response's signature does not verify.
    #[error("the OCSP response's signature does not verify")]
    OcspSignature,
    /// No SingleResponse about the certificate.
    #[error("the response is not about this certificate")]
    NotAbout,
    /// thisUpdate beyond the skew.
    #[error("the OCSP answer is dated in the future")]
    OcspInTheFuture,
    /// nextUpdate before thisUpdate.
    #[error("the OCSP answer's nextUpdate precedes its thisUpdate")]
    OcspNextBeforeThis,
    /// Past nextUpdate (or the default age).
    #[error("the OCSP answer is stale")]
    OcspStale,
    /// `unknown`.
    #[error("the responder does not know this certificate")]
    OcspUnknown,
}

/// The message, for callers that carry reasons as text.
impl From<StatusError> for String {
    fn from(e: StatusError) -> String {
        e.to_string()
    }
}

/// A certificate's revocation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not revoked.
    Good,
    /// Revoked (or on hold).
    Revoked,
}

/// Where a certificate's status is published (HTTP and HTTPS locations only: the LDAP
/// locations IGC-Santé also lists carry the same CRLs).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pointers {
    /// OCSP responders (AIA id-ad-ocsp).
    pub ocsp: Vec<String>,
    /// CRL distribution points (full CRLs; points with a CRL issuer or reasons are skipped).
    pub crl: Vec<String>,
    /// Whether the certificate also names status locations coeur cannot use (LDAP, partial
    /// or indirect CRLs, an extension it cannot read).
    pub unusable: bool,
}

fn uri(g: &GeneralName<'_>) -> Option<String> {
    match g {
        GeneralName::URI(u) => Some((*u).to_owned()),
        _ => None,
    }
}

/// Every URI of a certificate's CRL distribution points (whatever the scheme).
fn distribution_points(c: &X509Certificate<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for ext in c.extensions() {
        if let ParsedExtension::CRLDistributionPoints(dps) = ext.parsed_extension() {
            for dp in dps.iter() {
                if let Some(DistributionPointName::FullName(names)) = &dp.distribution_point {
                    out.extend(names.iter().filter_map(uri));
                }
            }
        }
    }
    out
}

fn http_uri(g: &GeneralName<'_>) -> Option<String> {
    match g {
        GeneralName::URI(u) if u.starts_with("http://") || u.starts_with("https://") => {
            Some((*u).to_owned())
        }
        _ => None,
    }
}

/// The status locations named in a certificate.
pub fn pointers(cert_der: &[u8]) -> Pointers {
    let mut p = Pointers::default();
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return p;
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(dps) => {
                for dp in dps.iter() {
                    if dp.crl_issuer.is_some() || dp.reasons.is_some() {
                        p.unusable = true;
                        continue;
                    }
                    match &dp.distribution_point {
                        Some(DistributionPointName::FullName(names)) => {
                            for n in names {
                                match http_uri(n) {
                                    Some(u) => p.crl.push(u),
                                    None => p.unusable = true,
                                }
                            }
                        }
                        _ => p.unusable = true,
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for ad in aia.iter() {
                    if ad.access_method
                        == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                    {
                        match http_uri(&ad.access_location) {
                            Some(u) => p.ocsp.push(u),
                            None => p.unusable = true,
                        }
                    }
                }
            }
            ParsedExtension::ParseError { .. }
                if ext.oid == x509_parser::oid_registry::OID_X509_EXT_CRL_DISTRIBUTION_POINTS
                    || ext.oid == x509_parser::oid_registry::OID_PKIX_AUTHORITY_INFO_ACCESS =>
            {
                p.unusable = true;
            }
            _ => {}
        }
    }
    p
}

/// A serial (INTEGER content octets, two's complement) in minimal form, so that equal values
/// compare equal whatever redundant sign octets an encoder wrote, and 0x00FF (255) never
/// equals 0xFF (-1).
fn unsigned(serial: &[u8]) -> Vec<u8> {
    let mut s = serial;
    while s.len() > 1 && ((s[0] == 0x00 && s[1] < 0x80) || (s[0] == 0xff && s[1] >= 0x80)) {
        s = &s[1..];
    }
    if s.is_empty() { vec![0] } else { s.to_vec() }
}

const SHA1_WITH_RSA: &str = "1.2.840.113549.1.1.5";
const SHA1_WITH_RSA_OLD: &str = "1.3.14.3.2.29";
const ECDSA_WITH_SHA1: &str = "1.2.840.10045.4.1";

/// Signatures of revocation data are held to what path validation accepts: no SHA-1, no RSA
/// key under 2048 bits.
fn acceptable_signature(
    alg: &x509_parser::x509::AlgorithmIdentifier<'_>,
    signer: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
) -> Result<(), WeakSignature> {
    let oid = alg.algorithm.to_id_string();
    if [SHA1_WITH_RSA, SHA1_WITH_RSA_OLD, ECDSA_WITH_SHA1].contains(&oid.as_str()) {
        return Err(WeakSignature::Sha1);
    }
    if let Ok(x509_parser::public_key::PublicKey::RSA(k)) = signer.parsed()
        && k.key_size() < 2048
    {
        return Err(WeakSignature::ShortRsaKey(k.key_size()));
    }
    Ok(())
}

/// The issuer Name (DER) of a TBSCertList: after the optional version and the signature
/// algorithm.
fn tbs_issuer(tbs: &[u8]) -> Result<Vec<u8>, DerError> {
    use der::{Decode as _, Encode as _};
    let outer = der::asn1::AnyRef::from_der(tbs)?;
    let mut r = der::SliceReader::new(outer.value())?;
    let mut next = || -> Result<der::asn1::AnyRef<'_>, der::Error> { der::Decode::decode(&mut r) };
    let mut first = next()?;
    if der::Tagged::tag(&first) == der::Tag::Integer {
        first = next()?;
    }
    let _algorithm = first;
    Ok(next()?.to_der()?)
}

/// A signed structure's parts.
struct SignedParts<'a> {
    /// The exact signed bytes.
    tbs: &'a [u8],
    /// The AlgorithmIdentifier (DER).
    alg: Vec<u8>,
    /// The signature value.
    sig: Vec<u8>,
}

/// Splits a signed structure (SEQUENCE { tbs, algorithm, BIT STRING }).
fn signed_parts(der: &[u8]) -> Result<SignedParts<'_>, DerError> {
    use der::{Decode as _, Encode as _};
    let outer = der::asn1::AnyRef::from_der(der)?;
    let mut r = der::SliceReader::new(outer.value())?;
    let mut next = || -> Result<der::asn1::AnyRef<'_>, der::Error> { der::Decode::decode(&mut r) };
    let tbs = next()?;
    let alg = next()?.to_der()?;
    let sig = next()?;
    let tbs_len = usize::try_from(tbs.encoded_len()?).map_err(|e| DerError(e.to_string()))?;
    let tbs_raw = outer
        .value()
        .get(..tbs_len)
        .ok_or_else(|| DerError("truncated".to_owned()))?;
    let bits = sig.value();
    if der::Tagged::tag(&sig) != der::Tag::BitString || bits.first() != Some(&0) {
        return Err(DerError("the signature is not a BIT STRING".into()));
    }
    Ok(SignedParts {
        tbs: tbs_raw,
        alg,
        sig: bits[1..].to_vec(),
    })
}

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, StatusError> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|e| StatusError::UnreadableCertificate(e.to_string()))
}

fn hash(alg: &'static aws_lc_rs::digest::Algorithm, data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(alg, data).as_ref().to_vec()
}

mod crl;
mod ocsp;

pub use crl::CrlIndex;
pub use ocsp::{OcspAnswer, check_ocsp_response, ocsp_request};

#[cfg(test)]
mod tests;
