//! The offer's writes: the store filled with generated locations, and a capacity change with
//! its history row, written by difference.

use super::{
    BATCH, Bind, LOCATION_COLUMNS, SERVICE_COLUMNS, Store, Updated, Where, bind_all, placeholders,
    record_of,
};
use crate::authz::EditorAuthorised;
use crate::model::{Capacity, LocationRecord, ServiceRecord};
use anyhow::Result;
use sqlx::Row;

impl Store {
    /// Stores new locations (version 1, in the history as `generated`) and services.
    pub async fn insert_offer(
        &self,
        locations: &[LocationRecord],
        services: &[ServiceRecord],
    ) -> Result<()> {
        for chunk in locations.chunks(BATCH) {
            let mut tx = self.pool.begin().await?;
            let sql = format!(
                "INSERT INTO offer_location (id, finess, name, line, postal_code, city, \
                 city_folded, region, lat, lon, capacities, version, updated_at) VALUES {}",
                placeholders(chunk.len(), 13, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            let mut history = vec![];
            for l in chunk {
                let caps = serde_json::to_string(&l.capacities)?;
                q = q
                    .bind(l.id.clone())
                    .bind(l.finess.clone())
                    .bind(l.name.clone())
                    .bind(l.line.clone())
                    .bind(l.postal_code.clone())
                    .bind(l.city.clone())
                    .bind(l.city.to_lowercase())
                    .bind(l.region.clone())
                    .bind(l.lat)
                    .bind(l.lon)
                    .bind(caps.clone())
                    .bind(l.version)
                    .bind(l.updated_at);
                history.push((l, caps));
            }
            q.execute(&mut *tx).await?;
            // New positions: `near`'s positions held in memory are read again.
            sqlx::query("UPDATE offer_positions SET version = version + 1")
                .execute(&mut *tx)
                .await?;
            let sql = format!(
                "INSERT INTO offer_capacity_history (location_id, version, changed_at, \
                 changed_by, capacities) VALUES {}",
                placeholders(history.len(), 5, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (l, caps) in history {
                q = q
                    .bind(l.id.clone())
                    .bind(l.version)
                    .bind(l.updated_at)
                    .bind("generated")
                    .bind(caps);
            }
            q.execute(&mut *tx).await?;
            let rows: Vec<(&str, usize, &Capacity)> = chunk
                .iter()
                .flat_map(|l| {
                    l.capacities
                        .iter()
                        .enumerate()
                        .map(move |(i, c)| (l.id.as_str(), i, c))
                })
                .collect();
            insert_capacity_rows(&mut tx, &rows).await?;
            tx.commit().await?;
        }
        for chunk in services.chunks(BATCH) {
            let sql = format!(
                "INSERT INTO offer_service ({SERVICE_COLUMNS}) VALUES {}",
                placeholders(chunk.len(), 11, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                q = q
                    .bind(s.id.clone())
                    .bind(s.finess.clone())
                    .bind(s.structure_name.clone())
                    .bind(s.location_id.clone())
                    .bind(s.name.clone())
                    .bind(s.service_type.clone())
                    .bind(s.specialty.clone())
                    .bind(s.care_mode.clone())
                    .bind(s.region.clone())
                    .bind(s.version)
                    .bind(s.updated_at);
            }
            q.execute(&self.pool).await?;
        }
        if !self.sqlite && !locations.is_empty() {
            // The planner's statistics of what was just filled, as autovacuum would gather
            // them later: without them PostgreSQL estimates one row per condition and plans
            // searches by capacity with a sort of every match.
            sqlx::query("ANALYZE offer_location, offer_capacity, offer_service")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Replaces the capacities of the authorised location if it is still at
    /// `expected_version`, whose capacities were `before` (as read at that version), by
    /// `capacities`, recording the change in its history, in one transaction.
    pub async fn update_capacities(
        &self,
        auth: &EditorAuthorised,
        expected_version: i64,
        before: &[Capacity],
        capacities: &[Capacity],
        now: i64,
    ) -> Result<Updated> {
        let id = auth.location_id();
        let caps = serde_json::to_string(capacities)?;
        let mut tx = self.pool.begin().await?;
        // The location as it now is comes back from the write itself.
        let sql = format!(
            "UPDATE offer_location SET capacities = $1, version = version + 1, updated_at = $2 \
             WHERE id = $3 AND version = $4 RETURNING {LOCATION_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(caps.as_str())
            .bind(now)
            .bind(id)
            .bind(expected_version)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            let row = sqlx::query("SELECT version FROM offer_location WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            tx.rollback().await?;
            return Ok(match row {
                Some(r) => Updated::Stale(r.try_get(0)?),
                None => Updated::Missing,
            });
        };
        let location = record_of(&row, capacities.to_vec())?;
        // The capacities' rows were those of `before` at the version the write replaced: only
        // the rows that differ are written (a count changed touches one row and its index
        // entry), then the history row.
        let mut w = Writes::new(self.sqlite);
        capacity_row_changes(&mut w, id, before, capacities)?;
        w.push(|p| {
            format!(
                "INSERT INTO offer_capacity_history (location_id, version, changed_at, \
                 changed_by, capacities) VALUES ({}, {}, {}, {}, {})",
                p.param(Bind::Text(id.to_owned())),
                p.param(Bind::Int(location.version)),
                p.param(Bind::Int(now)),
                p.param(Bind::Text(auth.who().to_owned())),
                p.param(Bind::Text(caps)),
            )
        });
        w.execute(&mut tx).await?;
        tx.commit().await?;
        Ok(Updated::Done(Box::new(location)))
    }
}

/// The statements of one write, run in its transaction: on SQLite all in one call (one hop to
/// its worker thread instead of one each; its driver binds the numbered parameters across the
/// statements, so they share one [`Where`]'s numbering), on PostgreSQL one by one, each with a
/// [`Where`] of its own.
struct Writes {
    sqlite: bool,
    /// Each statement, with its values on PostgreSQL.
    statements: Vec<(String, Vec<Bind>)>,
    /// On SQLite, the values of all the statements.
    shared: Where,
}

impl Writes {
    fn new(sqlite: bool) -> Self {
        Self {
            sqlite,
            statements: vec![],
            shared: Where::default(),
        }
    }

    /// Adds the statement `sql` writes, its values given through [`Where::param`].
    fn push(&mut self, sql: impl FnOnce(&mut Where) -> String) {
        if self.sqlite {
            let text = sql(&mut self.shared);
            self.statements.push((text, vec![]));
        } else {
            let mut own = Where::default();
            let text = sql(&mut own);
            self.statements.push((text, own.binds));
        }
    }

    async fn execute(self, tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
        if self.sqlite {
            if self.statements.is_empty() {
                return Ok(());
            }
            let sql: Vec<&str> = self.statements.iter().map(|(s, _)| s.as_str()).collect();
            bind_all(
                sqlx::query(sqlx::AssertSqlSafe(sql.join(";\n"))),
                &self.shared.binds,
            )
            .execute(&mut **tx)
            .await?;
        } else {
            for (sql, binds) in &self.statements {
                bind_all(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), binds)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }
}

/// The statements turning the capacity rows of location `id` from `before` into `after`
/// (rows by position): changed rows updated, new ones inserted, the rest deleted.
fn capacity_row_changes(
    w: &mut Writes,
    id: &str,
    before: &[Capacity],
    after: &[Capacity],
) -> Result<()> {
    fn row(c: &Capacity) -> (&str, &str, &str, u32, i64) {
        (
            &c.capacity_type,
            &c.status,
            &c.temporality,
            c.nb,
            c.update_date,
        )
    }
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        if row(b) == row(a) {
            continue;
        }
        let position = i64::try_from(i)?;
        w.push(|p| {
            format!(
                "UPDATE offer_capacity SET capacity_type = {}, status = {}, temporality = {}, \
                 nb = {}, update_date = {} WHERE location_id = {} AND position = {}",
                p.param(Bind::Text(a.capacity_type.clone())),
                p.param(Bind::Text(a.status.clone())),
                p.param(Bind::Text(a.temporality.clone())),
                p.param(Bind::Int(i64::from(a.nb))),
                p.param(Bind::Int(a.update_date)),
                p.param(Bind::Text(id.to_owned())),
                p.param(Bind::Int(position)),
            )
        });
    }
    if before.len() > after.len() {
        let from = i64::try_from(after.len())?;
        w.push(|p| {
            format!(
                "DELETE FROM offer_capacity WHERE location_id = {} AND position >= {}",
                p.param(Bind::Text(id.to_owned())),
                p.param(Bind::Int(from)),
            )
        });
    }
    for (i, a) in after.iter().enumerate().skip(before.len()) {
        let position = i64::try_from(i)?;
        w.push(|p| {
            format!(
                "INSERT INTO offer_capacity (location_id, position, capacity_type, status, \
                 temporality, nb, update_date) VALUES ({}, {}, {}, {}, {}, {}, {})",
                p.param(Bind::Text(id.to_owned())),
                p.param(Bind::Int(position)),
                p.param(Bind::Text(a.capacity_type.clone())),
                p.param(Bind::Text(a.status.clone())),
                p.param(Bind::Text(a.temporality.clone())),
                p.param(Bind::Int(i64::from(a.nb))),
                p.param(Bind::Int(a.update_date)),
            )
        });
    }
    Ok(())
}

async fn insert_capacity_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    rows: &[(&str, usize, &Capacity)],
) -> Result<()> {
    for chunk in rows.chunks(BATCH * 3) {
        let sql = format!(
            "INSERT INTO offer_capacity (location_id, position, capacity_type, status, \
             temporality, nb, update_date) VALUES {}",
            placeholders(chunk.len(), 7, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, i, c) in chunk {
            q = q
                .bind(id.to_string())
                .bind(i64::try_from(*i)?)
                .bind(c.capacity_type.clone())
                .bind(c.status.clone())
                .bind(c.temporality.clone())
                .bind(i64::from(c.nb))
                .bind(c.update_date);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
