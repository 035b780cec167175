//! CSR intake: proof of possession, key policy, and the subject the CA builds from the request
//! and the structure's identifiers. Nothing is copied from the CSR but its public key.

use super::hierarchy::{CaDef, Domain, KeyType, Profile, SanKind, SubjectKind};
use super::names::{StructureId, validate_dns_name, validate_email};
use coeur_common::environment::Environment;
use coeur_common::identity::NationalId;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::FromDer as _;

/// What a structure asks for, besides the CSR.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectRequest {
    /// The structure's identifier: `1`+FINESS or `3`+SIRET (organisation profiles).
    #[serde(default)]
    pub structure_id: Option<String>,
    /// The structure's name (raison sociale), the O.
    #[serde(default)]
    pub organization: Option<String>,
    /// The département, e.g. `Paris (75)`, the ST.
    #[serde(default)]
    pub state: Option<String>,
    /// DNS names (server profiles); the first is the CN.
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// E-mail addresses (S/MIME profiles).
    #[serde(default)]
    pub emails: Vec<String>,
    /// Service name, the CN of organisation certificates without DNS names.
    #[serde(default)]
    pub service_name: Option<String>,
    /// The holder's national identifier (person profiles), the CN.
    #[serde(default)]
    pub national_id: Option<String>,
    /// Holder's family name (SN).
    #[serde(default)]
    pub family_name: Option<String>,
    /// Holder's given name (GN).
    #[serde(default)]
    pub given_name: Option<String>,
    /// Holder's profession label (title), e.g. `Médecin`.
    #[serde(default)]
    pub title: Option<String>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    /// Not a PKCS#10 request.
    #[error("the CSR is not a DER or PEM PKCS#10 request")]
    Malformed,
    /// The signature (proof of possession) does not verify.
    #[error("the CSR signature does not verify (no proof of possession)")]
    BadSignature,
    /// A key type coeur does not issue for.
    #[error("unsupported key type: {0}")]
    UnsupportedKey(String),
    /// A key too weak for any profile.
    #[error("weak key: {0}")]
    WeakKey(String),
    /// The key type is not allowed by the profile.
    #[error("key type {got} is not allowed by profile {profile} (allowed: {allowed})")]
    KeyNotAllowed {
        /// Key type.
        got: String,
        /// Profile.
        profile: String,
        /// Allowed types.
        allowed: String,
    },
    /// The profile is not issued by this CA.
    #[error("profile {profile} is not issued by CA {ca}")]
    WrongCa {
        /// Profile.
        profile: String,
        /// CA.
        ca: String,
    },
    /// A name is missing or not allowed.
    #[error("forbidden name: {0}")]
    ForbiddenName(String),
    /// A field the profile needs is missing.
    #[error("missing field: {0}")]
    Missing(String),
}

/// Proof that a request passed policy: the key and the subject the CA will certify. Only
/// [`check`] makes one.
#[derive(Debug, Clone)]
pub struct CsrApproved {
    pub(super) spki_der: Vec<u8>,
    pub(super) key_type: KeyType,
    pub(super) subject: rcgen::DistinguishedName,
    pub(super) dns: Vec<String>,
    pub(super) emails: Vec<String>,
    pub(super) ips: Vec<std::net::IpAddr>,
    /// Human-readable subject, for listings.
    pub subject_text: String,
}

impl CsrApproved {
    /// The subject public key info (DER).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }
}

