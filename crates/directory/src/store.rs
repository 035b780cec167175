//! The directory's store: SQLite or PostgreSQL through sqlx's `Any` driver, its own schema
//! (`migrations/directory/`), separate from the provider's. Every SQL statement of the
//! directory is here. Imports apply a [`Plan`] one transaction per batch: a crash mid-import
//! leaves every earlier batch committed and the rest as it was, all of it queryable.

use crate::record::{Plan, Record, RecordKind, Stored};
use anyhow::{Context, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};
use std::collections::{BTreeMap, HashMap};

/// The schema's files, applied in order at every connection (each statement idempotent:
/// `IF NOT EXISTS`). Numbers are never reused; a missing number is simply not applied.
/// Statements are split at `;`, so comments hold none.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/directory/0001_directory.sql"),
    include_str!("../../../migrations/directory/0003_contact.sql"),
];

/// Records written per transaction.
pub const BATCH: usize = 1000;

/// The directory's database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

/// A stored record with its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record.
    pub record: Record,
    /// Whether it is active.
    pub active: bool,
    /// Last change (seconds since the epoch).
    pub updated_at: i64,
    /// Deactivation date, when inactive.
    pub deactivated_at: Option<i64>,
    /// Change counter.
    pub version: i64,
}

fn kind_of(s: &str) -> Option<RecordKind> {
    use RecordKind::*;
    [
        Practitioner,
        PractitionerRole,
        Qualification,
        Diploma,
        Mailbox,
        Establishment,
        LegalEntity,
    ]
    .into_iter()
    .find(|k| k.as_str() == s)
}

