//! The key files of earlier versions, moved into the store by `coeur keys migrate`: realms'
//! rings (`<keys>/realms/<realm>.json`) and the CA's keys (`<keys>/ca/<id>.key`), sealed
//! under the same master key with the same associated data as in the store, so they move as
//! they are. Everything is read and opened before anything is written: a file that does not
//! open (another master key, an altered file) or a store holding something else under the
//! same name stops the migration with nothing written. A second run finds everything there
//! and writes nothing.

use super::{KeyStore, held_context, ring_context};
use crate::store::Inserted;
use anyhow::{Context, Result, anyhow, bail};
use coeur_oauth::keyring::Ring;
use std::path::{Path, PathBuf};

/// One key file of an earlier version.
#[derive(Debug)]
enum KeyFile {
    /// A realm's ring.
    Ring {
        path: PathBuf,
        realm: String,
        ring: Ring,
    },
    /// A held key (CA, OCSP responder, TLS).
    Held {
        path: PathBuf,
        key_id: String,
        sealed: String,
    },
}

/// What a migration did with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The file.
    pub path: PathBuf,
    /// What it holds: `ring <realm>` or `key <id>`.
    pub what: String,
    /// Whether it was written now (else the store already held it).
    pub written: bool,
}

/// The files of `dir` with their stem, sorted.
fn files(dir: &Path, ext: &str) -> Result<Vec<(PathBuf, String)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut out = vec![];
    for entry in rd {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(ext) {
            continue;
        }
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            out.push((path.clone(), stem.to_owned()));
        }
    }
    out.sort();
    Ok(out)
}

/// Every key file under `keys_dir`, read (not yet opened).
fn read_all(keys_dir: &Path) -> Result<Vec<KeyFile>> {
    let mut out = vec![];
    for (path, realm) in files(&keys_dir.join("realms"), "json")? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let ring: Ring = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a key ring", path.display()))?;
        out.push(KeyFile::Ring { path, realm, ring });
    }
    for (path, key_id) in files(&keys_dir.join("ca"), "key")? {
        let sealed = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .trim()
            .to_owned();
        out.push(KeyFile::Held {
            path,
            key_id,
            sealed,
        });
    }
    Ok(out)
}

/// The key files under `keys_dir` whose key the store does not hold yet: a start with them
/// would make new keys beside them, so it is refused until they are migrated.
pub async fn pending(keys_dir: &Path, store: &KeyStore) -> Result<Vec<PathBuf>> {
    let mut out = vec![];
    for f in read_all(keys_dir)? {
        match f {
            KeyFile::Ring { path, realm, .. } => {
                if store.rows().ring_version(&realm).await? == 0 {
                    out.push(path);
                }
            }
            KeyFile::Held { path, key_id, .. } => {
                if store.rows().latest_held_key(&key_id).await?.is_none() {
                    out.push(path);
                }
            }
        }
    }
    Ok(out)
}

/// Refuses a start while key files under `keys_dir` are not in the store.
pub async fn refuse_pending(keys_dir: &Path, store: &KeyStore) -> Result<()> {
    let left = pending(keys_dir, store).await?;
    if let Some(first) = left.first() {
        bail!(
            "refusing to start: {} key file(s) of an earlier version are not in the database \
             yet ({} first); run `coeur keys migrate` once, then start again",
            left.len(),
            first.display()
        );
    }
    Ok(())
}

/// Moves the key files under `keys_dir` into the store (see the module's documentation).
pub async fn migrate(keys_dir: &Path, store: &KeyStore, now: i64) -> Result<Vec<Moved>> {
    let all = read_all(keys_dir)?;
    // First: every file opens, and the store holds nothing else under its name.
    let mut plan = vec![];
    for f in &all {
        match f {
            KeyFile::Ring { path, realm, ring } => {
                for k in &ring.keys {
                    store
                        .master
                        .open(&ring_context(realm, &k.kid), &k.sealed)
                        .with_context(|| format!("{}: key {}", path.display(), k.kid))?;
                }
                let there = match store.rows().latest_ring(realm).await? {
                    None => false,
                    Some((v, json)) => {
                        let stored: Ring = serde_json::from_str(&json)?;
                        if stored != *ring {
                            bail!(
                                "{}: the database already holds another key ring for realm \
                                 {realm} (version {v}, made by a start before the migration?); \
                                 nothing was migrated",
                                path.display()
                            );
                        }
                        true
                    }
                };
                plan.push((f, there));
            }
            KeyFile::Held {
                path,
                key_id,
                sealed,
            } => {
                let der = store
                    .master
                    .open(&held_context(key_id), sealed)
                    .with_context(|| path.display().to_string())?;
                let there = match store.held_key(key_id).await? {
                    None => false,
                    Some(stored) if stored == der => true,
                    Some(_) => bail!(
                        "{}: the database already holds another key {key_id}; nothing was \
                         migrated",
                        path.display()
                    ),
                };
                plan.push((f, there));
            }
        }
    }
    // Then the writes, each a first version (a concurrent run writes the same values).
    let mut out = vec![];
    for (f, there) in plan {
        let (path, what) = match f {
            KeyFile::Ring { path, realm, ring } => {
                if !there {
                    let json = serde_json::to_string(ring)?;
                    if store.rows().insert_ring(realm, 1, &json, now).await? == Inserted::Taken {
                        return Err(anyhow!(
                            "the key ring of {realm} was written by someone else meanwhile; run \
                             the migration again"
                        ));
                    }
                }
                (path, format!("ring {realm}"))
            }
            KeyFile::Held {
                path,
                key_id,
                sealed,
            } => {
                if !there {
                    store.rows().insert_held_key(key_id, 1, sealed, now).await?;
                }
                (path, format!("key {key_id}"))
            }
        };
        out.push(Moved {
            path: path.clone(),
            what,
            written: !there,
        });
    }
    Ok(out)
}