/// Approves coeur's own TLS server key: the names come from coeur's configuration (its public
/// URL), so loopback names and IP addresses are allowed here and nowhere else.
pub fn approve_own_server(
    spki_der: &[u8],
    key_type: KeyType,
    dns: Vec<String>,
    ips: Vec<std::net::IpAddr>,
    organization: &str,
    profile: &Profile,
    ca: &CaDef,
) -> Result<CsrApproved, CsrError> {
    check_domain(profile, ca)?;
    use rcgen::{DnType, DnValue};
    let mut dn = rcgen::DistinguishedName::new();
    let fr = rcgen::string::PrintableString::try_from("FR").map_err(|_| CsrError::Malformed)?;
    dn.push(DnType::CountryName, DnValue::PrintableString(fr));
    dn.push(
        DnType::OrganizationName,
        DnValue::Utf8String(organization.to_owned()),
    );
    let cn = dns
        .first()
        .cloned()
        .or_else(|| ips.first().map(|i| i.to_string()))
        .ok_or_else(|| CsrError::Missing("a server name".into()))?;
    dn.push(DnType::CommonName, DnValue::Utf8String(cn.clone()));
    Ok(CsrApproved {
        spki_der: spki_der.to_vec(),
        key_type,
        subject: dn,
        dns,
        emails: vec![],
        ips,
        subject_text: rfc4514(&[("CN", &cn)]),
    })
}

/// Accepts DER or PEM.
pub fn csr_der(input: &[u8]) -> Result<Vec<u8>, CsrError> {
    let text = std::str::from_utf8(input).ok().map(str::trim);
    match text {
        Some(t) if t.starts_with("-----BEGIN") => {
            let body: String = t.lines().filter(|l| !l.starts_with("-----")).collect();
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(body.trim())
                .map_err(|_| CsrError::Malformed)
        }
        _ => Ok(input.to_vec()),
    }
}

fn rsa_bits(modulus: &[u8]) -> usize {
    let m: Vec<u8> = modulus.iter().copied().skip_while(|b| *b == 0).collect();
    match m.first() {
        Some(f) => m.len() * 8 - f.leading_zeros() as usize,
        None => 0,
    }
}

/// Reads and verifies a CSR: returns its SPKI (DER) and key type.
pub fn parse(csr: &[u8]) -> Result<(Vec<u8>, KeyType), CsrError> {
    let (rest, req) = x509_parser::certification_request::X509CertificationRequest::from_der(csr)
        .map_err(|_| CsrError::Malformed)?;
    if !rest.is_empty() {
        return Err(CsrError::Malformed);
    }
    let spki = &req.certification_request_info.subject_pki;
    let key = spki
        .parsed()
        .map_err(|_| CsrError::UnsupportedKey("unparseable public key".into()))?;
    let kt = match key {
        x509_parser::public_key::PublicKey::RSA(rsa) => {
            let bits = rsa_bits(rsa.modulus);
            let e = rsa.exponent.iter().fold(0u64, |acc, b| {
                acc.saturating_mul(256).saturating_add(u64::from(*b))
            });
            if e < 65537 || e % 2 == 0 {
                return Err(CsrError::WeakKey(format!("RSA public exponent {e}")));
            }
            match bits {
                2048 => KeyType::Rsa2048,
                3072 => KeyType::Rsa3072,
                4096 => KeyType::Rsa4096,
                b if b < 2048 => {
                    return Err(CsrError::WeakKey(format!("RSA {b} bits (minimum 2048)")));
                }
                b => return Err(CsrError::UnsupportedKey(format!("RSA {b} bits"))),
            }
        }
        x509_parser::public_key::PublicKey::EC(_) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => KeyType::P256,
                Some("1.3.132.0.34") => KeyType::P384,
                Some(c) => return Err(CsrError::UnsupportedKey(format!("EC curve {c}"))),
                None => {
                    return Err(CsrError::UnsupportedKey(
                        "EC key without named curve".into(),
                    ));
                }
            }
        }
        _ => {
            return Err(CsrError::UnsupportedKey(
                spki.algorithm.algorithm.to_id_string(),
            ));
        }
    };
    // The key is classified first so that a weak key gets its own error; then the proof of
    // possession.
    req.verify_signature().map_err(|_| CsrError::BadSignature)?;
    Ok((spki.raw.to_vec(), kt))
}

/// The subject's text as stored and shown (listings, search, audit): RFC 4514, values escaped,
/// so that `O=CN=evil,O=x` cannot pass for two attributes.
fn rfc4514(attributes: &[(&str, &str)]) -> String {
    attributes
        .iter()
        .map(|(t, v)| format!("{t}={}", crate::dn::escape_value(v)))
        .collect::<Vec<_>>()
        .join(",")
}

