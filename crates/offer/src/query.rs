//! Search parameters of the offer's FHIR API parsed into a [`Query`] (pure): the
//! CapabilityStatement's Location and HealthcareService parameters the offer serves.
//!
//! Refused with a reason (`400`, an OperationOutcome): an unknown parameter, a code outside its
//! value set, a malformed number, date or `near`, an `_include`/`_revinclude` the
//! CapabilityStatement does not list. The capacity parameters (`capacity-type`,
//! `capacity-status`, `temporality-capacity`, `nb-capacity`, `capacity-update-date`) select
//! locations having one capacity matching all of them together, so that "available beds, at
//! least 5" does not match 5 installed places and no available bed.

use crate::codes::{self, ValueSet};
use crate::time::parse_range;

/// The two searchable resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// `Location`.
    Location,
    /// `HealthcareService`.
    HealthcareService,
}

impl ResourceType {
    /// From the URL's path segment.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Location" => Some(Self::Location),
            "HealthcareService" => Some(Self::HealthcareService),
            _ => None,
        }
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Location => "Location",
            Self::HealthcareService => "HealthcareService",
        }
    }
}

/// A comparison of a number or a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `eq` (default).
    Eq,
    /// `ne`.
    Ne,
    /// `gt`.
    Gt,
    /// `lt`.
    Lt,
    /// `ge`.
    Ge,
    /// `le`.
    Le,
}

/// `near`: within `km` of a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Distance in kilometres.
    pub km: f64,
}

/// A comparison of seconds since the epoch, as half-open ranges: `(lower, upper)` bounds
/// the matched values (`lower <= v < upper`); `Ne` is the complement of `[lower, upper)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeCmp {
    /// Which comparison.
    pub cmp: Cmp,
    /// The value's range start.
    pub start: i64,
    /// The value's range end (exclusive).
    pub end: i64,
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// `_id` values (any of).
    pub ids: Vec<String>,
    /// `identifier` values (any of).
    pub identifiers: Vec<String>,
    /// `_tag` regions (any of).
    pub regions: Vec<String>,
    /// `_lastUpdated` (all of).
    pub last_updated: Vec<TimeCmp>,
    /// `capacity-type` codes (any of).
    pub capacity_types: Vec<String>,
    /// `capacity-status` codes (any of).
    pub capacity_statuses: Vec<String>,
    /// `temporality-capacity` codes (any of).
    pub temporalities: Vec<String>,
    /// `nb-capacity` (all of).
    pub nb_capacity: Vec<(Cmp, i64)>,
    /// `capacity-update-date` (all of).
    pub capacity_update: Vec<TimeCmp>,
    /// `near`.
    pub near: Option<Near>,
    /// `address-postalcode` prefixes (any of).
    pub postal_codes: Vec<String>,
    /// `address-city` prefixes, lower case (any of).
    pub cities: Vec<String>,
    /// `service-type` codes (any of).
    pub service_types: Vec<String>,
    /// `specialty` codes (any of).
    pub specialties: Vec<String>,
    /// `location` ids (any of).
    pub locations: Vec<String>,
    /// `_include=HealthcareService:location`.
    pub include_locations: bool,
    /// `_include=HealthcareService:organization`: the structures (`providedBy`), read from
    /// the directory.
    pub include_organizations: bool,
    /// `_include=Organization:partof` (or `_include:iterate`): the legal entities of those
    /// structures, from the directory too.
    pub include_partof: bool,
    /// `_revinclude=HealthcareService:location`.
    pub revinclude_services: bool,
    /// `_count`.
    pub count: usize,
    /// `_offset`.
    pub offset: usize,
}

impl Query {
    /// Whether a capacity parameter is given.
    pub fn has_capacity_filter(&self) -> bool {
        !(self.capacity_types.is_empty()
            && self.capacity_statuses.is_empty()
            && self.temporalities.is_empty()
            && self.nb_capacity.is_empty()
            && self.capacity_update.is_empty())
    }
}

/// Default and largest `_count`.
pub const DEFAULT_COUNT: usize = 50;
/// Largest `_count`.
pub const MAX_COUNT: usize = 1000;

