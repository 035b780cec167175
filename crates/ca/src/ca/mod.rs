//! The certificate authority's shell: CA keys and certificates (created on first start),
//! issuance and revocation persisted with their audit records in one transaction, CRLs
//! streamed from the store and kept there, and the OCSP responder with its cache.
//!
//! By concern: `keys` (CA keys and where they are held: `KeyProvider`), `bootstrap` (first start), `issuance`
//! (requests, approval, issuance), `commit` (the group committer), `revocation`, `crl`, `ocsp`,
//! `server_cert` (coeur's own HTTPS certificates), `cards` (sandbox virtual cards, opposition),
//! `audit`, `encoding` (serials, PEM, PKCS#7). Every statement on the database goes through
//! [`CaStore`].

use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::digest;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use coeur_common::environment::Environment;
use coeur_common::random::Random;
use coeur_pki::DigestSigner;
use coeur_pki::csr::{self, CsrApproved, CsrError, SubjectRequest};
use coeur_pki::der;
use coeur_pki::hierarchy::{CaDef, Hierarchy, KeyType, Profile, parse_profiles};
use coeur_pki::issue;
use coeur_pki::ocsp::{Answer, CertIdReq, IdHash, OcspRefusal, Status};
use coeur_pki::revocation::{CrlSpec, Reason};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use x509_parser::prelude::FromDer as _;

use crate::policy::Approval;
use crate::store::{AuditEntry, CrlRecord, IssuedCert, IssuedRequest, NewRequest, RevokeOutcome};
pub use crate::store::{CaStore, CertificateSummary, ListFilter};

mod audit;
mod bootstrap;
mod cards;
mod commit;
mod crl;
mod encoding;
mod issuance;
mod keys;
mod ocsp;
mod revocation;
mod server_cert;

pub use audit::verify_audit;
pub use bootstrap::CaSetup;
pub use cards::profession_label;
pub use encoding::{cert_pem, normalize_serial, pkcs7_certs, serial_hex};
pub use issuance::{Issuance, IssueRequest, KeyRequest};
pub use keys::{CaKey, KeyProvider, SealedKeys, SharedKey};
pub use server_cert::OwnCertificate;

use crate::store::is_conflict;
use commit::{PersistReply, commit_loop};
pub(crate) use encoding::decode_serial;
use keys::hash;

/// A CA ready to work.
pub struct CaRt {
    /// Definition.
    pub def: CaDef,
    /// Certificate (DER).
    pub cert_der: Vec<u8>,
    /// rcgen issuer (for certificates).
    pub issuer: rcgen::Issuer<'static, SharedKey>,
    /// The key (for CRLs).
    pub key: Arc<CaKey>,
    subject_der: Vec<u8>,
    key_id: Vec<u8>,
    name_hash: HashMap<IdHash, Vec<u8>>,
    key_hash: HashMap<IdHash, Vec<u8>>,
    /// Delegated OCSP responder: key, certificate, key hash (issuing CAs only).
    responder: Option<(CaKey, Vec<u8>, Vec<u8>)>,
}

/// The CA service.
pub struct Ca {
    /// The hierarchy.
    pub hierarchy: Hierarchy,
    /// Profiles.
    pub profiles: Vec<Profile>,
    /// Active CAs by id (TEST or production, per configuration).
    pub cas: HashMap<String, Arc<CaRt>>,
    /// The realm whose access tokens authorise API calls.
    pub realm: String,
    /// The environment of the CAs that run: TEST CAs serve the sandbox only, production CAs
    /// production only.
    pub environment: Environment,
    crl_dir: PathBuf,
    ocsp_cache: Mutex<OcspCache>,
    crl_dirty: Mutex<HashMap<String, bool>>,
    /// The latest CRL documents read from the store, by (CA, delta), with their number.
    crl_cache: Mutex<CrlCache>,
    crl_lock: tokio::sync::Mutex<()>,
    committer: tokio::sync::mpsc::Sender<(IssuedCert, PersistReply)>,
    /// The bus to the other instances sharing the database, which hear its revocations
    /// (unset: nobody to tell, as in tests of one CA).
    bus: std::sync::OnceLock<coeur_storage::Bus>,
}

/// The latest CRL documents read from the store: by (CA, delta), their number and DER.
type CrlCache = HashMap<(String, bool), (u64, Arc<Vec<u8>>)>;

/// Signed OCSP answers by (CA, serial) (so that a revocation evicts them all), one per CertID
/// as received (a SHA-1 and a SHA-256 CertID get different answers, each echoing its own), with
/// their expiry.
type OcspCache = HashMap<(String, Vec<u8>), Vec<CachedOcsp>>;

/// One cached OCSP answer: the CertID it answers, its expiry, the signed response.
struct CachedOcsp {
    cert_id_der: Vec<u8>,
    until: i64,
    response: Arc<Vec<u8>>,
}

/// At most this many CertID forms are cached per certificate (hash algorithms, parameter
/// encodings); further ones are answered uncached.
const OCSP_FORMS_PER_SERIAL: usize = 4;

/// Lifetime of CRLs and OCSP answers.
pub const CRL_LIFETIME: i64 = 24 * 3600;
/// OCSP answers are valid this long.
pub const OCSP_LIFETIME: i64 = 3600;

