//! The offer's store: SQLite or PostgreSQL through sqlx's `Any` driver, its own schema
//! (`migrations/offer/`). Every SQL statement of the offer is here.
//!
//! A capacity change is one transaction: the location's new version (only if it still is
//! the version the editor saw), its capacity rows for searches, and its history row.

use crate::model::{Capacity, LocationRecord, ServiceRecord};
use crate::query::{Cmp, Query, TimeCmp};
use anyhow::{Context, Result};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::sync::Arc;
use std::time::Duration;

mod near;
mod write;

/// The schema's migrations, in order, each applied once (recorded in `offer_schema`; the
/// first ones are idempotent, so that a store made before that table was is brought up to
/// date). Statements are split on semicolons, which comments must not hold.
const MIGRATIONS: [(i64, &str); 6] = [
    (
        1,
        include_str!("../../../../migrations/offer/0001_offer.sql"),
    ),
    (
        2,
        include_str!("../../../../migrations/offer/0002_capacity_search.sql"),
    ),
    (
        3,
        include_str!("../../../../migrations/offer/0003_drop_capacity_nb_index.sql"),
    ),
    (
        4,
        include_str!("../../../../migrations/offer/0004_location_near_index.sql"),
    ),
    (
        5,
        include_str!("../../../../migrations/offer/0005_nos_codes.sql"),
    ),
    (
        6,
        include_str!("../../../../migrations/offer/0006_positions_version.sql"),
    ),
];

/// SQLite's settings, on each connection: the write-ahead log, synced at checkpoints only
/// (a crash of the machine may lose the last commits, never corrupt), a page cache of
/// 64 MiB (the default 2 MiB makes every write read its index pages from the file), and
/// checkpoints made by [`checkpoints`], the pool's own only past 64 MiB of log.
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA cache_size = -65536",
    "PRAGMA wal_autocheckpoint = 16000",
];

/// Locations written per statement when filling the store.
const BATCH: usize = 200;

/// The offer's database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// SQLite (else PostgreSQL): the SQL dialect of the few statements that differ.
    sqlite: bool,
    /// The locations' positions for `near`, as last read (shared by the store's clones).
    positions: near::Held,
    /// Held by the store's clones: SQLite's checkpoints stop when the last one is dropped.
    _alive: Arc<()>,
}

/// How often SQLite's log is copied back into the database, off the write path.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Copies SQLite's log back into the database every [`CHECKPOINT_EVERY`] from a connection
/// of its own, until `alive` is gone. A passive checkpoint waits for no one and blocks no
/// writer: the writes no longer pay for it (the log's pages copied and the database file
/// synced) while they hold the one connection, so that writes waiting behind them wait for
/// no checkpoint either. The pool's own checkpoint every 16,000 pages stays as the bound of
/// the log should this one fall behind.
async fn checkpoints(url: &str, alive: std::sync::Weak<()>) -> Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .context("connecting to the offer's database (checkpoints)")?;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.strong_count() == 0 {
                break;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut conn)
                .await
            {
                tracing::warn!(error = %e, "offer store: checkpoint");
            }
        }
        let _ = conn.close().await;
    });
    Ok(())
}

/// What a capacity update came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Updated {
    /// Written: the location as it now is.
    Done(Box<LocationRecord>),
    /// The location has moved on: its current version.
    Stale(i64),
    /// No such location.
    Missing,
}

/// One version of a location's capacities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The version.
    pub version: i64,
    /// When.
    pub changed_at: i64,
    /// Who (`professional:…`, `client:…`, `generated`).
    pub changed_by: String,
    /// The capacities of that version.
    pub capacities: Vec<Capacity>,
}

#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// A WHERE clause under construction with its bound values.
#[derive(Default)]
struct Where {
    sql: Vec<String>,
    binds: Vec<Bind>,
}

