//! CA certificates (`ca_certs`) and issued certificates (`certificates`): lookups, listings,
//! revocation.

use super::{AuditEntry, CaStore, CaTx, b64, outbox, unb64};
use anyhow::Result;
use coeur_pki::revocation::Reason;
use coeur_storage::db::{limit_clause, limit_rounded_up};
use sqlx::Row as _;

/// A stored certificate, as LDAP delivery needs it.
#[derive(Debug, Clone)]
pub struct StoredCert {
    /// Its profile.
    pub profile: String,
    /// DER.
    pub der: Vec<u8>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Expiry.
    pub not_after: i64,
}

fn stored_cert(r: &sqlx::any::AnyRow) -> Result<StoredCert> {
    Ok(StoredCert {
        profile: r.try_get("profile")?,
        der: unb64(&r.try_get::<String, _>("der")?)?,
        revoked_at: r.try_get("revoked_at")?,
        not_after: r.try_get("not_after")?,
    })
}

/// A certificate as listed by the API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateSummary {
    // Fields in alphabetical order: the listing's JSON keys keep the order they always had.
    /// Issuing CA.
    pub ca: String,
    /// When it was issued.
    pub issued_at: i64,
    /// End of validity.
    pub not_after: i64,
    /// Start of validity.
    pub not_before: i64,
    /// Profile.
    pub profile: String,
    /// Why it was revoked (absent when not revoked or unknown).
    pub reason: Option<Reason>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Serial (stored form).
    pub serial: String,
    /// Subject DN, as text.
    pub subject: String,
}

/// Which certificates to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListFilter<'a> {
    /// Issuing CA.
    pub ca: Option<&'a str>,
    /// Profile.
    pub profile: Option<&'a str>,
    /// Text the subject contains.
    pub subject_contains: Option<&'a str>,
    /// At most this many (clamped to 1..=1000).
    pub limit: i64,
}

/// What a revocation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// Revoked now.
    Revoked,
    /// It already was: nothing changed.
    AlreadyRevoked,
    /// No such certificate: nothing changed.
    NotFound,
}

