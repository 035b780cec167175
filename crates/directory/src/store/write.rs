//! Writing records with their search index rows: a [`Writer`] gathers changes and writes them
//! one transaction per [`BATCH`], with multi-row inserts (the same statement text for every
//! full batch, so each connection prepares it once).

mod args;

use super::{Store, kept};
use crate::index::{Entry, entries};
use crate::record::{Record, RecordKind};
use anyhow::Result;
use args::{
    Args, CopyData, Text, index_args, index_insert, record_args, records_insert, rows_args,
};
use sqlx::{Any, AnyPool, Connection, PgConnection, SqliteConnection, Transaction};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Records written per transaction.
pub const BATCH: usize = 2000;

/// Rows per multi-row insert of records (8 columns: 4,000 parameters, below SQLite's and
/// PostgreSQL's limits).
const RECORD_ROWS: usize = 500;
/// Rows per multi-row insert of index rows (5 columns).
const INDEX_ROWS: usize = 1000;

/// One change.
#[derive(Debug, Clone)]
pub enum Change {
    /// A new record.
    Insert(Record),
    /// A changed record, or a deactivated one present again (reactivated).
    Update(Record),
    /// An active record absent from a complete extract.
    Deactivate(RecordKind, String),
}

/// Writes changes in batches at one date, each with the next version of the directory's
/// counter, taken in the batch's transaction ([`super::take_versions`]). Full batches go
/// through two tasks while the caller reads on: one prepares each batch (content hashes, the
/// fields as stored, the index rows), the other writes the prepared batches, one transaction
/// each, in order. Each stage waits for the next when one batch is ahead, so that preparing,
/// writing and the caller's reading run side by side (a national-size first import spent
/// half of its writer's time preparing, during which nothing was written). After an error
/// nothing more is written; [`Writer::flush`] waits for everything and reports it.
///
/// During a first load into a SQLite store ([`Store::in_first_load`]) the batches of new
/// records are written on a SQLite connection of the writer's own rather than through the
/// pool ([`Via::Sqlite`]): their arguments are SQLite's, built while the batch before is
/// written, their texts bound from where they are. Through `Any`, every value was converted
/// into SQLite's arguments, a copy of each text on the writing task, the import's bottleneck
/// (always busy while the reading and the preparing waited for it).
pub struct Writer {
    pool: AnyPool,
    postgres: bool,
    /// The database's URL ([`Store`]'s).
    url: Arc<str>,
    /// Where batches of new records go.
    via: Via,
    now: i64,
    pending: Vec<(Change, Option<[u8; 32]>)>,
    pipeline: Option<Pipeline>,
    written: Arc<AtomicU64>,
}

/// A prepared batch: its changes, and the arguments of the multi-row inserts of their index
/// rows, each with its number of rows (the rows of new and changed records, in order), in the
/// form of the connection that writes them.
struct Batch {
    via: Via,
    changes: Vec<Prepared>,
    index: Vec<(usize, Args)>,
    /// The records and their index rows as `COPY` data ([`Via::Postgres`]).
    copy: Option<CopyData>,
}

/// The connection a batch is written on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    /// The store's pool (`Any`): every batch on PostgreSQL, and on SQLite but during a first
    /// load.
    Pool,
    /// The writer's own SQLite connection: a batch of new records only, during a first load
    /// into a SQLite store, while no resource is kept.
    Sqlite,
    /// The writer's own PostgreSQL connection, the rows sent with `COPY` rather than
    /// multi-row inserts: a batch of new records only, during a first load into a
    /// PostgreSQL store, while no resource is kept.
    Postgres,
}

/// The tasks a [`Writer`] hands its full batches to.
struct Pipeline {
    batches: mpsc::Sender<Vec<(Change, Option<[u8; 32]>)>>,
    prepare: JoinHandle<Result<()>>,
    write: JoinHandle<Result<()>>,
    /// SQLite's checkpoints ([`checkpoints`]), stopped once the writing task is done.
    checkpoint: Option<JoinHandle<()>>,
}

