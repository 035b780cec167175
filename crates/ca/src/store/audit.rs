//! The chained audit log: each record carries the hash of the previous one.

use super::{CaStore, CaTx, consecutive, is_conflict, multi_row_insert};
use anyhow::{Result, bail};
use coeur_pki::audit::{self, AuditRecord};
use futures_util::TryStreamExt as _;
use sqlx::Row as _;

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

impl CaStore {
    /// Appends one record in its own transaction, retried when a concurrent append took its
    /// sequence number.
    pub async fn append_audit(&self, entry: &AuditEntry<'_>) -> Result<()> {
        for _ in 0..10 {
            let mut tx = self.begin().await?;
            match tx.append_audit(std::slice::from_ref(entry)).await {
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

    /// Verifies the whole chain; returns the number of records, or the first broken link.
    pub async fn verify_audit(&self) -> Result<Result<i64, i64>> {
        let mut rows = sqlx::query(
            "SELECT seq, at, action, subject, actor, details, prev_hash, hash FROM audit_log \
             ORDER BY seq",
        )
        .fetch(self.pool());
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
}

impl CaTx {
    /// Appends records to the audit chain, in order (a concurrent append makes the insert fail
    /// on the sequence's primary key; the caller retries).
    pub async fn append_audit(&mut self, records: &[AuditEntry<'_>]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        // Appends are serialised: on PostgreSQL with a transaction-scoped advisory lock
        // (released at commit or rollback); SQLite serialises writers by itself.
        if self.conn().backend_name() == "PostgreSQL" {
            sqlx::query("SELECT pg_advisory_xact_lock(7305847240)")
                .execute(self.conn())
                .await?;
        }
        let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(self.conn())
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
        q.execute(self.conn()).await?;
        Ok(())
    }
}
