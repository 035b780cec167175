//! Pure: the capacity form of a location. Each capacity of the location is a row of three
//! fields, its type (`type-N`, J187), its status (`status-N`, J188) and its count (`nb-N`);
//! the form also carries the version it was drawn from. [`read_form`] reads a post into the
//! new capacities, or says what is wrong with which field; what it reads then goes through
//! the API's own check ([`crate::patch::apply`] of [`patch_of`]), so a form can write nothing
//! the API would refuse.

use crate::codes::{CAPACITY_STATUS, CAPACITY_TYPE, SOURCE};
use crate::model::Capacity;
use coeur_web::Text;
use serde::Serialize;

/// The source of capacities entered through the form (J193 "Saisie manuelle").
const MANUAL: &str = "01";

/// What is wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Problem {
    /// The field is missing from the post.
    Missing,
    /// A capacity type outside J187.
    UnknownType,
    /// A status outside J188.
    UnknownStatus,
    /// Not a whole number.
    NotANumber,
    /// Below zero.
    Negative,
    /// Beyond what a count can be.
    TooLarge,
}

impl Problem {
    /// The message shown beside the field.
    pub fn message(self) -> Text {
        match self {
            Problem::Missing => Text::new("offer.form.missing"),
            Problem::UnknownType => Text::new("offer.form.unknown_type"),
            Problem::UnknownStatus => Text::new("offer.form.unknown_status"),
            Problem::NotANumber => Text::new("offer.form.not_a_number"),
            Problem::Negative => Text::new("offer.form.negative"),
            Problem::TooLarge => Text::new("offer.form.too_large"),
        }
    }
}

/// One row of the form as posted (or as drawn from the location), with its problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The capacity's position in the location.
    pub index: usize,
    /// The type as posted.
    pub capacity_type: String,
    /// The status as posted.
    pub status: String,
    /// The count as typed.
    pub nb: String,
    /// What is wrong with the type.
    pub type_problem: Option<Problem>,
    /// What is wrong with the status.
    pub status_problem: Option<Problem>,
    /// What is wrong with the count.
    pub nb_problem: Option<Problem>,
}

impl Row {
    /// Whether any field of the row is wrong.
    pub fn has_problem(&self) -> bool {
        self.type_problem.is_some() || self.status_problem.is_some() || self.nb_problem.is_some()
    }
}

/// The rows of a location's current capacities, as the form first shows them.
pub fn rows_of(capacities: &[Capacity]) -> Vec<Row> {
    capacities
        .iter()
        .enumerate()
        .map(|(index, c)| Row {
            index,
            capacity_type: c.capacity_type.clone(),
            status: c.status.clone(),
            nb: c.nb.to_string(),
            type_problem: None,
            status_problem: None,
            nb_problem: None,
        })
        .collect()
}

/// The version a post was drawn from, if it names one.
pub fn version_of(form: &[(String, String)]) -> Option<i64> {
    field(form, "version")?.trim().parse().ok()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn count(typed: &str) -> Result<u32, Problem> {
    let t = typed.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::NotANumber);
    }
    if t.starts_with('-') && digits.bytes().any(|b| b != b'0') {
        return Err(Problem::Negative);
    }
    digits.parse::<u32>().map_err(|_| Problem::TooLarge)
}

