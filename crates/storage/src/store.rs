//! The key store's repository: realms' key ring versions, held keys (CA keys and the like),
//! the master key's check value. Every row it writes holds sealed values only.

use crate::Db;
use anyhow::Result;
use sqlx::Row as _;

/// Whether an insertion of a version took place or found the version already taken (by
/// another instance at the same moment, or an earlier run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The row is written.
    Written,
    /// A row of that version was there: nothing written.
    Taken,
}

/// The key store's statements.
#[derive(Clone)]
pub struct KeyRows {
    db: Db,
}

impl KeyRows {
    /// The repository over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The latest version of a realm's ring: (version, ring JSON).
    pub async fn latest_ring(&self, realm: &str) -> Result<Option<(i64, String)>> {
        sqlx::query(
            "SELECT version, ring FROM key_rings WHERE realm = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(realm)
        .fetch_optional(self.db.pool())
        .await?
        .map(|r| -> Result<(i64, String)> { Ok((r.try_get("version")?, r.try_get("ring")?)) })
        .transpose()
    }

    /// The latest version number of a realm's ring (0: none yet).
    pub async fn ring_version(&self, realm: &str) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM key_rings WHERE realm = $1")
                .bind(realm)
                .fetch_one(self.db.pool())
                .await?
                .try_get("v")?,
        )
    }

    /// Adds version `version` of a realm's ring, unless that version exists.
    pub async fn insert_ring(
        &self,
        realm: &str,
        version: i64,
        ring: &str,
        now: i64,
    ) -> Result<Inserted> {
        let n = sqlx::query(
            "INSERT INTO key_rings (realm, version, ring, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (realm, version) DO NOTHING",
        )
        .bind(realm)
        .bind(version)
        .bind(ring)
        .bind(now)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(if n == 1 {
            Inserted::Written
        } else {
            Inserted::Taken
        })
    }

    /// The latest version of a held key: (version, sealed key).
    pub async fn latest_held_key(&self, key_id: &str) -> Result<Option<(i64, String)>> {
        sqlx::query(
            "SELECT version, sealed FROM held_keys WHERE key_id = $1 ORDER BY version DESC \
             LIMIT 1",
        )
        .bind(key_id)
        .fetch_optional(self.db.pool())
        .await?
        .map(|r| -> Result<(i64, String)> { Ok((r.try_get("version")?, r.try_get("sealed")?)) })
        .transpose()
    }

    /// Adds version `version` of a held key, unless that version exists.
    pub async fn insert_held_key(
        &self,
        key_id: &str,
        version: i64,
        sealed: &str,
        now: i64,
    ) -> Result<Inserted> {
        let n = sqlx::query(
            "INSERT INTO held_keys (key_id, version, sealed, created_at) VALUES ($1, $2, $3, \
             $4) ON CONFLICT (key_id, version) DO NOTHING",
        )
        .bind(key_id)
        .bind(version)
        .bind(sealed)
        .bind(now)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(if n == 1 {
            Inserted::Written
        } else {
            Inserted::Taken
        })
    }

    /// The master key's check value, as sealed.
    pub async fn master_check(&self) -> Result<Option<String>> {
        Ok(
            sqlx::query("SELECT sealed FROM master_key_check WHERE id = 1")
                .fetch_optional(self.db.pool())
                .await?
                .map(|r| r.try_get("sealed"))
                .transpose()?,
        )
    }

    /// Records the master key's check value unless one is there.
    pub async fn insert_master_check(&self, sealed: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO master_key_check (id, sealed, created_at) VALUES (1, $1, $2) ON \
             CONFLICT (id) DO NOTHING",
        )
        .bind(sealed)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}
