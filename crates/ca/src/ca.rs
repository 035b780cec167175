//! The certificate authority's shell: CA keys and certificates (created on first start),
//! issuance and revocation persisted with their audit records in one transaction, CRLs
//! streamed from the store to disk, and the OCSP responder with its cache.

use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::digest;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coeur_common::random::Random;
use coeur_pki::DigestSigner;
use coeur_pki::audit::{self, AuditRecord};
use coeur_pki::csr::{self, CsrApproved, CsrError, SubjectRequest};
use coeur_pki::der;
use coeur_pki::hierarchy::{CaDef, Hierarchy, KeyType, Profile, parse_profiles};
use coeur_pki::issue;
use coeur_pki::ocsp::{self, Answer, CertIdReq, IdHash, OcspRefusal, Status};
use coeur_pki::revocation::{self, CrlSpec, Reason, Revoked};
use coeur_storage::keystore::MasterKey;
use futures_util::TryStreamExt as _;
use sqlx::Row as _;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use x509_parser::prelude::FromDer as _;

use coeur_storage::Db as Store;

/// A CA private key, usable by rcgen (certificates) and for digest signing (CRLs, OCSP).
pub struct CaKey {
    key_type: KeyType,
    rcgen: rcgen::KeyPair,
    ec: Option<EcdsaKeyPair>,
    rsa: Option<RsaKeyPair>,
}

impl CaKey {
    fn generate(kt: KeyType) -> Result<(Self, Vec<u8>)> {
        let kp = match kt {
            KeyType::P256 | KeyType::P384 => rcgen::KeyPair::generate_for(kt.sig_alg())?,
            KeyType::Rsa2048 => {
                rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)?
            }
            KeyType::Rsa3072 => {
                rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_3072)?
            }
            KeyType::Rsa4096 => {
                rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096)?
            }
        };
        let der = kp.serialize_der();
        Ok((Self::from_pkcs8(kt, &der)?, der))
    }

    fn from_pkcs8(kt: KeyType, der: &[u8]) -> Result<Self> {
        let rcgen = rcgen::KeyPair::try_from(der).map_err(|e| anyhow!("CA key: {e}"))?;
        let (ec, rsa) = match kt {
            KeyType::P256 => (
                Some(
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der)
                        .map_err(|e| anyhow!("{e}"))?,
                ),
                None,
            ),
            KeyType::P384 => (
                Some(
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, der)
                        .map_err(|e| anyhow!("{e}"))?,
                ),
                None,
            ),
            _ => (
                None,
                Some(RsaKeyPair::from_pkcs8(der).map_err(|e| anyhow!("{e}"))?),
            ),
        };
        Ok(Self {
            key_type: kt,
            rcgen,
            ec,
            rsa,
        })
    }

    /// Signs bytes (hashing them) — for OCSP responses.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        let d = digest::digest(self.digest_alg(), msg);
        self.sign_digest(&d).map_err(|e| anyhow!(e))
    }
}

impl DigestSigner for CaKey {
    fn algorithm_der(&self) -> Vec<u8> {
        match self.key_type {
            KeyType::P256 => der::seq(&[der::oid(&[1, 2, 840, 10045, 4, 3, 2])]),
            KeyType::P384 => der::seq(&[der::oid(&[1, 2, 840, 10045, 4, 3, 3])]),
            _ => der::seq(&[der::oid(&[1, 2, 840, 113549, 1, 1, 11]), der::null()]),
        }
    }
    fn digest_alg(&self) -> &'static digest::Algorithm {
        if self.key_type == KeyType::P384 {
            &digest::SHA384
        } else {
            &digest::SHA256
        }
    }
    fn sign_digest(&self, d: &digest::Digest) -> Result<Vec<u8>, coeur_pki::SignError> {
        if let Some(ec) = &self.ec {
            return ec
                .sign_digest(d)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| coeur_pki::SignError::Failed);
        }
        if let Some(rsa) = &self.rsa {
            let mut out = vec![0u8; rsa.public_modulus_len()];
            rsa.sign_digest(&RSA_PKCS1_SHA256, d, &mut out)
                .map_err(|_| coeur_pki::SignError::Failed)?;
            return Ok(out);
        }
        Err(coeur_pki::SignError::NoKey)
    }
}

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

/// A shared CA key, as rcgen's signer.
#[derive(Clone)]
pub struct SharedKey(pub Arc<CaKey>);

impl rcgen::PublicKeyData for SharedKey {
    fn der_bytes(&self) -> &[u8] {
        rcgen::PublicKeyData::der_bytes(&self.0.rcgen)
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        rcgen::PublicKeyData::algorithm(&self.0.rcgen)
    }
}

impl rcgen::SigningKey for SharedKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        rcgen::SigningKey::sign(&self.0.rcgen, msg)
    }
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
    /// Whether requests are approved automatically (sandbox realm).
    pub auto_approve: bool,
    crl_dir: PathBuf,
    ocsp_cache: Mutex<OcspCache>,
    crl_dirty: Mutex<HashMap<String, bool>>,
    crl_lock: tokio::sync::Mutex<()>,
    committer: tokio::sync::mpsc::Sender<(Persist, PersistReply)>,
}

/// Signed OCSP answers by (CA, serial), with their expiry.
type OcspCache = HashMap<(String, Vec<u8>), (i64, Arc<Vec<u8>>)>;

/// Lifetime of CRLs and OCSP answers.
pub const CRL_LIFETIME: i64 = 24 * 3600;
/// OCSP answers are valid this long.
pub const OCSP_LIFETIME: i64 = 3600;

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// A serial as typed (hex, any case, optional `0x` and `:` separators, leading zero bytes or
/// digits) in the stored form of [`serial_hex`].
pub fn normalize_serial(s: &str) -> String {
    let h: String = s
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    match decode_serial(&h) {
        Ok(b) => serial_hex(&b),
        // Not hex: cannot match a stored serial; keep it as is for the "not found" answer.
        Err(_) => h,
    }
}

/// Serial as stored: lowercase hex without leading zeros.
pub fn serial_hex(serial: &[u8]) -> String {
    let s: Vec<u8> = serial.iter().copied().skip_while(|b| *b == 0).collect();
    if s.is_empty() {
        "0".into()
    } else {
        hex::encode(s)
    }
}

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
    /// Internal.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// The profession label written in card certificates' `title` (TRE_G15).
pub fn profession_label(code: &str) -> &'static str {
    match code {
        "10" => "Médecin",
        "21" => "Pharmacien",
        "40" => "Chirurgien-Dentiste",
        "50" => "Sage-Femme",
        "60" => "Infirmier",
        "70" => "Masseur-Kinésithérapeute",
        "80" => "Pédicure-Podologue",
        _ => "Professionnel de santé",
    }
}

/// PEM of a certificate.
pub fn cert_pem(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
}

fn hash(alg: IdHash, data: &[u8]) -> Vec<u8> {
    match alg {
        IdHash::Sha1 => digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)
            .as_ref()
            .to_vec(),
        IdHash::Sha256 => digest::digest(&digest::SHA256, data).as_ref().to_vec(),
    }
}

struct KeyFile;
impl KeyFile {
    fn path(dir: &Path, id: &str) -> PathBuf {
        dir.join("ca").join(format!("{id}.key"))
    }
    fn context(id: &str) -> String {
        format!("coeur/ca/{id}")
    }
    fn load(dir: &Path, master: &MasterKey, id: &str, kt: KeyType) -> Result<Option<CaKey>> {
        let p = Self::path(dir, id);
        if !p.exists() {
            return Ok(None);
        }
        let sealed =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        let der = master.open(&Self::context(id), sealed.trim())?;
        Ok(Some(CaKey::from_pkcs8(kt, &der)?))
    }
    fn save(dir: &Path, master: &MasterKey, id: &str, der: &[u8]) -> Result<()> {
        std::fs::create_dir_all(dir.join("ca"))?;
        let p = Self::path(dir, id);
        let tmp = p.with_extension("tmp");
        {
            #[cfg(unix)]
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true).truncate(true);
            #[cfg(unix)]
            o.mode(0o600);
            let mut f = o.open(&tmp)?;
            f.write_all(master.seal(&Self::context(id), der)?.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &p)?;
        Ok(())
    }
}

