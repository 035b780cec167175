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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    EndEntities,
    Cas,
}

/// A verified full CRL, indexed by serial for constant-time lookups.
#[derive(Debug)]
pub struct CrlIndex {
    issuer: Vec<u8>,
    issuer_key: Vec<u8>,
    scope: Scope,
    /// The issuing distribution point's names (URIs), when the CRL covers one partition.
    partition: Option<Vec<String>>,
    revoked: HashSet<Vec<u8>>,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate, if the CRL has one.
    pub next_update: Option<i64>,
}

impl CrlIndex {
    /// Verifies `crl` (DER) as a full CRL of `issuer` (the certificate that issued the
    /// certificates to check) and indexes it.
    pub fn parse(crl: &[u8], issuer: &[u8], now: i64) -> Result<Self, StatusError> {
        let issuer = parse_cert(issuer)?;
        // The signature is checked on the raw bytes before the entries are parsed, so that
        // a large forged CRL costs a hash, not an index in memory.
        let SignedParts { tbs, alg, sig } =
            signed_parts(crl).map_err(|e| StatusError::UnreadableCrl(e.to_string()))?;
        let named = tbs_issuer(tbs).map_err(|e| StatusError::UnreadableCrl(e.to_string()))?;
        if named != issuer.subject().as_raw() {
            let name = x509_parser::x509::X509Name::from_der(&named)
                .map(|(_, n)| n.to_string())
                .unwrap_or_default();
            return Err(StatusError::CrlIssuer {
                named: name,
                issuer: issuer.subject().to_string(),
            });
        }
        let (_, alg) = x509_parser::x509::AlgorithmIdentifier::from_der(&alg)
            .map_err(|e| StatusError::UnreadableCrl(e.to_string()))?;
        acceptable_signature(&alg, issuer.public_key()).map_err(StatusError::CrlWeakSignature)?;
        let bits = x509_parser::asn1_rs::BitString {
            unused_bits: 0,
            data: std::borrow::Cow::Borrowed(&sig),
        };
        x509_parser::verify::verify_signature(issuer.public_key(), &alg, &bits, tbs)
            .map_err(|_| StatusError::CrlSignature)?;
        let (_, list) = x509_parser::revocation_list::CertificateRevocationList::from_der(crl)
            .map_err(|e| StatusError::UnreadableCrl(e.to_string()))?;
        if list.issuer().as_raw() != issuer.subject().as_raw() {
            return Err(StatusError::CrlIssuer {
                named: list.issuer().to_string(),
                issuer: issuer.subject().to_string(),
            });
        }
        if let Ok(Some(ku)) = issuer.key_usage()
            && !ku.value.crl_sign()
        {
            return Err(StatusError::MayNotSignCrls(issuer.subject().to_string()));
        }
        let this_update = list.last_update().timestamp();
        if this_update > now + CLOCK_SKEW {
            return Err(StatusError::CrlInTheFuture);
        }
        let mut scope = Scope::All;
        let mut partition = None;
        for ext in list.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::IssuingDistributionPoint(idp) => {
                    if idp.indirect_crl
                        || idp.only_some_reasons.is_some()
                        || idp.only_contains_attribute_certs
                    {
                        return Err(StatusError::CrlPartitioned);
                    }
                    match &idp.distribution_point {
                        None => {}
                        Some(DistributionPointName::FullName(names)) => {
                            partition = Some(names.iter().filter_map(uri).collect());
                        }
                        Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                            return Err(StatusError::CrlRelativePartition);
                        }
                    }
                    scope = match (idp.only_contains_user_certs, idp.only_contains_ca_certs) {
                        (true, false) => Scope::EndEntities,
                        (false, true) => Scope::Cas,
                        _ => Scope::All,
                    };
                }
                _ if ext.oid == x509_parser::oid_registry::OID_X509_EXT_DELTA_CRL_INDICATOR => {
                    return Err(StatusError::DeltaCrl);
                }
                ParsedExtension::UnsupportedExtension { .. }
                | ParsedExtension::ParseError { .. }
                    if ext.critical =>
                {
                    return Err(StatusError::CrlCriticalExtension(ext.oid.to_string()));
                }
                _ => {}
            }
        }
        let revoked = list
            .iter_revoked_certificates()
            .map(|r| unsigned(r.raw_serial()))
            .collect();
        Ok(CrlIndex {
            issuer: issuer.subject().as_raw().to_vec(),
            issuer_key: issuer.public_key().raw.to_vec(),
            scope,
            partition,
            revoked,
            this_update,
            next_update: list.next_update().map(|t| t.timestamp()),
        })
    }

    /// Whether the CRL may still be relied on at `now` (a CRL without nextUpdate is left to
    /// the caller's refresh interval).
    pub fn fresh(&self, now: i64) -> bool {
        self.next_update.is_none_or(|n| now <= n + CLOCK_SKEW)
    }

    /// Number of revoked entries.
    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    /// Whether the CRL lists nothing.
    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }

    /// The status of `cert` (DER), issued by `issuer` (DER), according to this CRL.
    pub fn status(&self, cert: &[u8], issuer: &[u8], now: i64) -> Result<Status, StatusError> {
        if !self.fresh(now) {
            return Err(StatusError::CrlStale);
        }
        let c = parse_cert(cert)?;
        let i = parse_cert(issuer)?;
        if c.issuer().as_raw() != self.issuer.as_slice()
            || i.public_key().raw != self.issuer_key.as_slice()
        {
            return Err(StatusError::CrlOfAnotherIssuer);
        }
        match (self.scope, c.is_ca()) {
            (Scope::EndEntities, true) | (Scope::Cas, false) => {
                return Err(StatusError::CrlScope);
            }
            _ => {}
        }
        // RFC 5280 §6.3.3 (b)(2)(i): a CRL of one partition covers the certificates that name
        // that partition among their distribution points.
        if let Some(names) = &self.partition
            && !distribution_points(&c).iter().any(|d| names.contains(d))
        {
            return Err(StatusError::CrlPartition);
        }
        Ok(if self.revoked.contains(&unsigned(c.raw_serial())) {
            Status::Revoked
        } else {
            Status::Good
        })
    }
}

