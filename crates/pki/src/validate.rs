//! Validation of certificates presented by TLS clients (CPS cards, organisations' client
//! certificates) against coeur's own issuing CAs: issuer, signature, validity, key usage and
//! extended key usage. Revocation is the shell's (it reads the store). Certificates from
//! external authorities (the real IGC-Santé chain) go through [`super::external`], which
//! shares the end-entity checks of [`leaf_checks`].

use crate::dn::Dn;
use x509_parser::prelude::FromDer as _;

/// An issuing CA trusted for client certificates.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// CA id.
    pub id: String,
    /// The CA certificate (DER).
    pub cert_der: Vec<u8>,
}

/// What the certificate is presented for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A card's authentication certificate: clientAuth + digitalSignature.
    CardAuthentication,
    /// An organisation's TLS client certificate (RFC 8705 client authentication).
    ClientTls,
}

/// A certificate that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// Issuing CA id.
    pub ca_id: String,
    /// Serial, lowercase hex without leading zeros.
    pub serial: String,
    /// Subject CN.
    pub cn: Option<String>,
    /// Subject DN, read from the certificate's DER subject.
    pub subject: Dn,
    /// DNS names of the SAN.
    pub dns: Vec<String>,
    /// `x5t#S256` thumbprint (RFC 8705 §3.1).
    pub thumbprint: String,
    /// Expiry.
    pub not_after: i64,
}

/// Why a presented certificate is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a certificate.
    #[error("the certificate cannot be read")]
    Malformed,
    /// Not issued by a trusted CA.
    #[error("the certificate is not issued by a trusted authority")]
    UnknownIssuer,
    /// Signature does not verify.
    #[error("the certificate's signature does not verify")]
    BadSignature,
    /// Not yet valid.
    #[error("the certificate is not yet valid")]
    NotYetValid,
    /// Expired.
    #[error("the certificate has expired")]
    Expired,
    /// Wrong key usage or extended key usage.
    #[error("the certificate is not for this use: {0}")]
    WrongUsage(String),
    /// The chain to an external anchor does not validate (path building, CA constraints).
    #[error("the certificate chain does not validate: {0}")]
    BadChain(String),
    /// Revoked (the certificate or a CA of its chain).
    #[error("{0} has been revoked")]
    Revoked(Revoked),
    /// Revocation status could not be established (fail closed).
    #[error("its revocation status cannot be established ({0})")]
    StatusUnavailable(String),
}

/// What of a presented chain was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The presented certificate itself (for a card: an opposition).
    Certificate,
    /// A certification authority of its chain.
    Authority,
}

impl std::fmt::Display for Revoked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Revoked::Certificate => "the certificate",
            Revoked::Authority => "a certification authority of its chain",
        })
    }
}

/// `x5t#S256` of a DER certificate.
pub fn thumbprint(der: &[u8]) -> String {
    coeur_common::encoding::x5t_s256(der)
}

/// Validates `leaf` (DER) for `usage` at `now` against `anchors`.
pub fn validate(
    leaf: &[u8],
    anchors: &[Anchor],
    usage: Usage,
    now: i64,
) -> Result<Validated, Refusal> {
    let (rest, cert) = x509_parser::certificate::X509Certificate::from_der(leaf)
        .map_err(|_| Refusal::Malformed)?;
    if !rest.is_empty() {
        return Err(Refusal::Malformed);
    }
    let mut issuer = None;
    for a in anchors {
        let Ok((_, ca)) = x509_parser::certificate::X509Certificate::from_der(&a.cert_der) else {
            continue;
        };
        if ca.subject().as_raw() == cert.issuer().as_raw() {
            issuer = Some((a, ca));
            break;
        }
    }
    let (anchor, ca) = issuer.ok_or(Refusal::UnknownIssuer)?;
    cert.verify_signature(Some(ca.public_key()))
        .map_err(|_| Refusal::BadSignature)?;
    let v = cert.validity();
    if now < v.not_before.timestamp() {
        return Err(Refusal::NotYetValid);
    }
    if now > v.not_after.timestamp() {
        return Err(Refusal::Expired);
    }
    let facts = leaf_checks(&cert, usage)?;
    Ok(Validated {
        ca_id: anchor.id.clone(),
        serial: facts.serial,
        cn: facts.cn,
        subject: facts.subject,
        dns: facts.dns,
        thumbprint: thumbprint(leaf),
        not_after: v.not_after.timestamp(),
    })
}

/// What the end-entity checks read from a certificate.
pub struct LeafFacts {
    /// Serial, lowercase hex without leading zeros.
    pub serial: String,
    /// Subject CN.
    pub cn: Option<String>,
    /// Subject DN, read from the certificate's DER subject.
    pub subject: Dn,
    /// DNS names of the SAN.
    pub dns: Vec<String>,
}

/// The end-entity checks every client certificate passes whatever its issuer: not a CA,
/// clientAuth present in the EKU (an absent EKU or anyExtendedKeyUsage alone is not accepted),
/// digitalSignature for cards.
pub fn leaf_checks(
    cert: &x509_parser::certificate::X509Certificate<'_>,
    usage: Usage,
) -> Result<LeafFacts, Refusal> {
    if cert.is_ca() {
        return Err(Refusal::WrongUsage("a CA certificate".into()));
    }
    let eku = cert.extended_key_usage().map_err(|_| Refusal::Malformed)?;
    // clientAuth itself: anyExtendedKeyUsage is not accepted, as for external chains.
    let client_auth = eku.as_ref().is_some_and(|e| e.value.client_auth);
    if !client_auth {
        return Err(Refusal::WrongUsage(
            "no clientAuth extended key usage".into(),
        ));
    }
    let ku = cert.key_usage().map_err(|_| Refusal::Malformed)?;
    if usage == Usage::CardAuthentication
        && !ku.as_ref().is_some_and(|k| k.value.digital_signature())
    {
        return Err(Refusal::WrongUsage("no digitalSignature key usage".into()));
    }
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned);
    let dns = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|s| {
            s.value
                .general_names
                .iter()
                .filter_map(|g| match g {
                    x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let subject = Dn::from_der(cert.subject().as_raw()).map_err(|_| Refusal::Malformed)?;
    let serial: Vec<u8> = cert
        .raw_serial()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    Ok(LeafFacts {
        serial: if serial.is_empty() {
            "0".into()
        } else {
            hex::encode(serial)
        },
        cn,
        subject,
        dns,
    })
}
