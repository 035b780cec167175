//! Tests of [`super`] (CRL and OCSP policy) and of [`super::super::external`] (paths to the
//! external authorities). Everything is built in memory: certificates and CRLs with rcgen,
//! edge-case CRLs and OCSP responses with the crate's DER writer, signed with rcgen keys.

use super::*;
use crate::core::pki::der as d;
use crate::core::pki::external::{ExternalTrust, Link};
use crate::core::pki::ocsp;
use crate::core::pki::revocation::Reason;
use crate::core::pki::validate::{self, Refusal, Usage};
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
    // A serial equal up to the leading zero but not the same is not confused with it.
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
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap_err();
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
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap_err();
    assert!(e.contains("signature"), "{e}");
}

#[test]
fn crl_of_another_issuer_is_refused() {
    let p = pki();
    let other = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let crl = crl_of(&other, &[]);
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap_err();
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
    let e = CrlIndex::parse(&crl, &ca.der, NOW).unwrap_err();
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
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap_err();
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
    let e = idx.status(&p.leaf, &impostor.der, NOW).unwrap_err();
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
    let e = idx.status(&p.inter.der, &p.root.der, NOW).unwrap_err();
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
    let e = idx.status(&ee, &p.root.der, NOW).unwrap_err();
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
        let e = idx.status(&ee, &p.root.der, NOW).unwrap_err();
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
    assert!(ExternalTrust::from_pem(&pem(&[&other.der, &ghost.der])).is_err());
}