/// An RFC 6960 request (SHA-1 CertID, no nonce, so that responders may answer from their
/// cache as RFC 5019 expects) for `cert` issued by `issuer`.
pub fn ocsp_request(cert: &[u8], issuer: &[u8]) -> Result<Vec<u8>, StatusError> {
    use der::{Decode as _, Encode as _};
    let c = x509_cert::Certificate::from_der(cert).map_err(DerError::from)?;
    let i = x509_cert::Certificate::from_der(issuer).map_err(DerError::from)?;
    let req =
        x509_ocsp::Request::from_cert::<sha1::Sha1>(&i, &c).map_err(|e| DerError(e.to_string()))?;
    Ok(x509_ocsp::builder::OcspRequestBuilder::default()
        .with_request(req)
        .build()
        .to_der()
        .map_err(DerError::from)?)
}

/// A believed OCSP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcspAnswer {
    /// The status.
    pub status: Status,
    /// thisUpdate.
    pub this_update: i64,
    /// Until when the answer may be relied on (nextUpdate, or thisUpdate plus
    /// [`OCSP_NO_NEXT_UPDATE_MAX_AGE`]).
    pub valid_until: i64,
}

const SHA1: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OCSP_BASIC: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");

fn hash(alg: &'static aws_lc_rs::digest::Algorithm, data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(alg, data).as_ref().to_vec()
}

fn key_sha1(c: &X509Certificate<'_>) -> Vec<u8> {
    hash(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        &c.public_key().subject_public_key.data,
    )
}

/// The first element of a DER SEQUENCE, as its exact bytes (the signed part of a signed
/// structure, without re-encoding).
fn first_element(seq: &[u8]) -> Result<&[u8], DerError> {
    use der::{Decode as _, Encode as _};
    let outer = der::asn1::AnyRef::from_der(seq)?;
    let content = outer.value();
    let mut r = der::SliceReader::new(content)?;
    let first: der::asn1::AnyRef<'_> = der::Decode::decode(&mut r)?;
    let len = usize::try_from(first.encoded_len()?).map_err(|e| DerError(e.to_string()))?;
    content
        .get(..len)
        .ok_or_else(|| DerError("truncated".to_owned()))
}

