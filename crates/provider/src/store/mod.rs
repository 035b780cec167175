//! The database: one schema on SQLite (default) or PostgreSQL, through sqlx's `Any` driver
//! with portable SQL (`$n` placeholders work on both).

use anyhow::{Context, Result, bail};
use coeur_common::identity::{AdmittedIdentities, Identity};
use coeur_oauth::realm::Realm;
use coeur_storage::Db;
use coeur_storage::db::limit_clause;
use sqlx::Row;
use sqlx::any::AnyRow;

mod approvals;
mod card;
mod ciba;
mod directory_sync;
mod ecps;
mod grants;
mod passkeys;
mod revoked;
mod stats;
mod upstream;

pub use approvals::{ApprovalRow, Decided, NewApproval};
pub use card::{CardPresented, CardResult};
pub use directory_sync::{DIRECTORY as SOURCE_DIRECTORY, SyncState, SyncWritten};
pub use ecps::{DeviceRow, Enrolment, MAX_ACTIVATION_ATTEMPTS, NewActivation, NewDevice};
pub use passkeys::{ChallengePurpose, NewPasskey, PasskeyRow};
pub use upstream::{LinkRow, UpstreamLoginRow, UpstreamSessionRow};

/// The store.
#[derive(Clone)]
pub struct Store {
    db: Db,
    /// Revocations that can still matter, answered from memory (see [`revoked`]).
    revoked: std::sync::Arc<revoked::Revoked>,
}

/// What [`Store::put_identities`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdentitiesWritten {
    /// Identities the realm did not have.
    pub added: usize,
    /// Identities replaced in place.
    pub updated: usize,
}

/// A stored client row.
#[derive(Debug, Clone)]
pub struct ClientRow {
    /// Registration JSON.
    pub spec: String,
    /// Secret hash.
    pub secret_hash: Option<String>,
    /// Sealed secret (HS256 clients).
    pub secret_sealed: Option<String>,
}

/// A stored session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// Public id.
    pub sid: String,
    /// Who.
    pub national_id: String,
    /// When.
    pub auth_time: i64,
    /// Method.
    pub method: String,
    /// Level.
    pub acr: String,
}

/// A session that has just ended: whose it was, and the clients that took part in it (those
/// a code was issued to under its `sid`, whether redeemed or not), to be told so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSessionRow {
    /// Its id.
    pub sid: String,
    /// Its realm.
    pub realm: String,
    /// Whose it was.
    pub national_id: String,
    /// The clients of its grants, sorted, each once.
    pub clients: Vec<String>,
}

/// A login completed by [`Store::complete_login`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCompleted {
    /// The session the login belongs to: the browser's own when the same professional logged
    /// in again, else a new one.
    pub sid: String,
    /// The browser's previous session in the realm, another professional's, which the new one
    /// replaced.
    pub replaced: Option<EndedSessionRow>,
}

/// A stored grant.
#[derive(Debug, Clone)]
pub struct GrantRow {
    /// Id.
    pub grant_id: String,
    /// Client.
    pub client_id: String,
    /// Who.
    pub national_id: String,
    /// Session.
    pub sid: String,
    /// Scopes, space separated.
    pub scope: String,
    /// Nonce of the authorization request.
    pub nonce: Option<String>,
    /// Authentication time.
    pub auth_time: i64,
    /// Level.
    pub acr: String,
    /// Method.
    pub method: String,
    /// Expiry of the grant (refresh chain).
    pub expires_at: i64,
    /// Revocation time.
    pub revoked_at: Option<i64>,
}

