//! The database: one schema on SQLite (default) or PostgreSQL, through sqlx's `Any` driver
//! with portable SQL (`$n` placeholders work on both). Each domain keeps its statements in
//! its own repository type over a [`Db`]; only repositories (and tests' checks) reach the pool.

use anyhow::{Context, Result};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use std::time::Duration;

/// The embedded migrations (`migrations/*.sql`), applied at start.
fn migrator() -> Migrator {
    let m = |v: i64, d: &'static str, sql: &'static str| {
        Migration::new(
            v,
            d.into(),
            MigrationType::Simple,
            sqlx::SqlSafeStr::into_sql_str(sql),
            false,
        )
    };
    Migrator::with_migrations(vec![
        m(
            1,
            "provider",
            include_str!("../../../migrations/0001_provider.sql"),
        ),
        m(2, "ca", include_str!("../../../migrations/0002_ca.sql")),
        m(
            3,
            "ldap_outbox",
            include_str!("../../../migrations/0003_ldap_outbox.sql"),
        ),
        m(4, "card", include_str!("../../../migrations/0004_card.sql")),
        m(
            5,
            "revocation indexes",
            include_str!("../../../migrations/0005_revocation_indexes.sql"),
        ),
        m(
            6,
            "refresh successor",
            include_str!("../../../migrations/0006_refresh_successor.sql"),
        ),
        m(7, "ecps", include_str!("../../../migrations/0007_ecps.sql")),
        m(
            8,
            "passkeys",
            include_str!("../../../migrations/0008_passkeys.sql"),
        ),
        m(
            9,
            "upstream",
            include_str!("../../../migrations/0009_upstream.sql"),
        ),
        m(
            10,
            "pivot identity",
            include_str!("../../../migrations/0010_pivot_identity.sql"),
        ),
        m(
            11,
            "login stats",
            include_str!("../../../migrations/0011_login_stats.sql"),
        ),
        m(
            12,
            "identity source",
            include_str!("../../../migrations/0012_identity_source.sql"),
        ),
        m(
            13,
            "keystore",
            include_str!("../../../migrations/0013_keystore.sql"),
        ),
        m(
            14,
            "revocation memory",
            include_str!("../../../migrations/0014_revocation_memory.sql"),
        ),
    ])
}

/// An open, migrated database.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    sqlite: bool,
    /// The PostgreSQL URL, for connections of their own (`LISTEN`).
    postgres_url: Option<std::sync::Arc<str>>,
    /// Held by the clones: SQLite's checkpoints ([`checkpoints`]) stop when the last is gone.
    _alive: std::sync::Arc<()>,
}

/// How often SQLite's log is copied back into the database, off the write path.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Copies SQLite's log back into the database every [`CHECKPOINT_EVERY`] (a passive
/// checkpoint: it waits for no one and blocks no writer) from a connection of its own, until
/// `alive` is gone. The commit that crossed the pool's threshold used to copy the log's pages
/// and sync the file itself while every request behind it waited (the group committer's
/// batch among them); the pool's own checkpoint (`wal_autocheckpoint`) now only bounds the log
/// should this one fall behind.
async fn checkpoints(url: &str, alive: std::sync::Weak<()>) -> Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .context("connecting to the database (checkpoints)")?;
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while alive.strong_count() > 0 {
            every.tick().await;
            let done = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut conn)
                .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "database checkpoint");
            }
        }
        let _ = conn.close().await;
    });
    Ok(())
}

impl Db {
    /// Connects and migrates. `sqlite:` URLs create the file if needed.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let url = if sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
        } else {
            url.to_owned()
        };
        if sqlite {
            create_owner_only(&url)?;
        }
        let opts = AnyPoolOptions::new()
            // SQLite serialises writers: more connections only add thread switches (measured:
            // +30% logins per CPU-second with 2 instead of 8).
            .max_connections(if sqlite { 2 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            // No ping before each use of a SQLite connection: it was a hop to SQLite's worker
            // thread and back for every transaction (a file does not go away as a server
            // does). PostgreSQL's connections are still checked: after a restart of the
            // server, a dead connection is replaced before a request uses it.
            .test_before_acquire(!sqlite);
        let opts = if sqlite {
            opts.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 10000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    // A 64 MiB page cache per connection (SQLite's default is 2 MiB): the
                    // indexes an issuance or a login inserts into (serials, audit chain,
                    // grants) are then read from memory, not with a read call per page.
                    sqlx::query("PRAGMA cache_size = -65536")
                        .execute(&mut *conn)
                        .await?;
                    // Pages read through a memory map, not a read call and a copy each: a
                    // connection's page cache is dropped whenever the other one commits.
                    sqlx::query("PRAGMA mmap_size = 1073741824")
                        .execute(&mut *conn)
                        .await?;
                    // The write-ahead log is copied back by `checkpoints`, off the write
                    // path; a commit does it itself only past 16,000 pages (64 MiB) of log,
                    // should that one fall behind.
                    sqlx::query("PRAGMA wal_autocheckpoint = 16000")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
        } else {
            opts
        };
        let pool = opts
            .connect(&url)
            .await
            .with_context(|| "connecting to the database".to_string())?;
        migrator().run(&pool).await.context("applying migrations")?;
        let postgres_url = (!sqlite).then(|| std::sync::Arc::from(url.as_str()));
        let alive = std::sync::Arc::new(());
        if sqlite {
            checkpoints(&url, std::sync::Arc::downgrade(&alive)).await?;
        }
        Ok(Self {
            pool,
            sqlite,
            postgres_url,
            _alive: alive,
        })
    }

    /// Whether this is the embedded SQLite store.
    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    /// The PostgreSQL URL (`None` on SQLite), for the bus's own connection.
    pub fn postgres_url(&self) -> Option<&str> {
        self.postgres_url.as_deref()
    }

    /// Whether the database answers a trivial query (readiness); the error says how it failed,
    /// without the URL.
    pub async fn ping(&self) -> std::result::Result<(), String> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| format!("database unreachable: {}", ping_error(&e)))
    }

    /// Closes the pool: waits for the connections in use to come back, then closes them all.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool: for domain repositories and tests' checks, never for handlers.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that reads, then writes what it read decided. On SQLite it takes
    /// the write lock at once (`BEGIN IMMEDIATE`, waiting up to the busy timeout for another
    /// writer): a deferred transaction that read first fails at its first write, without
    /// waiting, when another connection wrote in between (`SQLITE_BUSY_SNAPSHOT`).
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(if self.sqlite {
            self.pool.begin_with("BEGIN IMMEDIATE").await?
        } else {
            self.pool.begin().await?
        })
    }

    /// Waits until no other instance sharing the database is starting, and keeps the others
    /// waiting until [`StartLock::release`]: what a first start creates (key rings, CA keys
    /// and certificates, responders) is created once, and the next instance reads it. A
    /// PostgreSQL session-level advisory lock on a connection of its own, so that a process
    /// dying while it holds the lock frees it; nothing on SQLite (one process).
    pub async fn start_lock(&self) -> Result<StartLock> {
        if self.sqlite {
            return Ok(StartLock(None));
        }
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(START_LOCK)
            .execute(&mut *conn)
            .await
            .context("waiting for the other instances' start")?;
        Ok(StartLock(Some(conn)))
    }
}