fn gen_time(t: &x509_ocsp::OcspGeneralizedTime) -> i64 {
    i64::try_from(t.0.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// Checks an OCSP response about `cert` issued by `issuer` at `now`: successful basic
/// response, signed by the issuer or by a responder certificate the issuer gave
/// id-kp-OCSPSigning, a SingleResponse for exactly this certificate, and fresh.
pub fn check_ocsp_response(
    resp: &[u8],
    cert: &[u8],
    issuer: &[u8],
    now: i64,
) -> Result<OcspAnswer, StatusError> {
    use der::{Decode as _, Encode as _};
    let r = x509_ocsp::OcspResponse::from_der(resp)
        .map_err(|e| StatusError::UnreadableOcsp(e.to_string()))?;
    if r.response_status != x509_ocsp::OcspResponseStatus::Successful {
        return Err(StatusError::ResponderStatus(format!(
            "{:?}",
            r.response_status
        )));
    }
    let rb = r.response_bytes.ok_or(StatusError::NoContent)?;
    if rb.response_type != OCSP_BASIC {
        return Err(StatusError::NotBasic);
    }
    let raw = rb.response.as_bytes();
    let basic = x509_ocsp::BasicOcspResponse::from_der(raw)
        .map_err(|e| StatusError::UnreadableBasic(e.to_string()))?;
    let tbs = first_element(raw)?;
    let issuer_c = parse_cert(issuer)?;
    let cert_c = parse_cert(cert)?;
    let responder_is = |c: &X509Certificate<'_>| match &basic.tbs_response_data.responder_id {
        x509_ocsp::ResponderId::ByName(n) => n
            .to_der()
            .is_ok_and(|d| d.as_slice() == c.subject().as_raw()),
        x509_ocsp::ResponderId::ByKey(h) => h.as_bytes() == key_sha1(c).as_slice(),
    };
    let embedded: Vec<Vec<u8>> = basic
        .certs
        .iter()
        .flatten()
        .filter_map(|c| c.to_der().ok())
        .collect();
    let mut signer: Option<X509Certificate<'_>> = None;
    if responder_is(&issuer_c) {
        signer = Some(issuer_c.clone());
    } else {
        for d in &embedded {
            let Ok(c) = parse_cert(d) else { continue };
            if !responder_is(&c) {
                continue;
            }
            if c.issuer().as_raw() != issuer_c.subject().as_raw()
                || c.verify_signature(Some(issuer_c.public_key())).is_err()
            {
                return Err(StatusError::ResponderNotIssued);
            }
            let delegated = c
                .extended_key_usage()
                .ok()
                .flatten()
                .is_some_and(|e| e.value.ocsp_signing);
            if !delegated {
                return Err(StatusError::ResponderNotDelegated);
            }
            let v = c.validity();
            if now + CLOCK_SKEW < v.not_before.timestamp()
                || now - CLOCK_SKEW > v.not_after.timestamp()
            {
                return Err(StatusError::ResponderNotValid);
            }
            signer = Some(c);
            break;
        }
    }
    let signer = signer.ok_or(StatusError::NoSigner)?;
    let alg_der = basic.signature_algorithm.to_der().map_err(DerError::from)?;
    let (_, alg) = x509_parser::x509::AlgorithmIdentifier::from_der(&alg_der)
        .map_err(|e| StatusError::SignatureAlgorithm(e.to_string()))?;
    let bits = x509_parser::asn1_rs::BitString {
        unused_bits: 0,
        data: std::borrow::Cow::Borrowed(basic.signature.raw_bytes()),
    };
    acceptable_signature(&alg, signer.public_key()).map_err(StatusError::OcspWeakSignature)?;
    x509_parser::verify::verify_signature(signer.public_key(), &alg, &bits, tbs)
        .map_err(|_| StatusError::OcspSignature)?;
    let serial = unsigned(cert_c.raw_serial());
    // Every answer about this certificate is read: contradictory answers make it revoked.
    let mut about: Vec<&x509_ocsp::SingleResponse> = basic
        .tbs_response_data
        .responses
        .iter()
        .filter(|s| {
            let alg = match s.cert_id.hash_algorithm.oid {
                o if o == SHA1 => &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
                o if o == SHA256 => &aws_lc_rs::digest::SHA256,
                _ => return false,
            };
            s.cert_id.issuer_name_hash.as_bytes() == hash(alg, issuer_c.subject().as_raw())
                && s.cert_id.issuer_key_hash.as_bytes()
                    == hash(alg, &issuer_c.public_key().subject_public_key.data)
                && unsigned(s.cert_id.serial_number.as_bytes()) == serial
        })
        .collect();
    about.sort_by_key(|s| !matches!(s.cert_status, x509_ocsp::CertStatus::Revoked(_)));
    let single = about.first().ok_or(StatusError::NotAbout)?;
    let this_update = gen_time(&single.this_update);
    // A signed revocation stands whatever its dates: revocation is final.
    if let x509_ocsp::CertStatus::Revoked(_) = single.cert_status {
        return Ok(OcspAnswer {
            status: Status::Revoked,
            this_update,
            valid_until: single.next_update.as_ref().map_or(now, gen_time).max(now),
        });
    }
    if this_update > now + CLOCK_SKEW {
        return Err(StatusError::OcspInTheFuture);
    }
    let valid_until = match &single.next_update {
        Some(n) if gen_time(n) < this_update => {
            return Err(StatusError::OcspNextBeforeThis);
        }
        Some(n) => gen_time(n),
        None => this_update + OCSP_NO_NEXT_UPDATE_MAX_AGE,
    };
    if valid_until + CLOCK_SKEW < now {
        return Err(StatusError::OcspStale);
    }
    let status = match single.cert_status {
        x509_ocsp::CertStatus::Good(_) => Status::Good,
        x509_ocsp::CertStatus::Revoked(_) => Status::Revoked,
        x509_ocsp::CertStatus::Unknown(_) => {
            return Err(StatusError::OcspUnknown);
        }
    };
    Ok(OcspAnswer {
        status,
        this_update,
        valid_until,
    })
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
