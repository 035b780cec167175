//! The directory's store: SQLite or PostgreSQL through sqlx's `Any` driver, its own schema
//! (`migrations/directory/`), separate from the provider's. Every SQL statement of the
//! directory is here: records and states in this module, the schema files, the secondary
//! indexes and statistics in [`schema`], writes with their search index rows in [`write`],
//! index lookups in [`search`], resources kept as JSON in [`kept`]. Imports write one transaction per batch: a crash
//! mid-import leaves every earlier batch committed and the rest as it was, all of it queryable.

mod fields;
pub mod kept;
mod schema;
pub mod search;
pub mod write;

use crate::extract::{Known, KnownKeys};
use crate::record::{Plan, Record, RecordKind, key_id, stored_hash_prefix};
use anyhow::{Context, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
pub use write::{BATCH, Change, Writer};

/// A SQLite connection's page cache: 64 MiB (see [`Store::connect_for`]).
const CACHE_SIZE: &str = "PRAGMA cache_size = -65536";

/// The page size of a new SQLite store: 16 KiB, not SQLite's 4 KiB. A national-size store
/// holds some 7 GiB; with 4 KiB pages a first import wrote and read them a system call a page
/// (the log's frames, the checkpoints, the index builds' reads of the tables), and each index's
/// tree was a level deeper. Measured on a national-size first import: 97.8 s instead of 108 s,
/// system time 21 s instead of 32 s (8 KiB: no better than 4 KiB); searches by identifier and
/// by name as fast. A store created before keeps its pages: SQLite changes a file's page size
/// only when the file is new.
const PAGE_SIZE: &str = "PRAGMA page_size = 16384";

/// An import's map size on SQLite: none (see [`Store::connect_for`]).
const IMPORT_MMAP: &str = "PRAGMA mmap_size = 0";
/// An import's log threshold on SQLite (see [`Store::connect_for`]).
const IMPORT_CHECKPOINTS: &str = "PRAGMA wal_autocheckpoint = 16000";

/// Keys read per round trip when listing stored states.
const PAGE: i64 = 20_000;

/// The directory's database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    postgres: bool,
    /// The first load in progress ([`Store::begin_first_load`]): the kinds its imports wrote.
    first_load: Arc<Mutex<Option<BTreeSet<RecordKind>>>>,
    /// The database's URL: the writer's connections of their own (SQLite's checkpoints, a
    /// first load's writing) connect to it.
    url: Arc<str>,
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

/// The kind of its stored name.
pub(crate) fn kind_of(s: &str) -> Option<RecordKind> {
    use RecordKind::*;
    [
        Practitioner,
        PractitionerRole,
        Qualification,
        Diploma,
        Mailbox,
        Establishment,
        LegalEntity,
        Authorisation,
        SocialEquipment,
        Card,
    ]
    .into_iter()
    .find(|k| k.as_str() == s)
}

/// What a store is opened for: how SQLite reads its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Searches: reads through a memory map of the file.
    Searches,
    /// An import: reads through SQLite's page cache only. A memory map would count every page
    /// of the file the import's inserts touch in the importer's resident memory, which must
    /// stay bounded whatever the extract's size.
    Import,
}

