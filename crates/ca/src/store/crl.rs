//! CRL numbering (`crls`) and the revoked entries CRLs list.

use super::{CaStore, CaTx, outbox};
use crate::ca::decode_serial;
use anyhow::{Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coeur_pki::revocation::{Reason, Revoked};
use coeur_storage::db::limit_clause;
use sqlx::Row as _;

/// Rows per page when reading revoked entries.
const REVOKED_PAGE: i64 = 50_000;

/// A CRL to record.
#[derive(Debug, Clone, Copy)]
pub struct CrlRecord<'a> {
    /// Issuing CA.
    pub ca_id: &'a str,
    /// CRL number.
    pub number: u64,
    /// For a delta CRL, the number of its base.
    pub delta_base: Option<u64>,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
    /// Entries listed.
    pub entries: u64,
}

impl CaStore {
    /// The number and nextUpdate of a CA's latest full CRL.
    pub async fn last_full_crl(&self, ca_id: &str) -> Result<Option<(i64, i64)>> {
        Ok(sqlx::query(
            "SELECT number, next_update FROM crls WHERE ca_id = $1 AND delta_base IS NULL ORDER \
             BY number DESC LIMIT 1",
        )
        .bind(ca_id)
        .fetch_optional(self.pool())
        .await?
        .map(|r| {
            (
                r.try_get("number").unwrap_or(0),
                r.try_get("next_update").unwrap_or(0),
            )
        }))
    }

    /// The highest CRL number of a CA (0 before its first CRL).
    pub async fn max_crl_number(&self, ca_id: &str) -> Result<u64> {
        let n: i64 = sqlx::query("SELECT COALESCE(MAX(number), 0) AS n FROM crls WHERE ca_id = $1")
            .bind(ca_id)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Calls `f` with every certificate of `ca_id` revoked at or after `since`, and returns how
    /// many there were. The rows are read in one snapshot (a read transaction, REPEATABLE READ on
    /// PostgreSQL), in pages of [`REVOKED_PAGE`] by serial, each page aggregated by the database
    /// into one string: one row per page instead of one per entry, because handing rows one by
    /// one from sqlx's SQLite worker to the task dominated the build of large CRLs.
    pub async fn for_each_revoked(
        &self,
        ca_id: &str,
        since: i64,
        mut f: impl FnMut(Revoked) -> Result<()>,
    ) -> Result<u64> {
        let sql = if self.is_sqlite() {
            format!(
                "SELECT group_concat(serial || ',' || revoked_at || ',' || COALESCE(reason, 0), ';') AS \
             page, MAX(serial) AS last, COUNT(*) AS n FROM (SELECT serial, revoked_at, reason FROM \
             certificates WHERE ca_id = $1 AND revoked_at IS NOT NULL AND revoked_at >= $2 AND \
             serial > $3 ORDER BY serial{}) page_rows",
                limit_clause(REVOKED_PAGE)
            )
        } else {
            format!(
                "SELECT string_agg(serial || ',' || revoked_at || ',' || COALESCE(reason, 0), ';') AS \
             page, MAX(serial) AS last, COUNT(*) AS n FROM (SELECT serial, revoked_at, reason FROM \
             certificates WHERE ca_id = $1 AND revoked_at IS NOT NULL AND revoked_at >= $2 AND \
             serial > $3 ORDER BY serial{}) page_rows",
                limit_clause(REVOKED_PAGE)
            )
        };
        let mut tx = self.begin().await?;
        if !self.is_sqlite() {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(tx.conn())
                .await?;
        }
        let mut after = String::new();
        let mut count = 0u64;
        loop {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(ca_id)
                .bind(since)
                .bind(&after)
                .fetch_one(tx.conn())
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
}

impl CaStore {
    /// The number of the latest CRL document of a CA (full, or delta) the store holds.
    pub async fn crl_document_number(&self, ca_id: &str, delta: bool) -> Result<Option<u64>> {
        let n: Option<i64> = sqlx::query(
            "SELECT MAX(number) AS n FROM crl_documents WHERE ca_id = $1 AND delta = $2",
        )
        .bind(ca_id)
        .bind(i64::from(delta))
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        Ok(n.and_then(|n| u64::try_from(n).ok()))
    }

    /// The latest CRL document of a CA (full, or delta): its number and DER.
    pub async fn crl_document(&self, ca_id: &str, delta: bool) -> Result<Option<(u64, Vec<u8>)>> {
        let Some(row) = sqlx::query(
            "SELECT number, der FROM crl_documents WHERE ca_id = $1 AND delta = $2 ORDER BY \
             number DESC LIMIT 1",
        )
        .bind(ca_id)
        .bind(i64::from(delta))
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let number: i64 = row.try_get("number")?;
        let der: String = row.try_get("der")?;
        Ok(Some((u64::try_from(number)?, STANDARD.decode(der)?)))
    }
}

impl CaTx {
    /// Stores a CRL as signed (numbered by [`CaTx::claim_crl`] in the same transaction) and
    /// drops the older documents of its kind (`crls` keeps their numbers).
    pub async fn put_crl_document(
        &mut self,
        ca_id: &str,
        delta: bool,
        number: u64,
        der: &[u8],
    ) -> Result<()> {
        let number = i64::try_from(number)?;
        sqlx::query(
            "INSERT INTO crl_documents (ca_id, delta, number, der) VALUES ($1, $2, $3, $4)",
        )
        .bind(ca_id)
        .bind(i64::from(delta))
        .bind(number)
        .bind(STANDARD.encode(der))
        .execute(self.conn())
        .await?;
        sqlx::query("DELETE FROM crl_documents WHERE ca_id = $1 AND delta = $2 AND number < $3")
            .bind(ca_id)
            .bind(i64::from(delta))
            .bind(number)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Claims a CRL number and announces the CRL to the LDAP publisher; of two processes
    /// claiming the same number, the second fails on the primary key.
    pub async fn claim_crl(&mut self, crl: &CrlRecord<'_>, now: i64) -> Result<()> {
        let big = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO crls (ca_id, number, delta_base, this_update, next_update, entries) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(crl.ca_id)
        .bind(big(crl.number))
        .bind(crl.delta_base.map(big))
        .bind(crl.this_update)
        .bind(crl.next_update)
        .bind(big(crl.entries))
        .execute(self.conn())
        .await?;
        outbox::enqueue_crl(self, crl.ca_id, crl.number, crl.delta_base.is_some(), now).await
    }
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
