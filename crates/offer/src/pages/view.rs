//! Pure: what the pages show of the offer's records: a professional's structures with their
//! locations, services and capacities, one location's capacities, the history of a location
//! (who, when, before, after), the options of the form's lists; the value sets' labels in the
//! page's language.

use crate::codes::{CAPACITY_STATUS, CAPACITY_TYPE, REGION, ValueSet};
use crate::model::{Capacity, LocationRecord, ServiceRecord};
use crate::store::HistoryEntry;
use crate::time::instant;
use coeur_web::{Lang, Text};
use serde::Serialize;

/// A capacity as a line of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapacityView {
    /// J187 label, in the page's language.
    pub capacity_type: String,
    /// J188 label.
    pub status: String,
    /// How many.
    pub nb: u32,
    /// When it was last updated (`YYYY-MM-DD hh:mm UTC`).
    pub updated: String,
}

/// The label of `code` in `lang` (the code itself when it is not in the set).
pub fn label(vs: &ValueSet, code: &str, lang: Lang) -> String {
    vs.label_in(code, lang).unwrap_or(code).to_owned()
}

/// When, as the pages write it.
pub fn when(secs: i64) -> String {
    let i = instant(secs);
    format!("{} {} UTC", &i[..10], &i[11..16])
}

/// The lines of capacities, in `lang`.
pub fn capacities_view(capacities: &[Capacity], lang: Lang) -> Vec<CapacityView> {
    capacities
        .iter()
        .map(|c| CapacityView {
            capacity_type: label(&CAPACITY_TYPE, &c.capacity_type, lang),
            status: label(&CAPACITY_STATUS, &c.status, lang),
            nb: c.nb,
            updated: when(c.update_date),
        })
        .collect()
}

/// A location as the pages show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationView {
    /// Logical id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Postal address on one line.
    pub address: String,
    /// Region code (J237) and its name.
    pub region: (String, String),
    /// Version.
    pub version: i64,
    /// Last change.
    pub updated: String,
    /// Its capacities.
    pub capacities: Vec<CapacityView>,
    /// The names of the services offered there.
    pub services: Vec<String>,
}

/// A location with the services offered there, in `lang`.
pub fn location_view(l: &LocationRecord, services: &[ServiceRecord], lang: Lang) -> LocationView {
    LocationView {
        id: l.id.clone(),
        name: l.name.clone(),
        address: format!("{}, {} {}", l.line, l.postal_code, l.city),
        region: (l.region.clone(), label(&REGION, &l.region, lang)),
        version: l.version,
        updated: when(l.updated_at),
        capacities: capacities_view(&l.capacities, lang),
        services: services
            .iter()
            .filter(|s| s.location_id == l.id)
            .map(|s| s.name.clone())
            .collect(),
    }
}

/// A structure a professional may edit, with its locations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StructureView {
    /// Its FINESS.
    pub finess: String,
    /// Its name (from its services; the FINESS when it has none here).
    pub name: String,
    /// Its locations.
    pub locations: Vec<LocationView>,
}

/// The structures `ties` (FINESS numbers, sorted as given) with their locations and services,
/// in `lang`.
pub fn structures_view(
    ties: &[String],
    locations: &[LocationRecord],
    services: &[ServiceRecord],
    lang: Lang,
) -> Vec<StructureView> {
    ties.iter()
        .map(|finess| StructureView {
            finess: finess.clone(),
            name: services
                .iter()
                .find(|s| &s.finess == finess)
                .map_or_else(|| finess.clone(), |s| s.structure_name.clone()),
            locations: locations
                .iter()
                .filter(|l| &l.finess == finess)
                .map(|l| location_view(l, services, lang))
                .collect(),
        })
        .collect()
}

/// The regions of the structures' locations, code and name, each once.
pub fn regions_of(structures: &[StructureView]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = structures
        .iter()
        .flat_map(|s| s.locations.iter().map(|l| l.region.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One version in a location's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// The version.
    pub version: i64,
    /// When.
    pub when: String,
    /// Who (the kind of editor).
    pub who: Text,
    /// Their identifier (national id, client id), if any.
    pub who_id: String,
    /// The capacities before (none for the first version).
    pub before: Vec<CapacityView>,
    /// The capacities after.
    pub after: Vec<CapacityView>,
}

/// The rows of a history given newest first, in `lang`.
pub fn history_view(entries: &[HistoryEntry], lang: Lang) -> Vec<HistoryRow> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (who, who_id) = match e.changed_by.split_once(':') {
                Some(("professional", id)) => (Text::new("offer.history.professional"), id),
                Some(("client", id)) => (Text::new("offer.history.client"), id),
                _ => (Text::new("offer.history.generated"), ""),
            };
            HistoryRow {
                version: e.version,
                when: when(e.changed_at),
                who,
                who_id: who_id.to_owned(),
                before: entries
                    .get(i + 1)
                    .map(|p| capacities_view(&p.capacities, lang))
                    .unwrap_or_default(),
                after: capacities_view(&e.capacities, lang),
            }
        })
        .collect()
}

