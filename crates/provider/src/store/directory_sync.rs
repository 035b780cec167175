//! Identities kept in sync from the health directory: written with their source
//! (`directory`), deactivated when the directory deactivates them, and how far each realm's
//! sync has read. Identities of another source (realm files, imports, the sandbox generator)
//! are never changed here.

use super::{IdentitiesWritten, Store};
use anyhow::{Result, bail};
use coeur_common::identity::{AdmittedIdentities, Identity};
use coeur_oauth::realm::Realm;
use sqlx::Row;

/// The source of identities written by the directory's sync.
pub const DIRECTORY: &str = "directory";

/// How far a realm's sync has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncState {
    /// The directory's `_lastUpdated` (seconds) the next increment reads from; `None`: the
    /// next pass is a full one.
    pub watermark: Option<i64>,
    /// When the last pass ended (the provider's clock).
    pub synced_at: i64,
    /// When the last full pass ended.
    pub full_at: Option<i64>,
}

/// What a sync wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncWritten {
    /// Identities added or changed.
    pub written: IdentitiesWritten,
    /// Identities the same as before (nothing written).
    pub unchanged: usize,
}

impl Store {
    /// Writes identities read from the directory into `realm` in one transaction, marked as
    /// the directory's: each one inserted, or replaced when it changed (whatever its source
    /// was: the directory is the reference for the professionals it has). Refused, with
    /// nothing written, when they were admitted for another environment than the realm's.
    pub async fn put_synced_identities(
        &self,
        realm: &Realm,
        ids: &AdmittedIdentities,
        now: i64,
    ) -> Result<SyncWritten> {
        if ids.environment() != realm.environment() {
            bail!(
                "identities admitted for the {} environment cannot be written to realm {} ({})",
                ids.environment(),
                realm.name,
                realm.environment()
            );
        }
        let mut out = SyncWritten::default();
        let mut tx = self.db.begin_write().await?;
        for i in ids.identities() {
            let data = serde_json::to_string(i)?;
            let before = sqlx::query(
                "SELECT data, source FROM identities WHERE realm = $1 AND national_id = $2",
            )
            .bind(&realm.name)
            .bind(i.national_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = &before {
                let (old, source): (String, String) =
                    (row.try_get("data")?, row.try_get("source")?);
                if source == DIRECTORY && old == data {
                    out.unchanged += 1;
                    continue;
                }
                sqlx::query("DELETE FROM identities WHERE realm = $1 AND national_id = $2")
                    .bind(&realm.name)
                    .bind(i.national_id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("INSERT INTO identities (realm, national_id, active, data, updated_at, birth_date, birth_place, birth_country, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(&realm.name)
                .bind(i.national_id.as_str())
                .bind(i64::from(i.active))
                .bind(&data)
                .bind(now)
                .bind(i.birth_date.as_deref())
                .bind(i.birth_place.as_deref())
                .bind(i.birth_country.as_deref())
                .bind(DIRECTORY)
                .execute(&mut *tx)
                .await?;
            if before.is_some() {
                out.written.updated += 1;
            } else {
                out.written.added += 1;
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Deactivates, in one transaction, the identities of `realm` the directory's sync wrote
    /// among `national_ids` (others are left alone); how many were active.
    pub async fn deactivate_synced(
        &self,
        realm: &str,
        national_ids: &[String],
        now: i64,
    ) -> Result<usize> {
        let mut n = 0;
        let mut tx = self.db.begin_write().await?;
        for id in national_ids {
            let row = sqlx::query(
                "SELECT data FROM identities WHERE realm = $1 AND national_id = $2 AND source = $3 AND active = 1",
            )
            .bind(realm)
            .bind(id)
            .bind(DIRECTORY)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else { continue };
            let mut i: Identity = serde_json::from_str(&row.try_get::<String, _>("data")?)?;
            i.active = false;
            sqlx::query("UPDATE identities SET active = 0, data = $1, updated_at = $2 WHERE realm = $3 AND national_id = $4")
                .bind(serde_json::to_string(&i)?)
                .bind(now)
                .bind(realm)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            n += 1;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// The national identifiers of the active identities of `realm` the directory's sync
    /// wrote.
    pub async fn synced_national_ids(&self, realm: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT national_id FROM identities WHERE realm = $1 AND source = $2 AND active = 1 ORDER BY national_id",
        )
        .bind(realm)
        .bind(DIRECTORY)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("national_id")?)).collect()
    }

    /// The source of an identity (`local`, `directory`), if the realm has it.
    pub async fn identity_source(&self, realm: &str, national_id: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT source FROM identities WHERE realm = $1 AND national_id = $2")
                .bind(realm)
                .bind(national_id)
                .fetch_optional(self.db.pool())
                .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("source")?),
            None => None,
        })
    }

    /// How far `realm`'s sync has gone (`None`: never synced).
    pub async fn sync_state(&self, realm: &str) -> Result<Option<SyncState>> {
        let row = sqlx::query(
            "SELECT watermark, synced_at, full_at FROM directory_sync WHERE realm = $1",
        )
        .bind(realm)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match row {
            Some(r) => Some(SyncState {
                watermark: r.try_get("watermark")?,
                synced_at: r.try_get("synced_at")?,
                full_at: r.try_get("full_at")?,
            }),
            None => None,
        })
    }

    /// Records a pass of `realm`'s sync that ended at `now`, read up to `watermark`.
    pub async fn save_sync_state(
        &self,
        realm: &str,
        watermark: Option<i64>,
        now: i64,
        full: bool,
    ) -> Result<()> {
        let full_at = if full { Some(now) } else { None };
        sqlx::query(
            "INSERT INTO directory_sync (realm, watermark, synced_at, full_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (realm) DO UPDATE SET watermark = excluded.watermark, \
             synced_at = excluded.synced_at, \
             full_at = COALESCE(excluded.full_at, directory_sync.full_at)",
        )
        .bind(realm)
        .bind(watermark)
        .bind(now)
        .bind(full_at)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}
