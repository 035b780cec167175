//! CIBA: the polls of an authentication request, and its redemption into a grant. The request
//! itself is an approval request (`approvals.rs`, origin `ciba`).

use super::{GrantRow, RefreshRow, Store};
use anyhow::Result;

impl Store {
    /// Records a poll of the pending CIBA request `id` at `now`, and the interval the client
    /// must keep from now on when it is raised (`slow_down`). Nothing for a decided request.
    pub async fn record_ciba_poll(&self, id: &str, now: i64, interval: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE approval_requests SET last_polled_at = $1, poll_interval = COALESCE($2, poll_interval) WHERE id = $3 AND status = 'pending'")
            .bind(now)
            .bind(interval)
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Turns the approved CIBA request `id` of `realm` into `grant` (with its refresh token,
    /// if any), in one transaction: the request is consumed first, so that it is redeemed
    /// once only. False (nothing written) if it is not approved, already used or expired.
    pub async fn redeem_ciba(
        &self,
        realm: &str,
        id: &str,
        grant: &GrantRow,
        refresh: Option<(&str, &RefreshRow)>,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.db.pool().begin().await?;
        let done = sqlx::query("UPDATE approval_requests SET status = 'consumed' WHERE id = $1 AND realm = $2 AND origin = 'ciba' AND status = 'approved' AND expires_at > $3")
            .bind(id)
            .bind(realm)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        Self::insert_grant(&mut tx, realm, grant, now).await?;
        if let Some((hash, row)) = refresh {
            Self::insert_refresh(&mut tx, hash, row, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
