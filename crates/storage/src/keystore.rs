//! The on-disk key store: the master key, sealing of private keys (AES-256-GCM), and each
//! realm's key ring file under `keys/realms/<realm>.json`.

use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coeur_oauth::jose::{SigAlg, SigningKey, VerificationKeys};
use coeur_oauth::keyring::{KeyRecord, KeyStatus, Ring};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The key that seals every private key and sealed secret at rest.
pub struct MasterKey(LessSafeKey);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Loads the master key: `COEUR_MASTER_KEY` (base64 of 32 bytes) if given, otherwise
    /// `<keys_dir>/master.key`, created on first start for development use.
    pub fn load(keys_dir: &Path, from_env: Option<&str>) -> Result<Self> {
        let bytes = match from_env {
            Some(v) => STANDARD
                .decode(v.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| {
                    anyhow!("COEUR_MASTER_KEY must be the base64 encoding of 32 random bytes")
                })?,
            None => {
                let p = keys_dir.join("master.key");
                if p.exists() {
                    let s = std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    STANDARD
                        .decode(s.trim())
                        .ok()
                        .filter(|b| b.len() == 32)
                        .ok_or_else(|| anyhow!("{} is not a base64 32-byte key", p.display()))?
                } else {
                    let mut b = vec![0u8; 32];
                    SystemRandom::new()
                        .fill(&mut b)
                        .map_err(|_| anyhow!("no randomness"))?;
                    std::fs::create_dir_all(keys_dir)?;
                    write_private(&p, STANDARD.encode(&b).as_bytes())?;
                    tracing::warn!(path = %p.display(), "created a development master key; set COEUR_MASTER_KEY in production");
                    b
                }
            }
        };
        let k = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| anyhow!("bad master key"))?;
        Ok(Self(LessSafeKey::new(k)))
    }

    /// Seals `plain`, bound to `context` (associated data). Output: base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<String> {
        let mut nonce = [0u8; 12];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| anyhow!("no randomness"))?;
        let mut buf = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| anyhow!("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(STANDARD.encode(out))
    }

    /// Opens what [`MasterKey::seal`] made with the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>> {
        let raw = STANDARD
            .decode(sealed)
            .map_err(|_| anyhow!("sealed value is not base64"))?;
        if raw.len() < 12 + 16 {
            bail!("sealed value too short");
        }
        let (n, ct) = raw.split_at(12);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(n);
        let mut buf = ct.to_vec();
        let plain = self
            .0
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| {
                anyhow!(
                    "cannot open a sealed value for {context}: wrong master key or altered file"
                )
            })?;
        Ok(plain.to_vec())
    }
}

fn write_private(p: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = p.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, p)?;
    Ok(())
}

/// A realm's ring, with its keys parsed and ready to sign and verify.
pub struct LoadedRing {
    /// The ring as stored.
    pub ring: Ring,
    /// Active key per algorithm.
    pub active: HashMap<SigAlg, Arc<SigningKey>>,
    /// Every key (active, next, retired) by kid, for verification.
    pub by_kid: HashMap<String, (Arc<SigningKey>, jsonwebtoken::DecodingKey)>,
    /// The public JWKS document.
    pub jwks: serde_json::Value,
    /// Every key's public half, for token verifiers (a new value per load).
    pub verification: Arc<VerificationKeys>,
}

impl LoadedRing {
    /// The active key for `alg`.
    pub fn signer(&self, alg: SigAlg) -> Option<&Arc<SigningKey>> {
        self.active.get(&alg)
    }
}

/// File-backed key rings.
pub struct KeyStore {
    dir: PathBuf,
    master: MasterKey,
}

fn context(realm: &str, kid: &str) -> String {
    format!("coeur/ring/{realm}/{kid}")
}

fn generate(alg: SigAlg) -> Result<Vec<u8>> {
    Ok(match alg {
        SigAlg::ES256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| anyhow!("EC key generation failed"))?
                .as_ref()
                .to_vec()
        }
        SigAlg::RS256 | SigAlg::PS256 => {
            let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| anyhow!("RSA key generation failed"))?;
            kp.as_der()
                .map_err(|_| anyhow!("RSA key encoding failed"))?
                .as_ref()
                .to_vec()
        }
        SigAlg::HS256 => bail!("HS256 keys are client secrets"),
    })
}

