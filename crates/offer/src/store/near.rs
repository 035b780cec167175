//! `near` searches of Locations: the locations of the bounding box within the distance, read
//! first within a small radius, then wider ones until the page is full.

use super::{Bind, Store, Where, bind_all};
use crate::model::LocationRecord;
use crate::query::{Near, Query, bounding_box, covering_box, distance_km};
use anyhow::Result;
use sqlx::Row;

/// `near`: the first radius tried, as a fraction of the distance asked. The next one is
/// what the density found so far says holds the page, with a margin, at least `NEAR_STEP`
/// times wider, at most the distance asked (`NEAR_EMPTY` times wider when nothing was found).
const NEAR_FIRST: f64 = 1.0 / 64.0;
const NEAR_STEP: f64 = 1.5;
const NEAR_EMPTY: f64 = 4.0;

impl Store {
    /// `near` with the other conditions `w`: see [`Store::search_locations`].
    pub(super) async fn search_near(
        &self,
        q: &Query,
        n: &Near,
        w: Where,
    ) -> Result<(Vec<LocationRecord>, bool)> {
        let wanted = q.offset.saturating_add(q.count).saturating_add(1);
        let (a, b, c, d) = bounding_box(n);
        let mut radius = n.km * NEAR_FIRST;
        let within = loop {
            let last = radius >= n.km;
            // Within `radius` (by the covering box, then exactly) and the bounding box.
            let (mut a, mut b, mut c, mut d) = (a, b, c, d);
            if !last {
                let (a2, b2, c2, d2) = covering_box(n.lat, n.lon, radius);
                (a, b, c, d) = (a.max(a2), b.min(b2), c.max(c2), d.min(d2));
            }
            let limit = if last { n.km } else { radius };
            let mut w2 = Where {
                sql: w.sql.clone(),
                binds: w.binds.clone(),
            };
            let ps: Vec<String> = [a, b, c, d]
                .into_iter()
                .map(|x| w2.param(Bind::Real(x)))
                .collect();
            w2.sql.push(format!(
                "l.lat >= {} AND l.lat <= {} AND l.lon >= {} AND l.lon <= {}",
                ps[0], ps[1], ps[2], ps[3]
            ));
            let sql = format!(
                "SELECT l.id, l.lat, l.lon FROM offer_location l{}",
                w2.clause()
            );
            let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &w2.binds)
                .fetch_all(&self.pool)
                .await?;
            let mut within = Vec::with_capacity(rows.len());
            for r in &rows {
                let (lat, lon): (f64, f64) = (r.try_get(1)?, r.try_get(2)?);
                let dist = distance_km(n.lat, n.lon, lat, lon);
                if dist <= limit {
                    within.push((dist, r.try_get::<String, _>(0)?));
                }
            }
            if last || within.len() >= wanted {
                break within;
            }
            radius *= if within.is_empty() {
                NEAR_EMPTY
            } else {
                // Locations found grow with the area: the square root of what is missing.
                ((wanted as f64 / within.len() as f64).sqrt() * 1.25).max(NEAR_STEP)
            };
        };
        let mut within = within;
        within.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let page: Vec<String> = within
            .into_iter()
            .skip(q.offset)
            .take(q.count + 1)
            .map(|(_, id)| id)
            .collect();
        let mut rows = self.locations_by_id(&page).await?;
        let mut found = Vec::with_capacity(rows.len());
        for id in &page {
            if let Some(i) = rows.iter().position(|l| &l.id == id) {
                found.push(rows.swap_remove(i));
            }
        }
        let more = found.len() > q.count;
        found.truncate(q.count);
        Ok((found, more))
    }
}
