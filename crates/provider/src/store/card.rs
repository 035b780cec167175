//! Card hand-offs: the wallet page sends the browser to the card listener with a one-time
//! hand-off, the card listener records the card's holder under a one-time result, and the main
//! origin reads and consumes it.

use super::Store;
use anyhow::Result;
use sqlx::Row;

/// The card a hand-off was completed with.
#[derive(Debug, Clone, Copy)]
pub struct CardPresented<'a> {
    /// The holder's IdNat.
    pub national_id: &'a str,
    /// The issuing CA.
    pub ca_id: &'a str,
    /// The certificate's serial.
    pub serial: &'a str,
}

/// A completed card hand-off, as the main origin reads it.
#[derive(Debug, Clone)]
pub struct CardResult {
    /// The pending login it completes.
    pub pending_hash: String,
    /// The card holder's IdNat.
    pub national_id: Option<String>,
    /// Expiry.
    pub expires_at: i64,
}

impl Store {
    /// Records a hand-off token (by hash) for a pending login, valid until `expires_at`.
    pub async fn put_card_handoff(
        &self,
        handoff_hash: &str,
        pending_hash: &str,
        realm: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO card_handoffs (handoff_hash, pending_hash, realm, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(handoff_hash)
            .bind(pending_hash)
            .bind(realm)
            .bind(expires_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// A hand-off the card listener may still complete: of `realm`, not expired at `now`, no
    /// card presented yet.
    pub async fn open_card_handoff(
        &self,
        handoff_hash: &str,
        realm: &str,
        now: i64,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT realm, expires_at, result_hash FROM card_handoffs WHERE handoff_hash = $1",
        )
        .bind(handoff_hash)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(false) };
        let realm_ok = row.try_get::<String, _>("realm")? == realm;
        let live = now < row.try_get::<i64, _>("expires_at")?;
        let unused = row.try_get::<Option<String>, _>("result_hash")?.is_none();
        Ok(realm_ok && live && unused)
    }

    /// Records the card presented for a hand-off, with the one-time result token (by hash)
    /// that the main origin redeems. `false` if the hand-off was completed meanwhile.
    pub async fn complete_card_handoff(
        &self,
        handoff_hash: &str,
        result_hash: &str,
        card: &CardPresented<'_>,
    ) -> Result<bool> {
        let r = sqlx::query("UPDATE card_handoffs SET result_hash = $1, national_id = $2, cert_ca = $3, cert_serial = $4 WHERE handoff_hash = $5 AND result_hash IS NULL")
            .bind(result_hash)
            .bind(card.national_id)
            .bind(card.ca_id)
            .bind(card.serial)
            .bind(handoff_hash)
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The outcome of a card login by its result token's hash, in `realm`.
    pub async fn card_result(&self, result_hash: &str, realm: &str) -> Result<Option<CardResult>> {
        let row = sqlx::query("SELECT pending_hash, national_id, expires_at FROM card_handoffs WHERE result_hash = $1 AND realm = $2")
            .bind(result_hash)
            .bind(realm)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|r| {
            Ok(CardResult {
                pending_hash: r.try_get("pending_hash")?,
                national_id: r.try_get("national_id")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Consumes a card login's result; `false` if another request consumed it first.
    pub async fn consume_card_result(&self, result_hash: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM card_handoffs WHERE result_hash = $1")
            .bind(result_hash)
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
