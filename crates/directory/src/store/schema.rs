//! The directory's schema: its files applied in order ([`MIGRATIONS`]), the secondary indexes
//! a first import builds once at its end, the search index rows written again for records that
//! predate them, the planner's statistics after an import.

use super::{BATCH, CACHE_SIZE, Store, stored, write};
use crate::record::RecordKind;
use anyhow::{Context, Result};
use sqlx::{AnyPool, Row};
use std::collections::BTreeSet;

/// The schema's files, applied in order, each once: `directory_schema` holds the numbers of
/// the files applied (a store of earlier versions, without it, gets its files applied again,
/// which their `IF NOT EXISTS` makes harmless). Numbers are never reused. Statements are split
/// at `;`, so comments hold none.
const MIGRATIONS: &[(&str, On)] = &[
    (
        include_str!("../../../../migrations/directory/0001_directory.sql"),
        On::Both,
    ),
    (
        include_str!("../../../../migrations/directory/0002_search_index.sql"),
        On::Both,
    ),
    (
        include_str!("../../../../migrations/directory/0003_contact.sql"),
        On::Both,
    ),
    (
        include_str!("../../../../migrations/directory/0004_versions_and_search_order.sql"),
        On::Both,
    ),
    (
        include_str!("../../../../migrations/directory/0005_contains_trigram.sql"),
        On::Postgres,
    ),
    (
        include_str!("../../../../migrations/directory/0006_shared_keys.sql"),
        On::Both,
    ),
    (
        include_str!(
            "../../../../migrations/directory/0007_index_authorities_and_structure_mailboxes.sql"
        ),
        On::Both,
    ),
    (
        include_str!("../../../../migrations/directory/0008_family_given.sql"),
        On::Both,
    ),
    (
        include_str!("../../../../migrations/directory/0009_kept_resources.sql"),
        On::Both,
    ),
    (
        include_str!("../../../../migrations/directory/0010_record_states.sql"),
        On::Both,
    ),
    (
        include_str!("../../../../migrations/directory/0011_record_key_index.sql"),
        On::Apart(include_str!(
            "../../../../migrations/directory/0011_record_key_index.postgres.sql"
        )),
    ),
    (
        include_str!("../../../../migrations/directory/0012_search_rows_by_record.sql"),
        On::Both,
    ),
    (
        include_str!("../../../../migrations/directory/0013_short_index_systems.sql"),
        On::Both,
    ),
];

/// The kinds whose index rows a schema file dropped for the store to write them again (with
/// rows added since): `0007`, exercises and mailboxes. A kind with records and no index row
/// is indexed again when the store is opened.
const REINDEXED: &[RecordKind] = &[RecordKind::PractitionerRole, RecordKind::Mailbox];

/// The databases a schema file is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum On {
    /// SQLite and PostgreSQL.
    Both,
    /// PostgreSQL only, and optional (an index that speeds searches up): recorded as applied,
    /// and not run, on SQLite; on a PostgreSQL that refuses it (no `pg_trgm`), a warning, and
    /// tried again at the next start.
    Postgres,
    /// The file is for SQLite; PostgreSQL's own version is this one.
    Apart(&'static str),
}

/// The secondary indexes of the records and of the search index, as the migrations create
/// them: an import into an empty store drops them and builds them once at its end
/// ([`Store::bulk_load_begin`]), and a store opened without them (an import stopped before its
/// end) gets them back.
const INDEXES: &[&str] = &[
    "CREATE UNIQUE INDEX IF NOT EXISTS directory_record_key ON directory_record (kind, record_key)",
    "CREATE INDEX IF NOT EXISTS directory_record_version ON directory_record (kind, version)",
    "CREATE INDEX IF NOT EXISTS directory_record_state \
     ON directory_record (kind, record_key, content_hash, active)",
    "CREATE INDEX IF NOT EXISTS directory_search_order \
     ON directory_search (param, value, kind, record_key)",
    "CREATE INDEX IF NOT EXISTS directory_search_of_record \
     ON directory_search (kind, record_key, param, value) \
     WHERE param = 'family' OR param = 'given' OR param = 'prefix' OR param = 'name' \
     OR param = 'address-city' OR param = 'address-postalcode'",
];