impl Store {
    /// Connects and creates the schema if needed. `sqlite:` URLs create the file.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let url = if sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
        } else {
            url.to_owned()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 2 } else { 8 })
            .connect(&url)
            .await
            .context("connecting to the directory's database")?;
        for statement in MIGRATIONS
            .iter()
            .flat_map(|m| m.split(';'))
            .map(|s| {
                s.lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .filter(|s| !s.trim().is_empty())
        {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&pool)
                .await
                .context("creating the directory's schema")?;
        }
        Ok(Self { pool })
    }

    /// The pool, for the directory's other repository modules (`space/store.rs`).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The stored hashes and states of the records of `kinds`.
    pub async fn states(
        &self,
        kinds: &[RecordKind],
    ) -> Result<HashMap<(RecordKind, String), Stored>> {
        let mut out = HashMap::new();
        for kind in kinds {
            let rows = sqlx::query(
                "SELECT record_key, content_hash, active FROM directory_record WHERE kind = $1",
            )
            .bind(kind.as_str())
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
                let key: String = row.try_get(0)?;
                let hash: String = row.try_get(1)?;
                let active: i64 = row.try_get(2)?;
                out.insert(
                    (*kind, key),
                    Stored {
                        hash,
                        active: active != 0,
                    },
                );
            }
        }
        Ok(out)
    }

    async fn last_version(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM directory_record")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Applies a plan at `now`: inserts, updates (reactivating), deactivations; one transaction
    /// per [`BATCH`] records. `progress` is told how many changes are done out of how many.
    pub async fn apply(
        &self,
        plan: &Plan,
        records: &BTreeMap<(RecordKind, String), Record>,
        now: i64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<()> {
        enum Op<'a> {
            Insert(&'a Record),
            Update(&'a Record),
            Deactivate(&'a (RecordKind, String)),
        }
        let mut ops: Vec<Op<'_>> = Vec::new();
        ops.extend(
            plan.insert
                .iter()
                .filter_map(|id| records.get(id))
                .map(Op::Insert),
        );
        ops.extend(
            plan.update
                .iter()
                .filter_map(|id| records.get(id))
                .map(Op::Update),
        );
        ops.extend(plan.deactivate.iter().map(Op::Deactivate));
        let total = ops.len() as u64;
        let mut version = self.last_version().await?;
        let mut done = 0u64;
        for batch in ops.chunks(BATCH) {
            let mut tx = self.pool.begin().await?;
            for op in batch {
                version += 1;
                match op {
                    Op::Insert(r) => {
                        sqlx::query(
                            "INSERT INTO directory_record (kind, record_key, content_hash, fields, \
                             active, updated_at, deactivated_at, version) \
                             VALUES ($1, $2, $3, $4, 1, $5, NULL, $6)",
                        )
                        .bind(r.kind.as_str())
                        .bind(r.key.as_str())
                        .bind(r.content_hash())
                        .bind(serde_json::to_string(&r.fields)?)
                        .bind(now)
                        .bind(version)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Op::Update(r) => {
                        sqlx::query(
                            "UPDATE directory_record SET content_hash = $3, fields = $4, active = 1, \
                             updated_at = $5, deactivated_at = NULL, version = $6 \
                             WHERE kind = $1 AND record_key = $2",
                        )
                        .bind(r.kind.as_str())
                        .bind(r.key.as_str())
                        .bind(r.content_hash())
                        .bind(serde_json::to_string(&r.fields)?)
                        .bind(now)
                        .bind(version)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Op::Deactivate((kind, key)) => {
                        sqlx::query(
                            "UPDATE directory_record SET active = 0, updated_at = $3, \
                             deactivated_at = $3, version = $4 WHERE kind = $1 AND record_key = $2",
                        )
                        .bind(kind.as_str())
                        .bind(key.as_str())
                        .bind(now)
                        .bind(version)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            tx.commit().await?;
            done += batch.len() as u64;
            progress(done, total);
        }
        Ok(())
    }

    /// One record.
    pub async fn get(&self, kind: RecordKind, key: &str) -> Result<Option<StoredRecord>> {
        let row = sqlx::query(
            "SELECT kind, record_key, fields, active, updated_at, deactivated_at, version \
             FROM directory_record WHERE kind = $1 AND record_key = $2",
        )
        .bind(kind.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| stored(&r)).transpose()
    }

    /// Records of a kind in change order after `after_version` (keyset paging), at most `limit`.
    pub async fn changed_since(
        &self,
        kind: RecordKind,
        after_version: i64,
        limit: i64,
    ) -> Result<Vec<StoredRecord>> {
        let rows = sqlx::query(
            "SELECT kind, record_key, fields, active, updated_at, deactivated_at, version \
             FROM directory_record WHERE kind = $1 AND version > $2 ORDER BY version LIMIT $3",
        )
        .bind(kind.as_str())
        .bind(after_version)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored).collect()
    }

    /// Records of one or two kinds in change order after `after_version` (keyset paging over
    /// `version`, unique across the table), at most `limit`.
    pub async fn scan(
        &self,
        kinds: &[RecordKind],
        after_version: i64,
        limit: i64,
    ) -> Result<Vec<StoredRecord>> {
        let (first, second) = match kinds {
            [a] => (*a, *a),
            [a, b] => (*a, *b),
            _ => anyhow::bail!("a scan covers one or two record kinds"),
        };
        let rows = sqlx::query(
            "SELECT kind, record_key, fields, active, updated_at, deactivated_at, version \
             FROM directory_record WHERE kind IN ($1, $2) AND version > $3 \
             ORDER BY version LIMIT $4",
        )
        .bind(first.as_str())
        .bind(second.as_str())
        .bind(after_version)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored).collect()
    }

    /// The records of a kind whose key starts with `prefix` (a practitioner's exercises:
    /// `IdNat|`), in key order.
    pub async fn with_key_prefix(
        &self,
        kind: RecordKind,
        prefix: &str,
    ) -> Result<Vec<StoredRecord>> {
        let pattern = format!("{}%", like_escaped(prefix));
        self.matching(
            kind,
            "SELECT kind, record_key, fields, active, updated_at, deactivated_at, version \
             FROM directory_record WHERE kind = $1 AND record_key LIKE $2 ESCAPE '!' \
             ORDER BY version",
            pattern,
        )
        .await
    }

    /// The records of a kind whose field `name` is exactly `value` (a practitioner's
    /// mailboxes by IdNat). Matches the stored JSON text of the fields, as written by
    /// `serde_json` (compact): a scan of the kind's rows.
    pub async fn with_field(
        &self,
        kind: RecordKind,
        name: &str,
        value: &str,
    ) -> Result<Vec<StoredRecord>> {
        let needle = format!(
            "{}:{}",
            serde_json::to_string(name)?,
            serde_json::to_string(value)?
        );
        let pattern = format!("%{}%", like_escaped(&needle));
        self.matching(
            kind,
            "SELECT kind, record_key, fields, active, updated_at, deactivated_at, version \
             FROM directory_record WHERE kind = $1 AND fields LIKE $2 ESCAPE '!' \
             ORDER BY version",
            pattern,
        )
        .await
    }

    /// The records of `kind` a `LIKE` query (`$1` the kind, `$2` the pattern) returns.
    async fn matching(
        &self,
        kind: RecordKind,
        sql: &'static str,
        pattern: String,
    ) -> Result<Vec<StoredRecord>> {
        let rows = sqlx::query(sql)
            .bind(kind.as_str())
            .bind(pattern)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(stored).collect()
    }

    /// How many records of a kind, active ones only or all.
    pub async fn count(&self, kind: RecordKind, active_only: bool) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM directory_record WHERE kind = $1 AND (active = 1 OR $2 = 0)",
        )
        .bind(kind.as_str())
        .bind(i64::from(active_only))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }
}

fn stored(row: &sqlx::any::AnyRow) -> Result<StoredRecord> {
    let kind: String = row.try_get(0)?;
    let fields: String = row.try_get(2)?;
    let active: i64 = row.try_get(3)?;
    Ok(StoredRecord {
        record: Record {
            kind: kind_of(&kind).with_context(|| format!("unknown record kind {kind}"))?,
            key: row.try_get(1)?,
            fields: serde_json::from_str(&fields)?,
        },
        active: active != 0,
        updated_at: row.try_get(4)?,
        deactivated_at: row.try_get(5)?,
        version: row.try_get(6)?,
    })
}

/// `s` for a `LIKE … ESCAPE '!'` pattern: `%`, `_` and `!` taken literally.
fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}