impl Where {
    fn param(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    fn any_of(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let ps: Vec<String> = values
            .iter()
            .map(|v| self.param(Bind::Text(v.clone())))
            .collect();
        self.sql.push(format!("{column} IN ({})", ps.join(", ")));
    }

    fn prefix_of(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let ps: Vec<String> = values
            .iter()
            .map(|v| {
                let escaped = v
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let p = self.param(Bind::Text(format!("{escaped}%")));
                format!("{column} LIKE {p} ESCAPE '\\'")
            })
            .collect();
        self.sql.push(format!("({})", ps.join(" OR ")));
    }

    fn number(&mut self, column: &str, cmps: &[(Cmp, i64)]) {
        for &(c, v) in cmps {
            let p = self.param(Bind::Int(v));
            let op = match c {
                Cmp::Eq => "=",
                Cmp::Ne => "<>",
                Cmp::Gt => ">",
                Cmp::Lt => "<",
                Cmp::Ge => ">=",
                Cmp::Le => "<=",
            };
            self.sql.push(format!("{column} {op} {p}"));
        }
    }

    fn time(&mut self, column: &str, cmps: &[TimeCmp]) {
        for c in cmps {
            let (s, e) = (self.param(Bind::Int(c.start)), self.param(Bind::Int(c.end)));
            self.sql.push(match c.cmp {
                Cmp::Eq => format!("({column} >= {s} AND {column} < {e})"),
                Cmp::Ne => format!("({column} < {s} OR {column} >= {e})"),
                Cmp::Gt => format!("{column} >= {e}"),
                Cmp::Lt => format!("{column} < {s}"),
                Cmp::Ge => format!("{column} >= {s}"),
                Cmp::Le => format!("{column} < {e}"),
            });
        }
    }

    fn clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.sql.join(" AND "))
        }
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

const LOCATION_COLUMNS: &str =
    "id, finess, name, line, postal_code, city, region, lat, lon, capacities, version, updated_at";
const SERVICE_COLUMNS: &str = "id, finess, structure_name, location_id, name, service_type, \
                               specialty, care_mode, region, version, updated_at";

fn location_of(row: &AnyRow) -> Result<LocationRecord> {
    let caps: String = row.try_get(9)?;
    record_of(
        row,
        serde_json::from_str(&caps).context("stored capacities")?,
    )
}

/// A row of [`LOCATION_COLUMNS`] whose capacities are known already.
fn record_of(row: &AnyRow, capacities: Vec<Capacity>) -> Result<LocationRecord> {
    Ok(LocationRecord {
        id: row.try_get(0)?,
        finess: row.try_get(1)?,
        name: row.try_get(2)?,
        line: row.try_get(3)?,
        postal_code: row.try_get(4)?,
        city: row.try_get(5)?,
        region: row.try_get(6)?,
        lat: row.try_get(7)?,
        lon: row.try_get(8)?,
        capacities,
        version: row.try_get(10)?,
        updated_at: row.try_get(11)?,
    })
}

fn service_of(row: &AnyRow) -> Result<ServiceRecord> {
    Ok(ServiceRecord {
        id: row.try_get(0)?,
        finess: row.try_get(1)?,
        structure_name: row.try_get(2)?,
        location_id: row.try_get(3)?,
        name: row.try_get(4)?,
        service_type: row.try_get(5)?,
        specialty: row.try_get(6)?,
        care_mode: row.try_get(7)?,
        region: row.try_get(8)?,
        version: row.try_get(9)?,
        updated_at: row.try_get(10)?,
    })
}

