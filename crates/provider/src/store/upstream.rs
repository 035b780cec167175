//! Upstream identity providers (tables `upstream_logins`, `upstream_links`,
//! `upstream_pending_links`, `upstream_sessions`): logins sent upstream, links between an
//! upstream identity and a national id, links waiting for their proof, upstream sessions.

use super::Store;
use anyhow::Result;
use coeur_oauth::acr::Acr;
use coeur_oauth::upstream::{LinkMethod, LinkProven, PendingLink};
use sqlx::Row;

/// A login sent upstream, as stored under its state's hash.
#[derive(Debug, Clone)]
pub struct UpstreamLoginRow {
    /// Realm.
    pub realm: String,
    /// The upstream's name.
    pub upstream: String,
    /// The pending authorization request it continues.
    pub pending_hash: String,
    /// The nonce sent.
    pub nonce: String,
    /// The PKCE verifier.
    pub pkce_verifier: String,
    /// The level asked for.
    pub acr: String,
    /// Expiry.
    pub expires_at: i64,
}

/// A link, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRow {
    /// Realm.
    pub realm: String,
    /// The upstream's name.
    pub upstream: String,
    /// The upstream subject.
    pub sub: String,
    /// The national id.
    pub national_id: String,
    /// How it was made (`card`, `ecps`, `pivot_identity`).
    pub method: String,
    /// When.
    pub created_at: i64,
}

/// What a login through an upstream leaves for coeur's logout.
#[derive(Debug, Clone)]
pub struct UpstreamSessionRow {
    /// The upstream's name.
    pub upstream: String,
    /// The ID token (signed) to give as `id_token_hint`.
    pub id_token: String,
}

