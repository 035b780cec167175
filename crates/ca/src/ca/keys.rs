//! CA keys: generation, where they are held ([`KeyProvider`], [`SealedKeys`]), and the
//! signers rcgen and the CRL/OCSP encoders use.

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

    /// The private key as PKCS#8 DER (coeur's own TLS keys, which the listeners need).
    pub fn pkcs8_der(&self) -> Vec<u8> {
        self.rcgen.serialize_der()
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

/// Where the CA's private keys are held: CA keys, their OCSP responders' keys, coeur's own
/// TLS keys, each named by an id (the CA's id, `<ca>-OCSP`, `SERVER-TLS`…).
///
/// [`SealedKeys`] holds them in the database, sealed under the master key; a hardware token
/// (PKCS#11) is another implementation: it answers with a [`CaKey`] whose signatures the
/// token makes, generates the key on the token when it has none under that id, and never
/// hands the private key out (coeur's TLS keys, which the listeners need in the clear, stay
/// with [`SealedKeys`]). Every instance sharing the database must get the same key for an id:
/// when two instances create a key at the same moment, one of them wins and both use it.
pub trait KeyProvider: Send + Sync {
    /// The key held under `id`, of type `kt`; created first (and its creation logged) when
    /// none is held. `now` dates the creation.
    fn key<'a>(
        &'a self,
        id: &'a str,
        kt: KeyType,
        now: i64,
    ) -> futures_util::future::BoxFuture<'a, Result<CaKey>>;
}

/// Keys sealed in the database by the key store (`held_keys`, sealed under the master key,
/// bound to `coeur/ca/<id>`).
pub struct SealedKeys(pub Arc<coeur_storage::keystore::KeyStore>);

impl KeyProvider for SealedKeys {
    fn key<'a>(
        &'a self,
        id: &'a str,
        kt: KeyType,
        now: i64,
    ) -> futures_util::future::BoxFuture<'a, Result<CaKey>> {
        Box::pin(async move {
            if let Some(der) = self.0.held_key(id).await? {
                return CaKey::from_pkcs8(kt, &der).with_context(|| format!("held key {id}"));
            }
            tracing::info!(key_id = %id, key = kt.as_str(), "generating key");
            let (_, der) = CaKey::generate(kt)?;
            let held = self.0.hold_first_key(id, &der, now).await?;
            CaKey::from_pkcs8(kt, &held).with_context(|| format!("held key {id}"))
        })
    }
}