fn split(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `system|code` or `code`, checked against `vs`.
fn tokens(name: &str, v: &str, vs: &ValueSet) -> Result<Vec<String>, String> {
    split(v)
        .into_iter()
        .map(|t| {
            let code = match t.split_once('|') {
                Some((system, code)) if system.is_empty() || system == vs.system => code,
                Some((system, _)) => return Err(format!("{name}: unknown system {system:?}")),
                None => t.as_str(),
            };
            vs.check(code).map_err(|why| format!("{name}: {why}"))?;
            Ok(code.to_owned())
        })
        .collect()
}

fn prefix(v: &str) -> (Cmp, &str) {
    for (p, c) in [
        ("eq", Cmp::Eq),
        ("ne", Cmp::Ne),
        ("gt", Cmp::Gt),
        ("lt", Cmp::Lt),
        ("ge", Cmp::Ge),
        ("le", Cmp::Le),
    ] {
        if let Some(rest) = v.strip_prefix(p) {
            return (c, rest);
        }
    }
    (Cmp::Eq, v)
}

fn number(name: &str, v: &str) -> Result<(Cmp, i64), String> {
    let (cmp, rest) = prefix(v);
    let n: i64 = rest
        .parse()
        .map_err(|_| format!("{name}: {v:?} is not an integer with an optional prefix"))?;
    Ok((cmp, n))
}

fn date(name: &str, v: &str) -> Result<TimeCmp, String> {
    let (cmp, rest) = prefix(v);
    let (start, end) =
        parse_range(rest).ok_or_else(|| format!("{name}: {v:?} is not a FHIR date or dateTime"))?;
    Ok(TimeCmp { cmp, start, end })
}

fn near(v: &str) -> Result<Near, String> {
    let parts: Vec<&str> = v.split('|').collect();
    let bad = || format!("near: {v:?} is not latitude|longitude|distance|unit");
    let f = |i: usize| -> Result<f64, String> {
        parts
            .get(i)
            .and_then(|p| p.parse::<f64>().ok())
            .filter(|x| x.is_finite())
            .ok_or_else(bad)
    };
    if !(2..=4).contains(&parts.len()) {
        return Err(bad());
    }
    let (lat, lon) = (f(0)?, f(1)?);
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(bad());
    }
    let distance = if parts.len() > 2 { f(2)? } else { 50.0 };
    let km = match parts.get(3).copied().unwrap_or("km") {
        "km" | "" => distance,
        "m" => distance / 1000.0,
        "mi" | "[mi_i]" => distance * 1.609_344,
        _ => return Err(bad()),
    };
    if !(0.0..=1000.0).contains(&km) {
        return Err("near: the distance must be between 0 and 1000 km".into());
    }
    Ok(Near { lat, lon, km })
}