/// Copies SQLite's log into the database file `url` each time `committed` is told of a
/// commit, one checkpoint at a time (a passive one: it waits for no one and blocks no
/// writer), until `committed`'s sender is gone; from a connection of its own, with SQLite's
/// small default page cache (a connection of the pool, later writing batches too, would fill
/// a second 64 MiB cache: +60 MiB at the peak of a national-size import). Without it, the
/// commit that crossed the connection's threshold (`wal_autocheckpoint`) copied the log's
/// pages and synced the file while the batches behind it waited: at 1.25 M rows, the writing
/// went from 36.7 s to 34.2 s. The threshold stays, as the log's bound should this task fall
/// behind or fail to connect.
fn checkpoints(url: Arc<str>, mut committed: mpsc::Receiver<()>) -> JoinHandle<()> {
    use sqlx::Connection;
    tokio::spawn(async move {
        let mut conn = match sqlx::AnyConnection::connect(&url).await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "directory: no connection for the checkpoints");
                while committed.recv().await.is_some() {}
                return;
            }
        };
        while committed.recv().await.is_some() {
            let done = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut conn)
                .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "directory: checkpoint");
            }
        }
        let _ = conn.close().await;
    })
}

/// A record with what its writing needs, computed ahead of its transaction.
struct Stored {
    record: Record,
    /// Its key, shared by the arguments of its row and of its index rows.
    key: Text,
    /// Its content hash.
    hash: Text,
    /// Its fields as stored ([`super::fields::encode`]).
    fields: Text,
    /// Its index rows, until their arguments are built ([`Batch`]).
    entries: Vec<Entry>,
}

impl Stored {
    /// `record` prepared for `via`, its [`Record::digest`] taken unless given.
    fn of(record: Record, digest: Option<[u8; 32]>, via: Via) -> Result<Self> {
        Ok(Self {
            key: Text::of(record.key.clone(), via),
            hash: Text::of(hex::encode(digest.unwrap_or_else(|| record.digest())), via),
            fields: Text::of(super::fields::encode(&record.fields)?, via),
            entries: entries(&record),
            record,
        })
    }
}

/// A [`Change`] prepared for its transaction.
enum Prepared {
    Insert(Stored),
    Update(Stored),
    Deactivate(RecordKind, String),
}

impl Prepared {
    fn of((change, digest): (Change, Option<[u8; 32]>), via: Via) -> Result<Self> {
        Ok(match change {
            Change::Insert(r) => Self::Insert(Stored::of(r, digest, via)?),
            Change::Update(r) => Self::Update(Stored::of(r, digest, via)?),
            Change::Deactivate(kind, key) => Self::Deactivate(kind, key),
        })
    }
}

impl Batch {
    /// `changes` prepared for `via` (the pool, for a batch that changes stored records), with
    /// the arguments of their index rows.
    fn of(changes: Vec<(Change, Option<[u8; 32]>)>, via: Via, now: i64) -> Result<Self> {
        let only_inserts = changes.iter().all(|(c, _)| matches!(c, Change::Insert(_)));
        let via = if only_inserts { via } else { Via::Pool };
        let mut changes = changes
            .into_iter()
            .map(|c| Prepared::of(c, via))
            .collect::<Result<Vec<_>>>()?;
        let (index, copy) = match via {
            Via::Postgres => (vec![], Some(CopyData::of(&mut changes, now))),
            Via::Pool | Via::Sqlite => (index_args(&mut changes, via)?, None),
        };
        Ok(Self {
            via,
            changes,
            index,
            copy,
        })
    }

    /// This batch of new records prepared again for the pool.
    fn for_pool(self) -> Result<Self> {
        let changes = self
            .changes
            .into_iter()
            .map(|p| match p {
                Prepared::Insert(s) => Ok(Prepared::Insert(Stored {
                    key: Text::of(s.record.key.clone(), Via::Pool),
                    hash: Text::of(s.hash.as_str().to_owned(), Via::Pool),
                    fields: Text::of(s.fields.as_str().to_owned(), Via::Pool),
                    entries: entries(&s.record),
                    record: s.record,
                })),
                _ => anyhow::bail!("a first load's batch holds new records only"),
            })
            .collect::<Result<Vec<_>>>()?;
        let mut changes = changes;
        let index = index_args(&mut changes, Via::Pool)?;
        Ok(Self {
            via: Via::Pool,
            changes,
            index,
            copy: None,
        })
    }
}

