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

#[test]
fn crl_good_and_revoked() {
    let p = pki();
    let crl = crl_of(&p.inter, &[OTHER_SERIAL, &[0x01]]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.len(), 2);
    assert!(!idx.is_empty());
    assert_eq!(idx.this_update, NOW - DAY);
    assert_eq!(idx.next_update, Some(NOW + DAY));
    assert!(idx.fresh(NOW));
    assert_eq!(idx.status(&p.leaf, &p.inter.der, NOW), Ok(Status::Good));
    assert_eq!(
        idx.status(&p.other_leaf, &p.inter.der, NOW),
        Ok(Status::Revoked)
    );
}

#[test]
fn crl_empty_lists_nothing() {
    let p = pki();
    let idx = CrlIndex::parse(&crl_of(&p.inter, &[]), &p.inter.der, NOW).unwrap();
    assert!(idx.is_empty());
    assert_eq!(idx.len(), 0);
    assert_eq!(
        idx.status(&p.other_leaf, &p.inter.der, NOW),
        Ok(Status::Good)
    );
}

#[test]
fn crl_serial_with_leading_zero_byte() {
    // The top bit set: the DER INTEGER carries a leading 0x00 in both the certificate and
    // the CRL entry.
    let p = pki();
    let serial = [0x80, 0x01, 0x02, 0x03];
    let leaf = p.inter.issue(&leaf_params(&serial));
    assert_eq!(parse(&leaf).raw_serial()[0], 0);
    let crl = crl_of(&p.inter, &[&[0x00, 0x80, 0x01, 0x02, 0x03]]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.status(&leaf, &p.inter.der, NOW), Ok(Status::Revoked));
    // A serial sharing its first octets is another one.
    let near = p.inter.issue(&leaf_params(&[0x80, 0x01, 0x02]));
    assert_eq!(idx.status(&near, &p.inter.der, NOW), Ok(Status::Good));
}

#[test]
fn crl_entry_with_redundant_leading_zero_matches() {
    // Some CAs write serials with a redundant 0x00 (non-minimal INTEGER); the lookup is on
    // the unsigned value.
    let p = pki();
    let entry = d::tlv(0x02, &[0x00, 0x12, 0x34, 0x56, 0x78]);
    let crl = raw_crl_of(&p.inter, &[entry], &[]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.status(&p.leaf, &p.inter.der, NOW), Ok(Status::Revoked));
    assert_eq!(
        idx.status(&p.other_leaf, &p.inter.der, NOW),
        Ok(Status::Good)
    );
}

#[test]
fn crl_hand_written_matches_rcgen() {
    // The hand-written CRL builder used by the edge-case tests is itself sound.
    let p = pki();
    let crl = raw_crl_of(&p.inter, &[d::uint(OTHER_SERIAL)], &[]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.status(&p.leaf, &p.inter.der, NOW), Ok(Status::Good));
    assert_eq!(
        idx.status(&p.other_leaf, &p.inter.der, NOW),
        Ok(Status::Revoked)
    );
}

#[test]
fn crl_signed_by_another_key_is_refused() {
    let p = pki();
    // Same name, same key usages, another key.
    let forger = key();
    let issuer = Issuer::from_params(&p.inter.params, &forger);
    let crl = rcgen_crl(&issuer, NOW - DAY, NOW + DAY, &[], None);
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("signature"), "{e}");
}

#[test]
fn crl_with_tampered_content_is_refused() {
    let p = pki();
    let mut crl = crl_of(&p.inter, &[OTHER_SERIAL]);
    // Change the revoked serial's last byte (0x79 -> 0x78: the good leaf's serial).
    let pos = crl
        .windows(OTHER_SERIAL.len())
        .position(|w| w == OTHER_SERIAL)
        .unwrap();
    crl[pos + OTHER_SERIAL.len() - 1] = 0x78;
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("signature"), "{e}");
}

#[test]
fn crl_of_another_issuer_is_refused() {
    let p = pki();
    let other = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let crl = crl_of(&other, &[]);
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("issued by"), "{e}");
    // It is of course a valid CRL of its own issuer.
    assert!(CrlIndex::parse(&crl, &other.der, NOW).is_ok());
}

#[test]
fn crl_from_issuer_without_crl_sign_is_refused() {
    let root = Ca::root("TEST ROOT");
    let mut params = ca_params("TEST NO CRL SIGN", Some(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = root.sub(params);
    // rcgen refuses to sign with an issuer lacking cRLSign: sign with parameters that have
    // it, same name and key.
    let signing = ca_params("TEST NO CRL SIGN", Some(0));
    let crl = rcgen_crl(
        &Issuer::from_params(&signing, &ca.key),
        NOW - DAY,
        NOW + DAY,
        &[],
        None,
    );
    let e = CrlIndex::parse(&crl, &ca.der, NOW).unwrap_err().to_string();
    assert!(e.contains("may not sign CRLs"), "{e}");
}

#[test]
fn crl_stale_is_refused_after_the_skew() {
    let p = pki();
    let next = NOW - 10 * DAY;
    let crl = rcgen_crl(&p.inter.issuer(), next - DAY, next, &[], None);
    // Parsing a stale CRL is allowed (the caller decides what to do with it)...
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    // ...but it is not fresh and answers nothing.
    assert!(!idx.fresh(NOW));
    assert!(idx.status(&p.leaf, &p.inter.der, NOW).is_err());
    // Boundaries: nextUpdate + CLOCK_SKEW is still fresh, one second later is not.
    assert!(idx.fresh(next));
    assert!(idx.fresh(next + CLOCK_SKEW));
    assert_eq!(
        idx.status(&p.leaf, &p.inter.der, next + CLOCK_SKEW),
        Ok(Status::Good)
    );
    assert!(!idx.fresh(next + CLOCK_SKEW + 1));
    assert!(
        idx.status(&p.leaf, &p.inter.der, next + CLOCK_SKEW + 1)
            .is_err()
    );
}

#[test]
fn crl_without_next_update_is_left_to_the_caller() {
    let p = pki();
    let crl = raw_crl(
        &p.inter.key,
        &p.inter.subject_raw(),
        NOW - DAY,
        None,
        &[d::uint(OTHER_SERIAL)],
        &[],
    );
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.next_update, None);
    assert!(idx.fresh(NOW + 1000 * DAY));
    assert_eq!(
        idx.status(&p.other_leaf, &p.inter.der, NOW),
        Ok(Status::Revoked)
    );
}

#[test]
fn crl_dated_in_the_future_is_refused() {
    let p = pki();
    let crl = rcgen_crl(
        &p.inter.issuer(),
        NOW + CLOCK_SKEW + 1,
        NOW + DAY,
        &[],
        None,
    );
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("future"), "{e}");
    // Within the skew it is accepted.
    let crl = rcgen_crl(&p.inter.issuer(), NOW + CLOCK_SKEW, NOW + DAY, &[], None);
    assert!(CrlIndex::parse(&crl, &p.inter.der, NOW).is_ok());
}

#[test]
fn crl_status_with_another_issuer_key_is_refused() {
    let p = pki();
    let idx = CrlIndex::parse(&crl_of(&p.inter, &[]), &p.inter.der, NOW).unwrap();
    // A certificate with the issuing CA's name but another key (a re-keyed or forged CA).
    let impostor = p.root.sub(ca_params("TEST IGC-SANTE PERSONNES", Some(0)));
    assert_eq!(impostor.subject_raw(), p.inter.subject_raw());
    let e = idx
        .status(&p.leaf, &impostor.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("another issuer"), "{e}");
    // And a leaf of the impostor, checked against it, is not covered either.
    let leaf = impostor.issue(&leaf_params(SERIAL));
    assert!(idx.status(&leaf, &impostor.der, NOW).is_err());
}