impl Store {
    /// Connects for searches ([`Workload::Searches`]) and creates the schema if needed.
    /// `sqlite:` URLs create the file.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_for(url, Workload::Searches).await
    }

    /// Connects for `workload` and creates the schema if needed.
    pub async fn connect_for(url: &str, workload: Workload) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let url = if sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
        } else {
            url.to_owned()
        };
        // No ping before each use of a pooled connection: it was a round trip (a hop to
        // SQLite's worker thread, or to PostgreSQL) for every statement, a third of an
        // identifier search's time. A connection found broken fails its statement instead.
        let opts = AnyPoolOptions::new()
            .max_connections(if sqlite { 2 } else { 8 })
            .test_before_acquire(false);
        // As the provider's store: a write-ahead log (readers do not wait for an import's
        // batches), synced at checkpoints, and a wait rather than an error on a busy file. A
        // 64 MiB page cache per connection: an import inserts into indexes in key order, not
        // in file order, and SQLite's default 2 MiB cache would go to disk for most of them.
        // Reads through a memory map of the file (up to 16 GiB): a search's index and record
        // pages are used where the kernel keeps them, without a read call and a copy into the
        // page cache for each (a name search touches hundreds of pages across the file).
        let mmap = match workload {
            Workload::Searches => "PRAGMA mmap_size = 17179869184",
            Workload::Import => IMPORT_MMAP,
        };
        // An import's batches write some 5 MiB each: with SQLite's default (1,000 pages) every
        // commit copied its pages into the file and synced it (16 % of an import's time), and
        // the pages of the indexes every batch touches were copied at every batch. Every 64 MiB
        // of log instead. (Not syncing at all during a first import, `synchronous = OFF`, was
        // tried: 9 % faster at 1.25 M rows, for a store an operating system crash could leave
        // unreadable; not taken.)
        let checkpoints = match workload {
            Workload::Searches => "PRAGMA wal_autocheckpoint = 1000",
            Workload::Import => IMPORT_CHECKPOINTS,
        };
        let opts = if sqlite {
            opts.after_connect(move |conn, _| {
                Box::pin(async move {
                    for pragma in sqlite_pragmas(mmap, checkpoints) {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
        } else {
            opts
        };
        let pool = opts
            .connect(&url)
            .await
            .context("connecting to the directory's database")?;
        let postgres = !sqlite;
        schema::migrate(&pool, postgres).await?;
        let store = Self {
            pool,
            postgres,
            first_load: Arc::default(),
            url: Arc::from(url.as_str()),
        };
        store.bulk_load_end().await?;
        store.build_index_if_missing().await?;
        Ok(store)
    }

    /// The pool, for the directory's other repository modules (`space/store.rs`).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The most connections the store's pool opens.
    pub fn connections(&self) -> u32 {
        self.pool.options().get_max_connections()
    }

    /// Whether the database is PostgreSQL (else SQLite).
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// The stored hashes and states of the records of `kinds` (small stores: `check`, tests).
    pub async fn states(
        &self,
        kinds: &[RecordKind],
    ) -> Result<HashMap<(RecordKind, String), crate::record::Stored>> {
        let mut out = HashMap::new();
        for kind in kinds {
            self.each_key(*kind, false, &mut |key, hash, active| {
                out.insert(
                    (*kind, key.to_owned()),
                    crate::record::Stored {
                        hash: hash.to_owned(),
                        active,
                    },
                );
            })
            .await?;
        }
        Ok(out)
    }

    /// What an import needs to know of the stored records of `kinds`: 16 bytes of key and
    /// 16 of state each, read in pages of keys.
    pub async fn known(&self, kinds: &[RecordKind]) -> Result<KnownKeys> {
        let mut total = 0usize;
        for kind in kinds {
            total += usize::try_from(self.count(*kind, false).await?).unwrap_or(0);
        }
        let mut out = KnownKeys::with_capacity(total + total / 4);
        for kind in kinds {
            self.each_key(*kind, false, &mut |key, hash, active| {
                out.insert(
                    key_id(*kind, key),
                    Known::stored(stored_hash_prefix(hash), active),
                );
            })
            .await?;
        }
        Ok(out)
    }

    /// Calls `f` with the key, content hash and state of every record of `kind` (only the
    /// active ones with `active_only`), in key order, a page at a time.
    pub async fn each_key(
        &self,
        kind: RecordKind,
        active_only: bool,
        f: &mut (dyn FnMut(&str, &str, bool) + Send),
    ) -> Result<()> {
        let mut after: Option<String> = None;
        // Each page starts at its key, a range of the records' state index: with the bound in
        // an `OR` (`$2 = 0 OR record_key > $3`, one statement for the first page and the
        // next), SQLite read the kind's keys from the first at every page, which made a pass
        // over millions of records quadratic.
        let active = if active_only { " AND active = 1" } else { "" };
        let limit = limit_clause(PAGE);
        let first = format!(
            "SELECT record_key, content_hash, active FROM directory_record WHERE kind = $1{active} \
             ORDER BY record_key{limit}"
        );
        let next = format!(
            "SELECT record_key, content_hash, active FROM directory_record WHERE kind = $1 \
             AND record_key > $2{active} ORDER BY record_key{limit}"
        );
        loop {
            let rows = match &after {
                None => sqlx::query(sqlx::AssertSqlSafe(first.as_str())).bind(kind.as_str()),
                Some(a) => sqlx::query(sqlx::AssertSqlSafe(next.as_str()))
                    .bind(kind.as_str())
                    .bind(a.clone()),
            }
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.try_get(0)?);
            for row in &rows {
                let key: &str = row.try_get(0)?;
                let hash: &str = row.try_get(1)?;
                let active: i64 = row.try_get(2)?;
                f(key, hash, active != 0);
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        Ok(())
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
        let total = (plan.insert.len() + plan.update.len() + plan.deactivate.len()) as u64;
        let mut writer = Writer::new(self, now).await?;
        let changes = (plan.insert.iter().filter_map(|id| records.get(id)))
            .map(|r| Change::Insert(r.clone()))
            .chain(
                plan.update
                    .iter()
                    .filter_map(|id| records.get(id))
                    .map(|r| Change::Update(r.clone())),
            )
            .chain(
                plan.deactivate
                    .iter()
                    .map(|(k, key)| Change::Deactivate(*k, key.clone())),
            );
        for change in changes {
            let before = writer.written();
            writer.push(change).await?;
            if writer.written() != before {
                progress(writer.written(), total);
            }
        }
        writer.flush().await?;
        progress(writer.written(), total);
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
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT kind, record_key, fields, active, updated_at, deactivated_at, version \
             FROM directory_record WHERE kind = $1 AND version > $2 ORDER BY version{}",
            limit_clause(limit)
        )))
        .bind(kind.as_str())
        .bind(after_version)
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
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT kind, record_key, fields, active, updated_at, deactivated_at, version \
             FROM directory_record WHERE kind IN ($1, $2) AND version > $3 \
             ORDER BY version{}",
            limit_clause(limit)
        )))
        .bind(first.as_str())
        .bind(second.as_str())
        .bind(after_version)
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

