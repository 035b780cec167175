//! CRLs: built from the store in one streaming pass, numbered in the store, written to disk.

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

impl Ca {
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
}
