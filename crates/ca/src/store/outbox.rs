//! The LDAP publication outbox: rows written in the transaction of the change they announce, read
//! and marked by the publisher, summarised for `coeur ldap status` and `/metrics`.

use super::{CaStore as Store, CaTx};
use anyhow::Result;
use coeur_storage::db::limit_clause;
use sqlx::Row as _;

/// What a row asks the publisher to bring up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An end-entity certificate: present on its holder entries while valid, absent otherwise.
    Cert,
    /// A CA's full CRL.
    Crl,
    /// A CA's delta CRL.
    DeltaCrl,
    /// A CA's certificate.
    CaCert,
}

impl Kind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Cert => "cert",
            Kind::Crl => "crl",
            Kind::DeltaCrl => "delta_crl",
            Kind::CaCert => "ca_cert",
        }
    }
    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "cert" => Kind::Cert,
            "crl" => Kind::Crl,
            "delta_crl" => Kind::DeltaCrl,
            "ca_cert" => Kind::CaCert,
            _ => return None,
        })
    }
}

async fn insert(
    tx: &mut CaTx,
    id: &str,
    kind: Kind,
    ca_id: &str,
    serial: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO ldap_outbox (id, kind, ca_id, serial, created_at, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 0, $5) ON CONFLICT (id) DO NOTHING")
        .bind(id)
        .bind(kind.as_str())
        .bind(ca_id)
        .bind(serial)
        .bind(now)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Announces an issued certificate (inside the issuance transaction).
pub async fn enqueue_issue(tx: &mut CaTx, ca_id: &str, serial: &str, now: i64) -> Result<()> {
    let id = format!("issue:{ca_id}/{serial}");
    insert(tx, &id, Kind::Cert, ca_id, Some(serial), now).await
}

/// Announces issued certificates (inside the transaction that commits them together).
pub async fn enqueue_issues(tx: &mut CaTx, issued: &[(&str, &str)], now: i64) -> Result<()> {
    if issued.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..issued.len())
        .map(|i| {
            let n = i * 3 + 1;
            format!("(${n}, 'cert', ${}, ${}, $0, 0, $0)", n + 1, n + 2)
        })
        .collect();
    let last = issued.len() * 3 + 1;
    let sql = format!(
        "INSERT INTO ldap_outbox (id, kind, ca_id, serial, created_at, attempts, next_attempt_at) \
         VALUES {} ON CONFLICT (id) DO NOTHING",
        rows.join(", ").replace("$0", &format!("${last}"))
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (ca_id, serial) in issued {
        q = q
            .bind(format!("issue:{ca_id}/{serial}"))
            .bind(*ca_id)
            .bind(*serial);
    }
    q.bind(now).execute(tx.conn()).await?;
    Ok(())
}

/// Announces a revocation (inside the revocation transaction).
pub async fn enqueue_revoke(tx: &mut CaTx, ca_id: &str, serial: &str, now: i64) -> Result<()> {
    let id = format!("revoke:{ca_id}/{serial}");
    insert(tx, &id, Kind::Cert, ca_id, Some(serial), now).await
}

/// Announces a CRL (full or delta) recorded in `crls` (inside that transaction).
pub async fn enqueue_crl(
    tx: &mut CaTx,
    ca_id: &str,
    number: u64,
    delta: bool,
    now: i64,
) -> Result<()> {
    let id = format!("crl:{ca_id}/{number}");
    let kind = if delta { Kind::DeltaCrl } else { Kind::Crl };
    insert(tx, &id, kind, ca_id, None, now).await
}

/// Announces a CA certificate (inside the transaction that stores it).
pub async fn enqueue_ca_cert(tx: &mut CaTx, ca_id: &str, der: &[u8], now: i64) -> Result<()> {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    let id = format!("ca:{ca_id}/{}", hex::encode(&d.as_ref()[..16]));
    insert(tx, &id, Kind::CaCert, ca_id, None, now).await
}

/// A pending row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// CA.
    pub ca_id: String,
    /// Serial (certificates).
    pub serial: Option<String>,
    /// Failed attempts so far.
    pub attempts: i64,
    /// When it was written.
    pub created_at: i64,
}

/// Due rows, oldest first.
pub async fn due(store: &Store, now: i64, limit: i64) -> Result<Vec<Row>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, kind, ca_id, serial, attempts, created_at FROM ldap_outbox WHERE done_at IS \
         NULL AND next_attempt_at <= $1 ORDER BY created_at, id{}",
        limit_clause(limit)
    )))
    .bind(now)
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = r.try_get("kind")?;
        let Some(kind) = Kind::parse(&kind) else {
            tracing::warn!(kind = %kind, "unknown outbox row kind; skipped");
            continue;
        };
        out.push(Row {
            id: r.try_get("id")?,
            kind,
            ca_id: r.try_get("ca_id")?,
            serial: r.try_get("serial")?,
            attempts: r.try_get("attempts")?,
            created_at: r.try_get("created_at")?,
        });
    }
    Ok(out)
}

/// Marks rows delivered.
pub async fn mark_done(store: &Store, ids: &[String], now: i64) -> Result<()> {
    for chunk in ids.chunks(500) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "UPDATE ldap_outbox SET done_at = $1, last_error = NULL WHERE done_at IS NULL AND id IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(store.pool()).await?;
    }
    Ok(())
}

