//! Client certificates from authorities coeur does not run: the real IGC-Santé chain (roots
//! and their PERSONNES / ORGANISATIONS issuing CAs), configured by the operator as a PEM
//! bundle. Path building and RFC 5280 chain checks (signatures, validity, CA constraints,
//! path length, name constraints) are `rustls-webpki`'s; the end-entity checks are the same
//! as for coeur's own certificates ([`validate::leaf_checks`]). Revocation of each link of
//! the path is established by the shell through [`super::status`] (OCSP / CRL).

use super::validate::{self, Refusal, Usage, Validated};
use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use x509_parser::prelude::FromDer as _;

/// Why a bundle of external authorities is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not PEM.
    #[error("not a PEM certificate bundle: {0}")]
    NotPem(String),
    /// No certificate at all.
    #[error("no certificate in the bundle")]
    Empty,
    /// A certificate does not parse.
    #[error("unreadable certificate: {0}")]
    Unreadable(String),
    /// An end-entity certificate.
    #[error("{0} is not a CA certificate")]
    NotCa(String),
    /// A subject found twice.
    #[error("{0} appears twice")]
    Duplicate(String),
    /// A self-issued certificate that is not self-signed.
    #[error("{0} names itself as issuer but its signature does not verify with its own key")]
    SelfIssuedNotSelfSigned(String),
    /// A root webpki cannot use.
    #[error("{name}: not usable as a trust anchor: {reason}")]
    BadAnchor {
        /// The root.
        name: String,
        /// Why.
        reason: String,
    },
    /// An intermediate whose issuer is missing.
    #[error("{name}: its issuer {issuer} is not in the bundle (add the root)")]
    MissingIssuer {
        /// The intermediate.
        name: String,
        /// Its issuer's name.
        issuer: String,
    },
    /// An intermediate not signed by the key of its issuer in the bundle.
    #[error(
        "{name}: its signature does not verify with the key of {issuer} in the bundle (a \
         re-keyed root of the same name?)"
    )]
    WrongIssuerKey {
        /// The intermediate.
        name: String,
        /// Its issuer's name.
        issuer: String,
    },
    /// No root.
    #[error("no self-signed root in the bundle")]
    NoRoot,
}

/// The external authorities trusted for one use (cards, or organisations' TLS clients).
#[derive(Debug)]
pub struct ExternalTrust {
    anchors: Vec<TrustAnchor<'static>>,
    anchor_certs: Vec<CertificateDer<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    /// Each intermediate with the bundle certificate that issued it.
    ca_links: Vec<Link>,
    /// Subject DNs (DER) of every configured CA, for the TLS acceptable-issuers list.
    pub subjects: Vec<Vec<u8>>,
    /// Subject DNs in RFC 4514 form, for logs and `coeur` output.
    pub names: Vec<String>,
}

/// One certificate of a validated path whose revocation status must be known, with its
/// issuer's certificate.
#[derive(Debug, Clone)]
pub struct Link {
    /// The certificate (DER).
    pub cert: Vec<u8>,
    /// Its issuer's certificate (DER).
    pub issuer: Vec<u8>,
    /// Whether this is the end-entity certificate (`false`: an intermediate CA).
    pub end_entity: bool,
}

/// A certificate that chains to an external anchor; its revocation is still to be checked.
#[derive(Debug, Clone)]
pub struct ExternalPath {
    /// What the certificate says (ca_id is `external:<issuer CN>`).
    pub validated: Validated,
    /// The end entity, then each intermediate CA of the path.
    pub links: Vec<Link>,
}