/// The advisory lock key of instances' starts (any constant no other lock uses).
const START_LOCK: i64 = 7_305_847_241;

/// Held while an instance starts (see [`Db::start_lock`]). Dropped without
/// [`StartLock::release`] (an error on the way), its connection is closed rather than given
/// back to the pool, which ends the lock with the session.
pub struct StartLock(Option<sqlx::pool::PoolConnection<sqlx::Any>>);

impl StartLock {
    /// Lets the next instance start.
    pub async fn release(mut self) -> Result<()> {
        if let Some(mut conn) = self.0.take() {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(START_LOCK)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

impl Drop for StartLock {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(conn.detach());
        }
    }
}

/// ` LIMIT n`, the number written in the statement's text rather than bound: SQLite (3.51)
/// plans a statement with a bound `LIMIT ?` for the value bound, so it prepares the statement
/// again at every execution. `n` is an integer the caller chose (a constant, or a request's
/// number already parsed and bounded), never text; each distinct `n` is a statement of its
/// own in the connections' caches, so callers keep the values few ([`limit_rounded_up`]).
pub fn limit_clause(n: i64) -> String {
    format!(" LIMIT {}", n.max(0))
}

/// The smallest power of two at least `n` (at least 1): a limit a request chose, rounded so
/// that requests make few distinct statements (the caller keeps the first `n` rows).
pub fn limit_rounded_up(n: i64) -> i64 {
    let n = u64::try_from(n.max(1)).unwrap_or(1);
    i64::try_from(n.next_power_of_two()).unwrap_or(i64::MAX)
}

/// What kind of failure a ping met (the driver's message may carry host names; the kind is
/// enough for a probe).
fn ping_error(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::PoolTimedOut => "no connection available in time",
        sqlx::Error::PoolClosed => "pool closed",
        sqlx::Error::Io(_) => "connection failed",
        sqlx::Error::Database(_) => "the database refused the query",
        _ => "query failed",
    }
}

/// Creates a missing SQLite store file readable by its owner only (SQLite gives its -wal and
/// -shm files the same permissions); an existing file is left as it is.
fn create_owner_only(url: &str) -> Result<()> {
    use std::str::FromStr as _;
    // Only where SQLite would create it (`mode=rwc`, the default), never in memory.
    if !url.contains("mode=rwc") || url.contains(":memory:") {
        return Ok(());
    }
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url).context("the SQLite URL")?;
    let path = opts.get_filename();
    if path.as_os_str().is_empty() || path.exists() {
        return Ok(());
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_limit_is_written_as_a_number_and_rounded_to_few_values() {
        assert_eq!(limit_clause(500), " LIMIT 500");
        assert_eq!(limit_clause(-3), " LIMIT 0");
        let rounded: Vec<i64> = [-1, 0, 1, 2, 3, 100, 128, 129, 1000]
            .into_iter()
            .map(limit_rounded_up)
            .collect();
        assert_eq!(rounded, [1, 1, 1, 2, 4, 128, 128, 256, 1024]);
        assert_eq!(limit_rounded_up(i64::MAX), i64::MAX);
    }

    #[test]
    fn a_new_sqlite_store_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("coeur.db");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let db = Db::connect(&format!("sqlite://{}", file.display()))
                .await
                .unwrap();
            // A write, so that the WAL and its index exist.
            sqlx::query("CREATE TABLE t (x INTEGER)")
                .execute(db.pool())
                .await
                .unwrap();
            for suffix in ["", "-wal", "-shm"] {
                let p = dir.path().join(format!("coeur.db{suffix}"));
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}: {mode:o}", p.display());
            }
        });
    }
}