#[test]
fn crl_status_of_a_certificate_of_another_issuer_is_refused() {
    let p = pki();
    let other = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let foreign = other.issue(&leaf_params(OTHER_SERIAL));
    let idx = CrlIndex::parse(&crl_of(&p.inter, &[OTHER_SERIAL]), &p.inter.der, NOW).unwrap();
    assert!(idx.status(&foreign, &p.inter.der, NOW).is_err());
    assert!(idx.status(&foreign, &other.der, NOW).is_err());
}

#[test]
fn crl_status_with_unreadable_input_is_refused() {
    let p = pki();
    let idx = CrlIndex::parse(&crl_of(&p.inter, &[]), &p.inter.der, NOW).unwrap();
    assert!(idx.status(b"not a certificate", &p.inter.der, NOW).is_err());
    assert!(idx.status(&p.leaf, b"not a certificate", NOW).is_err());
}

#[test]
fn crl_unreadable_is_refused() {
    let p = pki();
    assert!(CrlIndex::parse(b"garbage", &p.inter.der, NOW).is_err());
    assert!(CrlIndex::parse(&[], &p.inter.der, NOW).is_err());
    let crl = crl_of(&p.inter, &[]);
    assert!(CrlIndex::parse(&crl[..crl.len() - 10], &p.inter.der, NOW).is_err());
    assert!(CrlIndex::parse(&crl, b"garbage", NOW).is_err());
}

/// `params` with one CRL distribution point.
fn with_dp(mut params: CertificateParams, uri: &str) -> CertificateParams {
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![uri.into()],
    }];
    params
}

/// The partition [`rcgen_crl`] names in its issuing distribution point.
const PARTITION: &str = "http://crl.test/personnes.crl";

#[test]
fn crl_scope_end_entities_only() {
    let p = pki();
    let crl = rcgen_crl(
        &p.root.issuer(),
        NOW - DAY,
        NOW + DAY,
        &[],
        Some(CrlScope::UserCertsOnly),
    );
    let idx = CrlIndex::parse(&crl, &p.root.der, NOW).unwrap();
    // The intermediate is a CA: this CRL says nothing of it.
    let e = idx
        .status(&p.inter.der, &p.root.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not cover"), "{e}");
    let ee = p.root.issue(&with_dp(leaf_params(SERIAL), PARTITION));
    assert_eq!(idx.status(&ee, &p.root.der, NOW), Ok(Status::Good));
}

#[test]
fn crl_scope_cas_only() {
    let p = pki();
    let inter = p.root.sub(with_dp(
        ca_params("TEST IGC-SANTE AUTRE", Some(0)),
        PARTITION,
    ));
    let inter_serial = parse(&inter.der).raw_serial().to_vec();
    let crl = rcgen_crl(
        &p.root.issuer(),
        NOW - DAY,
        NOW + DAY,
        &[&inter_serial],
        Some(CrlScope::CaCertsOnly),
    );
    let idx = CrlIndex::parse(&crl, &p.root.der, NOW).unwrap();
    assert_eq!(
        idx.status(&inter.der, &p.root.der, NOW),
        Ok(Status::Revoked)
    );
    let ee = p.root.issue(&with_dp(leaf_params(SERIAL), PARTITION));
    let e = idx.status(&ee, &p.root.der, NOW).unwrap_err().to_string();
    assert!(e.contains("does not cover"), "{e}");
}

#[test]
fn crl_scope_all_with_idp() {
    // An issuing distribution point without a scope covers everything of its partition.
    let p = pki();
    let url = "http://crl.test/root.crl";
    let idp = d::seq(&[d::explicit(
        0,
        &d::explicit(0, &d::tlv(0x86, url.as_bytes())),
    )]);
    let crl = raw_crl_of(&p.root, &[], &[d::extension(&[2, 5, 29, 28], true, &idp)]);
    let idx = CrlIndex::parse(&crl, &p.root.der, NOW).unwrap();
    let inter = p
        .root
        .sub(with_dp(ca_params("TEST IGC-SANTE AUTRE", Some(0)), url));
    assert_eq!(idx.status(&inter.der, &p.root.der, NOW), Ok(Status::Good));
    let ee = p.root.issue(&with_dp(leaf_params(SERIAL), url));
    assert_eq!(idx.status(&ee, &p.root.der, NOW), Ok(Status::Good));
}

#[test]
fn crl_of_another_partition_does_not_cover() {
    // RFC 5280 §6.3.3 (b)(2)(i): the CRL names a partition the certificate does not list
    // among its distribution points (or the certificate lists none).
    let p = pki();
    let crl = rcgen_crl(
        &p.root.issuer(),
        NOW - DAY,
        NOW + DAY,
        &[],
        Some(CrlScope::UserCertsOnly),
    );
    let idx = CrlIndex::parse(&crl, &p.root.der, NOW).unwrap();
    for ee in [
        p.root.issue(&leaf_params(SERIAL)),
        p.root
            .issue(&with_dp(leaf_params(SERIAL), "http://crl.test/other.crl")),
    ] {
        let e = idx.status(&ee, &p.root.der, NOW).unwrap_err().to_string();
        assert!(e.contains("another partition"), "{e}");
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn crl_with_an_unparsable_critical_idp_is_refused() {
    let p = pki();
    // A critical issuingDistributionPoint whose value is not a SEQUENCE.
    let bad = d::extension(&[2, 5, 29, 28], true, &d::octets(&[0]));
    let crl = raw_crl_of(&p.inter, &[], &[bad]);
    assert!(CrlIndex::parse(&crl, &p.inter.der, NOW).is_err());
}

#[test]
fn from_pem_rejects_a_self_issued_ca_without_its_signer() {
    // "TEST GHOST" (not self-signed: issued by another key under the same name) with an
    // unrelated root: the real issuer is missing, the bundle should be refused at start.
    let ghost = Ca::root("TEST GHOST").sub(ca_params("TEST GHOST", Some(0)));
    let other = Ca::root("TEST OTHER ROOT");
    let e = from_pem_err(&pem(&[&other.der, &ghost.der]));
    assert!(e.contains("names itself as issuer"), "{e}");
}

// ---------------------------------------------------------------------------------------
// Pointers
// ---------------------------------------------------------------------------------------

const AD_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
const AD_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];

/// An authorityInfoAccess extension (rcgen writes none) with URI access locations.
fn aia(descriptions: &[(&[u64], &str)]) -> CustomExtension {
    let content = d::seq(
        &descriptions
            .iter()
            .map(|(method, u)| d::seq(&[d::oid(method), d::tlv(0x86, u.as_bytes())]))
            .collect::<Vec<_>>(),
    );
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], content)
}

/// A DistributionPoint with one URI, and optional `reasons` / `cRLIssuer` (whole TLVs).
fn raw_dp(u: &str, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut parts = vec![d::explicit(0, &d::explicit(0, &d::tlv(0x86, u.as_bytes())))];
    parts.extend_from_slice(extra);
    d::seq(&parts)
}

#[test]
fn pointers_keep_http_and_https_only() {
    let p = pki();
    let mut params = leaf_params(SERIAL);
    params.crl_distribution_points = vec![
        CrlDistributionPoint {
            uris: vec![
                "ldap://ldap.test/cn=TEST%20IGC-SANTE%20PERSONNES?certificateRevocationList".into(),
                "http://crl.test/personnes.crl".into(),
            ],
        },
        CrlDistributionPoint {
            uris: vec!["https://crl.test/personnes-bis.crl".into()],
        },
    ];
    params.custom_extensions = vec![aia(&[
        (AD_CA_ISSUERS, "http://aia.test/personnes.cer"),
        (AD_OCSP, "http://ocsp.test/personnes"),
        (AD_OCSP, "ldap://ldap.test/ocsp"),
        (AD_OCSP, "https://ocsp.test/bis"),
    ])];
    let cert = p.inter.issue(&params);
    assert_eq!(
        pointers(&cert),
        Pointers {
            ocsp: vec![
                "http://ocsp.test/personnes".into(),
                "https://ocsp.test/bis".into(),
            ],
            crl: vec![
                "http://crl.test/personnes.crl".into(),
                "https://crl.test/personnes-bis.crl".into(),
            ],
            unusable: true,
        }
    );
    // Without the LDAP locations, nothing is left unusable.
    params.crl_distribution_points.remove(0);
    params.custom_extensions = vec![aia(&[(AD_OCSP, "http://ocsp.test/personnes")])];
    assert!(!pointers(&p.inter.issue(&params)).unusable);
}