impl CaStore {
    /// A CA certificate (or one of coeur's own certificates) by id.
    pub async fn ca_cert(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT der FROM ca_certs WHERE ca_id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| unb64(&r.try_get::<String, _>("der")?))
            .transpose()
    }

    /// Stores (or replaces) a certificate under `id`, not announced to the directory (OCSP
    /// responders, coeur's own HTTPS certificates).
    pub async fn put_ca_cert(&self, id: &str, hierarchy: &str, der: &[u8], now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.put_ca_cert(id, hierarchy, der, now).await?;
        tx.commit().await
    }

    /// Stores (or replaces) a CA certificate and announces it to the LDAP publisher, in one
    /// transaction.
    pub async fn put_published_ca_cert(
        &self,
        id: &str,
        hierarchy: &str,
        der: &[u8],
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.put_ca_cert(id, hierarchy, der, now).await?;
        outbox::enqueue_ca_cert(&mut tx, id, der, now).await?;
        tx.commit().await
    }

    /// An issued certificate's DER.
    pub async fn certificate_der(&self, ca_id: &str, serial: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT der FROM certificates WHERE ca_id = $1 AND serial = $2")
            .bind(ca_id)
            .bind(serial)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| unb64(&r.try_get::<String, _>("der")?))
            .transpose()
    }

    /// A certificate's revocation state: `None` for an unknown certificate, `Some(None)` for a
    /// valid one, `Some(Some((time, reason)))` for a revoked one.
    pub async fn revocation_state(
        &self,
        ca_id: &str,
        serial: &str,
    ) -> Result<Option<Option<(i64, Reason)>>> {
        let row = sqlx::query(
            "SELECT revoked_at, reason FROM certificates WHERE ca_id = $1 AND serial = $2",
        )
        .bind(ca_id)
        .bind(serial)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let Some(at) = r.try_get::<Option<i64>, _>("revoked_at")? else {
            return Ok(Some(None));
        };
        let code = r.try_get::<Option<i64>, _>("reason")?.unwrap_or(0);
        Ok(Some(Some((
            at,
            Reason::from_code(code).unwrap_or(Reason::Unspecified),
        ))))
    }

    /// Revokes a certificate: its row, its audit record and its LDAP outbox row in one
    /// transaction. Nothing changes unless it was valid.
    pub async fn revoke(
        &self,
        ca_id: &str,
        serial: &str,
        reason: Reason,
        actor: &str,
        now: i64,
    ) -> Result<RevokeOutcome> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "UPDATE certificates SET revoked_at = $1, reason = $2 WHERE ca_id = $3 AND serial = \
             $4 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(i64::from(reason.code()))
        .bind(ca_id)
        .bind(serial)
        .execute(tx.conn())
        .await?;
        if r.rows_affected() != 1 {
            let exists =
                sqlx::query("SELECT 1 AS x FROM certificates WHERE ca_id = $1 AND serial = $2")
                    .bind(ca_id)
                    .bind(serial)
                    .fetch_optional(tx.conn())
                    .await?;
            return Ok(if exists.is_some() {
                RevokeOutcome::AlreadyRevoked
            } else {
                RevokeOutcome::NotFound
            });
        }
        let subject = format!("{ca_id}/{serial}");
        let details = serde_json::json!({ "reason": reason }).to_string();
        tx.append_audit(&[AuditEntry {
            at: now,
            action: "revoke",
            subject: &subject,
            actor,
            details: &details,
        }])
        .await?;
        outbox::enqueue_revoke(&mut tx, ca_id, serial, now).await?;
        tx.commit().await?;
        Ok(RevokeOutcome::Revoked)
    }

    /// (CA, serial) of the certificates revoked at or after `since`.
    pub async fn revoked_since(&self, since: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT ca_id, serial FROM certificates WHERE revoked_at IS NOT NULL AND revoked_at \
             >= $1",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("ca_id")?, r.try_get("serial")?)))
            .collect()
    }

    /// (CA, serial) of the valid card certificates (CPS_AUTH, CPS_SIGN) of a national
    /// identifier.
    pub async fn valid_card_certificates(
        &self,
        national_id: &str,
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT ca_id, serial FROM certificates WHERE profile IN ('CPS_AUTH', 'CPS_SIGN') \
             AND revoked_at IS NULL AND subject LIKE $1",
        )
        .bind(format!("CN={national_id},%"))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("ca_id")?, r.try_get("serial")?)))
            .collect()
    }

    /// Certificates, newest first, filtered.
    pub async fn list_certificates(&self, f: ListFilter<'_>) -> Result<Vec<CertificateSummary>> {
        let q = f.subject_contains.unwrap_or_default();
        // The limit a listing asked for, rounded up in the statement (few statements for
        // the requests' many limits), the rows past it left unread.
        let limit = f.limit.clamp(1, 1000);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT ca_id, serial, profile, subject, not_before, not_after, issued_at, \
             revoked_at, reason FROM certificates WHERE ($1 = '' OR ca_id = $1) AND ($2 = '' OR \
             profile = $2) AND ($3 = '' OR subject LIKE $4) ORDER BY issued_at DESC, serial{}",
            limit_clause(limit_rounded_up(limit))
        )))
        .bind(f.ca.unwrap_or_default())
        .bind(f.profile.unwrap_or_default())
        .bind(q)
        .bind(format!("%{q}%"))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|r| {
                Ok(CertificateSummary {
                    ca: r.try_get("ca_id")?,
                    serial: r.try_get("serial")?,
                    profile: r.try_get("profile")?,
                    subject: r.try_get("subject")?,
                    not_before: r.try_get("not_before")?,
                    not_after: r.try_get("not_after")?,
                    issued_at: r.try_get("issued_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                    reason: r
                        .try_get::<Option<i64>, _>("reason")?
                        .and_then(Reason::from_code),
                })
            })
            .collect()
    }

    /// Certificates of `ca_id` by serial (those found), for delivery to the directory.
    pub async fn certificates_by_serial(
        &self,
        ca_id: &str,
        serials: &[&str],
    ) -> Result<Vec<(String, StoredCert)>> {
        let mut out = Vec::with_capacity(serials.len());
        for chunk in serials.chunks(500) {
            let ph: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT serial, profile, der, revoked_at, not_after FROM certificates WHERE ca_id \
                 = $1 AND serial IN ({})",
                ph.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ca_id);
            for s in chunk {
                q = q.bind(*s);
            }
            for r in q.fetch_all(self.pool()).await? {
                out.push((r.try_get("serial")?, stored_cert(&r)?));
            }
        }
        Ok(out)
    }

    /// Up to `limit` certificates of `ca_id` with serials after `after`, in serial order.
    pub async fn certificates_page(
        &self,
        ca_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, StoredCert)>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT serial, profile, der, revoked_at, not_after FROM certificates WHERE ca_id = \
             $1 AND serial > $2 ORDER BY serial{}",
            limit_clause(limit)
        )))
        .bind(ca_id)
        .bind(after)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("serial")?, stored_cert(r)?)))
            .collect()
    }
}

impl CaTx {
    /// Stores (or replaces) a certificate under `id` in `ca_certs`.
    pub async fn put_ca_cert(
        &mut self,
        id: &str,
        hierarchy: &str,
        der: &[u8],
        now: i64,
    ) -> Result<()> {
        sqlx::query("DELETE FROM ca_certs WHERE ca_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "INSERT INTO ca_certs (ca_id, hierarchy, der, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(hierarchy)
        .bind(b64(der))
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
