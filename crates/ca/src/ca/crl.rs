//! CRLs: built from the store in one streaming pass (scratch files in the CRL directory),
//! numbered in the store and kept there, so that every instance serves and publishes the same
//! documents.

use super::*;
use coeur_pki::revocation;

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

impl Ca {
    /// The CRL of `ca_id` (full, or the delta), current: built first if missing, stale, or
    /// after a revocation; read from the store (and kept in memory until a newer one is
    /// stored).
    pub async fn current_crl(
        &self,
        store: &CaStore,
        ca_id: &str,
        delta: bool,
        now: i64,
    ) -> Result<Arc<Vec<u8>>, CaError> {
        self.ca(ca_id)?;
        let _g = self.crl_lock.lock().await;
        let dirty = self
            .crl_dirty
            .lock()
            .map(|d| d.get(ca_id).copied().unwrap_or(false))
            .unwrap_or(true);
        let last = store.last_full_crl(ca_id).await?;
        let stale = last.is_none_or(|(_, next)| next - CRL_LIFETIME / 2 <= now)
            || store.crl_document_number(ca_id, false).await?.is_none()
            || store.crl_document_number(ca_id, true).await?.is_none();
        if dirty || stale {
            self.build_crls(store, ca_id, now).await?;
            if let Ok(mut d) = self.crl_dirty.lock() {
                d.insert(ca_id.to_owned(), false);
            }
        }
        self.stored_crl(store, ca_id, delta)
            .await?
            .ok_or_else(|| CaError::Internal(anyhow!("no CRL of {ca_id} in the store")))
    }

    /// The latest CRL of `ca_id` the store holds (full, or the delta), as built by any
    /// instance; `None` before the first.
    pub async fn stored_crl(
        &self,
        store: &CaStore,
        ca_id: &str,
        delta: bool,
    ) -> Result<Option<Arc<Vec<u8>>>> {
        let Some(number) = store.crl_document_number(ca_id, delta).await? else {
            return Ok(None);
        };
        let key = (ca_id.to_owned(), delta);
        if let Ok(c) = self.crl_cache.lock()
            && let Some((n, der)) = c.get(&key)
            && *n == number
        {
            return Ok(Some(der.clone()));
        }
        let Some((number, der)) = store.crl_document(ca_id, delta).await? else {
            return Ok(None);
        };
        let der = Arc::new(der);
        if let Ok(mut c) = self.crl_cache.lock() {
            c.insert(key, (number, der.clone()));
        }
        Ok(Some(der))
    }

    /// Builds a full CRL and its delta, streaming revoked entries from the store.
    pub async fn build_crls(
        &self,
        store: &CaStore,
        ca_id: &str,
        now: i64,
    ) -> Result<(u64, u64), CaError> {
        let ca = self.ca(ca_id)?.clone();
        let full_no = store.max_crl_number(ca_id).await? + 1;
        let n_full = self.write_crl(store, &ca, full_no, None, None, now).await?;
        // The delta lists what was revoked since this full CRL: nothing yet; it grows with each
        // rebuild until the next full CRL.
        let delta_no = full_no + 1;
        let n_delta = self
            .write_crl(store, &ca, delta_no, Some(full_no), Some(now), now)
            .await?;
        Ok((n_full, n_delta))
    }

    /// Builds one CRL (full, or delta when `delta_base` is set) listing what was revoked since
    /// `since` (everything when `None`), claims its number and stores the document.
    /// Returns the number of entries.
    async fn write_crl(
        &self,
        store: &CaStore,
        ca: &CaRt,
        number: u64,
        delta_base: Option<u64>,
        since: Option<i64>,
        now: i64,
    ) -> Result<u64, CaError> {
        let spec = self.crl_spec(ca, number, delta_base, now);
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
        let tmp = self
            .crl_dir
            .join(format!(".{}-{number}-{unique}.tmp", ca.def.id));
        let _cleanup = RemoveOnDrop(vec![body_path.clone(), tmp.clone()]);
        let since = since.unwrap_or(i64::MIN);
        let (total, count) = write_body(store, &ca.def.id, since, &body_path).await?;
        let (prefix, suffix) = revocation::tbs_parts(&spec, total);
        let tbs_hash = hash_tbs(ca.key.digest_alg(), &prefix, &body_path, total, &suffix)?;
        let tbs_len = prefix.len() + total + suffix.len();
        let sig = ca.key.sign_digest(&tbs_hash).map_err(|e| anyhow!(e))?;
        let (head, tail) = revocation::certificate_list_parts(tbs_len, &spec.sig_alg_der, &sig);
        write_crl_file(&tmp, [&head, &prefix], &body_path, [&suffix, &tail])?;
        let der = std::fs::read(&tmp).map_err(anyhow::Error::from)?;
        // The CRL's number is claimed with its document in one transaction: of two instances
        // building the same number, the second fails on the primary key and stores nothing.
        let mut tx = store.begin().await?;
        tx.claim_crl(
            &CrlRecord {
                ca_id: &ca.def.id,
                number,
                delta_base,
                this_update: now,
                next_update: now + CRL_LIFETIME,
                entries: count,
            },
            now,
        )
        .await?;
        tx.put_crl_document(&ca.def.id, delta_base.is_some(), number, &der)
            .await?;
        tx.commit().await?;
        Ok(count)
    }

    /// What a CRL of `ca` says besides its entries.
    fn crl_spec(&self, ca: &CaRt, number: u64, delta_base: Option<u64>, now: i64) -> CrlSpec {
        CrlSpec {
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
        }
    }
}

/// Writes the DER entries of the certificates of `ca_id` revoked since `since` to `path`.
/// Returns (bytes written, entries).
async fn write_body(store: &CaStore, ca_id: &str, since: i64, path: &Path) -> Result<(usize, u64)> {
    let mut body = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut total = 0usize;
    let count = store
        .for_each_revoked(ca_id, since, |r| {
            let e = revocation::entry_der(&r);
            total += e.len();
            body.write_all(&e)?;
            Ok(())
        })
        .await?;
    body.flush()?;
    Ok((total, count))
}

/// The digest of the TBS: `prefix`, the body file (which must still be `total` bytes long),
/// `suffix`.
fn hash_tbs(
    alg: &'static digest::Algorithm,
    prefix: &[u8],
    body_path: &Path,
    total: usize,
    suffix: &[u8],
) -> Result<digest::Digest> {
    use std::io::Read as _;
    let mut ctx = digest::Context::new(alg);
    ctx.update(prefix);
    let mut f = std::fs::File::open(body_path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut read = 0usize;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        read += n;
        ctx.update(&buf[..n]);
    }
    if read != total {
        bail!("the CRL body file changed while it was read ({read} bytes, {total} written)");
    }
    ctx.update(suffix);
    Ok(ctx.finish())
}

/// Writes and syncs the CRL file: `before`, the body file, `after`.
fn write_crl_file(
    path: &Path,
    before: [&[u8]; 2],
    body_path: &Path,
    after: [&[u8]; 2],
) -> Result<()> {
    let mut o = std::io::BufWriter::new(std::fs::File::create(path)?);
    for part in before {
        o.write_all(part)?;
    }
    std::io::copy(&mut std::fs::File::open(body_path)?, &mut o)?;
    for part in after {
        o.write_all(part)?;
    }
    o.flush()?;
    o.get_ref().sync_all()?;
    Ok(())
}