/// The new capacities a post asks for, each row of `current` read from its fields (type,
/// status, count; the update date `now`, the source a manual entry, the rest kept), or every
/// row with its problems.
pub fn read_form(
    current: &[Capacity],
    form: &[(String, String)],
    now: i64,
) -> Result<Vec<Capacity>, Vec<Row>> {
    let mut rows = vec![];
    let mut out = vec![];
    for (index, c) in current.iter().enumerate() {
        let get = |name: &str| field(form, &format!("{name}-{index}"));
        let mut row = Row {
            index,
            capacity_type: get("type").unwrap_or_default().to_owned(),
            status: get("status").unwrap_or_default().to_owned(),
            nb: get("nb").unwrap_or_default().to_owned(),
            type_problem: None,
            status_problem: None,
            nb_problem: None,
        };
        row.type_problem = match get("type") {
            None => Some(Problem::Missing),
            Some(t) if CAPACITY_TYPE.check(t).is_err() => Some(Problem::UnknownType),
            Some(_) => None,
        };
        row.status_problem = match get("status") {
            None => Some(Problem::Missing),
            Some(s) if CAPACITY_STATUS.check(s).is_err() => Some(Problem::UnknownStatus),
            Some(_) => None,
        };
        let nb = match get("nb") {
            None => Err(Problem::Missing),
            Some(n) => count(n),
        };
        row.nb_problem = nb.err();
        if let (false, Ok(nb)) = (row.has_problem(), nb) {
            out.push(Capacity {
                capacity_type: row.capacity_type.clone(),
                status: row.status.clone(),
                nb,
                source: MANUAL.to_owned(),
                update_date: now,
                ..c.clone()
            });
        }
        rows.push(row);
    }
    debug_assert!(SOURCE.contains(MANUAL));
    if rows.iter().any(Row::has_problem) {
        Err(rows)
    } else {
        Ok(out)
    }
}

/// The JSON Patch (RFC 6902) setting a location's capacities to `capacities`: what the API
/// would be sent for the same change.
pub fn patch_of(capacities: &[Capacity]) -> Vec<u8> {
    let extensions: Vec<_> = capacities.iter().map(Capacity::extension).collect();
    serde_json::to_vec(&serde_json::json!([
        {"op": "add", "path": "/extension", "value": extensions}
    ]))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{offer_of, synthetic_structures};
    use crate::patch::apply;

    fn location() -> crate::model::LocationRecord {
        let s = &synthetic_structures(1)[0];
        offer_of(s, 1, 1_000).0.remove(0)
    }

    fn post(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn drawn(l: &crate::model::LocationRecord) -> Vec<(String, String)> {
        let mut form = vec![("version".to_owned(), l.version.to_string())];
        for r in rows_of(&l.capacities) {
            form.push((format!("type-{}", r.index), r.capacity_type));
            form.push((format!("status-{}", r.index), r.status));
            form.push((format!("nb-{}", r.index), r.nb));
        }
        form
    }

    #[test]
    fn a_drawn_form_changed_reads_into_capacities_the_api_accepts() {
        let l = location();
        let mut form = drawn(&l);
        assert_eq!(version_of(&form), Some(1));
        for (k, v) in &mut form {
            if k == "nb-1" {
                *v = " 4 ".into();
            }
        }
        let caps = read_form(&l.capacities, &form, 2_000).unwrap();
        assert_eq!(caps.len(), l.capacities.len());
        assert_eq!(caps[1].nb, 4);
        assert_eq!(caps[1].update_date, 2_000);
        assert_eq!(caps[1].source, "01");
        assert_eq!(caps[1].temporality, l.capacities[1].temporality);
        assert_eq!(apply(&l.resource(), &patch_of(&caps)).unwrap(), caps);
    }

    #[test]
    fn bad_fields_are_named() {
        let l = location();
        let mut form = drawn(&l);
        for (k, v) in &mut form {
            match k.as_str() {
                "nb-0" => *v = "-3".into(),
                "nb-1" => *v = "douze".into(),
                "type-0" => *v = "99".into(),
                "status-1" => *v = "<x>".into(),
                _ => {}
            }
        }
        form.retain(|(k, _)| k != "nb-2");
        let rows = read_form(&l.capacities, &form, 2_000).unwrap_err();
        assert_eq!(rows[0].nb_problem, Some(Problem::Negative));
        assert_eq!(rows[0].type_problem, Some(Problem::UnknownType));
        assert_eq!(rows[0].nb, "-3", "kept as typed");
        assert_eq!(rows[1].nb_problem, Some(Problem::NotANumber));
        assert_eq!(rows[1].status_problem, Some(Problem::UnknownStatus));
        assert_eq!(rows[2].nb_problem, Some(Problem::Missing));
        assert_eq!(count("-0"), Ok(0));
        assert_eq!(count("4294967296"), Err(Problem::TooLarge));
        assert_eq!(count("1.5"), Err(Problem::NotANumber));
        assert_eq!(count(""), Err(Problem::NotANumber));
        assert_eq!(version_of(&post(&[("version", "x")])), None);
    }
}