#[test]
fn pointers_skip_distribution_points_with_reasons_or_a_crl_issuer() {
    let p = pki();
    // reasons [1] ReasonFlags: keyCompromise (bit 1), 6 unused bits.
    let reasons = d::tlv(0x81, &[0x06, 0x40]);
    // cRLIssuer [2] GeneralNames { directoryName [4] Name }.
    let crl_issuer = d::tlv(0xa2, &d::explicit(4, &p.root.subject_raw()));
    let dps = d::seq(&[
        raw_dp("http://crl.test/reasons.crl", &[reasons]),
        raw_dp("http://crl.test/full.crl", &[]),
        raw_dp("http://crl.test/indirect.crl", &[crl_issuer]),
    ]);
    let mut params = leaf_params(SERIAL);
    params.custom_extensions = vec![CustomExtension::from_oid_content(&[2, 5, 29, 31], dps)];
    let cert = p.inter.issue(&params);
    // The extension is read (every point is seen by the partition logic)...
    assert_eq!(
        distribution_points(&parse(&cert)),
        vec![
            "http://crl.test/reasons.crl".to_owned(),
            "http://crl.test/full.crl".into(),
            "http://crl.test/indirect.crl".into(),
        ]
    );
    // ...but only the full CRL's point is a place to fetch the status from.
    assert_eq!(
        pointers(&cert),
        Pointers {
            ocsp: vec![],
            crl: vec!["http://crl.test/full.crl".into()],
            unusable: true,
        }
    );
}

#[test]
fn pointers_of_bare_or_unreadable_certificates_are_empty() {
    let p = pki();
    assert_eq!(pointers(&p.leaf), Pointers::default());
    assert_eq!(pointers(b"not a certificate"), Pointers::default());
    assert_eq!(pointers(&[]), Pointers::default());
    // A truncated certificate that did have pointers.
    let cert = p.inter.issue(&with_dp(leaf_params(SERIAL), PARTITION));
    assert_eq!(pointers(&cert).crl, vec![PARTITION.to_owned()]);
    assert_eq!(pointers(&cert[..cert.len() - 1]), Pointers::default());
}

// ---------------------------------------------------------------------------------------
// OCSP
// ---------------------------------------------------------------------------------------

/// thisUpdate (and producedAt) of the responses built below.
const THIS: i64 = NOW - 60;
/// Their nextUpdate.
const NEXT: i64 = NOW + DAY;

/// The CertID `ocsp_request` asks about `cert` with, read back by the responder's parser.
fn cert_id(cert: &[u8], issuer: &[u8]) -> ocsp::CertIdReq {
    let mut req = ocsp::parse_request(&ocsp_request(cert, issuer).unwrap()).unwrap();
    assert_eq!(req.ids.len(), 1);
    assert_eq!(req.nonce_ext, None);
    req.ids.remove(0)
}

fn answer(cert: &[u8], issuer: &Ca, status: ocsp::Status) -> ocsp::Answer {
    ocsp::Answer {
        cert_id_der: cert_id(cert, &issuer.der).cert_id_der,
        status,
        this_update: THIS,
        next_update: NEXT,
    }
}

fn revoked() -> ocsp::Status {
    ocsp::Status::Revoked {
        at: NOW - DAY,
        reason: Reason::KeyCompromise,
    }
}

/// A successful basic response: `tbs` (ResponseData) signed by `signer`, with `certs`.
fn signed(signer: &KeyPair, tbs: &[u8], certs: &[Vec<u8>]) -> Vec<u8> {
    let sig = signer.sign(tbs).unwrap();
    ocsp::response(tbs, &ecdsa_sha256(), &sig, certs)
}

/// A response from the responder code: `answers` signed by `signer`, named by its key hash.
fn ocsp_resp(signer: &KeyPair, answers: &[ocsp::Answer], certs: &[Vec<u8>]) -> Vec<u8> {
    let tbs = ocsp::response_data(&sha1(signer.public_key_raw()), THIS, answers, None);
    signed(signer, &tbs, certs)
}

/// The issuer's own response about `cert`.
fn issuer_resp(ca: &Ca, cert: &[u8], status: ocsp::Status) -> Vec<u8> {
    ocsp_resp(&ca.key, &[answer(cert, ca, status)], &[])
}

fn believed(status: Status) -> Result<OcspAnswer, String> {
    Ok(OcspAnswer {
        status,
        this_update: THIS,
        valid_until: NEXT,
    })
}

/// CertStatus good ([0] IMPLICIT NULL) and unknown ([2] IMPLICIT NULL).
const GOOD: &[u8] = &[0x80, 0x00];
const UNKNOWN: &[u8] = &[0x82, 0x00];

/// A SingleResponse written by hand (`status`: a whole CertStatus).
fn raw_single(cert_id_der: &[u8], status: &[u8], this: i64, next: Option<i64>) -> Vec<u8> {
    let mut parts = vec![
        cert_id_der.to_vec(),
        status.to_vec(),
        d::generalized_time(this),
    ];
    if let Some(n) = next {
        parts.push(d::explicit(0, &d::generalized_time(n)));
    }
    d::seq(&parts)
}

/// A ResponseData written by hand (`responder_id`: a whole ResponderID).
fn raw_response_data(responder_id: Vec<u8>, singles: &[Vec<u8>]) -> Vec<u8> {
    d::seq(&[responder_id, d::generalized_time(THIS), d::seq(singles)])
}

fn by_name(ca: &Ca) -> Vec<u8> {
    d::explicit(1, &ca.subject_raw())
}

fn by_key(key: &KeyPair) -> Vec<u8> {
    d::explicit(2, &d::octets(&sha1(key.public_key_raw())))
}

/// A CertID written by hand.
fn raw_cert_id(alg: &[u64], name_hash: &[u8], key_hash: &[u8], serial: &[u8]) -> Vec<u8> {
    d::seq(&[
        d::seq(&[d::oid(alg), d::null()]),
        d::octets(name_hash),
        d::octets(key_hash),
        d::uint(serial),
    ])
}

const SHA1_OID: &[u64] = &[1, 3, 14, 3, 2, 26];
const SHA256_OID: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
const SHA384_OID: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 2];

/// A delegated responder's certificate parameters.
fn responder_params(cn: &str, eku: Vec<ExtendedKeyUsagePurpose>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.serial_number = Some(SerialNumber::from_slice(&[0x0c, 0x5b]));
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = eku;
    p.not_before = at(NOW - 30 * DAY);
    p.not_after = at(NOW + 30 * DAY);
    p
}

fn ocsp_signing() -> CertificateParams {
    responder_params(
        "TEST OCSP IGC-SANTE PERSONNES",
        vec![ExtendedKeyUsagePurpose::OcspSigning],
    )
}

/// A responder key and its certificate issued by `ca` with `params`.
fn responder(ca: &Ca, params: &CertificateParams) -> (KeyPair, Vec<u8>) {
    let k = key();
    let der = ca.issue_for(params, &k);
    (k, der)
}

/// The response of a delegated responder (`k`, `cert`) of `p.inter`: the leaf is good.
fn delegated_resp(p: &Pki, k: &KeyPair, cert: &[u8]) -> Vec<u8> {
    ocsp_resp(
        k,
        &[answer(&p.leaf, &p.inter, ocsp::Status::Good)],
        &[cert.to_vec()],
    )
}

fn check(resp: &[u8], p: &Pki) -> Result<OcspAnswer, String> {
    check_ocsp_response(resp, &p.leaf, &p.inter.der, NOW)
}

