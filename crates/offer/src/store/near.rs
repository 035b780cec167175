//! `near` searches of Locations: the nearest locations from the positions held in memory
//! ([`Positions`]), checked against the store's positions version in the statement that
//! reads the page, so that a search reads only its page's rows, in one statement, and stays
//! exact whichever instance wrote last (the positions are read again when it moved).

use super::{Bind, Store, Where, bind_all};
use crate::model::LocationRecord;
use crate::positions::Positions;
use crate::query::{Near, Query};
use anyhow::{Context, Result};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// The positions held in memory and the locations last read, by id (a location's version
/// names its content: a location changes only with its version), shared by a store's clones.
#[derive(Clone, Default)]
pub(super) struct Held(
    Arc<RwLock<Option<Arc<Positions>>>>,
    Arc<Mutex<HashMap<String, Arc<LocationRecord>>>>,
);

/// The locations held at most; past it, the held ones are let go.
const RECORDS_HELD: usize = 100_000;

/// The page's rows (one more than `_count`), and whether there are more.
fn paged(mut found: Vec<LocationRecord>, count: usize) -> (Vec<LocationRecord>, bool) {
    let more = found.len() > count;
    found.truncate(count);
    (found, more)
}

impl Store {
    /// The locations' positions with their version, read in one statement (one snapshot),
    /// and held from now on.
    async fn read_positions(&self) -> Result<Arc<Positions>> {
        let rows = sqlx::query(
            "SELECT m.version, l.id, l.lat, l.lon FROM offer_positions m \
             LEFT JOIN offer_location l ON 1 = 1",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut version = None;
        let mut positions = Vec::with_capacity(rows.len());
        for r in &rows {
            version = Some(r.try_get::<i64, _>(0)?);
            if let Some(id) = r.try_get::<Option<String>, _>(1)? {
                positions.push((r.try_get(2)?, r.try_get(3)?, id));
            }
        }
        let held = Arc::new(Positions::new(
            version.context("the positions' version is missing")?,
            positions,
        ));
        *self
            .positions
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(held.clone());
        Ok(held)
    }

    /// The locations among `ids` meeting `w`, if the store's positions are still at
    /// `positions`' version (`None` otherwise): one statement, which reads the version too,
    /// answering one row, the ids and versions of the locations found (each row crossing from
    /// the database's thread costs more than its decoding); their records are those held
    /// at that version, the others read (and held), and all asked again if one of those read
    /// has moved on since.
    async fn locations_at(
        &self,
        positions: &Positions,
        w: &Where,
        ids: &[String],
    ) -> Result<Option<Vec<LocationRecord>>> {
        let mut w2 = Where {
            sql: w.sql.clone(),
            binds: w.binds.clone(),
        };
        let among = if ids.is_empty() {
            "1 = 0".to_owned()
        } else if !self.sqlite {
            // One parameter whatever the number of candidates: one statement text, whose
            // plan PostgreSQL keeps (ids are FHIR ids: no comma).
            let p = w2.param(Bind::Text(ids.join(",")));
            format!("l.id = ANY(string_to_array({p}, ','))")
        } else {
            let ps: Vec<String> = ids
                .iter()
                .map(|id| w2.param(Bind::Text(id.clone())))
                .collect();
            format!("l.id IN ({})", ps.join(", "))
        };
        w2.sql.insert(0, among);
        let found = if self.sqlite {
            "json_group_array(json_array(l.id, l.version)) FILTER (WHERE l.id IS NOT NULL)"
        } else {
            "COALESCE(json_agg(json_build_array(l.id, l.version)) \
             FILTER (WHERE l.id IS NOT NULL), '[]'::json)::text"
        };
        let sql = format!(
            "SELECT m.version, {found} FROM offer_positions m LEFT JOIN offer_location l ON {} \
             GROUP BY m.version",
            w2.sql.join(" AND ")
        );
        loop {
            let row = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), &w2.binds)
                .fetch_optional(&self.pool)
                .await?
                .context("the positions' version is missing")?;
            if row.try_get::<i64, _>(0)? != positions.version() {
                return Ok(None);
            }
            let found: Vec<(String, i64)> = serde_json::from_str(&row.try_get::<String, _>(1)?)
                .context("the locations found")?;
            if let Some(records) = self.held_records(&found).await? {
                return Ok(Some(records));
            }
        }
    }

    /// The records of the locations found, `(id, version)` pairs: those held at that version,
    /// the others read (and held from now on); `None` when one of those read has moved on
    /// since it was found (the caller asks again).
    pub(super) async fn held_records(
        &self,
        found: &[(String, i64)],
    ) -> Result<Option<Vec<LocationRecord>>> {
        let missing: Vec<String> = {
            let held = self
                .positions
                .1
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            found
                .iter()
                .filter(|(id, v)| held.get(id).is_none_or(|l| l.version != *v))
                .map(|(id, _)| id.clone())
                .collect()
        };
        let read = self.locations_by_id(&missing).await?;
        let mut held = self
            .positions
            .1
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if held.len() + read.len() > RECORDS_HELD {
            held.clear();
        }
        for l in read {
            held.insert(l.id.clone(), Arc::new(l));
        }
        Ok(found
            .iter()
            .map(|(id, v)| {
                held.get(id)
                    .filter(|l| l.version == *v)
                    .map(|l| LocationRecord::clone(l))
            })
            .collect())
    }

    /// `near` with the other conditions `w`: see [`Store::search_locations`].
    pub(super) async fn search_near(
        &self,
        q: &Query,
        n: &Near,
        w: Where,
    ) -> Result<(Vec<LocationRecord>, bool)> {
        let held = self
            .positions
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut positions = match held {
            Some(p) => p,
            None => self.read_positions().await?,
        };
        // Each miss is a write of positions committed meanwhile: the store moves on.
        loop {
            match self.near_page(q, n, &w, &positions).await? {
                Some(found) => return Ok(paged(found, q.count)),
                None => positions = self.read_positions().await?,
            }
        }
    }

    /// The page (and one more) of `near` from `positions`, `None` if the store's positions
    /// moved on: without other conditions, the page's locations are known, read in one
    /// statement; with them, the nearest are checked in batches, each one statement, until
    /// the page is full or none is left within the distance.
    async fn near_page(
        &self,
        q: &Query,
        n: &Near,
        w: &Where,
        positions: &Positions,
    ) -> Result<Option<Vec<LocationRecord>>> {
        let wanted = q.offset.saturating_add(q.count).saturating_add(1);
        let (mut k, mut checked, mut matched) = (wanted, 0, vec![]);
        loop {
            let nearest = positions.nearest(n, k);
            let batch: Vec<String> = if w.sql.is_empty() {
                let page = nearest.found.iter().skip(q.offset).take(q.count + 1);
                page.map(|(_, id)| id.clone()).collect()
            } else {
                nearest.found[checked.min(nearest.found.len())..]
                    .iter()
                    .map(|(_, id)| id.clone())
                    .collect()
            };
            let Some(mut rows) = self.locations_at(positions, w, &batch).await? else {
                return Ok(None);
            };
            for id in &batch {
                if let Some(i) = rows.iter().position(|l| &l.id == id) {
                    matched.push(rows.swap_remove(i));
                }
            }
            if w.sql.is_empty() {
                return Ok(Some(matched));
            }
            checked = nearest.found.len();
            if matched.len() >= wanted || nearest.complete {
                let page = matched.into_iter().skip(q.offset).take(q.count + 1);
                return Ok(Some(page.collect()));
            }
            k = k.saturating_mul(4);
        }
    }
}