fn clean(field: &str, v: Option<&String>, max: usize) -> Result<String, CsrError> {
    let v = v
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CsrError::Missing(field.into()))?;
    if v.chars().count() > max || v.chars().any(crate::names::is_forbidden_char) {
        return Err(CsrError::ForbiddenName(format!(
            "{field}: at most {max} printable characters"
        )));
    }
    Ok(v)
}

fn check_domain(profile: &Profile, ca: &CaDef) -> Result<(), CsrError> {
    let ok_domain = match (profile.domain, ca.domain) {
        (_, None) => false,
        (Domain::Any, Some(_)) => true,
        (p, Some(c)) => p == c,
    };
    if ok_domain {
        Ok(())
    } else {
        Err(CsrError::WrongCa {
            profile: profile.id.clone(),
            ca: ca.id.clone(),
        })
    }
}

/// Applies the profile's policy to a request issued by `ca`.
pub fn check(
    csr: &[u8],
    req: &SubjectRequest,
    profile: &Profile,
    ca: &CaDef,
) -> Result<CsrApproved, CsrError> {
    check_domain(profile, ca)?;
    let (spki_der, key_type) = parse(csr)?;
    approve_key(&spki_der, key_type, req, profile, ca)
}

/// Applies the profile's policy to a key the CA holds proof of possession for by other means
/// (a key coeur generated itself: OCSP responders, sandbox key pairs).
pub fn approve_key(
    spki_der: &[u8],
    key_type: KeyType,
    req: &SubjectRequest,
    profile: &Profile,
    ca: &CaDef,
) -> Result<CsrApproved, CsrError> {
    check_domain(profile, ca)?;
    check_key_type(key_type, profile)?;
    let (dns, emails) = alt_names(req, profile)?;
    let (subject, subject_text) = subject(req, profile, ca, &dns, &emails)?;
    Ok(CsrApproved {
        spki_der: spki_der.to_vec(),
        key_type,
        subject,
        dns,
        emails,
        ips: vec![],
        subject_text,
    })
}

