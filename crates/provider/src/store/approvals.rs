//! Approval requests: decisions awaited from a professional (table `approval_requests`), shared
//! by the wallet's e-CPS login and CIBA. Created pending; decided once (approved or denied,
//! by an e-CPS device or with the card) while pending and unexpired; an approved one is
//! consumed once (the login completes, the tokens are issued).

use super::Store;
use anyhow::Result;
use coeur_oauth::ecps::{Channel, Origin, Status};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A new approval request.
#[derive(Debug, Clone)]
pub struct NewApproval<'a> {
    /// Public id (shown to and signed by the device).
    pub id: &'a str,
    /// Realm.
    pub realm: &'a str,
    /// The national id asked for (it may match no identity or device: the request then just
    /// expires, as any other would).
    pub national_id: &'a str,
    /// The relying party.
    pub client_id: &'a str,
    /// Where it comes from.
    pub origin: Origin,
    /// How the professional is asked.
    pub channel: Channel,
    /// Shown on both sides.
    pub binding_message: Option<&'a str>,
    /// The minimum level asked, if any.
    pub acr: Option<&'a str>,
    /// The server's random nonce, part of what the device signs.
    pub nonce: &'a str,
    /// What completing the request needs (JSON, the origin's own).
    pub params: &'a str,
    /// CIBA: SHA-256 of the `auth_req_id` (a secret of the client's).
    pub secret_hash: Option<&'a str>,
    /// CIBA: the polling interval given to the client, in seconds.
    pub poll_interval: Option<i64>,
    /// Now.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

/// A stored approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRow {
    /// Public id.
    pub id: String,
    /// Realm.
    pub realm: String,
    /// National id asked for.
    pub national_id: String,
    /// Relying party.
    pub client_id: String,
    /// Origin.
    pub origin: Origin,
    /// Channel.
    pub channel: Channel,
    /// Binding message.
    pub binding_message: Option<String>,
    /// Minimum level asked.
    pub acr: Option<String>,
    /// Nonce.
    pub nonce: String,
    /// The origin's parameters (JSON).
    pub params: String,
    /// Status.
    pub status: Status,
    /// The device that decided, if one did.
    pub device_id: Option<String>,
    /// How it was decided (`ecps`, `card`).
    pub method: Option<String>,
    /// What the decision proved (RFC 8176 values, space-separated).
    pub amr: Option<String>,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// Created.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// CIBA polling interval.
    pub poll_interval: Option<i64>,
    /// CIBA: last poll.
    pub last_polled_at: Option<i64>,
}

/// A decision to record.
#[derive(Debug, Clone, Copy)]
pub struct Decided<'a> {
    /// Approved or denied.
    pub approved: bool,
    /// The device that decided (e-CPS), if any.
    pub device_id: Option<&'a str>,
    /// How (`ecps`, `card`).
    pub method: &'a str,
    /// What the decision proved (RFC 8176 values, space-separated).
    pub amr: &'a str,
    /// Now.
    pub at: i64,
}

/// The columns of an [`ApprovalRow`], for `concat!` (queries stay static strings).
macro_rules! columns {
    () => {
        "id, realm, national_id, client_id, origin, channel, binding_message, acr, nonce, params, status, device_id, method, amr, decided_at, created_at, expires_at, poll_interval, last_polled_at"
    };
}

fn row(r: &AnyRow) -> Result<ApprovalRow> {
    let text = |c: &str| -> Result<String> { Ok(r.try_get::<String, _>(c)?) };
    let origin = text("origin")?;
    let channel = text("channel")?;
    let status = text("status")?;
    Ok(ApprovalRow {
        id: text("id")?,
        realm: text("realm")?,
        national_id: text("national_id")?,
        client_id: text("client_id")?,
        origin: Origin::parse(&origin)
            .ok_or_else(|| anyhow::anyhow!("stored origin {origin:?}"))?,
        channel: Channel::parse(&channel)
            .ok_or_else(|| anyhow::anyhow!("stored channel {channel:?}"))?,
        binding_message: r.try_get("binding_message")?,
        acr: r.try_get("acr")?,
        nonce: text("nonce")?,
        params: text("params")?,
        status: Status::parse(&status)
            .ok_or_else(|| anyhow::anyhow!("stored status {status:?}"))?,
        device_id: r.try_get("device_id")?,
        method: r.try_get("method")?,
        amr: r.try_get("amr")?,
        decided_at: r.try_get("decided_at")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        poll_interval: r.try_get("poll_interval")?,
        last_polled_at: r.try_get("last_polled_at")?,
    })
}