fn check_err(resp: &[u8], p: &Pki) -> String {
    check(resp, p).unwrap_err()
}

const NOT_ISSUED_BY_CA: &str = "the responder's certificate is not issued by the CA";
const NO_OCSP_SIGNING: &str = "the responder's certificate lacks id-kp-OCSPSigning";
const NOT_VALID_NOW: &str = "the responder's certificate is not valid now";
const NO_SIGNER: &str = "the response is signed neither by the CA nor by a responder it delegated";
const BAD_SIGNATURE: &str = "the OCSP response's signature does not verify";
const NOT_ABOUT: &str = "the response is not about this certificate";
const STALE: &str = "the OCSP answer is stale";

#[test]
fn ocsp_request_parses_back() {
    let p = pki();
    let der = ocsp_request(&p.leaf, &p.inter.der).unwrap();
    let req = x509_ocsp::OcspRequest::from_der(&der).unwrap();
    assert!(req.optional_signature.is_none());
    let tbs = &req.tbs_request;
    assert!(tbs.request_extensions.is_none(), "no nonce");
    assert_eq!(tbs.request_list.len(), 1);
    let r = &tbs.request_list[0];
    assert!(r.single_request_extensions.is_none());
    let id = &r.req_cert;
    assert_eq!(id.hash_algorithm.oid.to_string(), "1.3.14.3.2.26");
    assert_eq!(id.issuer_name_hash.as_bytes(), sha1(&p.inter.subject_raw()));
    assert_eq!(id.issuer_key_hash.as_bytes(), p.inter.key_hash());
    assert_eq!(id.serial_number.as_bytes(), SERIAL);
    // The responder's parser reads the same.
    let id = cert_id(&p.leaf, &p.inter.der);
    assert_eq!(id.hash, ocsp::IdHash::Sha1);
    assert_eq!(id.name_hash, sha1(&p.inter.subject_raw()));
    assert_eq!(id.key_hash, p.inter.key_hash());
    assert_eq!(id.serial, SERIAL);
    assert_eq!(
        id.cert_id_der,
        raw_cert_id(
            SHA1_OID,
            &sha1(&p.inter.subject_raw()),
            &p.inter.key_hash(),
            SERIAL
        )
    );
}

#[test]
fn ocsp_request_with_a_top_bit_serial() {
    let p = pki();
    let serial = [0x80, 0x01, 0x02, 0x03];
    let leaf = p.inter.issue(&leaf_params(&serial));
    let id = cert_id(&leaf, &p.inter.der);
    assert_eq!(id.serial, serial);
    // The INTEGER keeps its sign byte, as in the certificate.
    assert!(
        id.cert_id_der
            .ends_with(&[0x02, 0x05, 0x00, 0x80, 0x01, 0x02, 0x03]),
        "{:02x?}",
        id.cert_id_der
    );
    let resp = issuer_resp(&p.inter, &leaf, revoked());
    assert_eq!(
        check_ocsp_response(&resp, &leaf, &p.inter.der, NOW),
        believed(Status::Revoked)
    );
}

#[test]
fn ocsp_request_of_garbage_is_an_error() {
    let p = pki();
    assert!(ocsp_request(b"garbage", &p.inter.der).is_err());
    assert!(ocsp_request(&p.leaf, b"garbage").is_err());
    assert!(ocsp_request(&[], &p.inter.der).is_err());
    assert!(ocsp_request(&p.leaf[..p.leaf.len() - 1], &p.inter.der).is_err());
}

#[test]
fn ocsp_hand_written_response_data_matches_the_responder() {
    // The hand-written builder used below writes what the responder code writes.
    let p = pki();
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let a = ocsp::Answer {
        cert_id_der: id.clone(),
        status: ocsp::Status::Good,
        this_update: THIS,
        next_update: NEXT,
    };
    assert_eq!(
        raw_response_data(
            by_key(&p.inter.key),
            &[raw_single(&id, GOOD, THIS, Some(NEXT))]
        ),
        ocsp::response_data(&p.inter.key_hash(), THIS, &[a], None)
    );
}

#[test]
fn ocsp_good_signed_by_the_issuer() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Good);
    assert_eq!(check(&resp, &p), believed(Status::Good));
}

#[test]
fn ocsp_revoked_signed_by_the_issuer() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.other_leaf, revoked());
    assert_eq!(
        check_ocsp_response(&resp, &p.other_leaf, &p.inter.der, NOW),
        believed(Status::Revoked)
    );
    // certificateHold, as the responder writes it, is revoked too.
    let hold = ocsp::Status::Revoked {
        at: NOW - DAY,
        reason: Reason::CertificateHold,
    };
    let resp = issuer_resp(&p.inter, &p.leaf, hold);
    assert_eq!(check(&resp, &p), believed(Status::Revoked));
}

#[test]
fn ocsp_responder_named_by_name() {
    let p = pki();
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let tbs = raw_response_data(
        by_name(&p.inter),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(
        check(&signed(&p.inter.key, &tbs, &[]), &p),
        believed(Status::Good)
    );
    // By name, but signed by another key.
    let e = check_err(&signed(&key(), &tbs, &[]), &p);
    assert_eq!(e, BAD_SIGNATURE);
    // Named by another CA's name.
    let tbs = raw_response_data(by_name(&p.root), &[raw_single(&id, GOOD, THIS, Some(NEXT))]);
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NO_SIGNER);
}