/// Outcome of a request submission.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RequestOutcome {
    /// Request id.
    pub id: String,
    /// `pending`, `issued`, `rejected`.
    pub status: String,
    /// Serial, when issued.
    pub serial: Option<String>,
    /// Certificate PEM, when issued.
    pub certificate: Option<String>,
}

/// Refusals of the CA API.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// Policy refusal.
    #[error("{0}")]
    Csr(#[from] CsrError),
    /// A request the API cannot read (body, parameters).
    #[error("{0}")]
    Invalid(String),
    /// Unknown CA.
    #[error("unknown CA {0}")]
    UnknownCa(String),
    /// Unknown profile.
    #[error("unknown profile {0}")]
    UnknownProfile(String),
    /// Not found.
    #[error("not found")]
    NotFound,
    /// Already revoked.
    #[error("the certificate is already revoked")]
    AlreadyRevoked,
    /// Wrong state.
    #[error("{0}")]
    Conflict(String),
    /// The issuance policy refused the caller's request.
    #[error("{0}")]
    Refused(#[from] crate::policy::PolicyRefusal),
    /// Internal.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// Loads `pki/<hierarchy>.toml` and `pki/profiles.toml`.
pub fn load_pki(
    dir: &Path,
    hierarchy: &str,
    public_url: &str,
) -> Result<(Hierarchy, Vec<Profile>)> {
    let hp = dir.join(format!("{hierarchy}.toml"));
    let text = std::fs::read_to_string(&hp).with_context(|| format!("reading {}", hp.display()))?;
    let h = Hierarchy::parse(&hp.display().to_string(), &text, public_url)?;
    let pp = dir.join("profiles.toml");
    let text = std::fs::read_to_string(&pp).with_context(|| format!("reading {}", pp.display()))?;
    let p = parse_profiles(&pp.display().to_string(), &text)?;
    Ok((h, p))
}

impl Ca {
    fn runtime(
        dn: rcgen::DistinguishedName,
        def: CaDef,
        cert_der: Vec<u8>,
        key: Arc<CaKey>,
        responder: Option<(CaKey, Vec<u8>, Vec<u8>)>,
    ) -> Result<CaRt> {
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&cert_der)
            .map_err(|e| anyhow!("CA certificate: {e}"))?;
        let subject_der = cert.tbs_certificate.subject.as_raw().to_vec();
        let spki_bits = cert
            .tbs_certificate
            .subject_pki
            .subject_public_key
            .data
            .to_vec();
        let key_id = cert
            .tbs_certificate
            .get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
            .ok()
            .flatten()
            .and_then(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => {
                    Some(k.0.to_vec())
                }
                _ => None,
            })
            .unwrap_or_else(|| hash(IdHash::Sha1, &spki_bits));
        let mut name_hash = HashMap::new();
        let mut key_hash = HashMap::new();
        for h in [IdHash::Sha1, IdHash::Sha256] {
            name_hash.insert(h, hash(h, &subject_der));
            key_hash.insert(h, hash(h, &spki_bits));
        }
        // The issuer is built from the hierarchy's DN rather than parsed back from the
        // certificate: rcgen's parser folds repeated attributes (the two OUs) into one.
        let mut ip = rcgen::CertificateParams::default();
        ip.distinguished_name = dn;
        ip.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(key_id.clone());
        ip.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        ip.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let issuer = rcgen::Issuer::new(ip, SharedKey(key.clone()));
        Ok(CaRt {
            def,
            cert_der,
            issuer,
            key,
            subject_der,
            key_id,
            name_hash,
            key_hash,
            responder,
        })
    }

    /// How requests that the issuance policy allowed are approved: automatically by TEST CAs
    /// only, by an operator for production CAs.
    pub fn approval(&self) -> Approval {
        Approval::of(self.environment)
    }

    /// A profile.
    pub fn profile(&self, id: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.id == id)
    }

    /// A CA.
    pub fn ca(&self, id: &str) -> Result<&Arc<CaRt>, CaError> {
        self.cas
            .get(id)
            .ok_or_else(|| CaError::UnknownCa(id.to_owned()))
    }

    /// The chain of a CA up to its root (leaf-most first).
    pub fn chain(&self, ca_id: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut cur = self.cas.get(ca_id);
        while let Some(c) = cur {
            out.push(c.cert_der.clone());
            cur = c.def.parent.as_ref().and_then(|p| self.cas.get(p));
        }
        out
    }

    /// coeur's issuing CAs of `domain`, as anchors for client-certificate validation.
    pub fn anchors(
        &self,
        domain: coeur_pki::hierarchy::Domain,
    ) -> Vec<coeur_pki::validate::Anchor> {
        let mut v: Vec<_> = self
            .cas
            .values()
            .filter(|c| c.def.domain == Some(domain))
            .map(|c| coeur_pki::validate::Anchor {
                id: c.def.id.clone(),
                cert_der: c.cert_der.clone(),
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// A certificate's DER by CA and serial.
    pub async fn certificate(
        &self,
        store: &CaStore,
        ca_id: &str,
        serial: &str,
    ) -> Result<Vec<u8>, CaError> {
        store
            .certificate_der(ca_id, &normalize_serial(serial))
            .await?
            .ok_or(CaError::NotFound)
    }

    /// Certificates, newest first, filtered.
    pub async fn list(
        &self,
        store: &CaStore,
        filter: ListFilter<'_>,
    ) -> Result<Vec<CertificateSummary>, CaError> {
        Ok(store.list_certificates(filter).await?)
    }
}