fn link_row(r: &sqlx::any::AnyRow) -> Result<LinkRow> {
    Ok(LinkRow {
        realm: r.try_get("realm")?,
        upstream: r.try_get("upstream")?,
        sub: r.try_get("sub")?,
        national_id: r.try_get("national_id")?,
        method: r.try_get("method")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Records a login sent upstream under `state_hash`.
    pub async fn put_upstream_login(&self, state_hash: &str, row: &UpstreamLoginRow) -> Result<()> {
        sqlx::query("INSERT INTO upstream_logins (state_hash, realm, upstream, pending_hash, nonce, pkce_verifier, acr, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(state_hash)
            .bind(&row.realm)
            .bind(&row.upstream)
            .bind(&row.pending_hash)
            .bind(&row.nonce)
            .bind(&row.pkce_verifier)
            .bind(&row.acr)
            .bind(row.expires_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The unused login sent upstream under `state_hash`.
    pub async fn upstream_login(&self, state_hash: &str) -> Result<Option<UpstreamLoginRow>> {
        let r = sqlx::query("SELECT realm, upstream, pending_hash, nonce, pkce_verifier, acr, expires_at FROM upstream_logins WHERE state_hash = $1 AND used_at IS NULL")
            .bind(state_hash)
            .fetch_optional(self.db.pool())
            .await?;
        r.map(|r| {
            Ok(UpstreamLoginRow {
                realm: r.try_get("realm")?,
                upstream: r.try_get("upstream")?,
                pending_hash: r.try_get("pending_hash")?,
                nonce: r.try_get("nonce")?,
                pkce_verifier: r.try_get("pkce_verifier")?,
                acr: r.try_get("acr")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Marks the login under `state_hash` used; `false` if it already was.
    pub async fn consume_upstream_login(&self, state_hash: &str, now: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE upstream_logins SET used_at = $1 WHERE state_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(state_hash)
        .execute(self.db.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The national id an upstream identity is linked to.
    pub async fn upstream_link(
        &self,
        realm: &str,
        upstream: &str,
        sub: &str,
    ) -> Result<Option<String>> {
        let r = sqlx::query("SELECT national_id FROM upstream_links WHERE realm = $1 AND upstream = $2 AND sub = $3")
            .bind(realm)
            .bind(upstream)
            .bind(sub)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(r.map(|r| r.try_get("national_id")).transpose()?)
    }

    /// The links of a realm, of one national id if given.
    pub async fn upstream_links(
        &self,
        realm: &str,
        national_id: Option<&str>,
    ) -> Result<Vec<LinkRow>> {
        let rows = sqlx::query("SELECT realm, upstream, sub, national_id, method, created_at FROM upstream_links WHERE realm = $1 AND ($2 = '' OR national_id = $2) ORDER BY created_at, upstream, sub")
            .bind(realm)
            .bind(national_id.unwrap_or_default())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(link_row).collect()
    }

    /// Removes a link (of `national_id` only, when given); the link removed.
    pub async fn remove_upstream_link(
        &self,
        realm: &str,
        upstream: &str,
        sub: &str,
        national_id: Option<&str>,
    ) -> Result<Option<LinkRow>> {
        let mut tx = self.db.pool().begin().await?;
        let row = sqlx::query("SELECT realm, upstream, sub, national_id, method, created_at FROM upstream_links WHERE realm = $1 AND upstream = $2 AND sub = $3 AND ($4 = '' OR national_id = $4)")
            .bind(realm)
            .bind(upstream)
            .bind(sub)
            .bind(national_id.unwrap_or_default())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        sqlx::query("DELETE FROM upstream_links WHERE realm = $1 AND upstream = $2 AND sub = $3")
            .bind(realm)
            .bind(upstream)
            .bind(sub)
            .execute(&mut *tx)
            .await?;
        // No proof waiting for this identity survives its unlinking.
        sqlx::query("UPDATE upstream_pending_links SET used_at = expires_at WHERE realm = $1 AND upstream = $2 AND sub = $3 AND used_at IS NULL")
            .bind(realm)
            .bind(upstream)
            .bind(sub)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(link_row(&row)?))
    }

    /// Records a link waiting for its proof, under the hash of its handle: the only one of its
    /// pending request (an earlier one, of another upstream account, is void).
    pub async fn put_pending_link(&self, handle_hash: &str, p: &PendingLink) -> Result<()> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("UPDATE upstream_pending_links SET used_at = expires_at WHERE pending_hash = $1 AND used_at IS NULL")
            .bind(&p.pending_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO upstream_pending_links (handle_hash, realm, upstream, sub, pending_hash, expires_at, pivot_national_id, acr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(handle_hash)
            .bind(&p.realm)
            .bind(&p.upstream)
            .bind(&p.sub)
            .bind(&p.pending_hash)
            .bind(p.expires_at)
            .bind(p.offer.as_deref())
            .bind(p.acr.map(Acr::as_str))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The unused link waiting under `handle_hash`.
    pub async fn pending_link(&self, handle_hash: &str) -> Result<Option<PendingLink>> {
        let r = sqlx::query("SELECT realm, upstream, sub, pending_hash, expires_at, pivot_national_id, acr FROM upstream_pending_links WHERE handle_hash = $1 AND used_at IS NULL")
            .bind(handle_hash)
            .fetch_optional(self.db.pool())
            .await?;
        r.map(|r| pending_link(&r)).transpose()
    }

    /// Withdraws the identity a pending link offered for confirmation (the person said it is
    /// not them): only a proof may link it now. Whether there was one to withdraw.
    pub async fn decline_offer(&self, handle_hash: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE upstream_pending_links SET pivot_national_id = NULL WHERE handle_hash = $1 AND used_at IS NULL AND pivot_national_id IS NOT NULL")
            .bind(handle_hash)
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The unused links waiting for a proof in the pending authorization request
    /// `pending_hash`.
    pub async fn pending_links_of(&self, pending_hash: &str) -> Result<Vec<PendingLink>> {
        let rows = sqlx::query("SELECT realm, upstream, sub, pending_hash, expires_at, pivot_national_id, acr FROM upstream_pending_links WHERE pending_hash = $1 AND used_at IS NULL")
            .bind(pending_hash)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(pending_link).collect()
    }

    /// Makes a proven link, consuming its pending link, in one transaction: `false` (and
    /// nothing written) when the pending link was used meanwhile or the upstream identity is
    /// already linked (to anyone: one national id per upstream identity).
    pub async fn link_upstream(&self, proven: &LinkProven, now: i64) -> Result<bool> {
        let mut tx = self.db.pool().begin().await?;
        // A confirmation consumes only a pending link still offering that identity.
        let offered = match proven.method() {
            LinkMethod::PivotIdentity => proven.national_id(),
            LinkMethod::Proof(_) => "",
        };
        let used = sqlx::query("UPDATE upstream_pending_links SET used_at = $1 WHERE realm = $2 AND upstream = $3 AND sub = $4 AND used_at IS NULL AND expires_at > $1 AND ($5 = '' OR pivot_national_id = $5)")
            .bind(now)
            .bind(proven.realm())
            .bind(proven.upstream())
            .bind(proven.sub())
            .bind(offered)
            .execute(&mut *tx)
            .await?;
        if used.rows_affected() == 0 {
            return Ok(false);
        }
        let linked = sqlx::query("INSERT INTO upstream_links (realm, upstream, sub, national_id, method, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING")
            .bind(proven.realm())
            .bind(proven.upstream())
            .bind(proven.sub())
            .bind(proven.national_id())
            .bind(proven.method().as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if linked.rows_affected() != 1 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records the upstream session of a login under way (`pending_hash`).
    pub async fn put_upstream_session(
        &self,
        pending_hash: &str,
        realm: &str,
        upstream: &str,
        id_token: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query("DELETE FROM upstream_sessions WHERE pending_hash = $1")
            .bind(pending_hash)
            .execute(self.db.pool())
            .await?;
        sqlx::query("INSERT INTO upstream_sessions (pending_hash, realm, upstream, id_token, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(pending_hash)
            .bind(realm)
            .bind(upstream)
            .bind(id_token)
            .bind(expires_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Ties the upstream session of the login `pending_hash` to the coeur session `sid`.
    pub async fn attach_upstream_session(&self, pending_hash: &str, sid: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE upstream_sessions SET sid = $1 WHERE pending_hash = $2 AND sid IS NULL",
        )
        .bind(sid)
        .bind(pending_hash)
        .execute(self.db.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The latest upstream session of the coeur session `sid` not yet logged out of, marked as
    /// being logged out with `state_hash`, continuing to `next`.
    pub async fn start_upstream_logout(
        &self,
        sid: &str,
        state_hash: &str,
        next: &str,
    ) -> Result<Option<UpstreamSessionRow>> {
        let r = sqlx::query("SELECT pending_hash, upstream, id_token FROM upstream_sessions WHERE sid = $1 AND logout_state_hash IS NULL ORDER BY expires_at DESC LIMIT 1")
            .bind(sid)
            .fetch_optional(self.db.pool())
            .await?;
        let Some(r) = r else { return Ok(None) };
        let pending_hash: String = r.try_get("pending_hash")?;
        sqlx::query("UPDATE upstream_sessions SET logout_state_hash = $1, logout_next = $2 WHERE pending_hash = $3")
            .bind(state_hash)
            .bind(next)
            .bind(&pending_hash)
            .execute(self.db.pool())
            .await?;
        Ok(Some(UpstreamSessionRow {
            upstream: r.try_get("upstream")?,
            id_token: r.try_get("id_token")?,
        }))
    }

    /// Where to continue after the upstream logout of `state_hash` in `realm` (once).
    pub async fn finish_upstream_logout(
        &self,
        realm: &str,
        state_hash: &str,
    ) -> Result<Option<String>> {
        let r = sqlx::query("SELECT pending_hash, logout_next FROM upstream_sessions WHERE realm = $1 AND logout_state_hash = $2")
            .bind(realm)
            .bind(state_hash)
            .fetch_optional(self.db.pool())
            .await?;
        let Some(r) = r else { return Ok(None) };
        let pending_hash: String = r.try_get("pending_hash")?;
        let done = sqlx::query("DELETE FROM upstream_sessions WHERE pending_hash = $1")
            .bind(&pending_hash)
            .execute(self.db.pool())
            .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        Ok(r.try_get("logout_next")?)
    }
}

fn pending_link(r: &sqlx::any::AnyRow) -> Result<PendingLink> {
    Ok(PendingLink {
        realm: r.try_get("realm")?,
        upstream: r.try_get("upstream")?,
        sub: r.try_get("sub")?,
        pending_hash: r.try_get("pending_hash")?,
        expires_at: r.try_get("expires_at")?,
        offer: r.try_get("pivot_national_id")?,
        acr: r
            .try_get::<Option<String>, _>("acr")?
            .as_deref()
            .and_then(Acr::parse),
    })
}