#[test]
fn ocsp_delegated_responder() {
    let p = pki();
    let (k, cert) = responder(&p.inter, &ocsp_signing());
    assert_eq!(
        check(&delegated_resp(&p, &k, &cert), &p),
        believed(Status::Good)
    );
    // Named by name rather than key hash.
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let tbs = raw_response_data(
        d::explicit(1, parse(&cert).subject().as_raw()),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(
        check(&signed(&k, &tbs, std::slice::from_ref(&cert)), &p),
        believed(Status::Good)
    );
    // Without its certificate, the responder is unknown.
    let resp = ocsp_resp(&k, &[answer(&p.leaf, &p.inter, ocsp::Status::Good)], &[]);
    assert_eq!(check_err(&resp, &p), NO_SIGNER);
}

#[test]
fn ocsp_delegated_responder_not_first_in_the_certs() {
    let p = pki();
    let (k, cert) = responder(&p.inter, &ocsp_signing());
    // Another responder of another CA, and the CA certificates, before it.
    let other_ca = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let (_, other) = responder(&other_ca, &ocsp_signing());
    let resp = ocsp_resp(
        &k,
        &[answer(&p.leaf, &p.inter, ocsp::Status::Good)],
        &[other, p.root.der.clone(), p.inter.der.clone(), cert.clone()],
    );
    assert_eq!(check(&resp, &p), believed(Status::Good));
    // The first certificate naming the responder decides: a self-signed certificate of the
    // same key after it is not looked at.
    let own = ocsp_signing().self_signed(&k).unwrap().der().to_vec();
    let resp = ocsp_resp(
        &k,
        &[answer(&p.leaf, &p.inter, ocsp::Status::Good)],
        &[cert, own],
    );
    assert_eq!(check(&resp, &p), believed(Status::Good));
}

#[test]
fn ocsp_matching_single_response_among_several() {
    let p = pki();
    let third = p.inter.issue(&leaf_params(&[0x05]));
    let resp = ocsp_resp(
        &p.inter.key,
        &[
            answer(&p.other_leaf, &p.inter, revoked()),
            answer(&p.leaf, &p.inter, ocsp::Status::Good),
            answer(&third, &p.inter, ocsp::Status::Unknown),
        ],
        &[],
    );
    assert_eq!(check(&resp, &p), believed(Status::Good));
    assert_eq!(
        check_ocsp_response(&resp, &p.other_leaf, &p.inter.der, NOW),
        believed(Status::Revoked)
    );
    assert_eq!(
        check_ocsp_response(&resp, &third, &p.inter.der, NOW).unwrap_err(),
        "the responder does not know this certificate"
    );
    let absent = p.inter.issue(&leaf_params(&[0x06]));
    assert_eq!(
        check_ocsp_response(&resp, &absent, &p.inter.der, NOW).unwrap_err(),
        NOT_ABOUT
    );
}

#[test]
fn ocsp_sha256_cert_id() {
    let p = pki();
    let id = raw_cert_id(
        SHA256_OID,
        &sha256(&p.inter.subject_raw()),
        &sha256(p.inter.key.public_key_raw()),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(
        check(&signed(&p.inter.key, &tbs, &[]), &p),
        believed(Status::Good)
    );
    // SHA-256 hashes under the SHA-1 identifier do not match.
    let id = raw_cert_id(
        SHA1_OID,
        &sha256(&p.inter.subject_raw()),
        &sha256(p.inter.key.public_key_raw()),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NOT_ABOUT);
}

#[test]
fn ocsp_delegated_responder_without_ocsp_signing_is_refused() {
    let p = pki();
    for eku in [vec![ExtendedKeyUsagePurpose::ClientAuth], vec![]] {
        let (k, cert) = responder(
            &p.inter,
            &responder_params("TEST OCSP IGC-SANTE PERSONNES", eku),
        );
        assert_eq!(
            check_err(&delegated_resp(&p, &k, &cert), &p),
            NO_OCSP_SIGNING
        );
    }
}

#[test]
fn ocsp_responder_of_a_sibling_ca_is_refused() {
    let p = pki();
    let sibling = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let (k, cert) = responder(&sibling, &ocsp_signing());
    assert_eq!(
        check_err(&delegated_resp(&p, &k, &cert), &p),
        NOT_ISSUED_BY_CA
    );
    // Its answers are good for the sibling's own certificates.
    let leaf = sibling.issue(&leaf_params(SERIAL));
    let resp = ocsp_resp(&k, &[answer(&leaf, &sibling, ocsp::Status::Good)], &[cert]);
    assert_eq!(
        check_ocsp_response(&resp, &leaf, &sibling.der, NOW),
        believed(Status::Good)
    );
    // Signed with the CA's key, but naming the sibling as issuer.
    let k = key();
    let misnamed_issuer = Issuer::from_params(&sibling.params, &p.inter.key);
    let cert = ocsp_signing()
        .signed_by(&k, &misnamed_issuer)
        .unwrap()
        .der()
        .to_vec();
    let inter = parse(&p.inter.der);
    assert!(
        parse(&cert)
            .verify_signature(Some(inter.public_key()))
            .is_ok()
    );
    assert_eq!(
        check_err(&delegated_resp(&p, &k, &cert), &p),
        NOT_ISSUED_BY_CA
    );
}

#[test]
fn ocsp_responder_of_a_same_name_ca_with_another_key_is_refused() {
    let p = pki();
    let impostor = p.root.sub(ca_params("TEST IGC-SANTE PERSONNES", Some(0)));
    assert_eq!(impostor.subject_raw(), p.inter.subject_raw());
    let (k, cert) = responder(&impostor, &ocsp_signing());
    assert_eq!(
        check_err(&delegated_resp(&p, &k, &cert), &p),
        NOT_ISSUED_BY_CA
    );
}

#[test]
fn ocsp_responder_certificate_out_of_its_validity_is_refused() {
    let p = pki();
    let with = |not_before: i64, not_after: i64| {
        let mut params = ocsp_signing();
        params.not_before = at(not_before);
        params.not_after = at(not_after);
        let (k, cert) = responder(&p.inter, &params);
        check(&delegated_resp(&p, &k, &cert), &p)
    };
    // Expired, with the skew as the boundary.
    assert_eq!(with(NOW - 30 * DAY, NOW - DAY).unwrap_err(), NOT_VALID_NOW);
    assert_eq!(
        with(NOW - 30 * DAY, NOW - CLOCK_SKEW - 1).unwrap_err(),
        NOT_VALID_NOW
    );
    assert_eq!(
        with(NOW - 30 * DAY, NOW - CLOCK_SKEW),
        believed(Status::Good)
    );
    // Not yet valid.
    assert_eq!(with(NOW + DAY, NOW + 30 * DAY).unwrap_err(), NOT_VALID_NOW);
    assert_eq!(
        with(NOW + CLOCK_SKEW + 1, NOW + 30 * DAY).unwrap_err(),
        NOT_VALID_NOW
    );
    assert_eq!(
        with(NOW + CLOCK_SKEW, NOW + 30 * DAY),
        believed(Status::Good)
    );
}

#[test]
fn ocsp_not_signed_by_the_responder_key_is_refused() {
    let p = pki();
    let (k, cert) = responder(&p.inter, &ocsp_signing());
    let id = answer(&p.leaf, &p.inter, ocsp::Status::Good);
    // Names the delegated responder, signed by the CA's key.
    let tbs = ocsp::response_data(
        &sha1(k.public_key_raw()),
        THIS,
        std::slice::from_ref(&id),
        None,
    );
    assert_eq!(
        check_err(&signed(&p.inter.key, &tbs, std::slice::from_ref(&cert)), &p),
        BAD_SIGNATURE
    );
    // Names the CA, signed by the delegated responder's key.
    let tbs = ocsp::response_data(&p.inter.key_hash(), THIS, &[id], None);
    assert_eq!(check_err(&signed(&k, &tbs, &[cert]), &p), BAD_SIGNATURE);
}

#[test]
fn ocsp_signed_by_an_unrelated_key_is_refused() {
    let p = pki();
    let rogue = key();
    let answers = [answer(&p.leaf, &p.inter, ocsp::Status::Good)];
    assert_eq!(check_err(&ocsp_resp(&rogue, &answers, &[]), &p), NO_SIGNER);
    // With a self-signed certificate of its own, even one with id-kp-OCSPSigning.
    let own = ocsp_signing().self_signed(&rogue).unwrap().der().to_vec();
    assert_eq!(
        check_err(&ocsp_resp(&rogue, &answers, &[own]), &p),
        NOT_ISSUED_BY_CA
    );
}

#[test]
fn ocsp_signature_of_another_response_is_refused() {
    // A Good answer carrying the signature of the CA's Revoked answer.
    let p = pki();
    let rhash = p.inter.key_hash();
    let good = ocsp::response_data(
        &rhash,
        THIS,
        &[answer(&p.leaf, &p.inter, ocsp::Status::Good)],
        None,
    );
    let bad = ocsp::response_data(&rhash, THIS, &[answer(&p.leaf, &p.inter, revoked())], None);
    let sig = p.inter.key.sign(&bad).unwrap();
    let forged = ocsp::response(&good, &ecdsa_sha256(), &sig, &[]);
    assert_eq!(check_err(&forged, &p), BAD_SIGNATURE);
    // The genuine one is believed.
    let genuine = ocsp::response(&bad, &ecdsa_sha256(), &sig, &[]);
    assert_eq!(check(&genuine, &p), believed(Status::Revoked));
}

#[test]
fn ocsp_about_another_serial_is_refused() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.other_leaf, ocsp::Status::Good);
    assert_eq!(check_err(&resp, &p), NOT_ABOUT);
}

#[test]
fn ocsp_about_the_same_serial_of_another_issuer_is_refused() {
    let p = pki();
    let sibling = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let foreign = sibling.issue(&leaf_params(SERIAL));
    // Signed by the right CA, about the sibling's certificate with the same serial.
    let resp = ocsp_resp(&p.inter.key, &[answer(&foreign, &sibling, revoked())], &[]);
    assert_eq!(check_err(&resp, &p), NOT_ABOUT);
}

#[test]
fn ocsp_right_key_with_another_issuer_name_is_refused() {
    let p = pki();
    let id = raw_cert_id(
        SHA1_OID,
        &sha1(&p.root.subject_raw()),
        &p.inter.key_hash(),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NOT_ABOUT);
    // And the right name with another key.
    let id = raw_cert_id(
        SHA1_OID,
        &sha1(&p.inter.subject_raw()),
        &p.root.key_hash(),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NOT_ABOUT);
}

