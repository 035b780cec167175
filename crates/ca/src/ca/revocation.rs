//! Revocation: revoking certificates, the revocation state of a certificate, and keeping the
//! OCSP cache and CRLs in step with revocations made by other processes.

use super::*;

impl Ca {
    /// Revokes a certificate; the OCSP cache forgets it at once and CRLs are rebuilt.
    pub async fn revoke(
        &self,
        store: &Store,
        ca_id: &str,
        serial: &str,
        reason: Reason,
        actor: &str,
        now: i64,
    ) -> Result<(), CaError> {
        self.ca(ca_id)?;
        let serial = normalize_serial(serial);
        let mut tx = store.pool().begin().await.map_err(anyhow::Error::from)?;
        let r = sqlx::query("UPDATE certificates SET revoked_at = $1, reason = $2 WHERE ca_id = $3 AND serial = $4 AND revoked_at IS NULL")
            .bind(now)
            .bind(i64::from(reason.code()))
            .bind(ca_id)
            .bind(&serial)
            .execute(&mut *tx)
            .await
            .map_err(anyhow::Error::from)?;
        if r.rows_affected() != 1 {
            let exists =
                sqlx::query("SELECT 1 AS x FROM certificates WHERE ca_id = $1 AND serial = $2")
                    .bind(ca_id)
                    .bind(&serial)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(anyhow::Error::from)?;
            return Err(if exists.is_some() {
                CaError::AlreadyRevoked
            } else {
                CaError::NotFound
            });
        }
        append_audit_tx(
            &mut tx,
            now,
            "revoke",
            &format!("{ca_id}/{serial}"),
            actor,
            &serde_json::json!({"reason": reason}).to_string(),
        )
        .await
        .map_err(CaError::Internal)?;
        crate::ldap::outbox::enqueue_revoke(&mut tx, ca_id, &serial, now)
            .await
            .map_err(CaError::Internal)?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        self.forget_revoked(ca_id, &serial);
        Ok(())
    }

    /// After a revocation of `serial` (as stored): its cached OCSP answer goes, the CA's CRLs
    /// are stale.
    fn forget_revoked(&self, ca_id: &str, serial: &str) {
        if let Ok(mut c) = self.ocsp_cache.lock() {
            c.remove(&(ca_id.to_owned(), decode_serial(serial).unwrap_or_default()));
        }
        if let Ok(mut d) = self.crl_dirty.lock() {
            d.insert(ca_id.to_owned(), true);
        }
    }

    /// Forgets cached OCSP answers and marks CRLs stale for certificates revoked since `since`
    /// by any process (the CLI, another node). Run every second by the server.
    pub async fn sync_revocations(&self, store: &Store, since: i64) -> Result<usize> {
        let rows = sqlx::query("SELECT ca_id, serial FROM certificates WHERE revoked_at IS NOT NULL AND revoked_at >= $1")
            .bind(since)
            .fetch_all(store.pool())
            .await?;
        for r in &rows {
            let ca_id: String = r.try_get("ca_id")?;
            let serial: String = r.try_get("serial")?;
            self.forget_revoked(&ca_id, &serial);
        }
        Ok(rows.len())
    }

    /// The revocation of a certificate (time, reason), or `None` if it is not revoked. An
    /// unknown certificate counts as revoked.
    pub async fn revocation(
        &self,
        store: &Store,
        ca_id: &str,
        serial: &str,
    ) -> Result<Option<(i64, Reason)>> {
        let row = sqlx::query(
            "SELECT revoked_at, reason FROM certificates WHERE ca_id = $1 AND serial = $2",
        )
        .bind(ca_id)
        .bind(normalize_serial(serial))
        .fetch_optional(store.pool())
        .await?;
        Ok(match row {
            None => Some((0, Reason::Unspecified)),
            Some(r) => r.try_get::<Option<i64>, _>("revoked_at")?.map(|at| {
                (
                    at,
                    Reason::from_code(
                        r.try_get::<Option<i64>, _>("reason")
                            .ok()
                            .flatten()
                            .unwrap_or(0),
                    )
                    .unwrap_or(Reason::Unspecified),
                )
            }),
        })
    }
}