impl Store {
    /// Fills the search index of a store whose records predate it (schema 0001 only), and
    /// that of the [`REINDEXED`] kinds left without rows.
    pub(super) async fn build_index_if_missing(&self) -> Result<()> {
        let indexed = sqlx::query("SELECT 1 FROM directory_search LIMIT 1")
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        if !indexed {
            return self.index_records(None).await;
        }
        for kind in REINDEXED {
            let stored = sqlx::query("SELECT 1 FROM directory_record WHERE kind = $1 LIMIT 1")
                .bind(kind.as_str())
                .fetch_optional(&self.pool)
                .await?
                .is_some();
            // Through the index's order: every record of these kinds has an `owner` or an
            // `organization` row (the index by record holds neither, schema `0012`).
            // The parameters written out ([`super::search::Sql::params`]).
            let rows = sqlx::query(
                "SELECT 1 FROM directory_search WHERE param IN ('owner', 'organization') \
                 AND kind = $1 LIMIT 1",
            )
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await?
            .is_some();
            if stored && !rows {
                self.index_records(Some(*kind)).await?;
            }
        }
        Ok(())
    }

    /// Writes the index rows of every record (of `kind` only, when given), in change order,
    /// one transaction per [`BATCH`] records.
    async fn index_records(&self, kind: Option<RecordKind>) -> Result<()> {
        let mut after = 0;
        loop {
            let rows = match kind {
                // Through the (kind, version) index.
                Some(kind) => {
                    sqlx::query(
                        "SELECT kind, record_key, fields, active, updated_at, deactivated_at, \
                         version FROM directory_record WHERE kind = $1 AND version > $2 \
                         ORDER BY version LIMIT $3",
                    )
                    .bind(kind.as_str())
                    .bind(after)
                    .bind(BATCH as i64)
                    .fetch_all(&self.pool)
                    .await?
                }
                None => {
                    sqlx::query(
                        "SELECT kind, record_key, fields, active, updated_at, deactivated_at, \
                         version FROM directory_record WHERE version > $1 ORDER BY version \
                         LIMIT $2",
                    )
                    .bind(after)
                    .bind(BATCH as i64)
                    .fetch_all(&self.pool)
                    .await?
                }
            };
            let Some(last) = rows.last() else { break };
            after = last.try_get(6)?;
            let records = rows.iter().map(stored).collect::<Result<Vec<_>>>()?;
            let entries: Vec<_> = records
                .iter()
                .map(|s| (&s.record, crate::index::entries(&s.record)))
                .collect();
            let mut tx = self.pool.begin().await?;
            write::insert_index(&mut tx, self.postgres, entries).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Whether the store holds no record at all.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM directory_record LIMIT 1")
            .fetch_optional(&self.pool)
            .await?
            .is_none())
    }

