//! The offer's records (what the store keeps) and their FHIR resources: a structure's
//! locations with their capacities, and its healthcare services.
//!
//! A [`Capacity`] only exists checked: every code in its value set, a count that is not
//! negative, an update date. [`capacities_of`] reads them back from a `Location`'s extensions
//! (a patched resource) with the same checks.

use crate::codes::{self, ValueSet};
use crate::fhir::{
    Address, CodeableConcept, Coding, Extension, HealthcareService, Identifier, Location, Meta,
    Position, Reference,
};
use crate::time::{instant, parse_instant};
use serde::{Deserialize, Serialize};

/// One supported capacity of a location (`ror-location-supported-capacity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// J187 NatureCapacite.
    pub capacity_type: String,
    /// J188 TypeStatutCapacite.
    pub status: String,
    /// J189 TemporaliteCapacite.
    pub temporality: String,
    /// How many.
    pub nb: u32,
    /// J193 TypeSourceCapacite.
    pub source: String,
    /// J190 GenreCapacite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// capacityUpdateDate (seconds since the epoch).
    pub update_date: i64,
    /// J195 AffectationTemporaire.
    pub temporary_assignment: String,
}

/// A location (LieuRealisationOffre) of a structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationRecord {
    /// Logical id.
    pub id: String,
    /// The structure's FINESS (geographical entity).
    pub finess: String,
    /// Name.
    pub name: String,
    /// Street line.
    pub line: String,
    /// Postal code.
    pub postal_code: String,
    /// Town.
    pub city: String,
    /// Region (J237).
    pub region: String,
    /// Latitude (WGS84).
    pub lat: f64,
    /// Longitude (WGS84).
    pub lon: f64,
    /// Its capacities.
    pub capacities: Vec<Capacity>,
    /// Version (1, then one more per change).
    pub version: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A healthcare service (OffreOperationnelle) of a structure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// Logical id.
    pub id: String,
    /// The structure's FINESS.
    pub finess: String,
    /// The structure's name.
    pub structure_name: String,
    /// Where it is offered.
    pub location_id: String,
    /// nomOffre.
    pub name: String,
    /// J20 ChampActivite.
    pub service_type: String,
    /// J17 ActiviteOperationnelle.
    pub specialty: String,
    /// J19 ModePriseEnCharge.
    pub care_mode: String,
    /// Region (J237).
    pub region: String,
    /// Version.
    pub version: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A coded sub-extension: a `CodeableConcept` of one coding of `vs`'s code system, as the
/// IG's `ror-location-supported-capacity` has them.
fn code_ext(name: &str, vs: &ValueSet, code: &str) -> Extension {
    Extension {
        url: name.to_owned(),
        value_codeable_concept: Some(concept(vs, code)),
        ..Extension::default()
    }
}

/// The code of `s`'s `valueCodeableConcept`, from its coding of `vs`'s code system, checked.
fn code_of(name: &str, s: &Extension, vs: &ValueSet) -> Result<String, String> {
    let concept = s
        .value_codeable_concept
        .as_ref()
        .ok_or_else(|| format!("{name} needs a valueCodeableConcept"))?;
    let coding = concept
        .coding
        .iter()
        .find(|c| c.system.as_deref() == Some(vs.system))
        .ok_or_else(|| format!("{name} needs a coding of {} ({})", vs.system, vs.id))?;
    let code = coding
        .code
        .as_deref()
        .ok_or_else(|| format!("{name} needs a code"))?;
    vs.check(code).map_err(|why| format!("{name}: {why}"))?;
    Ok(code.to_owned())
}

impl Capacity {
    /// The `ror-location-supported-capacity` extension.
    pub fn extension(&self) -> Extension {
        let mut subs = vec![
            code_ext("capacityType", &codes::CAPACITY_TYPE, &self.capacity_type),
            code_ext("capacityStatus", &codes::CAPACITY_STATUS, &self.status),
            code_ext(
                "temporalityCapacity",
                &codes::TEMPORALITY,
                &self.temporality,
            ),
            Extension {
                url: "nbCapacity".into(),
                value_integer: Some(i64::from(self.nb)),
                ..Extension::default()
            },
            code_ext("capacitySourceType", &codes::SOURCE, &self.source),
        ];
        if let Some(g) = &self.gender {
            subs.push(code_ext("genderCapacityAvailable", &codes::GENDER, g));
        }
        subs.push(Extension {
            url: "capacityUpdateDate".into(),
            value_date_time: Some(instant(self.update_date)),
            ..Extension::default()
        });
        subs.push(code_ext(
            "temporaryAssignement",
            &codes::TEMPORARY_ASSIGNMENT,
            &self.temporary_assignment,
        ));
        Extension {
            url: codes::SUPPORTED_CAPACITY.into(),
            extension: subs,
            ..Extension::default()
        }
    }