impl Store {
    /// The `/readyz` check of the directory's database: a lookup by primary key, answered
    /// whatever the store holds.
    pub fn readiness(&self) -> coeur_web::lifecycle::ReadinessCheck {
        let store = self.clone();
        coeur_web::lifecycle::readiness_check(
            "the directory's database does not answer",
            move || {
                let store = store.clone();
                async move { store.get(RecordKind::Practitioner, "-").await }
            },
        )
    }

    /// The 32-byte key `name` every instance sharing this database uses: `fresh` when no
    /// instance has made it yet (the first insert wins, so instances starting together agree).
    pub async fn shared_key(&self, name: &str, fresh: [u8; 32]) -> Result<[u8; 32]> {
        let hex = hex::encode(fresh);
        sqlx::query(
            "INSERT INTO directory_shared_key (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(&hex)
        .execute(&self.pool)
        .await
        .context("keeping a shared key")?;
        let row = sqlx::query("SELECT value FROM directory_shared_key WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .context("reading a shared key")?;
        let value: String = row.try_get(0)?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(&value, &mut key)
            .with_context(|| format!("the shared key {name} is not 32 bytes in hexadecimal"))?;
        Ok(key)
    }
}

/// The stored record `kind`/`key` (its fields and key), read in the transaction `tx`.
pub(crate) async fn stored_record(
    tx: &mut sqlx::AnyConnection,
    kind: RecordKind,
    key: &str,
) -> Result<Option<Record>> {
    let row =
        sqlx::query("SELECT fields FROM directory_record WHERE kind = $1 AND record_key = $2")
            .bind(kind.as_str())
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(row) = row else { return Ok(None) };
    let fields: &str = row.try_get(0)?;
    Ok(Some(Record {
        kind,
        key: key.to_owned(),
        fields: fields::decode(fields, None)?,
    }))
}

/// The settings of a connection to a SQLite store (see [`Store::connect_for`]), with its map
/// size and log threshold.
fn sqlite_pragmas(mmap: &'static str, checkpoints: &'static str) -> [&'static str; 7] {
    [
        PAGE_SIZE,
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA busy_timeout = 10000",
        CACHE_SIZE,
        mmap,
        checkpoints,
    ]
}

/// A SQLite connection of its own to the store `url` (a first load's writer,
/// [`write::Writer`]), set as the pool's connections for an import ([`Workload::Import`]) but
/// for its page cache.
pub(crate) async fn own_sqlite_connection(url: &str) -> Result<sqlx::SqliteConnection> {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(url)
        .await
        .context("connecting to the directory's database")?;
    for pragma in sqlite_pragmas(IMPORT_MMAP, IMPORT_CHECKPOINTS) {
        sqlx::query(pragma).execute(&mut conn).await?;
    }
    // A small page cache: a first load appends to two tables (no index is there), a few pages
    // at a time; with the pool's 64 MiB it held pages written once (+55 MiB at the peak of a
    // 1.25 M-row import).
    sqlx::query("PRAGMA cache_size = -8192")
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

/// Takes `$1` versions of the counter, giving the last.
pub(crate) const TAKE_VERSIONS: &str =
    "UPDATE directory_version SET last = last + $1 WHERE id = 1 RETURNING last";

/// Takes `n` versions from the directory's one counter (`directory_version`) in the
/// transaction `tx` and returns the first: the row stays locked until `tx` ends, so versions
/// are unique and committed in increasing order, whoever writes (an import's batch, a
/// professional's contact change).
pub(crate) async fn take_versions(tx: &mut sqlx::AnyConnection, n: i64) -> Result<i64> {
    let row = sqlx::query(TAKE_VERSIONS)
        .bind(n)
        .fetch_one(&mut *tx)
        .await
        .context("taking versions")?;
    let last: i64 = row.try_get(0)?;
    Ok(last - n + 1)
}

pub(crate) fn stored(row: &sqlx::any::AnyRow) -> Result<StoredRecord> {
    stored_only(row, None)
}

/// [`stored`], with only the fields named in `only` when given: the others are skipped
/// while the stored JSON is read, not decoded into strings.
pub(crate) fn stored_only(row: &sqlx::any::AnyRow, only: Option<&[&str]>) -> Result<StoredRecord> {
    let kind: String = row.try_get(0)?;
    let fields: &str = row.try_get(2)?;
    let active: i64 = row.try_get(3)?;
    let fields = fields::decode(fields, only)?;
    Ok(StoredRecord {
        record: Record {
            kind: kind_of(&kind).with_context(|| format!("unknown record kind {kind}"))?,
            key: row.try_get(1)?,
            fields,
        },
        active: active != 0,
        updated_at: row.try_get(4)?,
        deactivated_at: row.try_get(5)?,
        version: row.try_get(6)?,
    })
}

/// ` LIMIT n` with the number in the statement's text, not bound: SQLite (3.51) plans a
/// statement with a bound `LIMIT ?` for the value bound, so it prepares it again at each
/// execution (it was 15 % of an identifier search). The searches' limits are few (a page and
/// one more, a scan's round), and so are the statements they make.
pub(crate) fn limit_clause(n: i64) -> String {
    format!(" LIMIT {}", n.max(0))
}

/// `s` for a `LIKE … ESCAPE '!'` pattern: `%`, `_` and `!` taken literally.
pub(crate) fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}