#[test]
fn ocsp_cert_id_with_an_unsupported_hash_is_refused() {
    let p = pki();
    let sha384 = |data: &[u8]| hash(&aws_lc_rs::digest::SHA384, data);
    let id = raw_cert_id(
        SHA384_OID,
        &sha384(&p.inter.subject_raw()),
        &sha384(p.inter.key.public_key_raw()),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NOT_ABOUT);
    // Nor SHA-1 values under an unsupported identifier (MD5).
    let id = raw_cert_id(
        &[1, 2, 840, 113549, 2, 5],
        &sha1(&p.inter.subject_raw()),
        &p.inter.key_hash(),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NOT_ABOUT);
}

#[test]
fn ocsp_stale_is_refused_after_the_skew() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Good);
    let at_ = |now| check_ocsp_response(&resp, &p.leaf, &p.inter.der, now);
    assert_eq!(at_(NEXT), believed(Status::Good));
    assert_eq!(at_(NEXT + CLOCK_SKEW), believed(Status::Good));
    assert_eq!(at_(NEXT + CLOCK_SKEW + 1).unwrap_err(), STALE);
    assert_eq!(at_(NOW + 10 * DAY).unwrap_err(), STALE);
}

#[test]
fn ocsp_dated_in_the_future_is_refused() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Good);
    let at_ = |now| check_ocsp_response(&resp, &p.leaf, &p.inter.der, now);
    assert_eq!(at_(THIS - CLOCK_SKEW), believed(Status::Good));
    assert_eq!(
        at_(THIS - CLOCK_SKEW - 1).unwrap_err(),
        "the OCSP answer is dated in the future"
    );
}

#[test]
fn ocsp_unknown_is_refused() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Unknown);
    assert_eq!(
        check_err(&resp, &p),
        "the responder does not know this certificate"
    );
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, UNKNOWN, THIS, Some(NEXT))],
    );
    assert_eq!(
        check_err(&signed(&p.inter.key, &tbs, &[]), &p),
        "the responder does not know this certificate"
    );
}

#[test]
fn ocsp_unsuccessful_responses_are_refused() {
    let p = pki();
    for (r, name) in [
        (x509_ocsp::OcspResponse::try_later(), "TryLater"),
        (x509_ocsp::OcspResponse::unauthorized(), "Unauthorized"),
        (x509_ocsp::OcspResponse::internal_error(), "InternalError"),
        (
            x509_ocsp::OcspResponse::malformed_request(),
            "MalformedRequest",
        ),
        (x509_ocsp::OcspResponse::sig_required(), "SigRequired"),
    ] {
        let der = r.to_der().unwrap();
        assert_eq!(
            check_err(&der, &p),
            format!("the responder answered {name}")
        );
    }
    // The crate's own responder refusals.
    assert_eq!(
        check_err(&ocsp::refusal(ocsp::OcspRefusal::Unauthorized), &p),
        "the responder answered Unauthorized"
    );
    // "Successful" without responseBytes.
    assert_eq!(
        check_err(&d::seq(&[d::enumerated(0)]), &p),
        "a successful response without content"
    );
}

#[test]
fn ocsp_response_type_other_than_basic_is_refused() {
    let p = pki();
    let mut resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Good);
    assert_eq!(check(&resp, &p), believed(Status::Good));
    let basic = d::oid(&[1, 3, 6, 1, 5, 5, 7, 48, 1, 1]);
    let pos = resp
        .windows(basic.len())
        .position(|w| w == basic.as_slice())
        .unwrap();
    // id-pkix-ocsp-basic -> 1.3.6.1.5.5.7.48.1.99.
    resp[pos + basic.len() - 1] = 99;
    assert_eq!(check_err(&resp, &p), "not a basic OCSP response");
}

#[test]
fn ocsp_unreadable_is_refused() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Good);
    for bad in [
        &b"garbage"[..],
        &[],
        &resp[..resp.len() - 1],
        &resp[..resp.len() / 2],
    ] {
        let e = check_err(bad, &p);
        assert!(e.starts_with("unreadable OCSP response"), "{e}");
    }
    // A response whose BasicOCSPResponse is not one.
    let junk = d::seq(&[
        d::enumerated(0),
        d::explicit(
            0,
            &d::seq(&[d::oid(&[1, 3, 6, 1, 5, 5, 7, 48, 1, 1]), d::octets(b"junk")]),
        ),
    ]);
    let e = check_err(&junk, &p);
    assert!(e.starts_with("unreadable basic OCSP response"), "{e}");
    // And unreadable certificates.
    assert!(check_ocsp_response(&resp, b"garbage", &p.inter.der, NOW).is_err());
    assert!(check_ocsp_response(&resp, &p.leaf, b"garbage", NOW).is_err());
}

#[test]
fn ocsp_next_update_before_this_update_is_refused() {
    let p = pki();
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let with_next = |next: i64| {
        let tbs = raw_response_data(
            by_key(&p.inter.key),
            &[raw_single(&id, GOOD, THIS, Some(next))],
        );
        check(&signed(&p.inter.key, &tbs, &[]), &p)
    };
    assert_eq!(
        with_next(THIS - 1).unwrap_err(),
        "the OCSP answer's nextUpdate precedes its thisUpdate"
    );
    assert_eq!(
        with_next(THIS - DAY).unwrap_err(),
        "the OCSP answer's nextUpdate precedes its thisUpdate"
    );
    // Equal is allowed.
    assert_eq!(
        with_next(THIS),
        Ok(OcspAnswer {
            status: Status::Good,
            this_update: THIS,
            valid_until: THIS,
        })
    );
}

#[test]
fn ocsp_without_next_update_is_believed_for_a_while() {
    let p = pki();
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let tbs = raw_response_data(by_key(&p.inter.key), &[raw_single(&id, GOOD, THIS, None)]);
    let resp = signed(&p.inter.key, &tbs, &[]);
    let until = THIS + OCSP_NO_NEXT_UPDATE_MAX_AGE;
    let expected = Ok(OcspAnswer {
        status: Status::Good,
        this_update: THIS,
        valid_until: until,
    });
    let at_ = |now| check_ocsp_response(&resp, &p.leaf, &p.inter.der, now);
    assert_eq!(at_(NOW), expected);
    assert_eq!(at_(until + CLOCK_SKEW), expected);
    assert_eq!(at_(until + CLOCK_SKEW + 1).unwrap_err(), STALE);
}

// ---------------------------------------------------------------------------------------
// External authorities
// ---------------------------------------------------------------------------------------

fn trust(cas: &[&[u8]]) -> ExternalTrust {
    ExternalTrust::from_pem(&pem(cas)).unwrap()
}

fn from_pem_err(bundle: &[u8]) -> String {
    ExternalTrust::from_pem(bundle).unwrap_err().to_string()
}

/// A link as (certificate, issuer, end entity), to compare.
fn link(l: &Link) -> (&[u8], &[u8], bool) {
    (&l.cert, &l.issuer, l.end_entity)
}

#[test]
fn from_pem_rejects_empty_or_text_only_bundles() {
    assert_eq!(from_pem_err(b""), "no certificate in the bundle");
    assert_eq!(
        from_pem_err(b"IGC-Sante roots\nsee https://igc-sante.esante.gouv.fr\n"),
        "no certificate in the bundle"
    );
}