    /// Reads a capacity from its extension, every part checked.
    pub fn from_extension(e: &Extension) -> Result<Self, String> {
        let mut seen = std::collections::HashSet::new();
        for s in &e.extension {
            if !seen.insert(s.url.as_str()) {
                return Err(format!("{} is given twice", s.url));
            }
            if !s.extension.is_empty() {
                return Err(format!("{} has sub-extensions", s.url));
            }
        }
        let find = |name: &str| e.extension.iter().find(|s| s.url == name);
        let code = |name: &str, vs: &ValueSet, required: bool| -> Result<Option<String>, String> {
            match find(name) {
                None if required => Err(format!("{name} is required")),
                None => Ok(None),
                Some(s) => code_of(name, s, vs).map(Some),
            }
        };
        for s in &e.extension {
            const KNOWN: [&str; 8] = [
                "capacityType",
                "capacityStatus",
                "temporalityCapacity",
                "nbCapacity",
                "capacitySourceType",
                "genderCapacityAvailable",
                "capacityUpdateDate",
                "temporaryAssignement",
            ];
            if !KNOWN.contains(&s.url.as_str()) {
                return Err(format!("unknown capacity element {:?}", s.url));
            }
        }
        let required = |name: &str, vs: &ValueSet| -> Result<String, String> {
            code(name, vs, true)?.ok_or_else(|| format!("{name} is required"))
        };
        let nb = find("nbCapacity")
            .and_then(|s| s.value_integer)
            .ok_or("nbCapacity needs a valueInteger")?;
        let nb = u32::try_from(nb)
            .map_err(|_| format!("nbCapacity must be between 0 and {}", u32::MAX))?;
        let update_date = find("capacityUpdateDate")
            .and_then(|s| s.value_date_time.as_deref())
            .ok_or("capacityUpdateDate needs a valueDateTime")?;
        let update_date = parse_instant(update_date)
            .ok_or("capacityUpdateDate must be a dateTime with a time and a zone")?;
        Ok(Self {
            capacity_type: required("capacityType", &codes::CAPACITY_TYPE)?,
            status: required("capacityStatus", &codes::CAPACITY_STATUS)?,
            temporality: required("temporalityCapacity", &codes::TEMPORALITY)?,
            nb,
            source: required("capacitySourceType", &codes::SOURCE)?,
            gender: code("genderCapacityAvailable", &codes::GENDER, false)?,
            update_date,
            temporary_assignment: required("temporaryAssignement", &codes::TEMPORARY_ASSIGNMENT)?,
        })
    }
}

/// The capacities carried by a location's extensions (others are not the offer's business).
pub fn capacities_of(location: &Location) -> Result<Vec<Capacity>, String> {
    location
        .extension
        .iter()
        .filter(|e| e.url == codes::SUPPORTED_CAPACITY)
        .enumerate()
        .map(|(i, e)| Capacity::from_extension(e).map_err(|why| format!("capacity {i}: {why}")))
        .collect()
}

fn meta(version: i64, updated_at: i64, region: &str) -> Meta {
    Meta {
        version_id: Some(version.to_string()),
        last_updated: Some(instant(updated_at)),
        tag: vec![Coding::of(&codes::REGION, region)],
    }
}

fn finess_ref(finess: &str, display: Option<&str>) -> Reference {
    Reference {
        reference: None,
        identifier: Some(Identifier {
            system: Some(codes::SYSTEM_FINESS.into()),
            value: Some(finess.into()),
        }),
        display: display.map(str::to_owned),
    }
}

impl LocationRecord {
    /// Its FHIR resource.
    pub fn resource(&self) -> Location {
        Location {
            resource_type: "Location".into(),
            id: self.id.clone(),
            meta: meta(self.version, self.updated_at, &self.region),
            extension: self.capacities.iter().map(Capacity::extension).collect(),
            identifier: vec![Identifier {
                system: Some(codes::SYSTEM_ROR.into()),
                value: Some(self.id.clone()),
            }],
            status: Some("active".into()),
            name: Some(self.name.clone()),
            address: Some(Address {
                line: vec![self.line.clone()],
                city: Some(self.city.clone()),
                postal_code: Some(self.postal_code.clone()),
                country: Some("FRA".into()),
            }),
            position: Some(Position {
                longitude: self.lon,
                latitude: self.lat,
            }),
            managing_organization: Some(finess_ref(&self.finess, None)),
        }
    }
}