/// A stored authorization code.
#[derive(Debug, Clone)]
pub struct CodeRow {
    /// Grant.
    pub grant_id: String,
    /// Client.
    pub client_id: String,
    /// Redirect URI.
    pub redirect_uri: String,
    /// Whether the request named it.
    pub redirect_uri_given: bool,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// Expiry.
    pub expires_at: i64,
    /// When it was redeemed, if it was.
    pub used_at: Option<i64>,
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub struct RefreshRow {
    /// Grant.
    pub grant_id: String,
    /// Client.
    pub client_id: String,
    /// Expiry.
    pub expires_at: i64,
    /// When exchanged.
    pub used_at: Option<i64>,
}

/// Outcome of marking a code used.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeUse {
    /// First redemption.
    First,
    /// Already redeemed: a replay.
    Replay,
}

fn grant_from(r: &AnyRow) -> Result<GrantRow> {
    Ok(GrantRow {
        grant_id: r.try_get("grant_id")?,
        client_id: r.try_get("client_id")?,
        national_id: r.try_get("national_id")?,
        sid: r.try_get("sid")?,
        scope: r.try_get("scope")?,
        nonce: r.try_get("nonce")?,
        auth_time: r.try_get("auth_time")?,
        acr: r.try_get("acr")?,
        method: r.try_get("method")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Store {
    /// The provider's repository over an open database.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            revoked: Default::default(),
        }
    }

    /// The database underneath (migrations, tests' checks).
    pub fn db(&self) -> &Db {
        &self.db
    }

    // ---- identities ----

    /// Number of identities in a realm.
    pub async fn identity_count(&self, realm: &str) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM identities WHERE realm = $1")
                .bind(realm)
                .fetch_one(self.db.pool())
                .await?
                .try_get("n")?,
        )
    }

    /// Writes admitted identities into `realm`, in one transaction: each one inserted, or
    /// replaced when the realm has its national identifier. Refused, with nothing written,
    /// when they were admitted for another environment than the realm's.
    pub async fn put_identities(
        &self,
        realm: &Realm,
        ids: &AdmittedIdentities,
        now: i64,
    ) -> Result<IdentitiesWritten> {
        if ids.environment() != realm.environment() {
            bail!(
                "identities admitted for the {} environment cannot be written to realm {} ({})",
                ids.environment(),
                realm.name,
                realm.environment()
            );
        }
        let mut written = IdentitiesWritten::default();
        let mut tx = self.db.pool().begin().await?;
        for i in ids.identities() {
            let replaced =
                sqlx::query("DELETE FROM identities WHERE realm = $1 AND national_id = $2")
                    .bind(&realm.name)
                    .bind(i.national_id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            sqlx::query("INSERT INTO identities (realm, national_id, active, data, updated_at, birth_date, birth_place, birth_country) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(&realm.name)
                .bind(i.national_id.as_str())
                .bind(i64::from(i.active))
                .bind(serde_json::to_string(i)?)
                .bind(now)
                .bind(i.birth_date.as_deref())
                .bind(i.birth_place.as_deref())
                .bind(i.birth_country.as_deref())
                .execute(&mut *tx)
                .await?;
            if replaced > 0 {
                written.updated += 1;
            } else {
                written.added += 1;
            }
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Removes an identity; whether the realm had it.
    pub async fn remove_identity(&self, realm: &str, national_id: &str) -> Result<bool> {
        Ok(
            sqlx::query("DELETE FROM identities WHERE realm = $1 AND national_id = $2")
                .bind(realm)
                .bind(national_id)
                .execute(self.db.pool())
                .await?
                .rows_affected()
                > 0,
        )
    }

    /// An identity.
    pub async fn identity(&self, realm: &str, national_id: &str) -> Result<Option<Identity>> {
        let row = sqlx::query("SELECT data FROM identities WHERE realm = $1 AND national_id = $2")
            .bind(realm)
            .bind(national_id)
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(r) => Ok(Some(serde_json::from_str(
                &r.try_get::<String, _>("data")?,
            )?)),
            None => Ok(None),
        }
    }

    /// Some identities of a realm, for listings.
    pub async fn identities(&self, realm: &str, limit: i64) -> Result<Vec<Identity>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT data FROM identities WHERE realm = $1 ORDER BY national_id{}",
            limit_clause(limit)
        )))
        .bind(realm)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("data")?)?))
            .collect()
    }

    /// The identities of a realm born on `birth_date` (`YYYY-MM-DD`): the candidates an
    /// upstream's pivot identity is compared with (`coeur_oauth::pivot::PivotMatched`
    /// decides; this only narrows). Their birth data is the columns'.
    pub async fn identities_born_on(&self, realm: &str, birth_date: &str) -> Result<Vec<Identity>> {
        let rows = sqlx::query("SELECT data, birth_date, birth_place, birth_country FROM identities WHERE realm = $1 AND birth_date = $2 ORDER BY national_id")
            .bind(realm)
            .bind(birth_date)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let mut i: Identity = serde_json::from_str(&r.try_get::<String, _>("data")?)?;
                i.birth_date = r.try_get("birth_date")?;
                i.birth_place = r.try_get("birth_place")?;
                i.birth_country = r.try_get("birth_country")?;
                Ok(i)
            })
            .collect()
    }

    // ---- clients ----

    /// Adds a client; fails if the id exists.
    pub async fn add_client(
        &self,
        realm: &str,
        client_id: &str,
        row: &ClientRow,
        now: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO clients (realm, client_id, spec, secret_hash, secret_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(realm)
            .bind(client_id)
            .bind(&row.spec)
            .bind(&row.secret_hash)
            .bind(&row.secret_sealed)
            .bind(now)
            .execute(self.db.pool())
            .await
            .with_context(|| format!("client {client_id} already exists in realm {realm}"))?;
        Ok(())
    }

    /// Replaces a stored client's registration JSON, its secret kept; true if it existed.
    pub async fn set_client_spec(&self, realm: &str, client_id: &str, spec: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE clients SET spec = $3 WHERE realm = $1 AND client_id = $2")
            .bind(realm)
            .bind(client_id)
            .bind(spec)
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// A client.
    pub async fn client(&self, realm: &str, client_id: &str) -> Result<Option<ClientRow>> {
        let row = sqlx::query("SELECT spec, secret_hash, secret_sealed FROM clients WHERE realm = $1 AND client_id = $2")
            .bind(realm)
            .bind(client_id)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|r| {
            Ok(ClientRow {
                spec: r.try_get("spec")?,
                secret_hash: r.try_get("secret_hash")?,
                secret_sealed: r.try_get("secret_sealed")?,
            })
        })
        .transpose()
    }

    /// All client ids of a realm with their registration.
    pub async fn clients(&self, realm: &str) -> Result<Vec<(String, String)>> {
        let rows =
            sqlx::query("SELECT client_id, spec FROM clients WHERE realm = $1 ORDER BY client_id")
                .bind(realm)
                .fetch_all(self.db.pool())
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("client_id")?, r.try_get("spec")?)))
            .collect()
    }

    /// Removes a client; true if it existed.
    pub async fn remove_client(&self, realm: &str, client_id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM clients WHERE realm = $1 AND client_id = $2")
            .bind(realm)
            .bind(client_id)
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    // ---- pending logins ----

    /// Records a pending authorization request.
    pub async fn put_pending(
        &self,
        id_hash: &str,
        realm: &str,
        browser_hash: &str,
        params: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO pending_logins (id_hash, realm, browser_hash, params, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id_hash)
            .bind(realm)
            .bind(browser_hash)
            .bind(params)
            .bind(expires_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// A pending request: (realm, browser hash, params, expiry).
    pub async fn pending(&self, id_hash: &str) -> Result<Option<(String, String, String, i64)>> {
        let row = sqlx::query(
            "SELECT realm, browser_hash, params, expires_at FROM pending_logins WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| {
            Ok((
                r.try_get("realm")?,
                r.try_get("browser_hash")?,
                r.try_get("params")?,
                r.try_get("expires_at")?,
            ))
        })
        .transpose()
    }

    /// Ends a pending request without a login (the user went back to the application).
    /// Returns false if it was already used or ended.
    pub async fn abandon_pending(&self, id_hash: &str) -> Result<bool> {
        let gone = sqlx::query("DELETE FROM pending_logins WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.db.pool())
            .await?;
        Ok(gone.rows_affected() == 1)
    }

    // ---- sessions, grants and codes ----

    /// Finds a live session by cookie hash.
    pub async fn session(
        &self,
        realm: &str,
        cookie_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT sid, national_id, auth_time, method, acr FROM sessions WHERE cookie_hash = $1 AND realm = $2 AND ended_at IS NULL AND expires_at > $3",
        )
        .bind(cookie_hash)
        .bind(realm)
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                sid: r.try_get("sid")?,
                national_id: r.try_get("national_id")?,
                auth_time: r.try_get("auth_time")?,
                method: r.try_get("method")?,
                acr: r.try_get("acr")?,
            })
        })
        .transpose()
    }

    /// Completes a login in one transaction: consumes the pending request, opens the session,
    /// records the grant and its code. A browser's live session in this realm goes on when the
    /// same professional logs in again (a step-up, `prompt=login`): same `sid`, the new
    /// authentication's time, method and level, a new cookie. Another professional's ends, as a
    /// logout does ([`Store::end_session`]), and is returned so its clients can be told. `None`
    /// (and nothing written) if the pending request was already used.
    #[allow(clippy::too_many_arguments)] // One transaction's worth of values.
    pub async fn complete_login(
        &self,
        pending_hash: &str,
        previous_cookie_hash: Option<&str>,
        session: (&str, &str, &SessionRow, i64),
        grant: &GrantRow,
        code_hash: &str,
        code: &CodeRow,
        now: i64,
    ) -> Result<Option<LoginCompleted>> {
        let (realm, cookie_hash, s, session_expires) = session;
        let mut tx = self.db.pool().begin().await?;
        let gone = sqlx::query("DELETE FROM pending_logins WHERE id_hash = $1")
            .bind(pending_hash)
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() != 1 {
            return Ok(None);
        }
        let previous = match previous_cookie_hash {
            Some(prev) => sqlx::query(
                "SELECT sid, national_id FROM sessions WHERE cookie_hash = $1 AND realm = $2 AND ended_at IS NULL",
            )
            .bind(prev)
            .bind(realm)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| -> Result<(String, String)> { Ok((r.try_get("sid")?, r.try_get("national_id")?)) })
            .transpose()?,
            None => None,
        };
        let mut revoked_grants = Vec::new();
        let (sid, replaced) = match previous {
            Some((sid, national_id)) if national_id == s.national_id => {
                sqlx::query("UPDATE sessions SET cookie_hash = $1, auth_time = $2, method = $3, acr = $4, expires_at = $5 WHERE sid = $6")
                    .bind(cookie_hash)
                    .bind(s.auth_time)
                    .bind(&s.method)
                    .bind(&s.acr)
                    .bind(session_expires)
                    .bind(&sid)
                    .execute(&mut *tx)
                    .await?;
                (sid, None)
            }
            other => {
                let replaced = match other {
                    Some((old, _)) => {
                        let (ended, revoked) = Self::end_session_in(&mut tx, &old, now).await?;
                        revoked_grants = revoked;
                        ended
                    }
                    None => None,
                };
                sqlx::query("INSERT INTO sessions (sid, cookie_hash, realm, national_id, auth_time, method, acr, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(&s.sid)
                    .bind(cookie_hash)
                    .bind(realm)
                    .bind(&s.national_id)
                    .bind(s.auth_time)
                    .bind(&s.method)
                    .bind(&s.acr)
                    .bind(session_expires)
                    .execute(&mut *tx)
                    .await?;
                (s.sid.clone(), replaced)
            }
        };
        let grant = GrantRow {
            sid: sid.clone(),
            ..grant.clone()
        };
        Self::insert_grant_and_code(&mut tx, realm, &grant, code_hash, code, now).await?;
        Self::count_login_in(&mut tx, realm, &grant.client_id, &s.method, now).await?;
        tx.commit().await?;
        self.revoked.grants_revoked(&revoked_grants, now).await;
        Ok(Some(LoginCompleted { sid, replaced }))
    }

    /// Ends a live session and revokes its grants, except `offline_access` ones (which
    /// outlive the session by design), in one transaction. The ended session, with the
    /// clients to tell; `None` when it had already ended (nobody is told twice).
    pub async fn end_session(&self, sid: &str, now: i64) -> Result<Option<EndedSessionRow>> {
        let mut tx = self.db.pool().begin().await?;
        let (ended, revoked) = Self::end_session_in(&mut tx, sid, now).await?;
        tx.commit().await?;
        self.revoked.grants_revoked(&revoked, now).await;
        Ok(ended)
    }

    async fn end_session_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        sid: &str,
        now: i64,
    ) -> Result<(Option<EndedSessionRow>, Vec<String>)> {
        let ended =
            sqlx::query("UPDATE sessions SET ended_at = $1 WHERE sid = $2 AND ended_at IS NULL")
                .bind(now)
                .bind(sid)
                .execute(&mut **tx)
                .await?;
        let revoked = sqlx::query("UPDATE grants SET revoked_at = $1 WHERE sid = $2 AND revoked_at IS NULL AND scope NOT LIKE '%offline_access%' RETURNING grant_id")
            .bind(now)
            .bind(sid)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.try_get("grant_id"))
            .collect::<Result<Vec<String>, _>>()?;
        if ended.rows_affected() != 1 {
            return Ok((None, revoked));
        }
        let session = sqlx::query("SELECT realm, national_id FROM sessions WHERE sid = $1")
            .bind(sid)
            .fetch_one(&mut **tx)
            .await?;
        let clients =
            sqlx::query("SELECT DISTINCT client_id FROM grants WHERE sid = $1 ORDER BY client_id")
                .bind(sid)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|r| r.try_get("client_id"))
                .collect::<Result<Vec<String>, _>>()?;
        let ended = EndedSessionRow {
            sid: sid.to_owned(),
            realm: session.try_get("realm")?,
            national_id: session.try_get("national_id")?,
            clients,
        };
        Ok((Some(ended), revoked))
    }

    /// Deletes expired rows; returns how many.
    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        let mut n = 0;
        for sql in [
            "DELETE FROM pending_logins WHERE expires_at < $1",
            "DELETE FROM revoked_tokens WHERE expires_at < $1",
            "DELETE FROM assertion_jtis WHERE expires_at < $1",
            "DELETE FROM auth_codes WHERE expires_at < $1",
            "DELETE FROM refresh_tokens WHERE expires_at < $1",
            "DELETE FROM grants WHERE expires_at < $1 AND grant_id NOT IN (SELECT grant_id FROM refresh_tokens) AND grant_id NOT IN (SELECT grant_id FROM auth_codes)",
            "DELETE FROM sessions WHERE expires_at < $1",
            "DELETE FROM upstream_logins WHERE expires_at < $1",
            "DELETE FROM upstream_pending_links WHERE expires_at < $1",
            "DELETE FROM upstream_sessions WHERE expires_at < $1",
            // e-CPS: activation codes (used or not) and approval requests (decided or not),
            // an hour after their expiry (a CIBA client polling late still hears expired_token).
            "DELETE FROM ecps_activations WHERE expires_at < $1",
            "DELETE FROM approval_requests WHERE expires_at < $1",
        ] {
            n += sqlx::query(sql)
                .bind(now - 3600)
                .execute(self.db.pool())
                .await?
                .rows_affected();
        }
        Ok(n)
    }
}