fn placeholders(rows: usize, cols: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let ps: Vec<String> = (0..cols)
                .map(|c| format!("${}", first + r * cols + c))
                .collect();
            format!("({})", ps.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
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
            .max_connections(if sqlite { 1 } else { 8 })
            // No ping before each use of the SQLite connection: it was a hop to SQLite's
            // worker thread and back for every statement (a file does not hang up as a server
            // does). PostgreSQL's connections are still checked.
            .test_before_acquire(!sqlite)
            // Each connection's settings, also on those opened again later.
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        for pragma in SQLITE_PRAGMAS {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .context("connecting to the offer's database")?;
        sqlx::query("CREATE TABLE IF NOT EXISTS offer_schema (version BIGINT PRIMARY KEY)")
            .execute(&pool)
            .await
            .context("creating the offer's schema")?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM offer_schema")
            .fetch_all(&pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        for (version, migration) in MIGRATIONS {
            if applied.contains(&version) {
                continue;
            }
            let mut tx = pool.begin().await?;
            for statement in coeur_common::schema::statements(migration) {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await
                    .with_context(|| format!("the offer's schema, migration {version}"))?;
            }
            sqlx::query(
                "INSERT INTO offer_schema (version) VALUES ($1) ON CONFLICT (version) DO NOTHING",
            )
            .bind(version)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        let alive = Arc::new(());
        if sqlite {
            checkpoints(&url, Arc::downgrade(&alive)).await?;
        }
        Ok(Self {
            pool,
            sqlite,
            positions: near::Held::default(),
            _alive: alive,
        })
    }

    /// How many locations are stored.
    pub async fn count_locations(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM offer_location")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// One location.
    pub async fn location(&self, id: &str) -> Result<Option<LocationRecord>> {
        let sql = format!("SELECT {LOCATION_COLUMNS} FROM offer_location WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(location_of).transpose()
    }

    /// One service.
    pub async fn service(&self, id: &str) -> Result<Option<ServiceRecord>> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM offer_service WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(service_of).transpose()
    }

    /// The locations of structures (FINESS numbers), by id.
    pub async fn locations_of(&self, structures: &[String]) -> Result<Vec<LocationRecord>> {
        if structures.is_empty() {
            return Ok(vec![]);
        }
        let mut w = Where::default();
        w.any_of("finess", structures);
        let sql = format!(
            "SELECT {LOCATION_COLUMNS} FROM offer_location{} ORDER BY id",
            w.clause()
        );
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &w.binds)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(location_of).collect()
    }

    /// Locations matching `q`, with the page's rows and whether there are more.
    ///
    /// Capacity parameters select locations having one capacity matching them all: without
    /// `near`, the capacities' index (type, status, location) gives the matching locations in
    /// the order of their ids, so a page reads about as many index entries as it has rows;
    /// with `near`, each location of the box is checked by its own capacities. `near` orders
    /// by distance, then id: the locations of the bounding box within the distance, read
    /// first within a small radius, then wider ones until the page is full (a page of the
    /// nearest within a radius is the page of the nearest within the distance), and only the
    /// page's rows decoded.
    pub async fn search_locations(&self, q: &Query) -> Result<(Vec<LocationRecord>, bool)> {
        let mut w = Where::default();
        w.any_of("l.id", &q.ids);
        w.any_of("l.id", &q.identifiers);
        w.any_of("l.region", &q.regions);
        w.time("l.updated_at", &q.last_updated);
        w.prefix_of("l.postal_code", &q.postal_codes);
        w.prefix_of("l.city_folded", &q.cities);
        let capacity = |mut inner: Where| {
            inner.any_of("c.capacity_type", &q.capacity_types);
            inner.any_of("c.status", &q.capacity_statuses);
            inner.any_of("c.temporality", &q.temporalities);
            inner.number("c.nb", &q.nb_capacity);
            inner.time("c.update_date", &q.capacity_update);
            inner
        };
        if let Some(n) = &q.near {
            if q.has_capacity_filter() {
                let mut inner = capacity(Where {
                    sql: vec!["c.location_id = l.id".into()],
                    binds: std::mem::take(&mut w.binds),
                });
                w.sql.push(format!(
                    "EXISTS (SELECT 1 FROM offer_capacity c{})",
                    inner.clause()
                ));
                w.binds = std::mem::take(&mut inner.binds);
            }
            return self.search_near(q, n, w).await;
        }
        let columns = LOCATION_COLUMNS
            .split(", ")
            .map(|c| format!("l.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = if q.has_capacity_filter() {
            // The matching locations' ids and versions in order from the capacities' index (a
            // location having several matching capacities once), in one row (each row
            // crossing from the database's thread costs more than its decoding); their
            // records are those held at that version, the others read by key.
            let mut inner = capacity(Where {
                binds: std::mem::take(&mut w.binds),
                ..Where::default()
            });
            let filter = if w.sql.is_empty() {
                String::new()
            } else {
                format!(" AND {}", w.sql.join(" AND "))
            };
            let found = if self.sqlite {
                "json_group_array(json_array(p.id, v.version))"
            } else {
                "COALESCE(json_agg(json_build_array(p.id, v.version)), '[]'::json)::text"
            };
            // The page's ids first (DISTINCT on the id alone, which the index gives in order:
            // no sort), then their versions by key.
            let sql = format!(
                "SELECT {found} FROM (SELECT DISTINCT c.location_id AS id \
                 FROM offer_capacity c JOIN offer_location l ON l.id = c.location_id{}{filter} \
                 ORDER BY c.location_id LIMIT {} OFFSET {}) p \
                 JOIN offer_location v ON v.id = p.id",
                inner.clause(),
                q.count + 1,
                q.offset
            );
            w.binds = std::mem::take(&mut inner.binds);
            loop {
                let row = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), &w.binds)
                    .fetch_one(&self.pool)
                    .await?;
                let mut ids: Vec<(String, i64)> =
                    serde_json::from_str(&row.try_get::<String, _>(0)?)
                        .context("the locations found")?;
                ids.sort();
                if let Some(mut found) = self.held_records(&ids).await? {
                    let more = found.len() > q.count;
                    found.truncate(q.count);
                    return Ok((found, more));
                }
            }
        } else {
            format!(
                "SELECT {columns} FROM offer_location l{} ORDER BY l.id LIMIT {} OFFSET {}",
                w.clause(),
                q.count + 1,
                q.offset
            )
        };
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &w.binds)
            .fetch_all(&self.pool)
            .await?;
        let mut found: Vec<LocationRecord> = rows.iter().map(location_of).collect::<Result<_>>()?;
        let more = found.len() > q.count;
        found.truncate(q.count);
        Ok((found, more))
    }

    /// Services matching `q`, with whether there are more.
    pub async fn search_services(&self, q: &Query) -> Result<(Vec<ServiceRecord>, bool)> {
        let mut w = Where::default();
        w.any_of("id", &q.ids);
        w.any_of("id", &q.identifiers);
        w.any_of("region", &q.regions);
        w.time("updated_at", &q.last_updated);
        w.any_of("service_type", &q.service_types);
        w.any_of("specialty", &q.specialties);
        w.any_of("location_id", &q.locations);
        let sql = format!(
            "SELECT {SERVICE_COLUMNS} FROM offer_service{} ORDER BY id LIMIT {} OFFSET {}",
            w.clause(),
            q.count + 1,
            q.offset
        );
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &w.binds)
            .fetch_all(&self.pool)
            .await?;
        let mut found: Vec<ServiceRecord> = rows.iter().map(service_of).collect::<Result<_>>()?;
        let more = found.len() > q.count;
        found.truncate(q.count);
        Ok((found, more))
    }

    /// The services offered at `locations`.
    pub async fn services_at(&self, locations: &[String]) -> Result<Vec<ServiceRecord>> {
        let mut out = vec![];
        for chunk in locations.chunks(500) {
            let mut w = Where::default();
            w.any_of("location_id", chunk);
            let sql = format!(
                "SELECT {SERVICE_COLUMNS} FROM offer_service{} ORDER BY id",
                w.clause()
            );
            let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &w.binds)
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                out.push(service_of(r)?);
            }
        }
        Ok(out)
    }

    /// Locations by id (those that exist).
    pub async fn locations_by_id(&self, ids: &[String]) -> Result<Vec<LocationRecord>> {
        let mut out = vec![];
        for chunk in ids.chunks(500) {
            let mut w = Where::default();
            w.any_of("id", chunk);
            let sql = format!(
                "SELECT {LOCATION_COLUMNS} FROM offer_location{} ORDER BY id",
                w.clause()
            );
            let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &w.binds)
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                out.push(location_of(r)?);
            }
        }
        Ok(out)
    }

    /// The versions of a location's capacities, newest first.
    pub async fn history(&self, location_id: &str) -> Result<Vec<HistoryEntry>> {
        let rows = sqlx::query(
            "SELECT version, changed_at, changed_by, capacities FROM offer_capacity_history \
             WHERE location_id = $1 ORDER BY version DESC",
        )
        .bind(location_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let caps: String = r.try_get(3)?;
                Ok(HistoryEntry {
                    version: r.try_get(0)?,
                    changed_at: r.try_get(1)?,
                    changed_by: r.try_get(2)?,
                    capacities: serde_json::from_str(&caps)?,
                })
            })
            .collect()
    }

    /// Every capacity version of the locations of `region` written before `until`, oldest
    /// first: `(location id, changed_at, capacities)`.
    pub async fn region_history(
        &self,
        region: &str,
        until: i64,
    ) -> Result<Vec<(String, i64, Vec<Capacity>)>> {
        let rows = sqlx::query(
            "SELECT h.location_id, h.changed_at, h.capacities FROM offer_capacity_history h \
             JOIN offer_location l ON l.id = h.location_id \
             WHERE l.region = $1 AND h.changed_at < $2 ORDER BY h.changed_at, h.version",
        )
        .bind(region)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let caps: String = r.try_get(2)?;
                Ok((r.try_get(0)?, r.try_get(1)?, serde_json::from_str(&caps)?))
            })
            .collect()
    }

    /// The structures (FINESS numbers) whose service account `client_id` is.
    pub async fn service_account_structures(&self, client_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT finess FROM offer_service_account WHERE client_id = $1 ORDER BY finess",
        )
        .bind(client_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Makes `client_id` a service account of the structure `finess`.
    pub async fn add_service_account(&self, client_id: &str, finess: &str) -> Result<()> {
        sqlx::query("DELETE FROM offer_service_account WHERE client_id = $1 AND finess = $2")
            .bind(client_id)
            .bind(finess)
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO offer_service_account (client_id, finess) VALUES ($1, $2)")
            .bind(client_id)
            .bind(finess)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