fn check_key_type(key_type: KeyType, profile: &Profile) -> Result<(), CsrError> {
    if profile.key_types.contains(&key_type) {
        return Ok(());
    }
    Err(CsrError::KeyNotAllowed {
        got: key_type.as_str().into(),
        profile: profile.id.clone(),
        allowed: profile
            .key_types
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The subject alternative names the profile allows, validated and without repeats: DNS
/// names and e-mail addresses.
fn alt_names(
    req: &SubjectRequest,
    profile: &Profile,
) -> Result<(Vec<String>, Vec<String>), CsrError> {
    let forbidden = |m: &str| Err(CsrError::ForbiddenName(m.into()));
    match profile.san {
        SanKind::None if req.dns_names.is_empty() && req.emails.is_empty() => Ok((vec![], vec![])),
        SanKind::None => forbidden(&format!(
            "profile {} carries no subject alternative names",
            profile.id
        )),
        SanKind::Dns if req.dns_names.is_empty() => Err(CsrError::Missing("dns_names".into())),
        SanKind::Dns if !req.emails.is_empty() => {
            forbidden("e-mail addresses are not allowed in this profile")
        }
        SanKind::Dns => {
            let dns = distinct(&req.dns_names, validate_dns_name)?;
            if dns.len() > 100 {
                return forbidden("at most 100 DNS names");
            }
            Ok((dns, vec![]))
        }
        SanKind::Email if req.emails.is_empty() => Err(CsrError::Missing("emails".into())),
        SanKind::Email if !req.dns_names.is_empty() => {
            forbidden("DNS names are not allowed in this profile")
        }
        SanKind::Email => Ok((vec![], distinct(&req.emails, validate_email)?)),
    }
}

/// Each value validated into its normal form, repeats dropped, order kept.
fn distinct(
    values: &[String],
    validate: impl Fn(&str) -> Result<String, crate::names::NameError>,
) -> Result<Vec<String>, CsrError> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let n = validate(v).map_err(|e| CsrError::ForbiddenName(e.to_string()))?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// The subject name of the profile's kind, and its RFC 4514 text.
fn subject(
    req: &SubjectRequest,
    profile: &Profile,
    ca: &CaDef,
    dns: &[String],
    emails: &[String],
) -> Result<(rcgen::DistinguishedName, String), CsrError> {
    use rcgen::{DnType, DnValue};
    let mut dn = rcgen::DistinguishedName::new();
    let fr = rcgen::string::PrintableString::try_from("FR").map_err(|_| CsrError::Malformed)?;
    dn.push(DnType::CountryName, DnValue::PrintableString(fr));
    let text = match profile.subject {
        SubjectKind::Organisation | SubjectKind::Responder => {
            organisation_subject(&mut dn, req, profile, dns, emails)?
        }
        SubjectKind::Person => person_subject(&mut dn, req, Environment::of_sandbox(ca.test))?,
    };
    Ok((dn, text))
}

/// `C, [ST,] O, OU = structure identifier, CN = first DNS name, service name or address`.
fn organisation_subject(
    dn: &mut rcgen::DistinguishedName,
    req: &SubjectRequest,
    profile: &Profile,
    dns: &[String],
    emails: &[String],
) -> Result<String, CsrError> {
    use rcgen::{DnType, DnValue};
    let sid = StructureId::parse(
        req.structure_id
            .as_deref()
            .ok_or_else(|| CsrError::Missing("structure_id".into()))?,
    )
    .map_err(|e| CsrError::ForbiddenName(e.to_string()))?;
    let org = clean("organization", req.organization.as_ref(), 64)?;
    let cn = match (dns.first(), &req.service_name) {
        (Some(d), _) => d.clone(),
        (None, Some(_)) => clean("service_name", req.service_name.as_ref(), 64)?,
        (None, None) if !emails.is_empty() => emails[0].clone(),
        (None, None) => return Err(CsrError::Missing("service_name".into())),
    };
    if profile.subject == SubjectKind::Organisation {
        let st = clean("state", req.state.as_ref(), 64)?;
        dn.push(DnType::StateOrProvinceName, DnValue::Utf8String(st));
    }
    dn.push(DnType::OrganizationName, DnValue::Utf8String(org.clone()));
    dn.push(
        DnType::OrganizationalUnitName,
        DnValue::Utf8String(sid.idnat()),
    );
    dn.push(DnType::CommonName, DnValue::Utf8String(cn.clone()));
    Ok(rfc4514(&[("CN", &cn), ("OU", &sid.idnat()), ("O", &org)]))
}

/// `C, SN, GN, [T,] CN = national identifier`; an EDIT test identity only from a TEST CA.
fn person_subject(
    dn: &mut rcgen::DistinguishedName,
    req: &SubjectRequest,
    environment: Environment,
) -> Result<String, CsrError> {
    use rcgen::{DnType, DnValue};
    let nid = NationalId::parse(
        req.national_id
            .as_deref()
            .ok_or_else(|| CsrError::Missing("national_id".into()))?,
    )
    .map_err(|e| CsrError::ForbiddenName(format!("national_id: {e}")))?;
    nid.admissible_in(environment)
        .map_err(|e| CsrError::ForbiddenName(format!("national_id: {e}")))?;
    let sn = clean("family_name", req.family_name.as_ref(), 64)?;
    let gn = clean("given_name", req.given_name.as_ref(), 64)?;
    dn.push(
        DnType::from_oid(&[2, 5, 4, 4]),
        DnValue::Utf8String(sn.clone()),
    );
    dn.push(
        DnType::from_oid(&[2, 5, 4, 42]),
        DnValue::Utf8String(gn.clone()),
    );
    if let Some(t) = req.title.as_ref().filter(|t| !t.trim().is_empty()) {
        dn.push(
            DnType::from_oid(&[2, 5, 4, 12]),
            DnValue::Utf8String(clean("title", Some(t), 64)?),
        );
    }
    dn.push(DnType::CommonName, DnValue::Utf8String(nid.to_string()));
    Ok(rfc4514(&[
        ("CN", &nid.to_string()),
        ("SN", &sn),
        ("GN", &gn),
    ]))
}

#[cfg(test)]
mod tests;