impl Writer {
    /// A writer of changes dated `now`.
    pub async fn new(store: &Store, now: i64) -> Result<Self> {
        let via = match (store.in_first_load(), store.postgres) {
            (false, _) => Via::Pool,
            (true, false) => Via::Sqlite,
            (true, true) => Via::Postgres,
        };
        Ok(Self {
            pool: store.pool.clone(),
            postgres: store.postgres,
            url: store.url.clone(),
            via,
            now,
            pending: Vec::with_capacity(BATCH),
            pipeline: None,
            written: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Changes written (committed) so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Adds a change; a full batch is handed to the tasks that prepare and write it.
    pub async fn push(&mut self, change: Change) -> Result<()> {
        self.add((change, None)).await
    }

    /// [`Writer::push`] for an insert or an update whose record's [`Record::digest`] is taken
    /// already (an import's `Collector` takes it): its content hash, not taken again.
    pub async fn push_digested(&mut self, change: Change, digest: [u8; 32]) -> Result<()> {
        self.add((change, Some(digest))).await
    }

    async fn add(&mut self, change: (Change, Option<[u8; 32]>)) -> Result<()> {
        self.pending.push(change);
        if self.pending.len() >= BATCH {
            self.send().await?;
        }
        Ok(())
    }

    /// Hands the pending changes on, starting the tasks when needed.
    async fn send(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let changes = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
        let pipeline = self.pipeline.get_or_insert_with(|| {
            Pipeline::start(
                self.pool.clone(),
                self.postgres,
                self.url.clone(),
                self.via,
                self.now,
                self.written.clone(),
            )
        });
        if pipeline.batches.send(changes).await.is_err() {
            // The tasks stopped: an error, which waiting for them gives.
            self.finish().await?;
            anyhow::bail!("the batch writer stopped");
        }
        Ok(())
    }

    /// Waits until the tasks have written every batch handed to them, then stops them.
    async fn finish(&mut self) -> Result<()> {
        let Some(Pipeline {
            batches,
            prepare,
            write,
            checkpoint,
        }) = self.pipeline.take()
        else {
            return Ok(());
        };
        drop(batches);
        let stopped = |e: tokio::task::JoinError| anyhow::anyhow!("the batch writer stopped: {e}");
        let written = write.await.map_err(stopped)?;
        let prepared = prepare.await.map_err(stopped)?;
        if let Some(checkpoint) = checkpoint {
            checkpoint.await.map_err(stopped)?;
        }
        written.and(prepared)
    }

    /// Writes every pending change and waits until all are committed.
    pub async fn flush(&mut self) -> Result<()> {
        self.send().await?;
        self.finish().await
    }
}

impl Pipeline {
    fn start(
        pool: AnyPool,
        postgres: bool,
        url: Arc<str>,
        via: Via,
        now: i64,
        written: Arc<AtomicU64>,
    ) -> Self {
        let (batches, mut to_prepare) = mpsc::channel::<Vec<(Change, Option<[u8; 32]>)>>(1);
        let (prepared, mut to_write) = mpsc::channel::<Batch>(1);
        let prepare = tokio::spawn(async move {
            while let Some(changes) = to_prepare.recv().await {
                if prepared.send(Batch::of(changes, via, now)?).await.is_err() {
                    break;
                }
            }
            Ok(())
        });
        let (committed, to_checkpoint) = mpsc::channel::<()>(1);
        let checkpoint = (!postgres).then(|| checkpoints(url.clone(), to_checkpoint));
        let write = tokio::spawn(async move {
            let mut own: Option<SqliteConnection> = None;
            let mut own_pg: Option<PgConnection> = None;
            while let Some(batch) = to_write.recv().await {
                let len = batch.changes.len() as u64;
                // A first load's batch comes back when a resource is kept: it then removes
                // those its records are shown in, as any batch written through the pool.
                let back = match batch.via {
                    Via::Postgres => {
                        let conn = match own_pg.as_mut() {
                            Some(conn) => conn,
                            None => own_pg.insert(PgConnection::connect(&url).await?),
                        };
                        copy_new_records(conn, batch).await?
                    }
                    Via::Sqlite => {
                        let conn = match own.as_mut() {
                            Some(conn) => conn,
                            None => own.insert(super::own_sqlite_connection(&url).await?),
                        };
                        write_new_records(conn, batch, now).await?
                    }
                    Via::Pool => {
                        write_batch(&pool, postgres, batch, now).await?;
                        None
                    }
                };
                if let Some(batch) = back {
                    write_batch(&pool, postgres, batch.for_pool()?, now).await?;
                }
                written.fetch_add(len, Ordering::Relaxed);
                // A checkpoint after this commit, unless one is asked for already.
                let _ = committed.try_send(());
            }
            if let Some(conn) = own {
                conn.close().await?;
            }
            if let Some(conn) = own_pg {
                conn.close().await?;
            }
            Ok(())
        });
        Self {
            batches,
            prepare,
            write,
            checkpoint,
        }
    }
}

/// Writes `batch` in one transaction, with as many versions of the counter, in order.
async fn write_batch(pool: &AnyPool, postgres: bool, batch: Batch, now: i64) -> Result<()> {
    let Batch {
        changes: batch,
        index,
        ..
    } = batch;
    let batch = &batch[..];
    let mut tx = pool.begin().await?;
    let first = super::take_versions(&mut tx, batch.len() as i64).await?;
    // Each changed record as stored, read once: its index rows and the kept resources it is
    // shown in are those of its stored form.
    let mut before = Vec::with_capacity(batch.len());
    for p in batch {
        before.push(match p {
            Prepared::Update(s) => {
                super::stored_record(&mut tx, s.record.kind, &s.record.key).await?
            }
            Prepared::Insert(_) | Prepared::Deactivate(..) => None,
        });
    }
    forget_kept(&mut tx, postgres, batch, &before).await?;
    let mut inserts: Vec<(&Stored, i64)> = vec![];
    for ((version, p), before) in (first..).zip(batch).zip(&before) {
        match p {
            Prepared::Insert(s) => inserts.push((s, version)),
            Prepared::Update(s) => {
                let r = &s.record;
                if let Some(before) = before {
                    forget_index_rows(&mut tx, postgres, before).await?;
                }
                sqlx::query(
                    "UPDATE directory_record SET content_hash = $3, fields = $4, active = 1, \
                     updated_at = $5, deactivated_at = NULL, version = $6 \
                     WHERE kind = $1 AND record_key = $2",
                )
                .bind(r.kind.as_str())
                .bind(r.key.as_str())
                .bind(s.hash.as_str())
                .bind(s.fields.as_str())
                .bind(now)
                .bind(version)
                .execute(&mut *tx)
                .await?;
            }
            Prepared::Deactivate(kind, key) => {
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
    for chunk in inserts.chunks(RECORD_ROWS) {
        let args = record_args(chunk, now, Via::Pool)?;
        let sql = records_insert(chunk.len(), postgres);
        execute_any(&mut tx, sql, args).await?;
    }
    let mut statement = (0, String::new());
    for (rows, args) in index {
        if statement.0 != rows {
            statement = (rows, index_insert(rows, postgres));
        }
        execute_any(&mut tx, statement.1.clone(), args).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Writes `batch`, of new records only (a first load's), in one transaction on the writer's own
/// SQLite connection; nothing, and the batch back, when a resource is kept (its records may be
/// shown in one: see [`forget_kept`]).
async fn write_new_records(
    conn: &mut SqliteConnection,
    batch: Batch,
    now: i64,
) -> Result<Option<Batch>> {
    let mut tx = conn.begin().await?;
    let Some(first) = versions_unless_kept(&mut tx, batch.changes.len()).await? else {
        tx.rollback().await?;
        return Ok(Some(batch));
    };
    let mut inserts: Vec<(&Stored, i64)> = Vec::with_capacity(batch.changes.len());
    for (version, p) in (first..).zip(&batch.changes) {
        match p {
            Prepared::Insert(s) => inserts.push((s, version)),
            Prepared::Update(_) | Prepared::Deactivate(..) => {
                anyhow::bail!("a first load's batch holds new records only")
            }
        }
    }
    for chunk in inserts.chunks(RECORD_ROWS) {
        let args = record_args(chunk, now, Via::Sqlite)?;
        execute_sqlite(&mut tx, records_insert(chunk.len(), false), args).await?;
    }
    let mut statement = (0, String::new());
    for (rows, args) in batch.index {
        if statement.0 != rows {
            statement = (rows, index_insert(rows, false));
        }
        execute_sqlite(&mut tx, statement.1.clone(), args).await?;
    }
    tx.commit().await?;
    Ok(None)
}

/// Takes `n` versions of the counter in `tx` (a first load's own connection), giving the first,
/// unless a resource is kept (read once the versions are taken: none can be kept meanwhile):
/// then `None`, and the batch goes through the pool.
async fn versions_unless_kept<DB>(tx: &mut Transaction<'_, DB>, n: usize) -> Result<Option<i64>>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    i64: sqlx::Type<DB> + for<'q> sqlx::Encode<'q, DB> + for<'r> sqlx::Decode<'r, DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let n = i64::try_from(n)?;
    let last: i64 = sqlx::query_scalar(super::TAKE_VERSIONS)
        .bind(n)
        .fetch_one(&mut **tx)
        .await?;
    let kept = sqlx::query(kept::ANY_KEPT)
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
    Ok((!kept).then_some(last - n + 1))
}

/// [`write_new_records`] on PostgreSQL: the rows sent with `COPY`.
async fn copy_new_records(conn: &mut PgConnection, batch: Batch) -> Result<Option<Batch>> {
    let mut tx = conn.begin().await?;
    let Some(first) = versions_unless_kept(&mut tx, batch.changes.len()).await? else {
        tx.rollback().await?;
        return Ok(Some(batch));
    };
    let Some(data) = batch.copy else {
        anyhow::bail!("a first load's batch without its COPY data");
    };
    anyhow::ensure!(
        data.len() == batch.changes.len(),
        "a first load's batch holds new records only"
    );
    for (statement, data) in [
        (
            "COPY directory_record (kind, record_key, content_hash, fields, active, updated_at, \
             deactivated_at, version) FROM STDIN",
            data.records(first),
        ),
        (
            "COPY directory_search (kind, record_key, param, system, value) FROM STDIN",
            data.index,
        ),
    ] {
        let mut copy = (*tx).copy_in_raw(statement).await?;
        copy.send(data).await?;
        copy.finish().await?;
    }
    tx.commit().await?;
    Ok(None)
}

async fn execute_any(tx: &mut sqlx::AnyConnection, sql: String, args: Args) -> Result<()> {
    let Args::Any(args) = args else {
        anyhow::bail!("SQLite's arguments for the pool");
    };
    sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn execute_sqlite(tx: &mut SqliteConnection, sql: String, args: Args) -> Result<()> {
    let Args::Sqlite(args) = args else {
        anyhow::bail!("the pool's arguments for SQLite");
    };
    sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Removes the index rows of the record `stored`, as stored: those its stored fields give
/// ([`crate::index::entries`]), each an exact row of the index's order (param, value, kind,
/// key). The index by record holds only some parameters' rows (schema `0012`).
async fn forget_index_rows(
    tx: &mut sqlx::AnyConnection,
    postgres: bool,
    stored: &Record,
) -> Result<()> {
    for e in entries(stored) {
        let mut q = super::search::Sql::for_db(postgres, "DELETE FROM directory_search WHERE ");
        q.params("directory_search", &[e.param])?;
        q.push(" AND value = ").bind(e.value)?;
        q.push(" AND kind = ").bind(stored.kind.as_str())?;
        q.push(" AND record_key = ").bind(stored.key.clone())?;
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Removes the kept resources ([`super::kept`]) the changes alter, before they are written: the
/// practitioners a new record is shown in, and those a changed or deactivated one is shown in
/// as stored (`before`, each changed record's stored form). Nothing when none is kept (an
/// import into an empty store).
async fn forget_kept(
    tx: &mut sqlx::AnyConnection,
    postgres: bool,
    changes: &[Prepared],
    before: &[Option<Record>],
) -> Result<()> {
    if !kept::any_kept(&mut *tx).await? {
        return Ok(());
    }
    let mut keys = std::collections::BTreeSet::new();
    for (change, before) in changes.iter().zip(before) {
        match change {
            Prepared::Insert(s) => keys.extend(kept::shown_in(&s.record)),
            Prepared::Update(s) => {
                keys.extend(kept::shown_in(&s.record));
                match before {
                    Some(before) => kept::forget_shown_as(&mut *tx, before).await?,
                    None => kept::forget_stored(&mut *tx, s.record.kind, &s.record.key).await?,
                }
            }
            Prepared::Deactivate(kind, key) => kept::forget_stored(&mut *tx, *kind, key).await?,
        }
    }
    kept::forget(&mut *tx, postgres, &keys).await
}

/// Writes the index rows of `records`.
pub(super) async fn insert_index(
    tx: &mut Transaction<'_, Any>,
    postgres: bool,
    records: Vec<(&Record, Vec<Entry>)>,
) -> Result<()> {
    let rows = records
        .into_iter()
        .map(|(r, entries)| (r.kind.as_str(), Text::of(r.key.clone(), Via::Pool), entries));
    for (n, args) in rows_args(rows, Via::Pool)? {
        execute_any(tx, index_insert(n, postgres), args).await?;
    }
    Ok(())
}