impl ExternalTrust {
    /// Reads a PEM bundle: self-signed CA certificates become trust anchors, the other CA
    /// certificates intermediates that paths may use. Every intermediate must chain to a
    /// certificate of the bundle, so that a missing root is found at start, not at login.
    pub fn from_pem(pem: &[u8]) -> Result<Self, BundleError> {
        use rustls::pki_types::pem::PemObject as _;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| BundleError::NotPem(e.to_string()))?;
        if certs.is_empty() {
            return Err(BundleError::Empty);
        }
        let mut t = ExternalTrust {
            anchors: Vec::new(),
            anchor_certs: Vec::new(),
            intermediates: Vec::new(),
            ca_links: Vec::new(),
            subjects: Vec::new(),
            names: Vec::new(),
        };
        let mut issuers = Vec::new();
        for der in certs {
            let (_, c) = x509_parser::certificate::X509Certificate::from_der(&der)
                .map_err(|e| BundleError::Unreadable(e.to_string()))?;
            let name = c.subject().to_string();
            if !c.is_ca() {
                return Err(BundleError::NotCa(name));
            }
            if t.subjects.iter().any(|s| s == c.subject().as_raw()) {
                return Err(BundleError::Duplicate(name));
            }
            let self_issued = c.subject().as_raw() == c.issuer().as_raw();
            let self_signed = self_issued && c.verify_signature(None).is_ok();
            if self_issued && !self_signed {
                return Err(BundleError::SelfIssuedNotSelfSigned(name));
            }
            t.subjects.push(c.subject().as_raw().to_vec());
            t.names.push(name.clone());
            if self_signed {
                let a = webpki::anchor_from_trusted_cert(&der)
                    .map_err(|e| BundleError::BadAnchor {
                        name: name.clone(),
                        reason: format!("{e:?}"),
                    })?
                    .to_owned();
                t.anchors.push(a);
                t.anchor_certs.push(der);
            } else {
                issuers.push((name, c.issuer().to_string(), c.issuer().as_raw().to_vec()));
                t.intermediates.push(der);
            }
        }
        let all: Vec<&CertificateDer<'static>> =
            t.anchor_certs.iter().chain(&t.intermediates).collect();
        let mut ca_links = Vec::new();
        for (der, (name, issuer, raw)) in t.intermediates.iter().zip(issuers) {
            let signer = all.iter().find_map(|d| {
                x509_parser::certificate::X509Certificate::from_der(d)
                    .ok()
                    .filter(|(_, c)| c.subject().as_raw() == raw.as_slice())
                    .map(|(_, c)| (c, d.to_vec()))
            });
            let Some((signer, signer_der)) = signer else {
                return Err(BundleError::MissingIssuer { name, issuer });
            };
            let signed = x509_parser::certificate::X509Certificate::from_der(der)
                .is_ok_and(|(_, c)| c.verify_signature(Some(signer.public_key())).is_ok());
            if !signed {
                return Err(BundleError::WrongIssuerKey { name, issuer });
            }
            ca_links.push(Link {
                cert: der.to_vec(),
                issuer: signer_der,
                end_entity: false,
            });
        }
        t.ca_links = ca_links;
        if t.anchors.is_empty() {
            return Err(BundleError::NoRoot);
        }
        Ok(t)
    }

    /// The intermediates of the bundle, each with its issuer: the links every path through
    /// them has, whose status can be fetched before the first login.
    pub fn ca_links(&self) -> &[Link] {
        &self.ca_links
    }

    /// Whether `issuer` (DER Name) is the subject of a CA of this bundle.
    pub fn knows_issuer(&self, issuer: &[u8]) -> bool {
        self.subjects.iter().any(|s| s == issuer)
    }

    /// Validates `leaf` for `usage` at `now`: a path through the configured intermediates
    /// (intermediates the client sends are ignored) to a configured root.
    pub fn validate(&self, leaf: &[u8], usage: Usage, now: i64) -> Result<ExternalPath, Refusal> {
        let (rest, cert) = x509_parser::certificate::X509Certificate::from_der(leaf)
            .map_err(|_| Refusal::Malformed)?;
        if !rest.is_empty() {
            return Err(Refusal::Malformed);
        }
        if !self.knows_issuer(cert.issuer().as_raw()) {
            return Err(Refusal::UnknownIssuer);
        }
        let leaf_der = CertificateDer::from(leaf);
        let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(|_| Refusal::Malformed)?;
        let algs = rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .all;
        let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(now).unwrap_or(0),
        ));
        let path = ee
            .verify_for_usage(
                algs,
                &self.anchors,
                &self.intermediates,
                at,
                webpki::KeyUsage::client_auth(),
                None,
                None,
            )
            .map_err(refusal)?;
        let facts = validate::leaf_checks(&cert, usage)?;
        // The path from the end entity up: each certificate's issuer is the next one, the
        // last intermediate's issuer is the anchor.
        let mut chain: Vec<Vec<u8>> = vec![leaf.to_vec()];
        chain.extend(path.intermediate_certificates().map(|c| c.der().to_vec()));
        let anchor = self
            .anchors
            .iter()
            .position(|a| std::ptr::eq(a, path.anchor()))
            .map(|i| self.anchor_certs[i].to_vec())
            .ok_or_else(|| Refusal::BadChain("anchor not found".into()))?;
        chain.push(anchor);
        let links = chain
            .windows(2)
            .enumerate()
            .map(|(i, w)| Link {
                cert: w[0].clone(),
                issuer: w[1].clone(),
                end_entity: i == 0,
            })
            .collect();
        let issuer_cn = cert
            .issuer()
            .iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| cert.issuer().to_string());
        Ok(ExternalPath {
            validated: Validated {
                ca_id: format!("external:{issuer_cn}"),
                serial: facts.serial,
                cn: facts.cn,
                subject: facts.subject,
                dns: facts.dns,
                thumbprint: validate::thumbprint(leaf),
                not_after: cert.validity().not_after.timestamp(),
            },
            links,
        })
    }
}

fn refusal(e: webpki::Error) -> Refusal {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } => Refusal::Expired,
        E::CertNotValidYet { .. } => Refusal::NotYetValid,
        E::UnknownIssuer => Refusal::UnknownIssuer,
        E::InvalidSignatureForPublicKey => Refusal::BadSignature,
        E::CaUsedAsEndEntity => Refusal::WrongUsage("a CA certificate".into()),
        E::RequiredEkuNotFoundContext(_) => {
            Refusal::WrongUsage("no clientAuth extended key usage".into())
        }
        other => Refusal::BadChain(format!("{other:?}")),
    }
}