#[test]
fn from_pem_rejects_corrupt_pem() {
    let p = pki();
    let e = from_pem_err(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
    assert!(e.starts_with("not a PEM certificate bundle"), "{e}");
    // An unterminated block.
    let mut truncated = pem(&[&p.root.der]);
    truncated.truncate(truncated.len() - 10);
    assert!(ExternalTrust::from_pem(&truncated).is_err());
    // Valid base64, not a certificate.
    let e = from_pem_err(&pem(&[b"not a certificate"]));
    assert!(e.starts_with("unreadable certificate"), "{e}");
}

#[test]
fn from_pem_rejects_a_non_ca_certificate() {
    let p = pki();
    let e = from_pem_err(&pem(&[&p.root.der, &p.inter.der, &p.leaf]));
    assert!(e.ends_with("is not a CA certificate"), "{e}");
    assert!(e.contains(NATIONAL_ID), "{e}");
}

#[test]
fn from_pem_rejects_an_intermediate_without_its_root() {
    let p = pki();
    let e = from_pem_err(&pem(&[&p.inter.der]));
    assert!(e.contains("is not in the bundle"), "{e}");
    assert!(e.contains("TEST IGC-SANTE ROOT"), "{e}");
    let other = Ca::root("TEST OTHER ROOT");
    let e = from_pem_err(&pem(&[&other.der, &p.inter.der]));
    assert!(e.contains("is not in the bundle"), "{e}");
}

#[test]
fn from_pem_rejects_a_duplicate() {
    let p = pki();
    let e = from_pem_err(&pem(&[&p.root.der, &p.inter.der, &p.root.der]));
    assert!(e.ends_with("appears twice"), "{e}");
    let e = from_pem_err(&pem(&[&p.root.der, &p.inter.der, &p.inter.der]));
    assert!(e.ends_with("appears twice"), "{e}");
}

#[test]
fn from_pem_accepts_root_and_intermediate_in_any_order() {
    let p = pki();
    let other = Ca::root("TEST OTHER ROOT");
    for bundle in [
        pem(&[&p.root.der, &p.inter.der]),
        pem(&[&p.inter.der, &p.root.der]),
    ] {
        let t = ExternalTrust::from_pem(&bundle).unwrap();
        assert_eq!(t.subjects.len(), 2);
        assert_eq!(t.names.len(), 2);
        assert!(t.knows_issuer(&p.root.subject_raw()));
        assert!(t.knows_issuer(&p.inter.subject_raw()));
        assert!(!t.knows_issuer(&other.subject_raw()));
        assert!(
            t.names
                .iter()
                .any(|n| n.contains("TEST IGC-SANTE PERSONNES"))
        );
        assert!(t.validate(&p.leaf, Usage::CardAuthentication, NOW).is_ok());
    }
    let t = trust(&[&p.root.der]);
    assert_eq!(t.subjects, vec![p.root.subject_raw()]);
    assert!(t.knows_issuer(&p.root.subject_raw()));
    assert!(!t.knows_issuer(&p.inter.subject_raw()));
}

#[test]
fn validate_through_root_and_intermediate() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let path = t.validate(&p.leaf, Usage::CardAuthentication, NOW).unwrap();
    assert_eq!(
        path.links.iter().map(link).collect::<Vec<_>>(),
        vec![
            (p.leaf.as_slice(), p.inter.der.as_slice(), true),
            (p.inter.der.as_slice(), p.root.der.as_slice(), false),
        ]
    );
    let v = &path.validated;
    assert_eq!(v.ca_id, "external:TEST IGC-SANTE PERSONNES");
    assert_eq!(v.cn.as_deref(), Some(NATIONAL_ID));
    assert_eq!(v.serial, "12345678");
    assert_eq!(
        v.subject.to_string(),
        "CN=899700218896,O=CABINET M. DUPONT,C=FR"
    );
    assert_eq!(
        v.subject,
        crate::dn::Dn::parse("cn=899700218896, o=cabinet m.  dupont, c=fr").unwrap()
    );
    assert!(v.dns.is_empty());
    assert_eq!(v.thumbprint, validate::thumbprint(&p.leaf));
    assert_eq!(v.not_after, NOW + 365 * DAY);
    // The same for TLS clients.
    let tls = t.validate(&p.leaf, Usage::ClientTls, NOW).unwrap();
    assert_eq!(tls.validated, path.validated);
}

#[test]
fn validate_a_card_issued_by_the_root() {
    let p = pki();
    let card = p.root.issue(&leaf_params(&[0x00, 0x9a]));
    let t = trust(&[&p.root.der, &p.inter.der]);
    let path = t.validate(&card, Usage::CardAuthentication, NOW).unwrap();
    assert_eq!(
        path.links.iter().map(link).collect::<Vec<_>>(),
        vec![(card.as_slice(), p.root.der.as_slice(), true)]
    );
    assert_eq!(path.validated.ca_id, "external:TEST IGC-SANTE ROOT");
    assert_eq!(path.validated.serial, "9a");
}

#[test]
fn validate_picks_the_right_root_among_several() {
    let p = pki();
    let other = Ca::root("TEST OTHER ROOT");
    let other_inter = other.intermediate("TEST OTHER PERSONNES");
    let third = Ca::root("TEST THIRD ROOT");
    let t = trust(&[
        &other.der,
        &other_inter.der,
        &p.inter.der,
        &third.der,
        &p.root.der,
    ]);
    let path = t.validate(&p.leaf, Usage::CardAuthentication, NOW).unwrap();
    assert_eq!(
        path.links.iter().map(link).collect::<Vec<_>>(),
        vec![
            (p.leaf.as_slice(), p.inter.der.as_slice(), true),
            (p.inter.der.as_slice(), p.root.der.as_slice(), false),
        ]
    );
    let card = other_inter.issue(&leaf_params(SERIAL));
    let path = t.validate(&card, Usage::CardAuthentication, NOW).unwrap();
    assert_eq!(path.links[1].issuer, other.der);
    assert_eq!(path.validated.ca_id, "external:TEST OTHER PERSONNES");
}

fn refused(t: &ExternalTrust, leaf: &[u8], usage: Usage) -> Refusal {
    t.validate(leaf, usage, NOW).unwrap_err()
}

#[test]
fn validate_refuses_unknown_issuers() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let unknown = Ca::root("TEST UNKNOWN ROOT").intermediate("TEST UNKNOWN PERSONNES");
    let card = unknown.issue(&leaf_params(SERIAL));
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::UnknownIssuer
    );
    // A sibling CA under the same root, not in the bundle.
    let sibling = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let card = sibling.issue(&leaf_params(SERIAL));
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::UnknownIssuer
    );
    assert_eq!(refused(&t, &card, Usage::ClientTls), Refusal::UnknownIssuer);
    // It passes once the bundle has it.
    let t = trust(&[&p.root.der, &p.inter.der, &sibling.der]);
    assert!(t.validate(&card, Usage::CardAuthentication, NOW).is_ok());
}

#[test]
fn validate_refuses_bad_signatures() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    // An impostor CA with the issuing CA's name, under another root.
    let impostor = Ca::root("TEST EVIL ROOT").sub(ca_params("TEST IGC-SANTE PERSONNES", Some(0)));
    let card = impostor.issue(&leaf_params(SERIAL));
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::BadSignature
    );
    // A tampered card: another national id, same signature.
    let mut card = p.leaf.clone();
    let pos = card
        .windows(NATIONAL_ID.len())
        .position(|w| w == NATIONAL_ID.as_bytes())
        .unwrap();
    card[pos] = b'1';
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::BadSignature
    );
}

#[test]
fn validate_refuses_out_of_validity() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let mut params = leaf_params(SERIAL);
    params.not_before = at(NOW - 400 * DAY);
    params.not_after = at(NOW - DAY);
    let card = p.inter.issue(&params);
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::Expired
    );
    let mut params = leaf_params(SERIAL);
    params.not_before = at(NOW + DAY);
    params.not_after = at(NOW + 400 * DAY);
    let card = p.inter.issue(&params);
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::NotYetValid
    );
    // An expired intermediate.
    let mut params = ca_params("TEST IGC-SANTE PERSONNES", Some(0));
    params.not_after = at(NOW - DAY);
    let inter = p.root.sub(params);
    let t = trust(&[&p.root.der, &inter.der]);
    let card = inter.issue(&leaf_params(SERIAL));
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::Expired
    );
}

