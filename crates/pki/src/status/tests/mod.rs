//! Tests of [`super`] (CRL and OCSP policy) and of [`crate::external`] (paths to the
//! external authorities). Everything is built in memory: certificates and CRLs with rcgen,
//! edge-case CRLs and OCSP responses with the crate's DER writer, signed with rcgen keys.

use super::*;
use crate::der as d;
use crate::external::{ExternalTrust, Link};
use crate::ocsp;
use crate::revocation::Reason;
use crate::validate::{self, Refusal, Usage};
use ::der::{Decode as _, Encode as _};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CrlIssuingDistributionPoint, CrlScope, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber, SigningKey as _,
};

/// 2025-06-15T15:06:40Z.
const NOW: i64 = 1_750_000_000;
const DAY: i64 = 86_400;
const NATIONAL_ID: &str = "899700218896";

// ---------------------------------------------------------------------------------------
// Test material
// ---------------------------------------------------------------------------------------

/// [`super::check_ocsp_response`] with its error as text: the tests pin the messages.
fn check_ocsp_response(
    resp: &[u8],
    cert: &[u8],
    issuer: &[u8],
    now: i64,
) -> Result<OcspAnswer, String> {
    super::check_ocsp_response(resp, cert, issuer, now).map_err(String::from)
}

fn at(t: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t).unwrap()
}

fn key() -> KeyPair {
    KeyPair::generate().unwrap()
}

fn dn(cn: &str) -> DistinguishedName {
    let mut n = DistinguishedName::new();
    n.push(DnType::CountryName, "FR");
    n.push(DnType::OrganizationName, "ASIP-SANTE");
    n.push(DnType::CommonName, cn);
    n
}

fn ca_params(cn: &str, pathlen: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(pathlen.map_or(
        BasicConstraints::Unconstrained,
        BasicConstraints::Constrained,
    ));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = at(NOW - 365 * DAY);
    p.not_after = at(NOW + 3650 * DAY);
    p
}

/// A CA: its parameters (to sign with), key and certificate.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

impl Ca {
    fn root(cn: &str) -> Ca {
        Ca::self_signed(ca_params(cn, Some(1)))
    }

    fn self_signed(params: CertificateParams) -> Ca {
        let key = key();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca { params, key, der }
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// A subordinate CA with the given parameters.
    fn sub(&self, params: CertificateParams) -> Ca {
        let key = key();
        let der = params
            .signed_by(&key, &self.issuer())
            .unwrap()
            .der()
            .to_vec();
        Ca { params, key, der }
    }

    fn intermediate(&self, cn: &str) -> Ca {
        self.sub(ca_params(cn, Some(0)))
    }

    /// Issues a certificate for a fresh key.
    fn issue(&self, params: &CertificateParams) -> Vec<u8> {
        self.issue_for(params, &key())
    }

    fn issue_for(&self, params: &CertificateParams, subject_key: &KeyPair) -> Vec<u8> {
        params
            .signed_by(subject_key, &self.issuer())
            .unwrap()
            .der()
            .to_vec()
    }

    fn subject_raw(&self) -> Vec<u8> {
        parse(&self.der).subject().as_raw().to_vec()
    }

    fn key_hash(&self) -> Vec<u8> {
        sha1(self.key.public_key_raw())
    }
}

/// A card's authentication certificate: CN = national id, digitalSignature, clientAuth.
fn leaf_params(serial: &[u8]) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut n = DistinguishedName::new();
    n.push(DnType::CountryName, "FR");
    n.push(DnType::OrganizationName, "CABINET M. DUPONT");
    n.push(DnType::CommonName, NATIONAL_ID);
    p.distinguished_name = n;
    p.serial_number = Some(SerialNumber::from_slice(serial));
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.not_before = at(NOW - 30 * DAY);
    p.not_after = at(NOW + 365 * DAY);
    p
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    X509Certificate::from_der(der).unwrap().1
}