    /// Drops the secondary indexes before a first import into an empty store: each index is
    /// then built once, sorted, by [`Store::bulk_load_end`], instead of row by row in the
    /// extract's order. The records' key index is one of them (schema `0011`): its uniqueness
    /// is checked when it is built again, the import having refused duplicate keys already.
    /// Searches meanwhile read without them (slowly); the records stay whole.
    pub async fn bulk_load_begin(&self) -> Result<()> {
        for name in [
            "directory_record_key",
            "directory_record_version",
            "directory_record_state",
            "directory_search_order",
            "directory_search_of_record",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX IF EXISTS {name}")))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Begins a first load when the store holds no record: the imports that follow, of files
    /// of other kinds each, write without the secondary indexes ([`Store::bulk_load_begin`]),
    /// built once for all of them by [`Store::end_first_load`] (an import of both extracts
    /// into an empty store: the FINESS file's records, written after the professionals' with
    /// every index in place, took 9.6 s at national size). Whether one began.
    pub async fn begin_first_load(&self) -> Result<bool> {
        if self.in_first_load() || !self.is_empty().await? {
            return Ok(false);
        }
        self.bulk_load_begin().await?;
        *self.first_load_kinds() = Some(BTreeSet::new());
        Ok(true)
    }

    /// Whether a first load is in progress.
    pub fn in_first_load(&self) -> bool {
        self.first_load_kinds().is_some()
    }

    /// Whether an import of records of `kinds` is part of the first load in progress: none of
    /// them written by an earlier import of the load (nothing stored to compare with, nothing
    /// to deactivate). An import of kinds the load has written already ends it first (its
    /// records are compared with what the load wrote, through the indexes): `false`.
    pub(crate) async fn join_first_load(&self, kinds: &[RecordKind]) -> Result<bool> {
        let joined = match self.first_load_kinds().as_mut() {
            None => return Ok(false),
            Some(written) if kinds.iter().all(|k| !written.contains(k)) => {
                written.extend(kinds.iter().copied());
                true
            }
            Some(_) => false,
        };
        if !joined {
            self.end_first_load().await?;
        }
        Ok(joined)
    }

    /// Ends the first load in progress, if any: builds the secondary indexes and the planner's
    /// statistics.
    pub async fn end_first_load(&self) -> Result<()> {
        if self.first_load_kinds().take().is_none() {
            return Ok(());
        }
        self.bulk_load_end().await?;
        self.analyze().await
    }

    fn first_load_kinds(&self) -> std::sync::MutexGuard<'_, Option<BTreeSet<RecordKind>>> {
        // The set is only ever replaced whole: a panic elsewhere cannot leave it half-written.
        self.first_load
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Builds the secondary indexes that are missing (after a first import, or when a store
    /// is opened after one that stopped before its end).
    pub async fn bulk_load_end(&self) -> Result<()> {
        self.on_small_cache(INDEXES)
            .await
            .context("building the directory's indexes")
    }

    /// Runs `statements` that read whole tables in order (an index build, statistics) on one
    /// connection, with an 8 MiB page cache on SQLite. SQLite sorts an index's rows in memory
    /// up to the cache's size before it writes them out sorted and merges them, and `ANALYZE`
    /// fills the cache with pages read once: with the connections' 64 MiB, these statements
    /// at the end of a first import were its peak of memory (364 MiB for 250,000 rows, 218
    /// MiB with the small cache, in the same time). A larger cache was no faster (64 MiB:
    /// 24 s for the search index's order at 1.25 M rows, 19 s with 8 MiB); a second sorting
    /// thread is (index builds 55 s → 43 s at 1.25 M rows).
    async fn on_small_cache(&self, statements: &[&str]) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        if !self.postgres {
            // `threads`: SQLite sorts an index's rows on a second thread while it reads on.
            for pragma in ["PRAGMA cache_size = -8192", "PRAGMA threads = 2"] {
                sqlx::query(pragma).execute(&mut *conn).await?;
            }
        }
        let mut done = Ok(());
        for statement in statements {
            let started = std::time::Instant::now();
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(*statement))
                .execute(&mut *conn)
                .await
            {
                done = Err(e.into());
                break;
            }
            let seconds = started.elapsed().as_secs_f64();
            let statement = statement.split(" ON ").next().unwrap_or_default();
            if seconds >= 1.0 {
                tracing::info!(statement, seconds, "directory: index or statistics built");
            } else {
                tracing::debug!(statement, seconds, "directory: index or statistics built");
            }
        }
        if !self.postgres {
            for pragma in [CACHE_SIZE, "PRAGMA threads = 0"] {
                sqlx::query(pragma).execute(&mut *conn).await?;
            }
        }
        done
    }

    /// Refreshes the planner's statistics after an import: without them a database may join
    /// the index to the records by reading every record (measured on PostgreSQL right after a
    /// bulk load: name searches hundreds of times slower).
    pub async fn analyze(&self) -> Result<()> {
        let statements: &[&str] = if self.postgres {
            // VACUUM too: it marks the pages all-visible, so that searches read the index
            // alone (index-only scans) instead of visiting the rows of every entry.
            &[
                "VACUUM (ANALYZE) directory_record",
                "VACUUM (ANALYZE) directory_search",
            ]
        } else {
            // The log back to nothing: an index build is one transaction, and the log file
            // stays as large as the index (1.5 GiB at national size) until truncated.
            &["PRAGMA optimize", "PRAGMA wal_checkpoint(TRUNCATE)"]
        };
        self.on_small_cache(statements).await?;
        if !self.postgres {
            self.drop_value_samples().await?;
        }
        Ok(())
    }

    /// Removes the samples of values `ANALYZE` keeps in `sqlite_stat4` (SQLite is built with
    /// them), keeping the per-index averages of `sqlite_stat1`. With samples, SQLite plans a
    /// statement again whenever a bound value might change its plan: every search by a new
    /// identifier or name was planned anew, about 15 % of an identifier search. The index's
    /// order dictates the searches' plans; the averages suffice for joining the records.
    async fn drop_value_samples(&self) -> Result<()> {
        let sampled = sqlx::query("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat4'")
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        if sampled {
            // `ANALYZE sqlite_schema`: the connections read the statistics tables again.
            for s in ["DELETE FROM sqlite_stat4", "ANALYZE sqlite_schema"] {
                sqlx::query(s).execute(&self.pool).await?;
            }
        }
        Ok(())
    }
}

/// Runs the statements of the schema file number `n` and records it as applied, in one
/// transaction: a file stopped halfway (a table copied into another, then renamed) leaves the
/// schema as it was.
async fn apply(pool: &AnyPool, postgres: bool, n: i64, file: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    for statement in coeur_common::schema::statements(file) {
        let statement = if postgres {
            statement
                .replace("COLLATE BINARY", "COLLATE \"C\"")
                .replace("char(1)", "chr(1)")
        } else {
            statement
        };
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("creating the directory's schema (file {n})"))?;
    }
    sqlx::query("INSERT INTO directory_schema (file) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(n)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Applies the files of [`MIGRATIONS`] not applied yet.
pub(super) async fn migrate(pool: &AnyPool, postgres: bool) -> Result<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS directory_schema (file BIGINT NOT NULL PRIMARY KEY)")
        .execute(pool)
        .await
        .context("creating the directory's schema")?;
    let applied: Vec<i64> = sqlx::query("SELECT file FROM directory_schema")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    for (n, (file, on)) in (1i64..).zip(MIGRATIONS) {
        if applied.contains(&n) {
            continue;
        }
        let file = match on {
            On::Postgres if !postgres => "",
            On::Apart(on_postgres) if postgres => on_postgres,
            _ => file,
        };
        if let Err(e) = apply(pool, postgres, n, file).await {
            if *on == On::Postgres {
                tracing::warn!(error = %format!("{e:#}"), "directory: optional schema file {n} not applied");
                continue;
            }
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{INDEXES, MIGRATIONS};
    use crate::index::BY_RECORD;

    /// The condition of the index by record: one term per parameter of [`BY_RECORD`], as the
    /// searches write theirs (`param = '…'`, which implies it).
    fn by_record_condition() -> String {
        BY_RECORD
            .iter()
            .map(|p| format!("param = '{p}'"))
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    fn words(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn the_index_by_record_holds_the_parameters_of_by_record() {
        let condition = format!("WHERE {}", by_record_condition());
        let built = INDEXES
            .iter()
            .find(|s| s.contains("directory_search_of_record"))
            .expect("the index by record");
        assert!(words(built).ends_with(&condition), "{built}");
        let (file, _) = MIGRATIONS[11];
        assert!(words(file).ends_with(&condition), "{file}");
        assert!(words(file).contains(&words(built)), "{file}");
    }
}