/// Which CAs to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkiEnv {
    /// The TEST twins.
    Test,
    /// The production CAs.
    Production,
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
    /// Opens the CA: creates missing CA keys and certificates (roots, then issuing CAs and their
    /// OCSP responders) on first start.
    #[allow(clippy::too_many_arguments)] // Wiring of the whole CA at start.
    pub async fn open(
        store: &Store,
        keys_dir: &Path,
        crl_dir: &Path,
        master: &MasterKey,
        hierarchy: Hierarchy,
        profiles: Vec<Profile>,
        env: PkiEnv,
        realm: &str,
        auto_approve: bool,
        rng: &dyn Random,
        now: i64,
    ) -> Result<Self> {
        std::fs::create_dir_all(crl_dir)
            .with_context(|| format!("creating {}", crl_dir.display()))?;
        let mut cas: HashMap<String, Arc<CaRt>> = HashMap::new();
        let wanted: Vec<CaDef> = hierarchy
            .cas
            .iter()
            .filter(|c| c.test == (env == PkiEnv::Test))
            .cloned()
            .collect();
        for def in wanted {
            let key = match KeyFile::load(keys_dir, master, &def.id, def.key)? {
                Some(k) => k,
                None => {
                    tracing::info!(ca = %def.id, key = def.key.as_str(), "generating CA key");
                    let (k, der) = CaKey::generate(def.key)?;
                    KeyFile::save(keys_dir, master, &def.id, &der)?;
                    k
                }
            };
            let key = Arc::new(key);
            let cert_der = match store_ca_cert(store, &def.id).await? {
                Some(d) => d,
                None => {
                    let serial = issue::new_serial(rng);
                    let parent = def.parent.as_ref().and_then(|p| cas.get(p).cloned());
                    let params = issue::ca_params(
                        &hierarchy,
                        &def,
                        parent.as_ref().map(|p| &p.def),
                        &serial,
                        now,
                    )
                    .map_err(|e| anyhow!(e))?;
                    let cert = match &parent {
                        None => params.self_signed(&SharedKey(key.clone()))?,
                        Some(p) => params.signed_by(&SharedKey(key.clone()), &p.issuer)?,
                    };
                    let der = cert.der().to_vec();
                    put_ca_cert_published(store, &def.id, &hierarchy.name, &der, now).await?;
                    append_audit(
                        store,
                        now,
                        "ca-init",
                        &format!("{}/{}", def.id, serial_hex(&serial)),
                        "coeur",
                        &serde_json::json!({"cn": def.cn}).to_string(),
                    )
                    .await?;
                    der
                }
            };
            let rt = Self::runtime(hierarchy.dn(&def), def.clone(), cert_der, key, None)?;
            cas.insert(def.id.clone(), Arc::new(rt));
        }
        let mut me = Self {
            hierarchy,
            profiles,
            cas,
            realm: realm.to_owned(),
            auto_approve,
            crl_dir: crl_dir.to_owned(),
            ocsp_cache: Mutex::new(HashMap::new()),
            crl_dirty: Mutex::new(HashMap::new()),
            crl_lock: tokio::sync::Mutex::new(()),
            committer: {
                let (tx, rx) = tokio::sync::mpsc::channel(1024);
                tokio::spawn(commit_loop(store.clone(), rx));
                tx
            },
        };
        me.ensure_responders(store, keys_dir, master, rng, now)
            .await?;
        Ok(me)
    }

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

    async fn ensure_responders(
        &mut self,
        store: &Store,
        keys_dir: &Path,
        master: &MasterKey,
        rng: &dyn Random,
        now: i64,
    ) -> Result<()> {
        let profile = self
            .profile("OCSP")
            .cloned()
            .ok_or_else(|| anyhow!("profiles.toml has no OCSP profile"))?;
        let ids: Vec<String> = self
            .cas
            .values()
            .filter(|c| !c.def.is_root())
            .map(|c| c.def.id.clone())
            .collect();
        for id in ids {
            let Some(ca) = self.cas.get(&id).cloned() else {
                continue;
            };
            let rid = format!("{id}-OCSP");
            let kt = KeyType::P256;
            let key = match KeyFile::load(keys_dir, master, &rid, kt)? {
                Some(k) => k,
                None => {
                    let (k, der) = CaKey::generate(kt)?;
                    KeyFile::save(keys_dir, master, &rid, &der)?;
                    k
                }
            };
            let existing = store_ca_cert(store, &rid).await?;
            let valid = existing.as_ref().is_some_and(|d| {
                x509_parser::certificate::X509Certificate::from_der(d).is_ok_and(|(_, c)| {
                    c.validity().not_after.timestamp() > now + 7 * 86_400
                        && c.public_key().subject_public_key.data.as_ref()
                            == rcgen::PublicKeyData::der_bytes(&key.rcgen)
                })
            });
            let der = match (existing, valid) {
                (Some(d), true) => d,
                _ => {
                    let req = SubjectRequest {
                        structure_id: Some("318751275100020".into()),
                        organization: Some(self.hierarchy.organization.clone()),
                        service_name: Some(format!("OCSP {}", ca.def.cn)),
                        ..Default::default()
                    };
                    let spki = rcgen::PublicKeyData::subject_public_key_info(&key.rcgen);
                    let approved = csr::approve_key(&spki, kt, &req, &profile, &ca.def)?;
                    let serial = issue::new_serial(rng);
                    let params = issue::ee_params(
                        &self.hierarchy,
                        &ca.def,
                        &profile,
                        &approved,
                        &serial,
                        now,
                    )
                    .map_err(|e| anyhow!(e))?;
                    let der = params
                        .signed_by(
                            &issue::subject_key(&approved).map_err(|e| anyhow!(e))?,
                            &ca.issuer,
                        )?
                        .der()
                        .to_vec();
                    put_ca_cert(store, &rid, &self.hierarchy.name, &der, now).await?;
                    der
                }
            };
            let kh = hash(IdHash::Sha1, rcgen::PublicKeyData::der_bytes(&key.rcgen));
            let rt = Self::runtime(
                self.hierarchy.dn(&ca.def),
                ca.def.clone(),
                ca.cert_der.clone(),
                ca.key.clone(),
                Some((key, der, kh)),
            )?;
            self.cas.insert(id, Arc::new(rt));
        }
        Ok(())
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

    /// Checks a request against policy without writing anything.
    pub fn check(
        &self,
        ca_id: &str,
        profile: &str,
        csr_input: &[u8],
        subject: &SubjectRequest,
    ) -> Result<CsrApproved, CaError> {
        let ca = self.ca(ca_id)?;
        let p = self
            .profile(profile)
            .ok_or_else(|| CaError::UnknownProfile(profile.to_owned()))?;
        if p.subject == coeur_pki::hierarchy::SubjectKind::Responder {
            return Err(CaError::Csr(CsrError::ForbiddenName(
                "OCSP responder certificates are issued by coeur itself".into(),
            )));
        }
        let der = csr::csr_der(csr_input)?;
        Ok(csr::check(&der, subject, p, &ca.def)?)
    }

    #[allow(clippy::too_many_arguments)] // One request's worth of inputs.
    /// Submits a request: refused requests change nothing; accepted ones are stored, and issued
    /// at once when the CA approves automatically.
    pub async fn submit(
        &self,
        store: &Store,
        rng: &dyn Random,
        requester: &str,
        ca_id: &str,
        profile: &str,
        csr_input: &[u8],
        subject: &SubjectRequest,
        now: i64,
    ) -> Result<RequestOutcome, CaError> {
        let approved = self.check(ca_id, profile, csr_input, subject)?;
        let id = coeur_common::random::id128(rng);
        let csr_der = csr::csr_der(csr_input)?;
        if self.auto_approve {
            let (serial, der) = self
                .issue(
                    store,
                    rng,
                    &approved,
                    ca_id,
                    profile,
                    Some((&id, &csr_der, subject, requester)),
                    requester,
                    now,
                )
                .await?;
            return Ok(RequestOutcome {
                id,
                status: "issued".into(),
                serial: Some(serial),
                certificate: Some(cert_pem(&der)),
            });
        }
        sqlx::query("INSERT INTO cert_requests (id, ca_id, profile, status, csr, subject, requester, created_at) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7)")
            .bind(&id)
            .bind(ca_id)
            .bind(profile)
            .bind(b64(&csr_der))
            .bind(serde_json::to_string(subject).map_err(anyhow::Error::from)?)
            .bind(requester)
            .bind(now)
            .execute(store.pool())
            .await
            .map_err(anyhow::Error::from)?;
        Ok(RequestOutcome {
            id,
            status: "pending".into(),
            serial: None,
            certificate: None,
        })
    }

    /// Sandbox only: generates the key pair, issues the certificate and returns it with its
    /// chain in a PKCS#12 protected by `password` (virtual cards, test servers). Returns
    /// (serial hex, certificate DER, PKCS#12).
    #[allow(clippy::too_many_arguments)] // One request's worth of inputs.
    pub async fn issue_with_generated_key(
        &self,
        store: &Store,
        rng: &dyn Random,
        requester: &str,
        ca_id: &str,
        profile_id: &str,
        key_type: KeyType,
        subject: &SubjectRequest,
        password: &str,
        now: i64,
    ) -> Result<(String, Vec<u8>, Vec<u8>), CaError> {
        if !self.auto_approve {
            return Err(CaError::Conflict(
                "key pairs are generated by the CA only in the sandbox".into(),
            ));
        }
        if password.chars().count() < 4 {
            return Err(CaError::Csr(CsrError::Missing(
                "a PKCS#12 password of at least 4 characters".into(),
            )));
        }
        let ca = self.ca(ca_id)?;
        let p = self
            .profile(profile_id)
            .ok_or_else(|| CaError::UnknownProfile(profile_id.to_owned()))?;
        if p.subject == coeur_pki::hierarchy::SubjectKind::Responder {
            return Err(CaError::UnknownProfile(profile_id.to_owned()));
        }
        let (key, der) = CaKey::generate(key_type)?;
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key.rcgen);
        let approved = csr::approve_key(&spki, key_type, subject, p, &ca.def)?;
        let (serial, cert) = self
            .issue(
                store, rng, &approved, ca_id, profile_id, None, requester, now,
            )
            .await?;
        let mut chain =
            vec![p12_keystore::Certificate::from_der(&cert).map_err(|e| anyhow!("{e}"))?];
        for c in self.chain(ca_id) {
            chain.push(p12_keystore::Certificate::from_der(&c).map_err(|e| anyhow!("{e}"))?);
        }
        let pk = p12_keystore::PrivateKey::from_der(&der).map_err(|e| anyhow!("{e}"))?;
        let entry = p12_keystore::PrivateKeyChain::new(serial.as_bytes(), pk, chain);
        let mut ks = p12_keystore::KeyStore::new();
        ks.add_entry(&serial, p12_keystore::KeyStoreEntry::PrivateKeyChain(entry));
        let p12 = ks.writer(password).write().map_err(|e| anyhow!("{e}"))?;
        Ok((serial, cert, p12))
    }

    /// coeur's own HTTPS certificate, issued at first start by the first ORGANISATIONS CA for
    /// the host of `public_url` (plus `localhost` and `127.0.0.1` on loopback), renewed when
    /// missing, expiring or naming other hosts. Returns (certificate chain PEM, key PKCS#8 DER,
    /// root certificate PEM). `id` names the certificate (one per listener).
    #[allow(clippy::too_many_arguments)] // Wiring at start.
    pub async fn own_server_certificate(
        &self,
        store: &Store,
        keys_dir: &Path,
        master: &MasterKey,
        rng: &dyn Random,
        id: &str,
        public_url: &str,
        now: i64,
    ) -> Result<(String, Vec<u8>, String)> {
        let url = url::Url::parse(public_url)?;
        let mut dns = Vec::new();
        let mut ips = Vec::new();
        match url.host() {
            Some(url::Host::Domain(d)) => dns.push(d.to_ascii_lowercase()),
            Some(url::Host::Ipv4(i)) => ips.push(std::net::IpAddr::V4(i)),
            Some(url::Host::Ipv6(i)) => ips.push(std::net::IpAddr::V6(i)),
            None => bail!("public URL has no host"),
        }
        let loopback = dns.iter().any(|d| d == "localhost") || ips.iter().any(|i| i.is_loopback());
        if loopback {
            for d in ["localhost"] {
                if !dns.iter().any(|x| x == d) {
                    dns.push(d.into());
                }
            }
            for i in [std::net::IpAddr::from([127, 0, 0, 1])] {
                if !ips.contains(&i) {
                    ips.push(i);
                }
            }
        }
        let mut org_cas: Vec<&Arc<CaRt>> = self
            .cas
            .values()
            .filter(|c| c.def.domain == Some(coeur_pki::hierarchy::Domain::Organisations))
            .collect();
        org_cas.sort_by(|a, b| a.def.id.cmp(&b.def.id));
        let ca = (*org_cas
            .first()
            .ok_or_else(|| anyhow!("no ORGANISATIONS CA to issue coeur's server certificate"))?)
        .clone();
        let profile = self
            .profile("SSL_SERV")
            .cloned()
            .ok_or_else(|| anyhow!("profiles.toml has no SSL_SERV profile"))?;
        let kt = KeyType::P256;
        let key = match KeyFile::load(keys_dir, master, id, kt)? {
            Some(k) => k,
            None => {
                let (k, der) = CaKey::generate(kt)?;
                KeyFile::save(keys_dir, master, id, &der)?;
                k
            }
        };
        let key_der = master.open(
            &KeyFile::context(id),
            std::fs::read_to_string(KeyFile::path(keys_dir, id))?.trim(),
        )?;
        let wanted: Vec<String> = dns
            .iter()
            .cloned()
            .chain(ips.iter().map(|i| i.to_string()))
            .collect();
        let current = store_ca_cert(store, id).await?.filter(|d| {
            x509_parser::certificate::X509Certificate::from_der(d).is_ok_and(|(_, c)| {
                let names: Vec<String> = c
                    .subject_alternative_name()
                    .ok()
                    .flatten()
                    .map(|s| {
                        s.value
                            .general_names
                            .iter()
                            .filter_map(|g| match g {
                                x509_parser::extensions::GeneralName::DNSName(d) => {
                                    Some((*d).to_owned())
                                }
                                x509_parser::extensions::GeneralName::IPAddress(b) => match b.len()
                                {
                                    4 => Some(
                                        std::net::IpAddr::from(
                                            <[u8; 4]>::try_from(*b).unwrap_or_default(),
                                        )
                                        .to_string(),
                                    ),
                                    16 => Some(
                                        std::net::IpAddr::from(
                                            <[u8; 16]>::try_from(*b).unwrap_or_default(),
                                        )
                                        .to_string(),
                                    ),
                                    _ => None,
                                },
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                c.validity().not_after.timestamp() > now + 30 * 86_400
                    && c.public_key().subject_public_key.data.as_ref()
                        == rcgen::PublicKeyData::der_bytes(&key.rcgen)
                    && wanted.iter().all(|w| names.contains(w))
                    && c.issuer().as_raw() == ca.subject_der.as_slice()
            })
        });
        let der = match current {
            Some(d) => d,
            None => {
                let spki = rcgen::PublicKeyData::subject_public_key_info(&key.rcgen);
                let approved = csr::approve_own_server(
                    &spki,
                    kt,
                    dns,
                    ips,
                    &self.hierarchy.organization,
                    &profile,
                    &ca.def,
                )?;
                let (serial, der) = self
                    .issue(
                        store, rng, &approved, &ca.def.id, "SSL_SERV", None, "coeur", now,
                    )
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
                put_ca_cert(store, id, &self.hierarchy.name, &der, now).await?;
                tracing::info!(ca = %ca.def.id, serial = %serial, "issued coeur's own HTTPS certificate");
                der
            }
        };
        let chain = self.chain(&ca.def.id);
        let mut pem_chain = cert_pem(&der);
        for c in &chain[..chain.len().saturating_sub(1)] {
            pem_chain.push_str(&cert_pem(c));
        }
        let root = chain.last().map(|r| cert_pem(r)).unwrap_or_default();
        Ok((pem_chain, key_der, root))
    }

    /// Approves a pending request and issues it.
    pub async fn approve(
        &self,
        store: &Store,
        rng: &dyn Random,
        id: &str,
        operator: &str,
        now: i64,
    ) -> Result<RequestOutcome, CaError> {
        let row = sqlx::query("SELECT ca_id, profile, status, csr, subject, requester FROM cert_requests WHERE id = $1").bind(id).fetch_optional(store.pool()).await.map_err(anyhow::Error::from)?;
        let row = row.ok_or(CaError::NotFound)?;
        let status: String = row.try_get("status").map_err(anyhow::Error::from)?;
        if status != "pending" {
            return Err(CaError::Conflict(format!("the request is {status}")));
        }
        let ca_id: String = row.try_get("ca_id").map_err(anyhow::Error::from)?;
        let profile: String = row.try_get("profile").map_err(anyhow::Error::from)?;
        let csr_der = STANDARD
            .decode(
                row.try_get::<String, _>("csr")
                    .map_err(anyhow::Error::from)?,
            )
            .map_err(anyhow::Error::from)?;
        let subject: SubjectRequest = serde_json::from_str(
            &row.try_get::<String, _>("subject")
                .map_err(anyhow::Error::from)?,
        )
        .map_err(anyhow::Error::from)?;
        let approved = self.check(&ca_id, &profile, &csr_der, &subject)?;
        let (serial, der) = self
            .issue(store, rng, &approved, &ca_id, &profile, None, operator, now)
            .await?;
        let r = sqlx::query("UPDATE cert_requests SET status = 'issued', decided_at = $1, decided_by = $2, serial = $3 WHERE id = $4 AND status = 'pending'")
            .bind(now)
            .bind(operator)
            .bind(&serial)
            .bind(id)
            .execute(store.pool())
            .await
            .map_err(anyhow::Error::from)?;
        if r.rows_affected() != 1 {
            return Err(CaError::Conflict(
                "the request was decided concurrently".into(),
            ));
        }
        Ok(RequestOutcome {
            id: id.to_owned(),
            status: "issued".into(),
            serial: Some(serial),
            certificate: Some(cert_pem(&der)),
        })
    }

    /// Rejects a pending request.
    pub async fn reject(
        &self,
        store: &Store,
        id: &str,
        operator: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), CaError> {
        let r = sqlx::query("UPDATE cert_requests SET status = 'rejected', decided_at = $1, decided_by = $2, reason = $3 WHERE id = $4 AND status = 'pending'")
            .bind(now)
            .bind(operator)
            .bind(reason)
            .bind(id)
            .execute(store.pool())
            .await
            .map_err(anyhow::Error::from)?;
        if r.rows_affected() != 1 {
            let exists = sqlx::query("SELECT status FROM cert_requests WHERE id = $1")
                .bind(id)
                .fetch_optional(store.pool())
                .await
                .map_err(anyhow::Error::from)?;
            return Err(match exists {
                Some(_) => CaError::Conflict("the request was already decided".into()),
                None => CaError::NotFound,
            });
        }
        Ok(())
    }

    /// Issues an approved request: the certificate and its audit record are committed together
    /// before the certificate is returned. Returns (serial hex, DER). `_store` is the store the
    /// CA was opened on: commits go through the CA's group committer, which holds it.
    #[allow(clippy::too_many_arguments)] // One issuance's worth of inputs.
    pub async fn issue(
        &self,
        _store: &Store,
        rng: &dyn Random,
        approved: &CsrApproved,
        ca_id: &str,
        profile_id: &str,
        request: Option<(&str, &[u8], &SubjectRequest, &str)>,
        actor: &str,
        now: i64,
    ) -> Result<(String, Vec<u8>), CaError> {
        let ca = self.ca(ca_id)?;
        let profile = self
            .profile(profile_id)
            .ok_or_else(|| CaError::UnknownProfile(profile_id.to_owned()))?;
        let subject_key = issue::subject_key(approved).map_err(|e| anyhow!(e))?;
        for _attempt in 0..5 {
            let serial = issue::new_serial(rng);
            let params =
                issue::ee_params(&self.hierarchy, &ca.def, profile, approved, &serial, now)
                    .map_err(|e| anyhow!(e))?;
            let der = params
                .signed_by(&subject_key, &ca.issuer)
                .map_err(anyhow::Error::from)?
                .der()
                .to_vec();
            let sh = serial_hex(&serial);
            match self
                .persist_issue(ca, profile, approved, &sh, &der, request, actor, now)
                .await
            {
                Ok(()) => return Ok((sh, der)),
                // A serial collision (or a concurrent audit append) is retried with new values.
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(CaError::Internal(e)),
            }
        }
        Err(CaError::Internal(anyhow!(
            "could not persist the certificate after 5 attempts"
        )))
    }

    #[allow(clippy::too_many_arguments)] // One transaction's worth of values.
    async fn persist_issue(
        &self,
        ca: &CaRt,
        profile: &Profile,
        approved: &CsrApproved,
        serial: &str,
        der: &[u8],
        request: Option<(&str, &[u8], &SubjectRequest, &str)>,
        actor: &str,
        now: i64,
    ) -> Result<()> {
        let job = Persist {
            ca_id: ca.def.id.clone(),
            profile_id: profile.id.clone(),
            serial: serial.to_owned(),
            der_b64: b64(der),
            subject_text: approved.subject_text.clone(),
            not_before: now - 60,
            not_after: now + profile.validity_days * 86_400,
            request: match request {
                Some((id, csr_der, subject, requester)) => Some(RequestRow {
                    id: id.to_owned(),
                    csr_b64: b64(csr_der),
                    subject_json: serde_json::to_string(subject)?,
                    requester: requester.to_owned(),
                }),
                None => None,
            },
            actor: actor.to_owned(),
            details: serde_json::json!({"profile": profile.id, "subject": approved.subject_text})
                .to_string(),
            now,
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.committer
            .send((job, reply))
            .await
            .map_err(|_| anyhow!("the issuance committer has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow!("the issuance committer has stopped"))?
    }

    /// Revokes a certificate; the OCSP cache forgets it at once and CRLs are rebuilt.
    pub async fn revoke(
        &self,
        store: &Store,
        ca_id: &str,
        serial: &str,
        reason: Reason,
        actor: &str,
        now: i64,
    ) -> Result<(), CaError> {
        self.ca(ca_id)?;
        let serial = normalize_serial(serial);
        let mut tx = store.pool().begin().await.map_err(anyhow::Error::from)?;
        let r = sqlx::query("UPDATE certificates SET revoked_at = $1, reason = $2 WHERE ca_id = $3 AND serial = $4 AND revoked_at IS NULL")
            .bind(now)
            .bind(i64::from(reason.code()))
            .bind(ca_id)
            .bind(&serial)
            .execute(&mut *tx)
            .await
            .map_err(anyhow::Error::from)?;
        if r.rows_affected() != 1 {
            let exists =
                sqlx::query("SELECT 1 AS x FROM certificates WHERE ca_id = $1 AND serial = $2")
                    .bind(ca_id)
                    .bind(&serial)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(anyhow::Error::from)?;
            return Err(if exists.is_some() {
                CaError::AlreadyRevoked
            } else {
                CaError::NotFound
            });
        }
        append_audit_tx(
            &mut tx,
            now,
            "revoke",
            &format!("{ca_id}/{serial}"),
            actor,
            &serde_json::json!({"reason": reason}).to_string(),
        )
        .await
        .map_err(CaError::Internal)?;
        crate::ldap::outbox::enqueue_revoke(&mut tx, ca_id, &serial, now)
            .await
            .map_err(CaError::Internal)?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        self.forget_revoked(ca_id, &serial);
        Ok(())
    }

    /// After a revocation of `serial` (as stored): its cached OCSP answer goes, the CA's CRLs
    /// are stale.
    fn forget_revoked(&self, ca_id: &str, serial: &str) {
        if let Ok(mut c) = self.ocsp_cache.lock() {
            c.remove(&(ca_id.to_owned(), decode_serial(serial).unwrap_or_default()));
        }
        if let Ok(mut d) = self.crl_dirty.lock() {
            d.insert(ca_id.to_owned(), true);
        }
    }

    /// Forgets cached OCSP answers and marks CRLs stale for certificates revoked since `since`
    /// by any process (the CLI, another node). Run every second by the server.
    pub async fn sync_revocations(&self, store: &Store, since: i64) -> Result<usize> {
        let rows = sqlx::query("SELECT ca_id, serial FROM certificates WHERE revoked_at IS NOT NULL AND revoked_at >= $1")
            .bind(since)
            .fetch_all(store.pool())
            .await?;
        for r in &rows {
            let ca_id: String = r.try_get("ca_id")?;
            let serial: String = r.try_get("serial")?;
            self.forget_revoked(&ca_id, &serial);
        }
        Ok(rows.len())
    }

    /// Path of a CA's current CRL file.
    pub fn crl_path(&self, ca_id: &str, delta: bool) -> PathBuf {
        self.crl_dir.join(if delta {
            format!("{ca_id}-delta.crl")
        } else {
            format!("{ca_id}.crl")
        })
    }

    /// Makes sure the CRLs of `ca_id` are current (built if missing, stale, or after a
    /// revocation) and returns the path.
    pub async fn current_crl(
        &self,
        store: &Store,
        ca_id: &str,
        delta: bool,
        now: i64,
    ) -> Result<PathBuf, CaError> {
        self.ca(ca_id)?;
        let _g = self.crl_lock.lock().await;
        let dirty = self
            .crl_dirty
            .lock()
            .map(|d| d.get(ca_id).copied().unwrap_or(false))
            .unwrap_or(true);
        let last: Option<(i64, i64)> = sqlx::query("SELECT number, next_update FROM crls WHERE ca_id = $1 AND delta_base IS NULL ORDER BY number DESC LIMIT 1")
            .bind(ca_id)
            .fetch_optional(store.pool())
            .await
            .map_err(anyhow::Error::from)?
            .map(|r| (r.try_get("number").unwrap_or(0), r.try_get("next_update").unwrap_or(0)));
        let path = self.crl_path(ca_id, false);
        let stale = last.is_none_or(|(_, next)| next - CRL_LIFETIME / 2 <= now)
            || !path.exists()
            || !self.crl_path(ca_id, true).exists();
        if dirty || stale {
            self.build_crls(store, ca_id, now).await?;
            if let Ok(mut d) = self.crl_dirty.lock() {
                d.insert(ca_id.to_owned(), false);
            }
        }
        Ok(self.crl_path(ca_id, delta))
    }

    /// Builds a full CRL and its delta, streaming revoked entries from the store.
    pub async fn build_crls(
        &self,
        store: &Store,
        ca_id: &str,
        now: i64,
    ) -> Result<(u64, u64), CaError> {
        let ca = self.ca(ca_id)?.clone();
        let number: i64 =
            sqlx::query("SELECT COALESCE(MAX(number), 0) AS n FROM crls WHERE ca_id = $1")
                .bind(ca_id)
                .fetch_one(store.pool())
                .await
                .map_err(anyhow::Error::from)?
                .try_get("n")
                .map_err(anyhow::Error::from)?;
        let full_no = u64::try_from(number).unwrap_or(0) + 1;
        let n_full = self.write_crl(store, &ca, full_no, None, None, now).await?;
        // The delta lists what was revoked since this full CRL: nothing yet; it grows with each
        // rebuild until the next full CRL.
        let delta_no = full_no + 1;
        let n_delta = self
            .write_crl(store, &ca, delta_no, Some(full_no), Some(now), now)
            .await?;
        Ok((n_full, n_delta))
    }

    async fn write_crl(
        &self,
        store: &Store,
        ca: &CaRt,
        number: u64,
        delta_base: Option<u64>,
        since: Option<i64>,
        now: i64,
    ) -> Result<u64, CaError> {
        let spec = CrlSpec {
            issuer_name_der: ca.subject_der.clone(),
            issuer_key_id: ca.key_id.clone(),
            sig_alg_der: ca.key.algorithm_der(),
            this_update: now,
            next_update: now + CRL_LIFETIME,
            number,
            delta_base,
            freshest: if delta_base.is_none() {
                vec![
                    self.hierarchy.delta_crl_url(&ca.def.id),
                    self.hierarchy.ldap_attr_url(&ca.def, "deltaRevocationList"),
                ]
            } else {
                vec![]
            },
        };
        let since = since.unwrap_or(i64::MIN);
        // One pass over the store: the entries go to a body file while their size is counted;
        // the TBS header (which needs that size) is hashed before the body, read back from
        // the page cache.
        // Temporary files are named for this build alone (another process may build the same
        // CRL number) and removed whatever happens.
        let unique = format!(
            "{}-{}",
            std::process::id(),
            TEMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let body_path = self
            .crl_dir
            .join(format!(".{}-{number}-{unique}.body", ca.def.id));
        let out = self.crl_path(&ca.def.id, delta_base.is_some());
        let tmp = self
            .crl_dir
            .join(format!(".{}-{number}-{unique}.tmp", ca.def.id));
        let _cleanup = RemoveOnDrop(vec![body_path.clone(), tmp.clone()]);
        let result = async {
            let mut body = std::io::BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(&body_path).map_err(anyhow::Error::from)?,
            );
            let mut total = 0usize;
            let count = for_each_revoked(store, &ca.def.id, since, |r| {
                let e = revocation::entry_der(&r);
                total += e.len();
                body.write_all(&e)?;
                Ok(())
            })
            .await?;
            body.flush()?;
            drop(body);
            Ok::<_, anyhow::Error>((total, count))
        }
        .await;
        let (total, count) = result.map_err(CaError::Internal)?;
        let (prefix, suffix) = revocation::tbs_parts(&spec, total);
        let mut ctx = digest::Context::new(ca.key.digest_alg());
        ctx.update(&prefix);
        {
            use std::io::Read as _;
            let mut f = std::fs::File::open(&body_path).map_err(anyhow::Error::from)?;
            let mut buf = vec![0u8; 1 << 20];
            let mut read = 0usize;
            loop {
                let n = f.read(&mut buf).map_err(anyhow::Error::from)?;
                if n == 0 {
                    break;
                }
                read += n;
                ctx.update(&buf[..n]);
            }
            if read != total {
                return Err(CaError::Internal(anyhow!(
                    "the CRL body file changed while it was read ({read} bytes, {total} written)"
                )));
            }
        }
        ctx.update(&suffix);
        let tbs_len = prefix.len() + total + suffix.len();
        let sig = ca.key.sign_digest(&ctx.finish()).map_err(|e| anyhow!(e))?;
        let (head, tail) = revocation::certificate_list_parts(tbs_len, &spec.sig_alg_der, &sig);
        {
            let mut o =
                std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(anyhow::Error::from)?);
            o.write_all(&head).map_err(anyhow::Error::from)?;
            o.write_all(&prefix).map_err(anyhow::Error::from)?;
            std::io::copy(
                &mut std::fs::File::open(&body_path).map_err(anyhow::Error::from)?,
                &mut o,
            )
            .map_err(anyhow::Error::from)?;
            o.write_all(&suffix).map_err(anyhow::Error::from)?;
            o.write_all(&tail).map_err(anyhow::Error::from)?;
            o.flush().map_err(anyhow::Error::from)?;
            o.get_ref().sync_all().map_err(anyhow::Error::from)?;
        }
        // The CRL's number is claimed in the store before the file is published: of two
        // processes building the same number, the second fails on the primary key and leaves
        // the first one's file in place.
        let mut tx = store.pool().begin().await.map_err(anyhow::Error::from)?;
        sqlx::query("INSERT INTO crls (ca_id, number, delta_base, this_update, next_update, entries) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&ca.def.id)
            .bind(i64::try_from(number).unwrap_or(i64::MAX))
            .bind(delta_base.map(|b| i64::try_from(b).unwrap_or(i64::MAX)))
            .bind(now)
            .bind(now + CRL_LIFETIME)
            .bind(i64::try_from(count).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(anyhow::Error::from)?;
        crate::ldap::outbox::enqueue_crl(&mut tx, &ca.def.id, number, delta_base.is_some(), now)
            .await
            .map_err(CaError::Internal)?;
        std::fs::rename(&tmp, &out).map_err(anyhow::Error::from)?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        Ok(count)
    }

    /// Answers an OCSP request (DER).
    pub async fn ocsp(&self, store: &Store, request: &[u8], now: i64) -> Vec<u8> {
        let req = match ocsp::parse_request(request) {
            Ok(r) => r,
            Err(e) => return ocsp::refusal(e),
        };
        match self
            .ocsp_answer(store, &req.ids, req.nonce_ext.as_deref(), now)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "OCSP");
                ocsp::refusal(OcspRefusal::InternalError)
            }
        }
    }

    fn find_ca(&self, id: &CertIdReq) -> Option<&Arc<CaRt>> {
        self.cas.values().find(|c| {
            c.name_hash.get(&id.hash) == Some(&id.name_hash)
                && c.key_hash.get(&id.hash) == Some(&id.key_hash)
        })
    }

    async fn ocsp_answer(
        &self,
        store: &Store,
        ids: &[CertIdReq],
        nonce: Option<&[u8]>,
        now: i64,
    ) -> Result<Vec<u8>> {
        let first = ids.first().ok_or_else(|| anyhow!("empty request"))?;
        let Some(ca) = self.find_ca(first) else {
            return Ok(ocsp::refusal(OcspRefusal::Unauthorized));
        };
        if ids
            .iter()
            .any(|i| self.find_ca(i).map(|c| &c.def.id) != Some(&ca.def.id))
        {
            return Ok(ocsp::refusal(OcspRefusal::Malformed));
        }
        let cacheable = nonce.is_none() && ids.len() == 1;
        let key = (ca.def.id.clone(), first.serial.clone());
        if cacheable
            && let Ok(c) = self.ocsp_cache.lock()
            && let Some((exp, r)) = c.get(&key)
            && *exp > now
        {
            return Ok(r.as_ref().clone());
        }
        let mut answers = Vec::new();
        for id in ids {
            let row = sqlx::query(
                "SELECT revoked_at, reason FROM certificates WHERE ca_id = $1 AND serial = $2",
            )
            .bind(&ca.def.id)
            .bind(serial_hex(&id.serial))
            .fetch_optional(store.pool())
            .await?;
            let status = match row {
                None => Status::Unknown,
                Some(r) => match r.try_get::<Option<i64>, _>("revoked_at")? {
                    None => Status::Good,
                    Some(at) => Status::Revoked {
                        at,
                        reason: Reason::from_code(
                            r.try_get::<Option<i64>, _>("reason")?.unwrap_or(0),
                        )
                        .unwrap_or(Reason::Unspecified),
                    },
                },
            };
            answers.push(Answer {
                cert_id_der: id.cert_id_der.clone(),
                status,
                this_update: now,
                next_update: now + OCSP_LIFETIME,
            });
        }
        let (rkey, rcert, rhash) = ca
            .responder
            .as_ref()
            .ok_or_else(|| anyhow!("CA {} has no OCSP responder", ca.def.id))?;
        let tbs = ocsp::response_data(rhash, now, &answers, nonce);
        let sig = rkey.sign(&tbs)?;
        let resp = ocsp::response(
            &tbs,
            &rkey.algorithm_der(),
            &sig,
            std::slice::from_ref(rcert),
        );
        if cacheable && let Ok(mut c) = self.ocsp_cache.lock() {
            if c.len() > 1_000_000 {
                c.clear();
            }
            // Cached until shortly before nextUpdate; revocation removes the entry at once.
            c.insert(key, (now + OCSP_LIFETIME / 2, Arc::new(resp.clone())));
        }
        Ok(resp)
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

    /// The revocation of a certificate (time, reason), or `None` if it is not revoked. An
    /// unknown certificate counts as revoked.
    pub async fn revocation(
        &self,
        store: &Store,
        ca_id: &str,
        serial: &str,
    ) -> Result<Option<(i64, Reason)>> {
        let row = sqlx::query(
            "SELECT revoked_at, reason FROM certificates WHERE ca_id = $1 AND serial = $2",
        )
        .bind(ca_id)
        .bind(normalize_serial(serial))
        .fetch_optional(store.pool())
        .await?;
        Ok(match row {
            None => Some((0, Reason::Unspecified)),
            Some(r) => r.try_get::<Option<i64>, _>("revoked_at")?.map(|at| {
                (
                    at,
                    Reason::from_code(
                        r.try_get::<Option<i64>, _>("reason")
                            .ok()
                            .flatten()
                            .unwrap_or(0),
                    )
                    .unwrap_or(Reason::Unspecified),
                )
            }),
        })
    }

    /// Sandbox virtual card for an identity: CPS_AUTH and CPS_SIGN certificates from the first
    /// PERSONNES CA (or `ca_id`), each with its key in a PKCS#12 protected by the card PIN.
    /// Returns ((auth serial, auth PKCS#12), (sign serial, sign PKCS#12)).
    #[allow(clippy::too_many_arguments)] // One card's worth of inputs.
    pub async fn issue_virtual_card(
        &self,
        store: &Store,
        rng: &dyn Random,
        identity: &coeur_common::identity::Identity,
        pin: &str,
        ca_id: Option<&str>,
        actor: &str,
        now: i64,
    ) -> Result<((String, Vec<u8>), (String, Vec<u8>)), CaError> {
        let ca_id = match ca_id {
            Some(c) => c.to_owned(),
            None => {
                let mut ids: Vec<&String> = self
                    .cas
                    .iter()
                    .filter(|(_, c)| c.def.domain == Some(coeur_pki::hierarchy::Domain::Personnes))
                    .map(|(id, _)| id)
                    .collect();
                ids.sort();
                ids.first()
                    .map(|s| (*s).clone())
                    .ok_or_else(|| CaError::UnknownCa("PERSONNES".into()))?
            }
        };
        let title = identity
            .exercices
            .first()
            .map(|e| profession_label(&e.code_profession).to_owned());
        let subject = SubjectRequest {
            national_id: Some(identity.national_id.to_string()),
            family_name: Some(identity.family_name.clone()),
            given_name: Some(identity.given_name.clone()),
            title,
            ..Default::default()
        };
        let (a_serial, _, a_p12) = self
            .issue_with_generated_key(
                store,
                rng,
                actor,
                &ca_id,
                "CPS_AUTH",
                KeyType::P256,
                &subject,
                pin,
                now,
            )
            .await?;
        let (s_serial, _, s_p12) = self
            .issue_with_generated_key(
                store,
                rng,
                actor,
                &ca_id,
                "CPS_SIGN",
                KeyType::P256,
                &subject,
                pin,
                now,
            )
            .await?;
        Ok(((a_serial, a_p12), (s_serial, s_p12)))
    }

    /// Revokes every valid card certificate (CPS_AUTH, CPS_SIGN) of a national identifier:
    /// the "opposition" of a lost or stolen card. Returns the revoked (CA, serial) pairs.
    pub async fn revoke_cards(
        &self,
        store: &Store,
        national_id: &str,
        reason: Reason,
        actor: &str,
        now: i64,
    ) -> Result<Vec<(String, String)>, CaError> {
        let rows = sqlx::query("SELECT ca_id, serial FROM certificates WHERE profile IN ('CPS_AUTH', 'CPS_SIGN') AND revoked_at IS NULL AND subject LIKE $1")
            .bind(format!("CN={national_id},%"))
            .fetch_all(store.pool())
            .await
            .map_err(anyhow::Error::from)?;
        let mut out = Vec::new();
        for r in rows {
            let ca: String = r.try_get("ca_id").map_err(anyhow::Error::from)?;
            let serial: String = r.try_get("serial").map_err(anyhow::Error::from)?;
            match self.revoke(store, &ca, &serial, reason, actor, now).await {
                Ok(()) | Err(CaError::AlreadyRevoked) => out.push((ca, serial)),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// A certificate's DER by CA and serial.
    pub async fn certificate(
        &self,
        store: &Store,
        ca_id: &str,
        serial: &str,
    ) -> Result<Vec<u8>, CaError> {
        let serial = normalize_serial(serial);
        let row = sqlx::query("SELECT der FROM certificates WHERE ca_id = $1 AND serial = $2")
            .bind(ca_id)
            .bind(&serial)
            .fetch_optional(store.pool())
            .await
            .map_err(anyhow::Error::from)?;
        let row = row.ok_or(CaError::NotFound)?;
        Ok(STANDARD
            .decode(
                row.try_get::<String, _>("der")
                    .map_err(anyhow::Error::from)?,
            )
            .map_err(anyhow::Error::from)?)
    }

    /// Certificates, newest first, filtered.
    pub async fn list(
        &self,
        store: &Store,
        ca: Option<&str>,
        profile: Option<&str>,
        q: Option<&str>,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, CaError> {
        let rows = sqlx::query("SELECT ca_id, serial, profile, subject, not_before, not_after, issued_at, revoked_at, reason FROM certificates WHERE ($1 = '' OR ca_id = $1) AND ($2 = '' OR profile = $2) AND ($3 = '' OR subject LIKE $4) ORDER BY issued_at DESC, serial LIMIT $5")
            .bind(ca.unwrap_or_default())
            .bind(profile.unwrap_or_default())
            .bind(q.unwrap_or_default())
            .bind(format!("%{}%", q.unwrap_or_default()))
            .bind(limit.clamp(1, 1000))
            .fetch_all(store.pool())
            .await
            .map_err(anyhow::Error::from)?;
        rows.iter()
            .map(|r| {
                let reason: Option<i64> = r.try_get("reason").map_err(anyhow::Error::from)?;
                Ok(serde_json::json!({
                    "ca": r.try_get::<String, _>("ca_id").map_err(anyhow::Error::from)?,
                    "serial": r.try_get::<String, _>("serial").map_err(anyhow::Error::from)?,
                    "profile": r.try_get::<String, _>("profile").map_err(anyhow::Error::from)?,
                    "subject": r.try_get::<String, _>("subject").map_err(anyhow::Error::from)?,
                    "not_before": r.try_get::<i64, _>("not_before").map_err(anyhow::Error::from)?,
                    "not_after": r.try_get::<i64, _>("not_after").map_err(anyhow::Error::from)?,
                    "issued_at": r.try_get::<i64, _>("issued_at").map_err(anyhow::Error::from)?,
                    "revoked_at": r.try_get::<Option<i64>, _>("revoked_at").map_err(anyhow::Error::from)?,
                    "reason": reason.and_then(Reason::from_code),
                }))
            })
            .collect()
    }
}

/// Distinguishes the temporary files of concurrent CRL builds in one process.
static TEMP_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Removes files when dropped (those still there).
struct RemoveOnDrop(Vec<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Rows per page when reading revoked entries.
const REVOKED_PAGE: i64 = 50_000;

/// Calls `f` with every certificate of `ca_id` revoked at or after `since`, and returns how
/// many there were. The rows are read in one snapshot (a read transaction, REPEATABLE READ on
/// PostgreSQL), in pages of [`REVOKED_PAGE`] by serial, each page aggregated by the database
/// into one string: one row per page instead of one per entry, because handing rows one by
/// one from sqlx's SQLite worker to the task dominated the build of large CRLs.
async fn for_each_revoked(
    store: &Store,
    ca_id: &str,
    since: i64,
    mut f: impl FnMut(Revoked) -> Result<()>,
) -> Result<u64> {
    let sql = if store.is_sqlite() {
        "SELECT group_concat(serial || ',' || revoked_at || ',' || COALESCE(reason, 0), ';') AS \
         page, MAX(serial) AS last, COUNT(*) AS n FROM (SELECT serial, revoked_at, reason FROM \
         certificates WHERE ca_id = $1 AND revoked_at IS NOT NULL AND revoked_at >= $2 AND \
         serial > $3 ORDER BY serial LIMIT $4) page_rows"
    } else {
        "SELECT string_agg(serial || ',' || revoked_at || ',' || COALESCE(reason, 0), ';') AS \
         page, MAX(serial) AS last, COUNT(*) AS n FROM (SELECT serial, revoked_at, reason FROM \
         certificates WHERE ca_id = $1 AND revoked_at IS NOT NULL AND revoked_at >= $2 AND \
         serial > $3 ORDER BY serial LIMIT $4) page_rows"
    };
    let mut tx = store.pool().begin().await?;
    if !store.is_sqlite() {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
    }
    let mut after = String::new();
    let mut count = 0u64;
    loop {
        let row = sqlx::query(sql)
            .bind(ca_id)
            .bind(since)
            .bind(&after)
            .bind(REVOKED_PAGE)
            .fetch_one(&mut *tx)
            .await?;
        let n: i64 = row.try_get("n")?;
        if n == 0 {
            break;
        }
        let page: String = row.try_get("page")?;
        for entry in page.split(';') {
            f(parse_revoked(entry)?)?;
            count += 1;
        }
        after = row.try_get("last")?;
        if n < REVOKED_PAGE {
            break;
        }
    }
    tx.commit().await?;
    Ok(count)
}

/// One `serial,revoked_at,reason` entry of a page.
fn parse_revoked(entry: &str) -> Result<Revoked> {
    let mut parts = entry.split(',');
    let (Some(serial), Some(at), Some(reason), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        bail!("malformed revoked entry {entry:?}");
    };
    Ok(Revoked {
        serial: decode_serial(serial)?,
        at: at.parse()?,
        reason: Reason::from_code(reason.parse()?).unwrap_or(Reason::Unspecified),
    })
}

/// A stored serial (lowercase hex without leading zeros, so possibly of odd length) as bytes.
fn decode_serial(hex_serial: &str) -> Result<Vec<u8>> {
    Ok(if hex_serial.len() % 2 == 1 {
        hex::decode(format!("0{hex_serial}"))?
    } else {
        hex::decode(hex_serial)?
    })
}

fn is_conflict(e: &anyhow::Error) -> bool {
    e.downcast_ref::<sqlx::Error>().is_some_and(|s| match s {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.message().contains("locked")
                || d.message().contains("busy")
        }
        _ => false,
    })
}

async fn store_ca_cert(store: &Store, id: &str) -> Result<Option<Vec<u8>>> {
    let row = sqlx::query("SELECT der FROM ca_certs WHERE ca_id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    row.map(|r| Ok(STANDARD.decode(r.try_get::<String, _>("der")?)?))
        .transpose()
}

async fn put_ca_cert(store: &Store, id: &str, hierarchy: &str, der: &[u8], now: i64) -> Result<()> {
    sqlx::query("DELETE FROM ca_certs WHERE ca_id = $1")
        .bind(id)
        .execute(store.pool())
        .await?;
    sqlx::query("INSERT INTO ca_certs (ca_id, hierarchy, der, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(hierarchy)
        .bind(b64(der))
        .bind(now)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Stores a CA certificate and announces it to the LDAP publisher, in one transaction.
async fn put_ca_cert_published(
    store: &Store,
    id: &str,
    hierarchy: &str,
    der: &[u8],
    now: i64,
) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("DELETE FROM ca_certs WHERE ca_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO ca_certs (ca_id, hierarchy, der, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(hierarchy)
        .bind(b64(der))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    crate::ldap::outbox::enqueue_ca_cert(&mut tx, id, der, now).await?;
    tx.commit().await?;
    Ok(())
}

async fn append_audit(
    store: &Store,
    now: i64,
    action: &str,
    subject: &str,
    actor: &str,
    details: &str,
) -> Result<()> {
    for _ in 0..10 {
        let mut tx = store.pool().begin().await?;
        match append_audit_tx(&mut tx, now, action, subject, actor, details).await {
            Ok(()) => {
                if tx.commit().await.is_ok() {
                    return Ok(());
                }
            }
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    bail!("could not append to the audit log")
}

/// An issued certificate to commit: its row, its request's row (automatic approval), its audit
/// record and its LDAP outbox row.
pub(crate) struct Persist {
    ca_id: String,
    profile_id: String,
    serial: String,
    der_b64: String,
    subject_text: String,
    not_before: i64,
    not_after: i64,
    request: Option<RequestRow>,
    actor: String,
    details: String,
    now: i64,
}

/// The request row of an automatically approved issuance.
pub(crate) struct RequestRow {
    id: String,
    csr_b64: String,
    subject_json: String,
    requester: String,
}

type PersistReply = tokio::sync::oneshot::Sender<Result<()>>;

/// Issuances committed together at most.
const COMMIT_BATCH: usize = 64;

/// Group commit of issuances: whatever is waiting when the previous commit ends goes into one
/// transaction with one multi-row statement per table, instead of seven statements each.
/// Every certificate is still committed with its audit record before its answer. If the batch
/// fails (a serial collision, say), each issuance is committed alone, so that the failure is
/// answered to its own caller; one found already stored as itself (a commit whose answer was
/// lost) is not stored twice.
async fn commit_loop(store: Store, mut rx: tokio::sync::mpsc::Receiver<(Persist, PersistReply)>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < COMMIT_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        // A caller that went away (request cancelled) does not get a certificate committed
        // that nobody will receive.
        batch.retain(|(_, reply)| !reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        if batch.len() > 1 {
            let jobs: Vec<&Persist> = batch.iter().map(|(p, _)| p).collect();
            match persist_many(&store, &jobs).await {
                Ok(()) => {
                    for (_, reply) in batch {
                        let _ = reply.send(Ok(()));
                    }
                    continue;
                }
                Err(e) => {
                    tracing::debug!(error = %format!("{e:#}"), size = batch.len(), "batch commit failed; committing one by one");
                }
            }
        }
        for (job, reply) in batch {
            // A commit whose answer was lost may have happened: a certificate already stored
            // as this very one is not stored again.
            let r = match already_committed(&store, &job).await {
                Ok(true) => Ok(()),
                _ => persist_many(&store, &[&job]).await,
            };
            let _ = reply.send(r);
        }
    }
}

/// `INSERT … VALUES (…), (…) …` for `rows` rows of `row(first_placeholder_index)`.
fn multi_row_insert(
    head: &str,
    rows: usize,
    per_row: usize,
    row: impl Fn(usize) -> String,
    tail: &str,
) -> String {
    let values: Vec<String> = (0..rows).map(|i| row(i * per_row + 1)).collect();
    format!("{head} VALUES {} {tail}", values.join(", "))
}

/// Whether `job`'s certificate is stored, byte for byte.
async fn already_committed(store: &Store, job: &Persist) -> Result<bool> {
    let row = sqlx::query("SELECT der FROM certificates WHERE ca_id = $1 AND serial = $2")
        .bind(&job.ca_id)
        .bind(&job.serial)
        .fetch_optional(store.pool())
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<String, _>("der")? == job.der_b64,
        None => false,
    })
}

/// `($n, $n+1, …)`: `width` consecutive placeholders from `$n`.
fn consecutive(n: usize, width: usize) -> String {
    let p: Vec<String> = (n..n + width).map(|i| format!("${i}")).collect();
    format!("({})", p.join(", "))
}

/// Commits `jobs` in one transaction.
async fn persist_many(store: &Store, jobs: &[&Persist]) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    let requests: Vec<(&Persist, &RequestRow)> = jobs
        .iter()
        .filter_map(|j| j.request.as_ref().map(|r| (*j, r)))
        .collect();
    if !requests.is_empty() {
        let sql = multi_row_insert(
            "INSERT INTO cert_requests (id, ca_id, profile, status, csr, subject, requester, \
             created_at, decided_at, decided_by, serial)",
            requests.len(),
            8,
            |n| {
                format!(
                    "(${n}, ${}, ${}, 'issued', ${}, ${}, ${}, ${}, ${}, 'auto', ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 6,
                    n + 7
                )
            },
            "",
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (j, r) in &requests {
            q = q
                .bind(&r.id)
                .bind(&j.ca_id)
                .bind(&j.profile_id)
                .bind(&r.csr_b64)
                .bind(&r.subject_json)
                .bind(&r.requester)
                .bind(j.now)
                .bind(&j.serial);
        }
        q.execute(&mut *tx).await?;
    }
    let sql = multi_row_insert(
        "INSERT INTO certificates (ca_id, serial, profile, subject, not_before, not_after, der, \
         request_id, issued_at)",
        jobs.len(),
        9,
        |n| consecutive(n, 9),
        "",
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for j in jobs {
        q = q
            .bind(&j.ca_id)
            .bind(&j.serial)
            .bind(&j.profile_id)
            .bind(&j.subject_text)
            .bind(j.not_before)
            .bind(j.not_after)
            .bind(&j.der_b64)
            .bind(j.request.as_ref().map(|r| r.id.clone()))
            .bind(j.now);
    }
    q.execute(&mut *tx).await?;
    let subjects: Vec<String> = jobs
        .iter()
        .map(|j| format!("{}/{}", j.ca_id, j.serial))
        .collect();
    let records: Vec<AuditEntry<'_>> = jobs
        .iter()
        .zip(&subjects)
        .map(|(j, subject)| AuditEntry {
            at: j.now,
            action: "issue",
            subject,
            actor: &j.actor,
            details: &j.details,
        })
        .collect();
    append_audit_many_tx(&mut tx, &records).await?;
    let issued: Vec<(&str, &str)> = jobs
        .iter()
        .map(|j| (j.ca_id.as_str(), j.serial.as_str()))
        .collect();
    crate::ldap::outbox::enqueue_issues(&mut tx, &issued, jobs[0].now).await?;
    tx.commit().await?;
    Ok(())
}

/// One audit record to append.
pub struct AuditEntry<'a> {
    /// When.
    pub at: i64,
    /// What.
    pub action: &'a str,
    /// On what.
    pub subject: &'a str,
    /// Who.
    pub actor: &'a str,
    /// Details (JSON).
    pub details: &'a str,
}

/// Appends an audit record inside a transaction (a concurrent append makes the insert fail on
/// the sequence's primary key; the caller retries).
pub async fn append_audit_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    now: i64,
    action: &str,
    subject: &str,
    actor: &str,
    details: &str,
) -> Result<()> {
    append_audit_many_tx(
        tx,
        &[AuditEntry {
            at: now,
            action,
            subject,
            actor,
            details,
        }],
    )
    .await
}

/// Appends records to the audit chain, in order, inside `tx`.
pub async fn append_audit_many_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    records: &[AuditEntry<'_>],
) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    // Appends are serialised: on PostgreSQL with a transaction-scoped advisory lock (released at
    // commit or rollback); SQLite serialises writers by itself.
    {
        let conn: &mut sqlx::AnyConnection = tx;
        if conn.backend_name() == "PostgreSQL" {
            sqlx::query("SELECT pg_advisory_xact_lock(7305847240)")
                .execute(&mut *conn)
                .await?;
        }
    }
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (mut seq, mut prev) = match last {
        Some(r) => (
            r.try_get::<i64, _>("seq")? + 1,
            r.try_get::<String, _>("hash")?,
        ),
        None => (1, audit::GENESIS.to_owned()),
    };
    let mut rows = Vec::with_capacity(records.len());
    for r in records {
        let h = audit::record_hash(seq, r.at, r.action, r.subject, r.actor, r.details, &prev);
        rows.push((seq, r, std::mem::replace(&mut prev, h.clone()), h));
        seq += 1;
    }
    let sql = multi_row_insert(
        "INSERT INTO audit_log (seq, at, action, subject, actor, details, prev_hash, hash)",
        rows.len(),
        8,
        |n| consecutive(n, 8),
        "",
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (seq, r, prev_hash, hash) in &rows {
        q = q
            .bind(*seq)
            .bind(r.at)
            .bind(r.action)
            .bind(r.subject)
            .bind(r.actor)
            .bind(r.details)
            .bind(prev_hash.as_str())
            .bind(hash.as_str());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Verifies the whole audit chain; returns the number of records, or the first broken link.
pub async fn verify_audit(store: &Store) -> Result<Result<i64, i64>> {
    let mut rows = sqlx::query("SELECT seq, at, action, subject, actor, details, prev_hash, hash FROM audit_log ORDER BY seq").fetch(store.pool());
    let mut prev = audit::GENESIS.to_owned();
    let mut expected = 1;
    while let Some(r) = rows.try_next().await? {
        let rec = AuditRecord {
            seq: r.try_get("seq")?,
            at: r.try_get("at")?,
            action: r.try_get("action")?,
            subject: r.try_get("subject")?,
            actor: r.try_get("actor")?,
            details: r.try_get("details")?,
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        };
        let h = audit::record_hash(
            rec.seq,
            rec.at,
            &rec.action,
            &rec.subject,
            &rec.actor,
            &rec.details,
            &rec.prev_hash,
        );
        if rec.seq != expected || rec.prev_hash != prev || rec.hash != h {
            return Ok(Err(rec.seq.min(expected)));
        }
        prev = rec.hash;
        expected += 1;
    }
    Ok(Ok(expected - 1))
}

/// A certs-only PKCS#7 SignedData (a chain bundle).
pub fn pkcs7_certs(certs: &[Vec<u8>]) -> Vec<u8> {
    let signed_data = der::seq(&[
        der::uint_u64(1),
        der::tlv(0x31, &[]),
        der::seq(&[der::oid(&[1, 2, 840, 113549, 1, 7, 1])]),
        der::tlv(0xa0, &certs.concat()),
        der::tlv(0x31, &[]),
    ]);
    der::seq(&[
        der::oid(&[1, 2, 840, 113549, 1, 7, 2]),
        der::explicit(0, &signed_data),
    ])
}