/// Parses `pairs` (decoded query parameters) for a search of `rtype`.
pub fn parse(rtype: ResourceType, pairs: &[(String, String)]) -> Result<Query, String> {
    use ResourceType::*;
    let mut q = Query {
        count: DEFAULT_COUNT,
        ..Query::default()
    };
    for (key, value) in pairs {
        let (name, modifier) = match key.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (key.as_str(), None),
        };
        let exact = modifier == Some("exact");
        let iterate = modifier == Some("iterate") && name == "_include";
        if modifier.is_some() && !(exact && name.starts_with("address-")) && !iterate {
            return Err(format!("{key}: modifier not supported"));
        }
        match (rtype, name) {
            (_, "_id") => q.ids.extend(split(value)),
            (_, "identifier") => q.identifiers.extend(
                split(value)
                    .into_iter()
                    .map(|t| t.split_once('|').map(|(_, v)| v.to_owned()).unwrap_or(t)),
            ),
            (_, "_tag") => q.regions.extend(tokens(name, value, &codes::REGION)?),
            (_, "_lastUpdated") => q.last_updated.push(date(name, value)?),
            (Location, "capacity-type") => {
                q.capacity_types
                    .extend(tokens(name, value, &codes::CAPACITY_TYPE)?)
            }
            (Location, "capacity-status") => {
                q.capacity_statuses
                    .extend(tokens(name, value, &codes::CAPACITY_STATUS)?)
            }
            (Location, "temporality-capacity") => {
                q.temporalities
                    .extend(tokens(name, value, &codes::TEMPORALITY)?)
            }
            (Location, "nb-capacity") => q.nb_capacity.push(number(name, value)?),
            (Location, "capacity-update-date") => q.capacity_update.push(date(name, value)?),
            (Location, "near") => {
                if q.near.is_some() {
                    return Err("near: given twice".into());
                }
                q.near = Some(near(value)?)
            }
            (Location, "address-postalcode") => q.postal_codes.extend(split(value)),
            (Location, "address-city") => q.cities.extend(
                split(value)
                    .into_iter()
                    .map(|c| if exact { c } else { c.to_lowercase() }),
            ),
            (HealthcareService, "service-type") => {
                q.service_types
                    .extend(tokens(name, value, &codes::ACTIVITY_FIELD)?)
            }
            (HealthcareService, "specialty") => {
                q.specialties
                    .extend(tokens(name, value, &codes::OPERATIONAL_ACTIVITY)?)
            }
            (HealthcareService, "location") => q.locations.extend(
                split(value)
                    .into_iter()
                    .map(|l| l.strip_prefix("Location/").map(str::to_owned).unwrap_or(l)),
            ),
            (HealthcareService, "_include") if value == "HealthcareService:location" => {
                q.include_locations = true
            }
            (HealthcareService, "_include") if value == "HealthcareService:organization" => {
                q.include_organizations = true
            }
            (HealthcareService, "_include") if value == "Organization:partof" => {
                q.include_partof = true
            }
            (Location, "_revinclude") if value == "HealthcareService:location" => {
                q.revinclude_services = true
            }
            (_, "_include" | "_revinclude") => {
                return Err(format!(
                    "{key}={value} is not supported on {}",
                    rtype.as_str()
                ));
            }
            (_, "_count") => {
                let n: usize = value
                    .parse()
                    .map_err(|_| "_count: not a number".to_owned())?;
                q.count = n.min(MAX_COUNT);
            }
            (_, "_offset") => {
                q.offset = value
                    .parse()
                    .map_err(|_| "_offset: not a number".to_owned())?;
            }
            (_, "_format")
                if ["json", "application/fhir+json", "application/json"]
                    .contains(&value.as_str()) => {}
            _ => {
                return Err(format!(
                    "unknown search parameter {key:?} for {}",
                    rtype.as_str()
                ));
            }
        }
    }
    if q.include_partof && !q.include_organizations {
        return Err("_include=Organization:partof follows the structures of \
             _include=HealthcareService:organization: give both"
            .into());
    }
    Ok(q)
}

/// Whether `n` passes every comparison.
pub fn number_matches(n: i64, cmps: &[(Cmp, i64)]) -> bool {
    cmps.iter().all(|&(c, v)| match c {
        Cmp::Eq => n == v,
        Cmp::Ne => n != v,
        Cmp::Gt => n > v,
        Cmp::Lt => n < v,
        Cmp::Ge => n >= v,
        Cmp::Le => n <= v,
    })
}

/// Whether the instant `t` passes every comparison.
pub fn time_matches(t: i64, cmps: &[TimeCmp]) -> bool {
    cmps.iter().all(|c| match c.cmp {
        Cmp::Eq => c.start <= t && t < c.end,
        Cmp::Ne => !(c.start <= t && t < c.end),
        Cmp::Gt => t >= c.end,
        Cmp::Lt => t < c.start,
        Cmp::Ge => t >= c.start,
        Cmp::Le => t < c.end,
    })
}

/// Great-circle distance in kilometres (haversine, mean Earth radius).
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0088 * a.sqrt().asin()
}

/// The latitude and longitude bounds of the circle of `near`: a box holding every point of it
/// ([`covering_box`]), so that the exact distance decides alone at the circle's edge.
pub fn bounding_box(n: &Near) -> (f64, f64, f64, f64) {
    covering_box(n.lat, n.lon, n.km)
}

