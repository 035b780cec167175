//! Certificate building: every field set from the hierarchy and the profile, nothing left to
//! a library default.

use super::csr::CsrApproved;
use super::der;
use super::hierarchy::{CaDef, Eku, Hierarchy, KeyUsage, Profile, SubjectKind};
use coeur_common::random::Random;
use rcgen::{
    CertificateParams, CrlDistributionPoint, CustomExtension, ExtendedKeyUsagePurpose as E, IsCa,
    KeyUsagePurpose as K, SanType,
};

/// A positive serial number of 128 bits from the CSPRNG (≥ 64 bits required, ≤ 20 bytes).
pub fn new_serial(rng: &dyn Random) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    rng.fill(&mut b);
    b[0] &= 0x7f;
    if b[0] == 0 {
        b[0] = 0x01;
    }
    b
}

/// Why certificate parameters cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// A validity date out of range.
    #[error(transparent)]
    Time(#[from] time::error::ComponentRange),
    /// A name that is not IA5 (DNS names and e-mail addresses of the SAN).
    #[error("{0}: not IA5")]
    NotIa5(String),
    /// The subject's public key cannot be read.
    #[error(transparent)]
    Key(#[from] rcgen::Error),
}

fn to_time(t: i64) -> Result<time::OffsetDateTime, IssueError> {
    Ok(time::OffsetDateTime::from_unix_timestamp(t)?)
}

const ID_QT_CPS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 2, 1];
const ANY_POLICY: &[u64] = &[2, 5, 29, 32, 0];
const CERT_POLICIES: &[u64] = &[2, 5, 29, 32];
const AIA: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const FRESHEST_CRL: &[u64] = &[2, 5, 29, 46];
const OCSP_NOCHECK: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 5];

fn policies(policy: &[u64], cps: &str) -> CustomExtension {
    let qualifier = der::seq(&[der::oid(ID_QT_CPS), der::ia5(cps)]);
    let info = der::seq(&[der::oid(policy), der::seq(&[qualifier])]);
    CustomExtension::from_oid_content(CERT_POLICIES, der::seq(&[info]))
}

fn aia(ocsp: Option<&str>, ca_issuers: &str) -> CustomExtension {
    let mut parts = Vec::new();
    if let Some(o) = ocsp {
        parts.push(der::seq(&[
            der::oid(&[1, 3, 6, 1, 5, 5, 7, 48, 1]),
            der::implicit_prim(6, o.as_bytes()),
        ]));
    }
    parts.push(der::seq(&[
        der::oid(&[1, 3, 6, 1, 5, 5, 7, 48, 2]),
        der::implicit_prim(6, ca_issuers.as_bytes()),
    ]));
    CustomExtension::from_oid_content(AIA, der::seq(&parts))
}

/// CRLDistributionPoints syntax with one distribution point per URI (fullName [0] { URI [6] }).
fn dist_points(uris: &[String]) -> Vec<u8> {
    let dps: Vec<Vec<u8>> = uris
        .iter()
        .map(|u| {
            der::seq(&[der::explicit(
                0,
                &der::explicit(0, &der::implicit_prim(6, u.as_bytes())),
            )])
        })
        .collect();
    der::seq(&dps)
}

fn crl_points(h: &Hierarchy, issuer: &CaDef) -> Vec<CrlDistributionPoint> {
    vec![
        CrlDistributionPoint {
            uris: vec![h.crl_url(&issuer.id)],
        },
        CrlDistributionPoint {
            uris: vec![h.ldap_attr_url(issuer, "certificateRevocationList")],
        },
    ]
}

/// Parameters of a CA certificate. `issuer` is the parent (None for a root).
pub fn ca_params(
    h: &Hierarchy,
    ca: &CaDef,
    issuer: Option<&CaDef>,
    serial: &[u8],
    now: i64,
) -> Result<CertificateParams, IssueError> {
    let mut p = CertificateParams::default();
    p.serial_number = Some(rcgen::SerialNumber::from_slice(serial));
    p.not_before = to_time(now - 60)?;
    p.not_after = to_time(now + ca.validity_days * 86_400)?;
    p.distinguished_name = h.dn(ca);
    p.is_ca = match issuer {
        None => IsCa::Ca(rcgen::BasicConstraints::Unconstrained),
        Some(_) => IsCa::Ca(rcgen::BasicConstraints::Constrained(0)),
    };
    p.key_usages = vec![K::KeyCertSign, K::CrlSign];
    p.extended_key_usages = vec![];
    p.subject_alt_names = vec![];
    p.name_constraints = None;
    p.use_authority_key_identifier_extension = issuer.is_some();
    p.key_identifier_method = rcgen::KeyIdMethod::Sha256;
    p.custom_extensions = vec![policies(ANY_POLICY, &h.cps_uri)];
    if let Some(parent) = issuer {
        p.crl_distribution_points = crl_points(h, parent);
        p.custom_extensions.push(aia(None, &h.cert_url(&parent.id)));
    }
    Ok(p)
}