fn sha1(data: &[u8]) -> Vec<u8> {
    hash(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    hash(&aws_lc_rs::digest::SHA256, data)
}

/// AlgorithmIdentifier ecdsa-with-SHA256 (rcgen's default keys are P-256).
fn ecdsa_sha256() -> Vec<u8> {
    d::seq(&[d::oid(&[1, 2, 840, 10045, 4, 3, 2])])
}

fn pem(ders: &[&[u8]]) -> Vec<u8> {
    use base64::Engine as _;
    let mut s = String::new();
    for der in ders {
        s.push_str("-----BEGIN CERTIFICATE-----\n");
        let b = base64::engine::general_purpose::STANDARD.encode(der);
        for line in b.as_bytes().chunks(64) {
            s.push_str(std::str::from_utf8(line).unwrap());
            s.push('\n');
        }
        s.push_str("-----END CERTIFICATE-----\n");
    }
    s.into_bytes()
}

/// A root, an issuing CA under it, and two cards issued by the latter.
struct Pki {
    root: Ca,
    inter: Ca,
    leaf: Vec<u8>,
    other_leaf: Vec<u8>,
}

const SERIAL: &[u8] = &[0x12, 0x34, 0x56, 0x78];
const OTHER_SERIAL: &[u8] = &[0x12, 0x34, 0x56, 0x79];

fn pki() -> Pki {
    let root = Ca::root("TEST IGC-SANTE ROOT");
    let inter = root.intermediate("TEST IGC-SANTE PERSONNES");
    let leaf = inter.issue(&leaf_params(SERIAL));
    let other_leaf = inter.issue(&leaf_params(OTHER_SERIAL));
    Pki {
        root,
        inter,
        leaf,
        other_leaf,
    }
}

// ---------------------------------------------------------------------------------------
// CRLs
// ---------------------------------------------------------------------------------------

fn rcgen_crl(
    issuer: &Issuer<'_, &KeyPair>,
    this: i64,
    next: i64,
    revoked: &[&[u8]],
    scope: Option<CrlScope>,
) -> Vec<u8> {
    CertificateRevocationListParams {
        this_update: at(this),
        next_update: at(next),
        crl_number: SerialNumber::from(7u64),
        issuing_distribution_point: scope.map(|s| CrlIssuingDistributionPoint {
            distribution_point: CrlDistributionPoint {
                uris: vec!["http://crl.test/personnes.crl".into()],
            },
            scope: Some(s),
        }),
        revoked_certs: revoked
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from_slice(s),
                revocation_time: at(this - DAY),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(issuer)
    .unwrap()
    .der()
    .to_vec()
}

/// A CRL of `ca` valid from NOW - 1 day to NOW + 1 day listing `revoked`.
fn crl_of(ca: &Ca, revoked: &[&[u8]]) -> Vec<u8> {
    rcgen_crl(&ca.issuer(), NOW - DAY, NOW + DAY, revoked, None)
}

/// A hand-written CRL: `entries` are whole INTEGER TLVs (so that odd encodings can be
/// tried), `exts` whole Extensions.
fn raw_crl(
    signer: &KeyPair,
    issuer_name: &[u8],
    this: i64,
    next: Option<i64>,
    entries: &[Vec<u8>],
    exts: &[Vec<u8>],
) -> Vec<u8> {
    let mut tbs = vec![
        d::uint_u64(1),
        ecdsa_sha256(),
        issuer_name.to_vec(),
        d::time(this),
    ];
    if let Some(n) = next {
        tbs.push(d::time(n));
    }
    if !entries.is_empty() {
        tbs.push(d::seq(
            &entries
                .iter()
                .map(|s| d::seq(&[s.clone(), d::time(this - DAY)]))
                .collect::<Vec<_>>(),
        ));
    }
    if !exts.is_empty() {
        tbs.push(d::explicit(0, &d::seq(exts)));
    }
    let tbs = d::seq(&tbs);
    let sig = signer.sign(&tbs).unwrap();
    d::seq(&[tbs, ecdsa_sha256(), d::bit_string(&sig)])
}

fn raw_crl_of(ca: &Ca, entries: &[Vec<u8>], exts: &[Vec<u8>]) -> Vec<u8> {
    raw_crl(
        &ca.key,
        &ca.subject_raw(),
        NOW - DAY,
        Some(NOW + DAY),
        entries,
        exts,
    )
}

mod crl;
mod external;
mod ocsp_answers;
mod pointers;