impl Store {
    /// Records a new pending approval request.
    pub async fn create_approval(&self, a: &NewApproval<'_>) -> Result<()> {
        sqlx::query("INSERT INTO approval_requests (id, realm, national_id, client_id, origin, channel, binding_message, acr, nonce, params, status, created_at, expires_at, secret_hash, poll_interval) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, $13, $14)")
            .bind(a.id)
            .bind(a.realm)
            .bind(a.national_id)
            .bind(a.client_id)
            .bind(a.origin.as_str())
            .bind(a.channel.as_str())
            .bind(a.binding_message)
            .bind(a.acr)
            .bind(a.nonce)
            .bind(a.params)
            .bind(a.created_at)
            .bind(a.expires_at)
            .bind(a.secret_hash)
            .bind(a.poll_interval)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The approval request `id` of `realm`.
    pub async fn approval(&self, realm: &str, id: &str) -> Result<Option<ApprovalRow>> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM approval_requests WHERE id = $1 AND realm = $2"
        ))
        .bind(id)
        .bind(realm)
        .fetch_optional(self.db.pool())
        .await?
        .as_ref()
        .map(row)
        .transpose()
    }

    /// The CIBA request whose `auth_req_id` hashes to `secret_hash`.
    pub async fn approval_by_secret(&self, secret_hash: &str) -> Result<Option<ApprovalRow>> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM approval_requests WHERE secret_hash = $1"
        ))
        .bind(secret_hash)
        .fetch_optional(self.db.pool())
        .await?
        .as_ref()
        .map(row)
        .transpose()
    }

    /// The pending, unexpired requests awaiting `national_id` on `channel`, oldest first.
    pub async fn pending_approvals(
        &self,
        realm: &str,
        national_id: &str,
        channel: Channel,
        now: i64,
    ) -> Result<Vec<ApprovalRow>> {
        sqlx::query(concat!("SELECT ", columns!(), " FROM approval_requests WHERE realm = $1 AND national_id = $2 AND channel = $3 AND status = 'pending' AND expires_at > $4 ORDER BY created_at, id"))
        .bind(realm)
        .bind(national_id)
        .bind(channel.as_str())
        .bind(now)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(row)
        .collect()
    }

    /// Records a decision on a pending, unexpired request; false (nothing written) if it was
    /// already decided or has expired.
    pub async fn decide_approval(&self, realm: &str, id: &str, d: &Decided<'_>) -> Result<bool> {
        let status = if d.approved {
            Status::Approved
        } else {
            Status::Denied
        };
        let done = sqlx::query("UPDATE approval_requests SET status = $1, device_id = $2, method = $3, amr = $4, decided_at = $5 WHERE id = $6 AND realm = $7 AND status = 'pending' AND expires_at > $5")
            .bind(status.as_str())
            .bind(d.device_id)
            .bind(d.method)
            .bind(d.amr)
            .bind(d.at)
            .bind(id)
            .bind(realm)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks an approved request used; false if it was not approved or already used.
    pub async fn consume_approval(&self, realm: &str, id: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE approval_requests SET status = 'consumed' WHERE id = $1 AND realm = $2 AND status = 'approved'")
            .bind(id)
            .bind(realm)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a CIBA poll of request `id` at `now`, returning the previous poll's time.
    pub async fn record_poll(&self, id: &str, now: i64) -> Result<Option<i64>> {
        let mut tx = self.db.pool().begin().await?;
        let previous: Option<i64> =
            sqlx::query("SELECT last_polled_at FROM approval_requests WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("last_polled_at"))
                .transpose()?
                .flatten();
        sqlx::query("UPDATE approval_requests SET last_polled_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(previous)
    }

    /// Deletes requests expired before `before` (housekeeping).
    pub async fn purge_approvals(&self, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM approval_requests WHERE expires_at < $1")
            .bind(before)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