#[test]
fn validate_refuses_without_client_auth() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let no_client_auth = Refusal::WrongUsage("no clientAuth extended key usage".into());
    for eku in [vec![ExtendedKeyUsagePurpose::ServerAuth], vec![]] {
        let mut params = leaf_params(SERIAL);
        params.extended_key_usages = eku;
        let card = p.inter.issue(&params);
        for usage in [Usage::CardAuthentication, Usage::ClientTls] {
            assert_eq!(refused(&t, &card, usage), no_client_auth);
        }
    }
}

#[test]
fn validate_card_needs_digital_signature() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    for ku in [vec![KeyUsagePurpose::KeyEncipherment], vec![]] {
        let mut params = leaf_params(SERIAL);
        params.key_usages = ku;
        let card = p.inter.issue(&params);
        assert_eq!(
            refused(&t, &card, Usage::CardAuthentication),
            Refusal::WrongUsage("no digitalSignature key usage".into())
        );
        assert!(t.validate(&card, Usage::ClientTls, NOW).is_ok());
    }
}

#[test]
fn validate_refuses_a_ca_certificate() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let wrong = Refusal::WrongUsage("a CA certificate".into());
    assert_eq!(refused(&t, &p.inter.der, Usage::CardAuthentication), wrong);
    assert_eq!(refused(&t, &p.inter.der, Usage::ClientTls), wrong);
    // Even with clientAuth.
    let mut params = ca_params("TEST IGC-SANTE ORGANISATIONS", Some(0));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let ca = p.root.sub(params);
    assert_eq!(refused(&t, &ca.der, Usage::ClientTls), wrong);
}

#[test]
fn validate_refuses_an_exceeded_path_length() {
    // An intermediate allowing no CA below it, and a CA below it all the same.
    let root = Ca::self_signed(ca_params("TEST LONG ROOT", None));
    let inter = root.intermediate("TEST LONG INTERMEDIATE");
    let below = inter.intermediate("TEST LONG PERSONNES");
    let t = trust(&[&root.der, &inter.der, &below.der]);
    let card = below.issue(&leaf_params(SERIAL));
    match refused(&t, &card, Usage::CardAuthentication) {
        Refusal::BadChain(why) => assert_eq!(why, "PathLenConstraintViolated"),
        other => panic!("{other:?}"),
    }
    // The intermediate's own cards are fine.
    let card = inter.issue(&leaf_params(SERIAL));
    let path = t.validate(&card, Usage::CardAuthentication, NOW).unwrap();
    assert_eq!(path.links.len(), 2);
}

#[test]
fn validate_refuses_malformed_input() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    assert_eq!(
        refused(&t, b"garbage", Usage::CardAuthentication),
        Refusal::Malformed
    );
    assert_eq!(
        refused(&t, &[], Usage::CardAuthentication),
        Refusal::Malformed
    );
    let mut trailing = p.leaf.clone();
    trailing.push(0);
    assert_eq!(
        refused(&t, &trailing, Usage::CardAuthentication),
        Refusal::Malformed
    );
    assert_eq!(
        refused(&t, &p.leaf[..p.leaf.len() - 1], Usage::CardAuthentication),
        Refusal::Malformed
    );
}

#[test]
fn validate_links_checked_against_crls() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let inter_serial = parse(&p.inter.der).raw_serial().to_vec();
    let status_of = |leaf: &[u8], revoked_inter: bool| {
        let path = t.validate(leaf, Usage::CardAuthentication, NOW).unwrap();
        let root_crl = if revoked_inter {
            crl_of(&p.root, &[&inter_serial])
        } else {
            crl_of(&p.root, &[])
        };
        let crls = [crl_of(&p.inter, &[OTHER_SERIAL]), root_crl];
        assert_eq!(path.links.len(), crls.len());
        path.links
            .iter()
            .zip(&crls)
            .map(|(l, crl)| {
                CrlIndex::parse(crl, &l.issuer, NOW)
                    .unwrap()
                    .status(&l.cert, &l.issuer, NOW)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        status_of(&p.leaf, false),
        [Ok(Status::Good), Ok(Status::Good)]
    );
    assert_eq!(
        status_of(&p.other_leaf, false),
        [Ok(Status::Revoked), Ok(Status::Good)]
    );
    assert_eq!(
        status_of(&p.leaf, true),
        [Ok(Status::Good), Ok(Status::Revoked)]
    );
    // Each CRL is its link's: the intermediate's CRL does not speak of the intermediate.
    let path = t.validate(&p.leaf, Usage::CardAuthentication, NOW).unwrap();
    let l = &path.links[1];
    assert!(CrlIndex::parse(&crl_of(&p.inter, &[]), &l.issuer, NOW).is_err());
}

#[test]
fn ocsp_contradictory_answers_about_one_certificate_mean_revoked() {
    let p = pki();
    for answers in [
        [
            answer(&p.leaf, &p.inter, ocsp::Status::Good),
            answer(&p.leaf, &p.inter, revoked()),
        ],
        [
            answer(&p.leaf, &p.inter, revoked()),
            answer(&p.leaf, &p.inter, ocsp::Status::Good),
        ],
    ] {
        let resp = ocsp_resp(&p.inter.key, &answers, &[]);
        assert_eq!(check(&resp, &p), believed(Status::Revoked));
    }
}

#[test]
fn from_pem_rejects_an_intermediate_not_signed_by_the_root_of_that_name() {
    // The root was re-keyed under the same name: the intermediate in the bundle was signed by
    // the old key, so no card of it could ever validate. Found at start, not at login.
    let p = pki();
    let rekeyed = Ca::root("TEST IGC-SANTE ROOT");
    let e = from_pem_err(&pem(&[&rekeyed.der, &p.inter.der]));
    assert!(e.contains("does not verify with the key of"), "{e}");
    assert!(ExternalTrust::from_pem(&pem(&[&p.root.der, &p.inter.der])).is_ok());
}

#[test]
fn any_extended_key_usage_alone_is_refused_by_both_paths() {
    let p = pki();
    let mut params = leaf_params(&[0x07]);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::Any];
    let card = p.inter.issue(&params);
    let own = validate::validate(
        &card,
        &[validate::Anchor {
            id: "PERSONNES".into(),
            cert_der: p.inter.der.clone(),
        }],
        Usage::CardAuthentication,
        NOW,
    );
    assert_eq!(
        own,
        Err(Refusal::WrongUsage(
            "no clientAuth extended key usage".into()
        ))
    );
    let external =
        trust(&[&p.root.der, &p.inter.der]).validate(&card, Usage::CardAuthentication, NOW);
    assert!(
        matches!(&external, Err(Refusal::WrongUsage(w)) if w.contains("clientAuth")),
        "{external:?}"
    );
}

#[test]
fn ocsp_revoked_stands_whatever_its_dates() {
    // A signed revocation is final: stale or early, it is not traded for a CRL's Good.
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, revoked());
    for now in [NOW + 10 * DAY, THIS - CLOCK_SKEW - 1] {
        let a = check_ocsp_response(&resp, &p.leaf, &p.inter.der, now).unwrap();
        assert_eq!(a.status, Status::Revoked, "at {now}");
        assert!(a.valid_until >= now);
    }
}

#[test]
fn crl_negative_serial_is_not_its_positive_twin() {
    // 0xFF is -1 and 0x00FF is 255: a CRL listing -1 says nothing of certificate 255.
    let p = pki();
    let leaf = p.inter.issue(&leaf_params(&[0xff]));
    assert_eq!(parse(&leaf).raw_serial(), &[0x00, 0xff]);
    let crl = raw_crl_of(&p.inter, &[d::tlv(0x02, &[0xff])], &[]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.status(&leaf, &p.inter.der, NOW), Ok(Status::Good));
    let crl = raw_crl_of(&p.inter, &[d::tlv(0x02, &[0x00, 0xff])], &[]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.status(&leaf, &p.inter.der, NOW), Ok(Status::Revoked));
}