/// Records a failed delivery of a row: it is tried again after `retry_at`.
pub async fn mark_failed(store: &Store, id: &str, retry_at: i64, error: &str) -> Result<()> {
    sqlx::query("UPDATE ldap_outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3 AND done_at IS NULL")
        .bind(retry_at)
        .bind(error)
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Makes every pending row due now (after the directory came back, or on demand).
pub async fn retry_all_now(store: &Store, now: i64) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE ldap_outbox SET next_attempt_at = $1 WHERE done_at IS NULL AND next_attempt_at > $1",
    )
    .bind(now)
    .execute(store.pool())
    .await?
    .rows_affected())
}

/// Forgets delivered rows older than `before`.
pub async fn purge_done(store: &Store, before: i64) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM ldap_outbox WHERE done_at IS NOT NULL AND done_at < $1")
            .bind(before)
            .execute(store.pool())
            .await?
            .rows_affected(),
    )
}

/// The queue at a glance.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct QueueStatus {
    /// Rows not delivered yet.
    pub pending: i64,
    /// Creation time of the oldest of them.
    pub oldest_pending_at: Option<i64>,
    /// Pending rows that failed at least once.
    pub failing: i64,
    /// The most recent row error: (row id, attempts, error).
    pub last_row_error: Option<(String, i64, String)>,
    /// Rows delivered in the last hour.
    pub done_last_hour: i64,
    /// The publisher: (holder, lease expiry, target, last success, last error, its time,
    /// failures).
    pub publisher: Option<PublisherStatus>,
}

/// The publisher's health row.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PublisherStatus {
    /// Which process holds the lease.
    pub holder: String,
    /// Lease expiry.
    pub expires_at: i64,
    /// The directory it writes to.
    pub target: String,
    /// Last successful delivery.
    pub last_success_at: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// When.
    pub last_error_at: Option<i64>,
    /// Failures counted so far.
    pub failures: i64,
}

/// Reads the queue status.
pub async fn status(store: &Store, now: i64) -> Result<QueueStatus> {
    let r = sqlx::query("SELECT COUNT(*) AS n, MIN(created_at) AS oldest, SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) AS failing FROM ldap_outbox WHERE done_at IS NULL")
        .fetch_one(store.pool())
        .await?;
    let pending: i64 = r.try_get("n")?;
    let oldest: Option<i64> = r.try_get("oldest")?;
    let failing: Option<i64> = r.try_get("failing")?;
    let last = sqlx::query("SELECT id, attempts, last_error FROM ldap_outbox WHERE done_at IS NULL AND last_error IS NOT NULL ORDER BY next_attempt_at DESC, id LIMIT 1")
        .fetch_optional(store.pool())
        .await?;
    let last_row_error = match last {
        Some(r) => Some((
            r.try_get("id")?,
            r.try_get("attempts")?,
            r.try_get::<Option<String>, _>("last_error")?
                .unwrap_or_default(),
        )),
        None => None,
    };
    let done_last_hour: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM ldap_outbox WHERE done_at IS NOT NULL AND done_at >= $1",
    )
    .bind(now - 3600)
    .fetch_one(store.pool())
    .await?
    .try_get("n")?;
    let p = sqlx::query("SELECT holder, expires_at, target, last_success_at, last_error, last_error_at, failures FROM ldap_publisher WHERE name = 'default'")
        .fetch_optional(store.pool())
        .await?;
    let publisher = match p {
        Some(r) => Some(PublisherStatus {
            holder: r.try_get("holder")?,
            expires_at: r.try_get("expires_at")?,
            target: r.try_get("target")?,
            last_success_at: r.try_get("last_success_at")?,
            last_error: r.try_get("last_error")?,
            last_error_at: r.try_get("last_error_at")?,
            failures: r.try_get("failures")?,
        }),
        None => None,
    };
    Ok(QueueStatus {
        pending,
        oldest_pending_at: oldest,
        failing: failing.unwrap_or(0),
        last_row_error,
        done_last_hour,
        publisher,
    })
}

/// Takes or renews the publisher lease; false when another process holds it.
pub async fn take_lease(
    store: &Store,
    holder: &str,
    target: &str,
    now: i64,
    ttl: i64,
) -> Result<bool> {
    sqlx::query("INSERT INTO ldap_publisher (name, holder, expires_at, target, failures) VALUES ('default', $1, $2, $3, 0) ON CONFLICT (name) DO NOTHING")
        .bind(holder)
        .bind(now + ttl)
        .bind(target)
        .execute(store.pool())
        .await?;
    let r = sqlx::query("UPDATE ldap_publisher SET holder = $1, expires_at = $2, target = $3 WHERE name = 'default' AND (holder = $1 OR expires_at < $4)")
        .bind(holder)
        .bind(now + ttl)
        .bind(target)
        .bind(now)
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Gives the lease up (on shutdown).
pub async fn release_lease(store: &Store, holder: &str) -> Result<()> {
    sqlx::query("UPDATE ldap_publisher SET expires_at = 0 WHERE name = 'default' AND holder = $1")
        .bind(holder)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Records the publisher's health.
pub async fn record_health(
    store: &Store,
    holder: &str,
    now: i64,
    error: Option<&str>,
) -> Result<()> {
    match error {
        None => {
            sqlx::query("UPDATE ldap_publisher SET last_success_at = $1 WHERE name = 'default' AND holder = $2")
                .bind(now)
                .bind(holder)
                .execute(store.pool())
                .await?;
        }
        Some(e) => {
            sqlx::query("UPDATE ldap_publisher SET last_error = $1, last_error_at = $2, failures = failures + 1 WHERE name = 'default' AND holder = $3")
                .bind(e)
                .bind(now)
                .bind(holder)
                .execute(store.pool())
                .await?;
        }
    }
    Ok(())
}
