//! Offer data generated for structures (deterministic: the same structure always gets the same
//! locations, services and capacities): one to three locations placed near the structure's
//! town, each with its services and its installed (`01`), available (`02`) and occupied
//! (`03`) capacities (J188), and additional beds (`06`) in paediatrics.

use crate::codes::{self, region_of_postal_code};
use crate::model::{Capacity, LocationRecord, ServiceRecord};

/// A structure, as the directory knows it (an Organization: FINESS of the geographical entity,
/// name, postal code, town).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Structure {
    /// FINESS (geographical entity).
    pub finess: String,
    /// Name.
    pub name: String,
    /// Postal code.
    pub postal_code: String,
    /// Town.
    pub city: String,
}

/// Towns with their coordinates (WGS84), by department.
const TOWNS: &[(&str, &str, &str, f64, f64)] = &[
    ("75", "75012", "Paris", 48.8400, 2.3880),
    ("69", "69003", "Lyon", 45.7600, 4.8500),
    ("13", "13005", "Marseille", 43.2920, 5.3960),
    ("33", "33000", "Bordeaux", 44.8378, -0.5792),
    ("59", "59000", "Lille", 50.6292, 3.0573),
    ("31", "31000", "Toulouse", 43.6045, 1.4440),
    ("44", "44000", "Nantes", 47.2184, -1.5536),
    ("67", "67000", "Strasbourg", 48.5734, 7.7521),
];

/// SplitMix64: a small deterministic generator, seeded per structure.
struct Mix(u64);

impl Mix {
    fn of(s: &str) -> Self {
        // FNV-1a of the FINESS.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in s.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Self(h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A value in `[-1, 1)`.
    fn unit(&mut self) -> f64 {
        (self.below(2_000_001) as f64 - 1_000_000.0) / 1_000_000.0
    }
}

/// The coordinates of a structure's town (its department's town, else Paris).
fn town_position(postal_code: &str) -> (f64, f64) {
    let dept = postal_code.get(..2).unwrap_or("75");
    TOWNS
        .iter()
        .find(|t| t.0 == dept)
        .or(TOWNS.first())
        .map(|t| (t.3, t.4))
        .unwrap_or((48.84, 2.388))
}

/// `count` synthetic structures spread over the towns (for a service run without the
/// directory, and for benchmarks). FINESS numbers are unique and of the right shape.
pub fn synthetic_structures(count: usize) -> Vec<Structure> {
    (0..count)
        .map(|i| {
            let t = TOWNS[i % TOWNS.len()];
            Structure {
                finess: format!("{}9{:06}", t.0, i),
                name: format!("CENTRE HOSPITALIER {} {}", t.2.to_uppercase(), i + 1),
                postal_code: t.1.to_owned(),
                city: t.2.to_owned(),
            }
        })
        .collect()
}

const SERVICES: &[(&str, &str, &str, &str)] = &[
    // (name, J20, J17, J19)
    ("Médecine polyvalente", "01", "083", "28"),
    ("Cardiologie", "01", "013", "28"),
    ("Réanimation", "01", "127", "28"),
    ("Pédiatrie", "01", "088", "28"),
    ("Court séjour gériatrique", "01", "050", "28"),
    ("Psychiatrie adulte", "03", "229", "28"),
    ("Hôpital de jour de psychiatrie", "03", "229", "29"),
    ("Soins médicaux et de réadaptation", "02", "241", "28"),
];

/// The locations and services of `s`, capacities dated `now`, placed `locations` per
/// structure at most (1 to that many).
pub fn offer_of(
    s: &Structure,
    max_locations: usize,
    now: i64,
) -> (Vec<LocationRecord>, Vec<ServiceRecord>) {
    let mut rng = Mix::of(&s.finess);
    let region = region_of_postal_code(&s.postal_code)
        .unwrap_or("11")
        .to_owned();
    let (lat0, lon0) = town_position(&s.postal_code);
    let n = 1 + rng.below(max_locations.max(1) as u64) as usize;
    let (mut locations, mut services) = (vec![], vec![]);
    for i in 0..n {
        let id = format!("{}-{}", s.finess, i + 1);
        let svc = SERVICES[rng.below(SERVICES.len() as u64) as usize];
        let installed = 5 + rng.below(40) as u32;
        let available = rng.below(u64::from(installed) + 1) as u32;
        // Places for day care, beds otherwise (J187).
        let types: &[&str] = if svc.3 == "29" { &["02"] } else { &["01"] };
        let mut capacities = vec![];
        for t in types {
            for (status, nb) in [
                ("01", installed),
                ("02", available),
                ("03", installed - available),
            ] {
                capacities.push(Capacity {
                    capacity_type: (*t).to_owned(),
                    status: status.into(),
                    temporality: "01".into(),
                    nb,
                    source: "01".into(),
                    gender: None,
                    update_date: now,
                    temporary_assignment: "01".into(),
                });
            }
        }
        if svc.2 == "088" {
            // Additional beds (J188 `06`).
            capacities.push(Capacity {
                capacity_type: "01".into(),
                status: "06".into(),
                temporality: "01".into(),
                nb: rng.below(6) as u32,
                source: "01".into(),
                gender: None,
                update_date: now,
                temporary_assignment: "01".into(),
            });
        }
        // Within about 5 km of the town's centre.
        let lat = lat0 + rng.unit() * 0.045;
        let lon = lon0 + rng.unit() * 0.06;
        locations.push(LocationRecord {
            id: id.clone(),
            finess: s.finess.clone(),
            name: format!("{} - {}", s.name, svc.0),
            line: format!("{} rue Pasteur", 1 + rng.below(120)),
            postal_code: s.postal_code.clone(),
            city: s.city.clone(),
            region: region.clone(),
            lat: (lat * 1e6).round() / 1e6,
            lon: (lon * 1e6).round() / 1e6,
            capacities,
            version: 1,
            updated_at: now,
        });
        services.push(ServiceRecord {
            id: format!("{}-{}", s.finess, i + 1),
            finess: s.finess.clone(),
            structure_name: s.name.clone(),
            location_id: id,
            name: svc.0.to_owned(),
            service_type: svc.1.to_owned(),
            specialty: svc.2.to_owned(),
            care_mode: svc.3.to_owned(),
            region: region.clone(),
            version: 1,
            updated_at: now,
        });
    }
    debug_assert!(
        services
            .iter()
            .all(|v| codes::ACTIVITY_FIELD.contains(&v.service_type))
    );
    (locations, services)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::*;

    #[test]
    fn generated_offer_is_deterministic_and_uses_known_codes() {
        let s = &synthetic_structures(20);
        for st in s {
            let (l1, s1) = offer_of(st, 3, 1_000);
            let (l2, s2) = offer_of(st, 3, 1_000);
            assert_eq!((l1.clone(), s1.clone()), (l2, s2));
            assert!((1..=3).contains(&l1.len()));
            for l in &l1 {
                assert!(REGION.contains(&l.region));
                for c in &l.capacities {
                    assert!(CAPACITY_TYPE.contains(&c.capacity_type));
                    assert!(CAPACITY_STATUS.contains(&c.status));
                }
                let (lat, lon) = town_position(&l.postal_code);
                assert!((l.lat - lat).abs() < 0.05 && (l.lon - lon).abs() < 0.07);
            }
            for v in &s1 {
                assert!(OPERATIONAL_ACTIVITY.contains(&v.specialty));
                assert!(CARE_MODE.contains(&v.care_mode));
            }
        }
        let ids: std::collections::HashSet<_> = s.iter().map(|x| &x.finess).collect();
        assert_eq!(ids.len(), 20);
    }
}