/// Parameters of an end-entity certificate of `profile`, issued by `ca`.
pub fn ee_params(
    h: &Hierarchy,
    ca: &CaDef,
    profile: &Profile,
    approved: &CsrApproved,
    serial: &[u8],
    now: i64,
) -> Result<CertificateParams, IssueError> {
    let mut p = CertificateParams::default();
    p.serial_number = Some(rcgen::SerialNumber::from_slice(serial));
    p.not_before = to_time(now - 60)?;
    p.not_after = to_time(now + profile.validity_days * 86_400)?;
    p.distinguished_name = approved.subject.clone();
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = key_usages(profile, !approved.key_type().is_rsa());
    p.extended_key_usages = profile
        .extended_key_usage
        .iter()
        .map(|e| match e {
            Eku::ServerAuth => E::ServerAuth,
            Eku::ClientAuth => E::ClientAuth,
            Eku::EmailProtection => E::EmailProtection,
            Eku::OcspSigning => E::OcspSigning,
        })
        .collect();
    p.subject_alt_names = alt_names(approved)?;
    p.name_constraints = None;
    p.use_authority_key_identifier_extension = true;
    p.key_identifier_method = rcgen::KeyIdMethod::Sha256;
    p.custom_extensions = vec![policies(&h.policy_oid, &h.cps_uri)];
    status_pointers(&mut p, h, ca, profile);
    Ok(p)
}

/// The profile's key usages for an RSA or EC (`ec`) subject key, without repeats.
///
/// keyEncipherment is an RSA usage (RFC 5480 §3 forbids it for EC keys): EC subjects of a
/// profile that lists it get keyAgreement instead when the profile encrypts mail, nothing
/// otherwise.
fn key_usages(profile: &Profile, ec: bool) -> Vec<K> {
    let mut kus = Vec::new();
    for k in &profile.key_usage {
        let ku = match (k, ec) {
            (KeyUsage::DigitalSignature, _) => K::DigitalSignature,
            (KeyUsage::NonRepudiation, _) => K::ContentCommitment,
            (KeyUsage::KeyEncipherment, false) => K::KeyEncipherment,
            (KeyUsage::KeyEncipherment, true)
                if profile.extended_key_usage.contains(&Eku::EmailProtection) =>
            {
                K::KeyAgreement
            }
            (KeyUsage::KeyEncipherment, true) => continue,
            (KeyUsage::KeyAgreement, _) => K::KeyAgreement,
        };
        if !kus.contains(&ku) {
            kus.push(ku);
        }
    }
    kus
}

/// The approved DNS names, IP addresses and e-mail addresses, in that order.
fn alt_names(approved: &CsrApproved) -> Result<Vec<SanType>, IssueError> {
    let ia5 = |v: &String| {
        v.clone()
            .try_into()
            .map_err(|_| IssueError::NotIa5(v.clone()))
    };
    let mut sans = Vec::new();
    for d in &approved.dns {
        sans.push(SanType::DnsName(ia5(d)?));
    }
    for ip in &approved.ips {
        sans.push(SanType::IpAddress(*ip));
    }
    for e in &approved.emails {
        sans.push(SanType::Rfc822Name(ia5(e)?));
    }
    Ok(sans)
}

/// Where relying parties find the issuer and the certificate's status: CRL and delta CRL
/// points and OCSP, except for a delegated responder, which is not itself checked by OCSP
/// (RFC 6960 §4.2.2.2.1) and carries id-pkix-ocsp-nocheck instead.
fn status_pointers(p: &mut CertificateParams, h: &Hierarchy, ca: &CaDef, profile: &Profile) {
    if profile.subject == SubjectKind::Responder {
        p.custom_extensions
            .push(CustomExtension::from_oid_content(OCSP_NOCHECK, der::null()));
        p.crl_distribution_points = vec![];
        p.custom_extensions.push(aia(None, &h.cert_url(&ca.id)));
    } else {
        p.crl_distribution_points = crl_points(h, ca);
        p.custom_extensions.push(CustomExtension::from_oid_content(
            FRESHEST_CRL,
            dist_points(&[
                h.delta_crl_url(&ca.id),
                h.ldap_attr_url(ca, "deltaRevocationList"),
            ]),
        ));
        p.custom_extensions
            .push(aia(Some(&h.ocsp_url()), &h.cert_url(&ca.id)));
    }
}

/// The subject's public key, for rcgen.
pub fn subject_key(approved: &CsrApproved) -> Result<rcgen::SubjectPublicKeyInfo, IssueError> {
    Ok(rcgen::SubjectPublicKeyInfo::from_der(approved.spki_der())?)
}
