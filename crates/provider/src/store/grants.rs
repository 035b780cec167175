//! Grants and what they issue (tables `grants`, `codes`, `refresh_tokens`, revoked and used
//! JWT ids): codes issued and redeemed once, refresh tokens rotated, grants and access tokens
//! revoked.

use super::*;

impl Store {
    /// Records a grant and its code for an existing session (SSO).
    pub async fn issue_code(
        &self,
        realm: &str,
        grant: &GrantRow,
        code_hash: &str,
        code: &CodeRow,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.db.pool().begin().await?;
        Self::insert_grant_and_code(&mut tx, realm, grant, code_hash, code, now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn insert_grant_and_code(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        realm: &str,
        g: &GrantRow,
        code_hash: &str,
        c: &CodeRow,
        now: i64,
    ) -> Result<()> {
        Self::insert_grant(tx, realm, g, now).await?;
        sqlx::query("INSERT INTO auth_codes (code_hash, grant_id, realm, client_id, redirect_uri, redirect_uri_given, code_challenge, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(code_hash)
            .bind(&g.grant_id)
            .bind(realm)
            .bind(&c.client_id)
            .bind(&c.redirect_uri)
            .bind(i64::from(c.redirect_uri_given))
            .bind(&c.code_challenge)
            .bind(c.expires_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub(super) async fn insert_grant(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        realm: &str,
        g: &GrantRow,
        now: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO grants (grant_id, realm, client_id, national_id, sid, scope, nonce, auth_time, acr, method, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
            .bind(&g.grant_id)
            .bind(realm)
            .bind(&g.client_id)
            .bind(&g.national_id)
            .bind(&g.sid)
            .bind(&g.scope)
            .bind(&g.nonce)
            .bind(g.auth_time)
            .bind(&g.acr)
            .bind(&g.method)
            .bind(now)
            .bind(g.expires_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// A code by hash.
    pub async fn code(&self, realm: &str, code_hash: &str) -> Result<Option<CodeRow>> {
        let row = sqlx::query("SELECT grant_id, client_id, redirect_uri, redirect_uri_given, code_challenge, expires_at, used_at FROM auth_codes WHERE code_hash = $1 AND realm = $2")
            .bind(code_hash)
            .bind(realm)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|r| {
            Ok(CodeRow {
                grant_id: r.try_get("grant_id")?,
                client_id: r.try_get("client_id")?,
                redirect_uri: r.try_get("redirect_uri")?,
                redirect_uri_given: r.try_get::<i64, _>("redirect_uri_given")? != 0,
                code_challenge: r.try_get("code_challenge")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
            })
        })
        .transpose()
    }

    /// Redeems a code: marks it used and, on first use, stores the refresh token (if any),
    /// in one transaction. On a replay, revokes the grant (RFC 6749 §4.1.2).
    pub async fn redeem_code(
        &self,
        code_hash: &str,
        grant_id: &str,
        refresh: Option<(&str, &RefreshRow)>,
        now: i64,
    ) -> Result<CodeUse> {
        let mut tx = self.db.pool().begin().await?;
        let r = sqlx::query(
            "UPDATE auth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            sqlx::query(
                "UPDATE grants SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            self.revoked
                .grants_revoked(&[grant_id.to_owned()], now)
                .await;
            return Ok(CodeUse::Replay);
        }
        if let Some((hash, rt)) = refresh {
            Self::insert_refresh(&mut tx, hash, rt, now).await?;
        }
        tx.commit().await?;
        Ok(CodeUse::First)
    }

    pub(super) async fn insert_refresh(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        hash: &str,
        rt: &RefreshRow,
        now: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO refresh_tokens (token_hash, grant_id, realm, client_id, created_at, expires_at) SELECT $1, grant_id, realm, $2, $3, $4 FROM grants WHERE grant_id = $5")
            .bind(hash)
            .bind(&rt.client_id)
            .bind(now)
            .bind(rt.expires_at)
            .bind(&rt.grant_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// A grant.
    pub async fn grant(&self, grant_id: &str) -> Result<Option<GrantRow>> {
        let row = sqlx::query("SELECT grant_id, client_id, national_id, sid, scope, nonce, auth_time, acr, method, expires_at, revoked_at FROM grants WHERE grant_id = $1")
            .bind(grant_id)
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(grant_from).transpose()
    }

    /// Whether a grant is revoked (or unknown).
    pub async fn grant_revoked(&self, grant_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT revoked_at FROM grants WHERE grant_id = $1")
            .bind(grant_id)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
            None => true,
        })
    }

    /// Revokes a grant; true if it was live.
    pub async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE grants SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(grant_id)
        .execute(self.db.pool())
        .await?;
        let live = r.rows_affected() > 0;
        if live {
            self.revoked
                .grants_revoked(&[grant_id.to_owned()], now)
                .await;
        }
        Ok(live)
    }

    /// The answer a refresh token's first use got, sealed (see [`Store::rotate_refresh`]).
    pub async fn refresh_successor(&self, hash: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT successor_sealed FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(match row {
            Some(r) => r.try_get("successor_sealed")?,
            None => None,
        })
    }

    /// A refresh token by hash.
    pub async fn refresh(&self, realm: &str, hash: &str) -> Result<Option<RefreshRow>> {
        let row = sqlx::query("SELECT grant_id, client_id, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1 AND realm = $2")
            .bind(hash)
            .bind(realm)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|r| {
            Ok(RefreshRow {
                grant_id: r.try_get("grant_id")?,
                client_id: r.try_get("client_id")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
            })
        })
        .transpose()
    }

    /// Rotates a refresh token: marks the old one used, keeping the answer its use got
    /// (`successor_sealed`), and stores its successor, in one transaction. False, with nothing
    /// changed, when the old one was already used (a concurrent rotation won).
    pub async fn rotate_refresh(
        &self,
        old_hash: &str,
        successor_sealed: &str,
        new_hash: &str,
        new: &RefreshRow,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.db.pool().begin().await?;
        let r = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1, successor_sealed = $2 WHERE token_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(successor_sealed)
        .bind(old_hash)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        Self::insert_refresh(&mut tx, new_hash, new, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Revokes an access token by jti, at `now`.
    pub async fn revoke_jti(&self, jti: &str, expires_at: i64, now: i64) -> Result<()> {
        let sql = if self.db.is_sqlite() {
            "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3)"
        } else {
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
        };
        sqlx::query(sql)
            .bind(jti)
            .bind(expires_at)
            .bind(now)
            .execute(self.db.pool())
            .await?;
        self.revoked.token_revoked(jti, expires_at).await;
        Ok(())
    }

    /// Whether an access token's jti is revoked.
    pub async fn jti_revoked(&self, jti: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS x FROM revoked_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(self.db.pool())
                .await?
                .is_some(),
        )
    }

    /// Records a client assertion's jti; false if it was already used.
    pub async fn use_assertion_jti(
        &self,
        realm: &str,
        client_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool> {
        let sql = if self.db.is_sqlite() {
            "INSERT OR IGNORE INTO assertion_jtis (realm, client_id, jti, expires_at) VALUES ($1, $2, $3, $4)"
        } else {
            "INSERT INTO assertion_jtis (realm, client_id, jti, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
        };
        let r = sqlx::query(sql)
            .bind(realm)
            .bind(client_id)
            .bind(jti)
            .bind(expires_at)
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