fn concept(vs: &ValueSet, code: &str) -> CodeableConcept {
    CodeableConcept {
        coding: vec![Coding::of(vs, code)],
    }
}

impl ServiceRecord {
    /// Its FHIR resource.
    pub fn resource(&self) -> HealthcareService {
        HealthcareService {
            resource_type: "HealthcareService".into(),
            id: self.id.clone(),
            meta: meta(self.version, self.updated_at, &self.region),
            identifier: vec![Identifier {
                system: Some(codes::SYSTEM_ROR.into()),
                value: Some(self.id.clone()),
            }],
            active: true,
            provided_by: Some(finess_ref(&self.finess, Some(&self.structure_name))),
            type_: vec![concept(&codes::ACTIVITY_FIELD, &self.service_type)],
            specialty: vec![concept(&codes::OPERATIONAL_ACTIVITY, &self.specialty)],
            location: vec![Reference {
                reference: Some(format!("Location/{}", self.location_id)),
                ..Reference::default()
            }],
            name: Some(self.name.clone()),
            characteristic: vec![concept(&codes::CARE_MODE, &self.care_mode)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn capacity() -> Capacity {
        Capacity {
            capacity_type: "01".into(),
            status: "02".into(),
            temporality: "01".into(),
            nb: 12,
            source: "01".into(),
            gender: Some("04".into()),
            update_date: 1_767_225_600,
            temporary_assignment: "01".into(),
        }
    }

    #[test]
    fn capacities_round_trip_through_their_extension() {
        let c = capacity();
        assert_eq!(Capacity::from_extension(&c.extension()), Ok(c));
    }

    #[test]
    fn capacity_codings_are_those_of_the_ig() {
        // As the IG's `ror-location-exemple-1`: a CodeableConcept of the TRE_ code system.
        let e = serde_json::to_value(capacity().extension()).unwrap();
        assert_eq!(
            e["extension"][1],
            serde_json::json!({"url": "capacityStatus", "valueCodeableConcept": {"coding": [{
                "system": "https://mos.esante.gouv.fr/NOS/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite",
                "code": "02", "display": "Disponible"}]}})
        );
        assert_eq!(
            e["extension"][0]["valueCodeableConcept"]["coding"][0]["system"],
            "https://mos.esante.gouv.fr/NOS/TRE_R329-NatureCapacite/FHIR/TRE-R329-NatureCapacite"
        );
    }

    #[test]
    fn bad_capacities_are_refused() {
        let mut e = capacity().extension();
        e.extension[3].value_integer = Some(-1);
        assert!(
            Capacity::from_extension(&e)
                .unwrap_err()
                .contains("nbCapacity")
        );
        for (at, element, set) in [
            (0, "capacityType", "J187"),
            (1, "capacityStatus", "J188"),
            (2, "temporalityCapacity", "J189"),
            (4, "capacitySourceType", "J193"),
            (5, "genderCapacityAvailable", "J190"),
            (7, "temporaryAssignement", "J195"),
        ] {
            let mut e = capacity().extension();
            assert_eq!(e.extension[at].url, element);
            let concept = e.extension[at].value_codeable_concept.as_mut().unwrap();
            concept.coding[0].code = Some("99".into());
            let why = Capacity::from_extension(&e).unwrap_err();
            assert!(why.contains(element) && why.contains(set), "{why}");
            // A known code of another system (the value set's URL is not a code system).
            let mut e = capacity().extension();
            let concept = e.extension[at].value_codeable_concept.as_mut().unwrap();
            let vs_url = concept.coding[0]
                .system
                .clone()
                .unwrap()
                .replace("TRE_", "JDV_");
            concept.coding[0].system = Some(vs_url);
            let why = Capacity::from_extension(&e).unwrap_err();
            assert!(
                why.contains(element) && why.contains("needs a coding"),
                "{why}"
            );
            // The plain valueCode of older drafts.
            let mut e = capacity().extension();
            e.extension[at].value_codeable_concept = None;
            e.extension[at].value_code = Some("01".into());
            let why = Capacity::from_extension(&e).unwrap_err();
            assert!(why.contains("valueCodeableConcept"), "{why}");
        }
        let mut e = capacity().extension();
        e.extension.remove(1);
        assert!(
            Capacity::from_extension(&e)
                .unwrap_err()
                .contains("capacityStatus")
        );
        let mut e = capacity().extension();
        e.extension
            .push(code_ext("capacityType", &codes::CAPACITY_TYPE, "01"));
        assert!(Capacity::from_extension(&e).unwrap_err().contains("twice"));
        let mut e = capacity().extension();
        e.extension[6].value_date_time = Some("2026-01-01".into());
        assert!(Capacity::from_extension(&e).is_err());
    }
}