/// A latitude and longitude box holding every point within `km` of (`lat`, `lon`) by
/// [`distance_km`]: the
/// circle's widest longitude is `asin(sin δ / cos φ)` away, δ its angle, φ its centre's
/// latitude; a circle around a pole spans every longitude. A little wider than exact, for
/// rounding.
pub fn covering_box(lat: f64, lon: f64, km: f64) -> (f64, f64, f64, f64) {
    const KM_PER_DEGREE: f64 = 6371.0088 * std::f64::consts::PI / 180.0;
    let margin = 1.001;
    let delta = (km / 6371.0088).min(std::f64::consts::PI);
    let dlat = km / KM_PER_DEGREE * margin;
    let (s, c) = (delta.sin(), lat.to_radians().cos());
    let dlon = if lat.abs() + dlat >= 90.0 || s >= c {
        360.0
    } else {
        (s / c).asin().to_degrees() * margin
    };
    (lat - dlat, lat + dlat, lon - dlon, lon + dlon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(rtype: ResourceType, s: &[(&str, &str)]) -> Result<Query, String> {
        let pairs: Vec<(String, String)> = s
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse(rtype, &pairs)
    }

    #[test]
    fn capacity_parameters() {
        let r = q(
            ResourceType::Location,
            &[
                ("capacity-type", "01"),
                (
                    "capacity-status",
                    &format!("{}|03", codes::CAPACITY_STATUS.system),
                ),
                ("nb-capacity", "ge5"),
                ("nb-capacity", "lt10"),
                ("temporality-capacity", "01,02"),
                ("capacity-update-date", "ge2026-01-01"),
            ],
        )
        .unwrap();
        assert_eq!(r.capacity_types, ["01"]);
        assert_eq!(r.capacity_statuses, ["03"]);
        assert_eq!(r.nb_capacity, [(Cmp::Ge, 5), (Cmp::Lt, 10)]);
        assert_eq!(r.temporalities, ["01", "02"]);
        assert!(number_matches(7, &r.nb_capacity));
        assert!(!number_matches(10, &r.nb_capacity));
        assert!(time_matches(1_767_225_600, &r.capacity_update));
        assert!(!time_matches(1_767_225_599, &r.capacity_update));
    }

    #[test]
    fn prefixes_of_numbers() {
        for (v, n, ok) in [
            ("5", 5, true),
            ("eq5", 4, false),
            ("gt5", 6, true),
            ("gt5", 5, false),
            ("le5", 5, true),
            ("lt5", 5, false),
            ("ne5", 4, true),
            ("ge5", 4, false),
        ] {
            let (c, x) = number("nb", v).unwrap();
            assert_eq!(number_matches(n, &[(c, x)]), ok, "{v} {n}");
        }
        assert!(number("nb", "gtx").is_err());
        assert!(number("nb", "").is_err());
    }

    #[test]
    fn near_and_distances() {
        let r = q(ResourceType::Location, &[("near", "48.84|2.388|20|km")]).unwrap();
        assert_eq!(
            r.near,
            Some(Near {
                lat: 48.84,
                lon: 2.388,
                km: 20.0
            })
        );
        let m = near("48.84|2.388|2000|m").unwrap();
        assert!((m.km - 2.0).abs() < 1e-9);
        for bad in [
            "48.84",
            "x|2|3",
            "91|2|3",
            "48|2|3|parsec",
            "48|2|-1",
            "48|2|NaN",
        ] {
            assert!(near(bad).is_err(), "{bad}");
        }
        // Paris to Lyon: about 392 km.
        let d = distance_km(48.8566, 2.3522, 45.764, 4.8357);
        assert!((d - 392.0).abs() < 3.0, "{d}");
        let (a, b, c, e) = bounding_box(&m);
        assert!(a < 48.84 && b > 48.84 && c < 2.388 && e > 2.388);
        // A place just inside the circle due east or west is inside the box: the exact
        // distance decides at the edge.
        let m = near("48.84|2.388|20|km").unwrap();
        let (_, _, west, east) = bounding_box(&m);
        for dir in [-1.0, 1.0] {
            let mut lon = 2.388;
            while distance_km(48.84, 2.388, 48.84, lon + dir * 0.0001) <= 20.0 {
                lon += dir * 0.0001;
            }
            assert!(distance_km(48.84, 2.388, 48.84, lon) <= 20.0);
            assert!(west <= lon && lon <= east, "{lon} outside {west}..{east}");
        }
    }

    #[test]
    fn covering_boxes_hold_their_circles() {
        // Points on circles of several radii around several centres, every bearing.
        for (lat, lon) in [(48.84, 2.388), (43.6045, 1.444), (0.0, 0.0), (-70.0, 120.0)] {
            for km in [0.05, 0.3, 1.25, 5.0, 20.0, 300.0] {
                let (a, b, c, e) = covering_box(lat, lon, km);
                for i in 0..360 {
                    let t = f64::from(i).to_radians();
                    // Walk along the bearing until just inside the circle.
                    let (mut p, mut q) = (lat, lon);
                    for step in 1..=2000 {
                        let f = km * f64::from(step) / 2000.0;
                        let (pl, ql) = (
                            lat + f / 111.0 * t.cos(),
                            lon + f / (111.0 * lat.to_radians().cos()) * t.sin(),
                        );
                        if distance_km(lat, lon, pl, ql) > km {
                            break;
                        }
                        (p, q) = (pl, ql);
                    }
                    assert!(
                        a <= p && p <= b && c <= q && q <= e,
                        "{lat},{lon} {km} km: {p},{q} outside"
                    );
                }
            }
        }
        let (_, _, c, e) = covering_box(89.99, 0.0, 5.0);
        assert!(c <= -180.0 && e >= 180.0);
    }

    #[test]
    fn refusals() {
        use ResourceType::*;
        // The value set's URL is no code system.
        let status_vs = format!("{}|03", codes::CAPACITY_STATUS.url);
        for (t, p) in [
            (Location, ("capacity-type", "99")),
            (Location, ("capacity-status", "http://other|03")),
            (Location, ("capacity-status", &status_vs)),
            (Location, ("service-type", "01")),
            (HealthcareService, ("nb-capacity", "1")),
            (Location, ("_lastUpdated", "yesterday")),
            (Location, ("_revinclude", "PractitionerRole:service")),
            (Location, ("unknown", "1")),
            (Location, ("_tag", "99")),
            (Location, ("capacity-type:not", "01")),
            (HealthcareService, ("specialty", "999")),
        ] {
            assert!(q(t, &[p]).is_err(), "{p:?}");
        }
        let h = q(
            HealthcareService,
            &[
                ("_include", "HealthcareService:location"),
                ("service-type", "01"),
                ("specialty", "127"),
                ("location", "Location/x"),
            ],
        )
        .unwrap();
        assert!(h.include_locations);
        assert!(!h.include_organizations && !h.include_partof);
        assert_eq!(h.locations, ["x"]);
        let o = q(
            HealthcareService,
            &[
                ("_include", "HealthcareService:organization"),
                ("_include:iterate", "Organization:partof"),
            ],
        )
        .unwrap();
        assert!(o.include_organizations && o.include_partof && !o.include_locations);
        for pairs in [
            &[("_include", "Organization:partof")][..],
            &[("_include:recurse", "HealthcareService:organization")],
            &[("_revinclude:iterate", "HealthcareService:location")],
            &[("_include", "PractitionerRole:practitioner")],
            &[("_revinclude", "Task:focus")],
        ] {
            assert!(q(HealthcareService, pairs).is_err(), "{pairs:?}");
        }
        assert!(q(Location, &[("_include", "HealthcareService:organization")]).is_err());
        let l = q(Location, &[("_count", "5000"), ("address-city", "Lyon")]).unwrap();
        assert_eq!(l.count, MAX_COUNT);
        assert_eq!(l.cities, ["lyon"]);
    }
}