impl KeyStore {
    /// A store under `dir` (created if missing).
    pub fn open(dir: &Path, master: MasterKey) -> Result<Self> {
        std::fs::create_dir_all(dir.join("realms"))
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_owned(),
            master,
        })
    }

    /// The master key (also seals client secrets).
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// Path of a realm's ring file.
    pub fn ring_path(&self, realm: &str) -> PathBuf {
        self.dir.join("realms").join(format!("{realm}.json"))
    }

    fn read(&self, realm: &str) -> Result<Ring> {
        let p = self.ring_path(realm);
        if !p.exists() {
            return Ok(Ring {
                version: 1,
                keys: vec![],
            });
        }
        let s = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_str(&s).with_context(|| format!("{} is not a key ring", p.display()))
    }

    fn write(&self, realm: &str, ring: &Ring) -> Result<()> {
        write_private(
            &self.ring_path(realm),
            serde_json::to_string_pretty(ring)?.as_bytes(),
        )
    }

    fn fill(&self, realm: &str, ring: &mut Ring, algs: &[SigAlg], now: i64) -> Result<bool> {
        let missing = ring.missing(algs);
        for (alg, status) in &missing {
            let mut idb = [0u8; 12];
            SystemRandom::new()
                .fill(&mut idb)
                .map_err(|_| anyhow!("no randomness"))?;
            let kid = format!("{}-{}", alg.as_str().to_lowercase(), hex::encode(idb));
            let der = generate(*alg)?;
            ring.keys.push(KeyRecord {
                kid: kid.clone(),
                alg: *alg,
                status: *status,
                created_at: now,
                verify_until: None,
                sealed: self.master.seal(&context(realm, &kid), &der)?,
            });
        }
        Ok(!missing.is_empty())
    }

    /// Makes sure the realm's ring has an active and a next key for each algorithm, creating
    /// the ring on first start; drops expired retired keys.
    pub fn ensure(&self, realm: &str, algs: &[SigAlg], now: i64) -> Result<()> {
        let mut ring = self.read(realm)?;
        let before = ring.keys.len();
        ring.prune(now);
        let added = self.fill(realm, &mut ring, algs, now)?;
        if added || ring.keys.len() != before {
            self.write(realm, &ring)?;
        }
        Ok(())
    }

    /// Rotates a realm's keys: next → active, active → retired for `retain_secs`, new next.
    pub fn rotate(&self, realm: &str, algs: &[SigAlg], now: i64, retain_secs: i64) -> Result<Ring> {
        let mut ring = self.read(realm)?;
        self.fill(realm, &mut ring, algs, now)?;
        ring.rotate(now, retain_secs);
        self.fill(realm, &mut ring, algs, now)?;
        self.write(realm, &ring)?;
        Ok(ring)
    }

    /// Loads and opens a realm's ring.
    pub fn load(&self, realm: &str) -> Result<LoadedRing> {
        let ring = self.read(realm)?;
        let mut active = HashMap::new();
        let mut by_kid = HashMap::new();
        let mut jwks = Vec::new();
        for k in &ring.keys {
            let der = self.master.open(&context(realm, &k.kid), &k.sealed)?;
            let sk = Arc::new(
                SigningKey::from_pkcs8(&k.kid, k.alg, &der)
                    .map_err(|e| anyhow!("{realm}/{}: {e}", k.kid))?,
            );
            jwks.push(sk.public_jwk().clone());
            let dk = sk.decoding_key().map_err(|e| anyhow!("{e}"))?;
            if k.status == KeyStatus::Active {
                active.insert(k.alg, sk.clone());
            }
            by_kid.insert(k.kid.clone(), (sk, dk));
        }
        let verification = Arc::new(VerificationKeys::new(by_kid.iter().map(
            |(kid, (sk, dk)): (&String, &(Arc<SigningKey>, _))| {
                (kid.clone(), sk.alg().to_jwt(), dk.clone())
            },
        )));
        Ok(LoadedRing {
            ring,
            active,
            by_kid,
            verification,
            jwks: serde_json::json!({ "keys": jwks }),
        })
    }

    /// The ring file's modification time, to notice rotations made by another process.
    pub fn modified(&self, realm: &str) -> Option<std::time::SystemTime> {
        std::fs::metadata(self.ring_path(realm))
            .and_then(|m| m.modified())
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_ring_life() {
        let dir = tempfile::tempdir().unwrap();
        let mk = MasterKey::load(dir.path(), None).unwrap();
        let s = mk.seal("ctx", b"hello").unwrap();
        assert_eq!(mk.open("ctx", &s).unwrap(), b"hello");
        assert!(mk.open("other", &s).is_err(), "context is bound");
        let ks = KeyStore::open(dir.path(), MasterKey::load(dir.path(), None).unwrap()).unwrap();
        ks.ensure("r", &[SigAlg::ES256], 0).unwrap();
        let l = ks.load("r").unwrap();
        assert_eq!(l.jwks["keys"].as_array().unwrap().len(), 2);
        let text = std::fs::read_to_string(ks.ring_path("r")).unwrap();
        assert!(!text.contains("PRIVATE"), "no clear key material on disk");
        let old = l.signer(SigAlg::ES256).unwrap().kid().to_owned();
        ks.rotate("r", &[SigAlg::ES256], 10, 100).unwrap();
        let l = ks.load("r").unwrap();
        assert_ne!(l.signer(SigAlg::ES256).unwrap().kid(), old);
        assert!(l.by_kid.contains_key(&old), "retired key still verifies");
        assert_eq!(l.jwks["keys"].as_array().unwrap().len(), 3);
    }
}