/// The options of a list: `(code, label in lang)`.
pub fn options(vs: &ValueSet, lang: Lang) -> Vec<(&'static str, &'static str)> {
    vs.codes
        .iter()
        .map(|&(code, ..)| (code, vs.label_in(code, lang).unwrap_or(code)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{offer_of, synthetic_structures};

    #[test]
    fn structures_list_their_locations_and_services() {
        let s = &synthetic_structures(2);
        let (mut l, mut v) = offer_of(&s[0], 3, 1_767_225_600);
        let (l2, v2) = offer_of(&s[1], 3, 1_767_225_600);
        l.extend(l2);
        v.extend(v2);
        let ties = vec![s[1].finess.clone(), "999999999".to_owned()];
        let view = structures_view(&ties, &l, &v, Lang::Fr);
        assert_eq!(view.len(), 2);
        assert_eq!(view[0].name, s[1].name);
        assert!(!view[0].locations.is_empty());
        assert!(
            view[0]
                .locations
                .iter()
                .all(|x| x.id.starts_with(&s[1].finess))
        );
        assert_eq!(view[0].locations[0].services.len(), 1);
        let first = l.iter().find(|x| x.id == view[0].locations[0].id).unwrap();
        assert_eq!(
            Some(view[0].locations[0].capacities[0].capacity_type.as_str()),
            CAPACITY_TYPE.label(&first.capacities[0].capacity_type)
        );
        assert_eq!(view[1].name, "999999999");
        assert!(view[1].locations.is_empty());
        assert_eq!(
            regions_of(&view),
            [("84".into(), "Auvergne-Rhône-Alpes".into())]
        );
        assert_eq!(when(1_767_225_600 + 3_660), "2026-01-01 01:01 UTC");
    }

    #[test]
    fn english_pages_show_english_labels() {
        let (l, v) = offer_of(&synthetic_structures(1)[0], 1, 0);
        let mut l = l[0].clone();
        l.capacities[0].capacity_type = "01".into();
        l.capacities[0].status = "02".into();
        l.capacities[1].capacity_type = "03".into();
        l.capacities[1].status = "03".into();
        let en = location_view(&l, &v, Lang::En);
        assert_eq!(
            (
                en.capacities[0].capacity_type.as_str(),
                en.capacities[0].status.as_str()
            ),
            ("Bed", "Available")
        );
        assert_eq!(
            (
                en.capacities[1].capacity_type.as_str(),
                en.capacities[1].status.as_str()
            ),
            ("Housing unit", "Occupied")
        );
        let fr = location_view(&l, &v, Lang::Fr);
        assert_eq!(
            (
                fr.capacities[0].capacity_type.as_str(),
                fr.capacities[0].status.as_str()
            ),
            ("Lit", "Disponible")
        );
        assert_eq!(en.region, fr.region, "regions keep their names");
        assert!(options(&CAPACITY_STATUS, Lang::En).contains(&("05", "Closed")));
        assert!(options(&CAPACITY_STATUS, Lang::Fr).contains(&("05", "Fermé")));
        assert_eq!(label(&CAPACITY_TYPE, "99", Lang::En), "99");
    }

    #[test]
    fn history_rows_show_before_and_after() {
        let caps = offer_of(&synthetic_structures(1)[0], 1, 0)
            .0
            .remove(0)
            .capacities;
        let mut changed = caps.clone();
        changed[1].nb += 1;
        let entries = vec![
            HistoryEntry {
                version: 2,
                changed_at: 100,
                changed_by: "professional:899700218896".into(),
                capacities: changed.clone(),
            },
            HistoryEntry {
                version: 1,
                changed_at: 0,
                changed_by: "generated".into(),
                capacities: caps.clone(),
            },
        ];
        let rows = history_view(&entries, Lang::Fr);
        assert_eq!(rows[0].who, Text::new("offer.history.professional"));
        assert_eq!(rows[0].who_id, "899700218896");
        assert_eq!(rows[0].before, capacities_view(&caps, Lang::Fr));
        assert_eq!(rows[0].after[1].nb, changed[1].nb);
        assert!(rows[1].before.is_empty());
        assert_eq!(rows[1].who, Text::new("offer.history.generated"));
    }
}
