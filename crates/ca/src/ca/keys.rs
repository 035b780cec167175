//! CA keys: generation, sealed key files, and the signers rcgen and the CRL/OCSP encoders use.

use super::*;

/// A CA private key, usable by rcgen (certificates) and for digest signing (CRLs, OCSP).
pub struct CaKey {
    key_type: KeyType,
    pub(super) rcgen: rcgen::KeyPair,
    ec: Option<EcdsaKeyPair>,
    rsa: Option<RsaKeyPair>,
}

impl CaKey {
    pub(super) fn generate(kt: KeyType) -> Result<(Self, Vec<u8>)> {
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

    pub(super) fn from_pkcs8(kt: KeyType, der: &[u8]) -> Result<Self> {
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

pub(super) fn hash(alg: IdHash, data: &[u8]) -> Vec<u8> {
    match alg {
        IdHash::Sha1 => digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)
            .as_ref()
            .to_vec(),
        IdHash::Sha256 => digest::digest(&digest::SHA256, data).as_ref().to_vec(),
    }
}

pub(super) struct KeyFile;
impl KeyFile {
    pub(super) fn path(dir: &Path, id: &str) -> PathBuf {
        dir.join("ca").join(format!("{id}.key"))
    }
    pub(super) fn context(id: &str) -> String {
        format!("coeur/ca/{id}")
    }
    pub(super) fn load(
        dir: &Path,
        master: &MasterKey,
        id: &str,
        kt: KeyType,
    ) -> Result<Option<CaKey>> {
        let p = Self::path(dir, id);
        if !p.exists() {
            return Ok(None);
        }
        let sealed =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        let der = master.open(&Self::context(id), sealed.trim())?;
        Ok(Some(CaKey::from_pkcs8(kt, &der)?))
    }
    /// The key stored under `id`, generated and stored first if there is none.
    pub(super) fn load_or_generate(
        dir: &Path,
        master: &MasterKey,
        id: &str,
        kt: KeyType,
    ) -> Result<CaKey> {
        if let Some(k) = Self::load(dir, master, id, kt)? {
            return Ok(k);
        }
        tracing::info!(key_id = %id, key = kt.as_str(), "generating key");
        let (k, der) = CaKey::generate(kt)?;
        Self::save(dir, master, id, &der)?;
        Ok(k)
    }
    pub(super) fn save(dir: &Path, master: &MasterKey, id: &str, der: &[u8]) -> Result<()> {
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
