//! Certificate requests awaiting an operator's decision (`cert_requests`).

use super::{CaStore, b64, unb64};
use anyhow::Result;
use coeur_pki::csr::SubjectRequest;
use sqlx::Row as _;

/// A request to store as pending.
#[derive(Debug, Clone, Copy)]
pub struct NewRequest<'a> {
    /// Request id.
    pub id: &'a str,
    /// CA asked.
    pub ca_id: &'a str,
    /// Profile asked.
    pub profile: &'a str,
    /// The CSR (DER).
    pub csr_der: &'a [u8],
    /// Subject attributes asked.
    pub subject: &'a SubjectRequest,
    /// Who asked.
    pub requester: &'a str,
    /// When.
    pub now: i64,
}

/// A stored request.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// CA asked.
    pub ca_id: String,
    /// Profile asked.
    pub profile: String,
    /// `pending`, `issued`, `rejected`.
    pub status: String,
    /// The CSR (DER).
    pub csr_der: Vec<u8>,
    /// Subject attributes asked.
    pub subject: SubjectRequest,
}

impl CaStore {
    /// Stores a pending request.
    pub async fn insert_pending_request(&self, r: &NewRequest<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO cert_requests (id, ca_id, profile, status, csr, subject, requester, \
             created_at) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7)",
        )
        .bind(r.id)
        .bind(r.ca_id)
        .bind(r.profile)
        .bind(b64(r.csr_der))
        .bind(serde_json::to_string(r.subject)?)
        .bind(r.requester)
        .bind(r.now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A request by id.
    pub async fn request(&self, id: &str) -> Result<Option<RequestRecord>> {
        let row = sqlx::query(
            "SELECT ca_id, profile, status, csr, subject, requester FROM cert_requests WHERE id \
             = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(RequestRecord {
            ca_id: row.try_get("ca_id")?,
            profile: row.try_get("profile")?,
            status: row.try_get("status")?,
            csr_der: unb64(&row.try_get::<String, _>("csr")?)?,
            subject: serde_json::from_str(&row.try_get::<String, _>("subject")?)?,
        }))
    }

    /// Records that a pending request was issued as `serial`; false if it was no longer
    /// pending.
    pub async fn mark_request_issued(
        &self,
        id: &str,
        operator: &str,
        serial: &str,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE cert_requests SET status = 'issued', decided_at = $1, decided_by = $2, \
             serial = $3 WHERE id = $4 AND status = 'pending'",
        )
        .bind(now)
        .bind(operator)
        .bind(serial)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Rejects a pending request; false if it was not pending.
    pub async fn reject_request(
        &self,
        id: &str,
        operator: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE cert_requests SET status = 'rejected', decided_at = $1, decided_by = $2, \
             reason = $3 WHERE id = $4 AND status = 'pending'",
        )
        .bind(now)
        .bind(operator)
        .bind(reason)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Whether a request exists.
    pub async fn request_exists(&self, id: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT status FROM cert_requests WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?
                .is_some(),
        )
    }
}
