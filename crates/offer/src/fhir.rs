//! The FHIR R4 (4.0.1) resources the offer exposes, as plain serde structs holding only the
//! elements it fills: `Location` (LieuRealisationOffre), `HealthcareService`
//! (OffreOperationnelle), `Bundle`, `OperationOutcome`.
//!
//! No FHIR model crate, as in the directory (`coeur-directory`'s `fhir/model.rs`): the R4
//! crates either do not cover R4 4.0.1 (`fhir-sdk`: STU3, R4B, R5) or generate every resource
//! (compile time on the build machines), for the four resources needed here. Their shapes are
//! checked against `fhir.resources` in the integration tests.

use serde::{Deserialize, Serialize};

/// `Coding`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coding {
    /// The code system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Its label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Coding {
    /// A coding of `vs` with the code's label.
    pub fn of(vs: &crate::codes::ValueSet, code: &str) -> Self {
        Self {
            system: Some(vs.system.to_owned()),
            code: Some(code.to_owned()),
            display: vs.label(code).map(str::to_owned),
        }
    }
}

/// `CodeableConcept`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeableConcept {
    /// The codings.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub coding: Vec<Coding>,
}

/// `Meta`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// The version (a counter of changes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `instant` of the last change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
    /// Tags: the region (J237).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tag: Vec<Coding>,
}

/// `Identifier`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identifier {
    /// The namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `Reference`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    /// `Type/id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A logical identifier (the structure's FINESS, held by the directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
    /// Label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// `Address`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Street lines.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub line: Vec<String>,
    /// Town.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// `Location.position` (WGS84).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    /// Longitude.
    pub longitude: f64,
    /// Latitude.
    pub latitude: f64,
}

/// `Extension`: the value types the offer uses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Extension {
    /// The extension's URL (or sub-extension's name).
    pub url: String,
    /// Sub-extensions.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub extension: Vec<Extension>,
    /// `valueCode` (read only to be refused where the IG asks for a `CodeableConcept`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_code: Option<String>,
    /// `valueCodeableConcept`: the capacity's coded elements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<CodeableConcept>,
    /// `valueCoding`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_coding: Option<Coding>,
    /// `valueInteger`: a JSON number, kept as `i64` here so that a negative or out-of-range
    /// count is refused by the capacity's checks, not lost by serde.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_integer: Option<i64>,
    /// `valueDateTime`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_date_time: Option<String>,
}

/// `Location` (ror-location).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// Always `Location`.
    pub resource_type: String,
    /// Logical id.
    pub id: String,
    /// Version, last change, region.
    pub meta: Meta,
    /// Extensions: the supported capacities.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub extension: Vec<Extension>,
    /// idLocation.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub identifier: Vec<Identifier>,
    /// `active`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Coordinates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// The structure (FINESS of the geographical entity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managing_organization: Option<Reference>,
}

/// `HealthcareService` (ror-healthcareservice).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthcareService {
    /// Always `HealthcareService`.
    pub resource_type: String,
    /// Logical id.
    pub id: String,
    /// Version, last change, region.
    pub meta: Meta,
    /// identifiantOffre.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub identifier: Vec<Identifier>,
    /// Active.
    pub active: bool,
    /// The structure offering it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provided_by: Option<Reference>,
    /// J20 ChampActivite.
    #[serde(rename = "type", skip_serializing_if = "Vec::is_empty", default)]
    pub type_: Vec<CodeableConcept>,
    /// J17 ActiviteOperationnelle.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub specialty: Vec<CodeableConcept>,
    /// Where it is offered.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub location: Vec<Reference>,
    /// nomOffre.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// careMode (J19).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub characteristic: Vec<CodeableConcept>,
}

/// `OperationOutcome` with one issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationOutcome {
    /// Always `OperationOutcome`.
    pub resource_type: String,
    /// The issue.
    pub issue: Vec<Issue>,
}

/// An `OperationOutcome.issue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// `error`.
    pub severity: String,
    /// The IssueType code (`invalid`, `not-found`, `conflict`…).
    pub code: String,
    /// For people.
    pub diagnostics: String,
}

impl OperationOutcome {
    /// One error.
    pub fn error(code: &str, diagnostics: impl Into<String>) -> Self {
        Self {
            resource_type: "OperationOutcome".into(),
            issue: vec![Issue {
                severity: "error".into(),
                code: code.into(),
                diagnostics: diagnostics.into(),
            }],
        }
    }
}
