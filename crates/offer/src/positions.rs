//! Pure: the locations' positions held in memory for `near`, with the version of the store's
//! positions they were read at ([`Positions::version`]): the nearest locations of a point,
//! in the order of the search (distance, then id), without asking the database.
//!
//! A search uses them only when the store's positions are still at that version (the store
//! reads the version in the statement that fetches the page, see `store::near`), so that
//! they are exact whichever instance wrote last.

use crate::query::{Near, bounding_box, covering_box, distance_km};

/// The first radius tried, as a fraction of the distance asked; the next one is what the
/// density found so far says holds the locations wanted, with a margin, at least `STEP`
/// times wider, at most the distance asked (`EMPTY` times wider when nothing was found).
const FIRST: f64 = 1.0 / 64.0;
const STEP: f64 = 1.5;
const EMPTY: f64 = 4.0;

/// The positions of every location, by latitude.
#[derive(Debug, Clone, PartialEq)]
pub struct Positions {
    version: i64,
    /// `(latitude, longitude, id)`, by latitude.
    by_lat: Vec<(f64, f64, String)>,
}

/// The nearest locations found: `(distance in km, id)` by distance then id, and whether they
/// are all those within the distance asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    /// By distance, then id.
    pub found: Vec<(f64, String)>,
    /// Every location within the distance (of the bounding box) is in `found`.
    pub complete: bool,
}

impl Positions {
    /// The positions read at the store's positions `version`.
    pub fn new(version: i64, mut positions: Vec<(f64, f64, String)>) -> Self {
        positions.sort_by(|a, b| a.0.total_cmp(&b.0));
        Self {
            version,
            by_lat: positions,
        }
    }

    /// The store's positions version these were read at.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// How many locations.
    pub fn len(&self) -> usize {
        self.by_lat.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_lat.is_empty()
    }

    /// The locations of the box within `limit` km of the point.
    fn within(
        &self,
        n: &Near,
        (a, b, c, d): (f64, f64, f64, f64),
        limit: f64,
    ) -> Vec<(f64, String)> {
        let start = self.by_lat.partition_point(|p| p.0 < a);
        let mut out = vec![];
        for (lat, lon, id) in &self.by_lat[start..] {
            if *lat > b {
                break;
            }
            if *lon < c || *lon > d {
                continue;
            }
            let dist = distance_km(n.lat, n.lon, *lat, *lon);
            if dist <= limit {
                out.push((dist, id.clone()));
            }
        }
        out
    }

    /// At least the `wanted` nearest locations of the bounding box of `n` within its distance
    /// (all of them when fewer), by distance then id: every location within a radius, read
    /// from a small one and wider ones until `wanted` are found, so that what is found is the
    /// start of the order of all those within the distance.
    pub fn nearest(&self, n: &Near, wanted: usize) -> Nearest {
        let (a, b, c, d) = bounding_box(n);
        let mut radius = n.km * FIRST;
        loop {
            let last = radius >= n.km;
            let bounds = if last {
                (a, b, c, d)
            } else {
                let (a2, b2, c2, d2) = covering_box(n.lat, n.lon, radius);
                (a.max(a2), b.min(b2), c.max(c2), d.min(d2))
            };
            let mut found = self.within(n, bounds, if last { n.km } else { radius });
            if last || found.len() >= wanted {
                found.sort_by(|x, y| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)));
                return Nearest {
                    found,
                    complete: last,
                };
            }
            radius = (radius
                * if found.is_empty() {
                    EMPTY
                } else {
                    // Locations found grow with the area: the square root of what is missing.
                    ((wanted as f64 / found.len() as f64).sqrt() * 1.25).max(STEP)
                })
            .min(n.km);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every location of the bounding box within the distance, by distance then id.
    fn reference(p: &[(f64, f64, String)], n: &Near) -> Vec<(f64, String)> {
        let (a, b, c, d) = bounding_box(n);
        let mut v: Vec<(f64, String)> = p
            .iter()
            .filter(|(lat, lon, _)| *lat >= a && *lat <= b && *lon >= c && *lon <= d)
            .map(|(lat, lon, id)| (distance_km(n.lat, n.lon, *lat, *lon), id.clone()))
            .filter(|(dist, _)| *dist <= n.km)
            .collect();
        v.sort_by(|x, y| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)));
        v
    }

    fn grid() -> Vec<(f64, f64, String)> {
        let mut v = vec![];
        for i in 0..60 {
            for j in 0..60 {
                v.push((
                    48.7 + f64::from(i) * 0.005,
                    2.2 + f64::from(j) * 0.007,
                    format!("l{i:02}-{j:02}"),
                ));
            }
        }
        // Two at the same place: ordered by id.
        v.push((48.85, 2.35, "a-twin".into()));
        v.push((48.85, 2.35, "z-twin".into()));
        v
    }

    #[test]
    fn the_nearest_are_the_start_of_all_within_the_distance() {
        let p = grid();
        let positions = Positions::new(7, p.clone());
        assert_eq!((positions.version(), positions.len()), (7, 3602));
        for (lat, lon, km) in [
            (48.85, 2.35, 20.0),
            (48.85, 2.35, 0.5),
            (48.70, 2.20, 3.0),
            (45.0, 2.0, 20.0),
            (48.85, 2.35, 0.0),
        ] {
            let n = Near { lat, lon, km };
            let all = reference(&p, &n);
            for wanted in [1, 2, 21, 100, 5000] {
                let got = positions.nearest(&n, wanted);
                assert!(got.found.len() >= wanted.min(all.len()), "{n:?} {wanted}");
                assert_eq!(got.found, all[..got.found.len()], "{n:?} {wanted}");
                assert!(!got.complete || got.found.len() == all.len());
                if got.found.len() < wanted {
                    assert!(got.complete);
                }
            }
        }
        let twins = positions.nearest(
            &Near {
                lat: 48.85,
                lon: 2.35,
                km: 1.0,
            },
            2,
        );
        assert_eq!(twins.found[0].1, "a-twin");
        assert_eq!(twins.found[1].1, "z-twin");
        assert!(
            Positions::new(0, vec![])
                .nearest(
                    &Near {
                        lat: 0.0,
                        lon: 0.0,
                        km: 5.0
                    },
                    3
                )
                .complete
        );
    }
}
