//! The key store, in the database: the master key and sealing of private keys (AES-256-GCM,
//! the key's identity as associated data), realms' signing key rings (one row per version:
//! a rotation adds a version, none is rewritten), keys held for the CA, and the master key's
//! check value (a start with another master key than the one that sealed the stored keys is
//! refused). Nothing here is kept on an instance's disk, except the development master key of
//! the single-node SQLite default. `legacy` reads the key files of earlier versions for
//! `coeur keys migrate`.

use crate::Db;
use crate::store::{Inserted, KeyRows};
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
use std::path::Path;
use std::sync::Arc;

pub mod legacy;

/// The key that seals every private key and sealed secret at rest.
pub struct MasterKey(LessSafeKey);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Loads the master key: `COEUR_MASTER_KEY` (base64 of 32 bytes) if given, otherwise
    /// `<keys_dir>/master.key`, created on first start for development use. A database
    /// instances may share (`shared`: PostgreSQL) needs a given key: each instance would
    /// otherwise generate its own, and none could open what another sealed.
    pub fn load(keys_dir: &Path, from_env: Option<&str>, shared: bool) -> Result<Self> {
        if shared && from_env.is_none() {
            bail!(
                "refusing to use a generated master key with PostgreSQL: set COEUR_MASTER_KEY \
                 (or master_key_file), the same for every instance, to the base64 encoding of 32 \
                 random bytes; a master key generated in the keys directory is for the \
                 single-node SQLite default only"
            );
        }
        Self::from_source(keys_dir, from_env)
    }

    /// A master key from its bytes (tests, tools).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self> {
        let k = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| anyhow!("bad master key"))?;
        Ok(Self(LessSafeKey::new(k)))
    }

    fn from_source(keys_dir: &Path, from_env: Option<&str>) -> Result<Self> {
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

/// Sealing context of the master key's check value.
const CHECK_CONTEXT: &str = "coeur/master-key-check";
/// What the check value seals.
const CHECK_PLAIN: &[u8] = b"coeur master key check value";

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
    /// The ring's version in the store (0: no ring stored).
    pub version: i64,
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

/// The key store: key rings and held keys in the database, sealed under the master key.
pub struct KeyStore {
    rows: KeyRows,
    master: MasterKey,
}

/// Sealing context of a realm's key.
pub(crate) fn ring_context(realm: &str, kid: &str) -> String {
    format!("coeur/ring/{realm}/{kid}")
}

/// Sealing context of a held key.
pub(crate) fn held_context(key_id: &str) -> String {
    format!("coeur/ca/{key_id}")
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

/// How many times a change of a ring is tried again when another instance wrote the same
/// version first.
const ATTEMPTS: usize = 5;

impl KeyStore {
    /// The key store of `db`, sealing with `master`. The first opening of a store records the
    /// master key's check value; later ones refuse another master key than that one.
    pub async fn open(db: &Db, master: MasterKey, now: i64) -> Result<Self> {
        let rows = KeyRows::new(db.clone());
        if rows.master_check().await?.is_none() {
            rows.insert_master_check(&master.seal(CHECK_CONTEXT, CHECK_PLAIN)?, now)
                .await?;
        }
        let stored = rows
            .master_check()
            .await?
            .ok_or_else(|| anyhow!("the master key's check value was not recorded"))?;
        match master.open(CHECK_CONTEXT, &stored) {
            Ok(plain) if plain == CHECK_PLAIN => {}
            _ => bail!(
                "refusing to start: the master key in use is not the one that sealed this \
                 database's keys and secrets (its check value does not open); give the master \
                 key of this deployment (COEUR_MASTER_KEY or master_key_file)"
            ),
        }
        Ok(Self { rows, master })
    }

    /// The master key (also seals client secrets).
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The latest version of a realm's ring (version 0 and no keys when none is stored).
    async fn read(&self, realm: &str) -> Result<(i64, Ring)> {
        match self.rows.latest_ring(realm).await? {
            None => Ok((
                0,
                Ring {
                    version: 1,
                    keys: vec![],
                },
            )),
            Some((v, json)) => Ok((
                v,
                serde_json::from_str(&json)
                    .with_context(|| format!("the stored key ring of {realm} (version {v})"))?,
            )),
        }
    }

    /// The latest version number of a realm's ring (0: none), to notice rotations made by
    /// another instance or process.
    pub async fn version(&self, realm: &str) -> Result<i64> {
        self.rows.ring_version(realm).await
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
                sealed: self.master.seal(&ring_context(realm, &kid), &der)?,
            });
        }
        Ok(!missing.is_empty())
    }

    /// Applies `change` to the latest ring and stores the result as the next version when
    /// `change` says it changed; tried again on the new latest when another instance stored
    /// that version first. Returns the latest version and ring.
    async fn change(
        &self,
        realm: &str,
        now: i64,
        change: impl Fn(&mut Ring) -> Result<bool>,
    ) -> Result<(i64, Ring)> {
        for _ in 0..ATTEMPTS {
            let (v, mut ring) = self.read(realm).await?;
            if !change(&mut ring)? {
                return Ok((v, ring));
            }
            let json = serde_json::to_string(&ring)?;
            match self.rows.insert_ring(realm, v + 1, &json, now).await? {
                Inserted::Written => {
                    tracing::info!(realm, version = v + 1, "key ring version stored");
                    return Ok((v + 1, ring));
                }
                Inserted::Taken => continue,
            }
        }
        bail!("the key ring of {realm} kept changing under this change; try again")
    }

    /// Makes sure the realm's ring has an active and a next key for each algorithm, creating
    /// the ring on first start; drops expired retired keys. Each change is a new version.
    pub async fn ensure(&self, realm: &str, algs: &[SigAlg], now: i64) -> Result<i64> {
        let (v, _) = self
            .change(realm, now, |ring| {
                let before = ring.keys.len();
                ring.prune(now);
                let added = self.fill(realm, ring, algs, now)?;
                Ok(added || ring.keys.len() != before)
            })
            .await?;
        Ok(v)
    }

    /// Rotates a realm's keys: next → active, active → retired for `retain_secs`, new next.
    /// Stored as a new version; returns it with the ring.
    pub async fn rotate(
        &self,
        realm: &str,
        algs: &[SigAlg],
        now: i64,
        retain_secs: i64,
    ) -> Result<(i64, Ring)> {
        self.change(realm, now, |ring| {
            self.fill(realm, ring, algs, now)?;
            ring.rotate(now, retain_secs);
            self.fill(realm, ring, algs, now)?;
            Ok(true)
        })
        .await
    }

    /// Loads and opens the latest version of a realm's ring.
    pub async fn load(&self, realm: &str) -> Result<LoadedRing> {
        let (version, ring) = self.read(realm).await?;
        self.open_ring(realm, version, ring)
    }

    fn open_ring(&self, realm: &str, version: i64, ring: Ring) -> Result<LoadedRing> {
        let mut active = HashMap::new();
        let mut by_kid = HashMap::new();
        let mut jwks = Vec::new();
        for k in &ring.keys {
            let der = self.master.open(&ring_context(realm, &k.kid), &k.sealed)?;
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
            version,
            active,
            by_kid,
            verification,
            jwks: serde_json::json!({ "keys": jwks }),
        })
    }

    /// The private key (PKCS#8 DER) held under `key_id`, latest version; `None` if none is.
    pub async fn held_key(&self, key_id: &str) -> Result<Option<Vec<u8>>> {
        self.rows
            .latest_held_key(key_id)
            .await?
            .map(|(_, sealed)| self.master.open(&held_context(key_id), &sealed))
            .transpose()
    }

    /// Holds `der` under `key_id` as its first version, unless a key is held there already
    /// (another instance's, made at the same moment): returns the key held, which every
    /// instance then uses.
    pub async fn hold_first_key(&self, key_id: &str, der: &[u8], now: i64) -> Result<Vec<u8>> {
        let sealed = self.master.seal(&held_context(key_id), der)?;
        self.rows.insert_held_key(key_id, 1, &sealed, now).await?;
        self.held_key(key_id)
            .await?
            .ok_or_else(|| anyhow!("the key {key_id} was not held"))
    }

    /// The repository, for the migration of key files.
    pub(crate) fn rows(&self) -> &KeyRows {
        &self.rows
    }
}

#[cfg(test)]
mod tests;
