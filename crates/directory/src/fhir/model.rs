//! The FHIR R4 (4.0.1) resources the directory exposes, as plain serde structs: only the
//! elements it fills. JSON only (`application/fhir+json`).

use serde::{Deserialize, Serialize};

/// `Meta`: when the resource last changed and its version, and where its data come from
/// (Annuaire Santé's `as-ext-data-trace`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// The data trace: source information system and registration authority.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub extension: Vec<Extension>,
    /// The change counter of the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `instant` of the last change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
}

/// `Extension`: a URL and one value, or nested extensions (a complex extension).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    /// What the extension is (absolute), or the slice's name within a complex extension.
    pub url: String,
    /// The parts of a complex extension.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub extension: Vec<Extension>,
    /// A `code` value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_code: Option<String>,
    /// A `string` value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
    /// A `CodeableConcept` value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<CodeableConcept>,
    /// A `Period` value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_period: Option<Period>,
    /// A `dateTime` value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_date_time: Option<String>,
}

/// `Period`: FHIR dates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    /// First day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Last day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

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

/// `CodeableConcept`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeableConcept {
    /// The codings.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub coding: Vec<Coding>,
    /// Plain text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `Identifier`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identifier {
    /// The identifier's type (fr-core-cs-v2-0203).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<CodeableConcept>,
    /// The namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `HumanName`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HumanName {
    /// Family name (nom d'exercice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Given names (prénom d'exercice).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub given: Vec<String>,
    /// Prefixes (civilité d'exercice).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub prefix: Vec<String>,
}

/// `ContactPoint`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactPoint {
    /// `phone`, `fax`, `email`…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `work` for the contact details a professional gives for correspondence.
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
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

/// `Reference`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    /// `Type/id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A label, when there is no resource to point to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// `Practitioner`: a professional (RPPS or ADELI), keyed by IdNat_PS.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Practitioner {
    /// Logical id.
    pub id: String,
    /// Meta.
    pub meta: Meta,
    /// The professional's CPS / CPF cards (`as-ext-smartcard`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub extension: Vec<Extension>,
    /// IdNat_PS, RPPS or ADELI.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub identifier: Vec<Identifier>,
    /// Whether the record is in the current extract.
    pub active: bool,
    /// Names.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub name: Vec<HumanName>,
    /// `male` or `female`, from the civility (`Code civilité`: `M`, `MME`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gender: Option<String>,
    /// MSSanté mailboxes (`email`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub telecom: Vec<ContactPoint>,
    /// Professions (TRE_G15) and qualifications (savoir-faire).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub qualification: Vec<Qualification>,
}

/// `Practitioner.qualification`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Qualification {
    /// The profession or qualification.
    pub code: CodeableConcept,
}

/// `PractitionerRole`: one exercise of a professional at a structure.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PractitionerRole {
    /// Logical id.
    pub id: String,
    /// Meta.
    pub meta: Meta,
    /// Whether the record is in the current extract.
    pub active: bool,
    /// The professional.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub practitioner: Option<Reference>,
    /// The structure (its FINESS site when it has one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<Reference>,
    /// Profession (TRE_G15), exercise mode (TRE_R23), role (TRE_R21).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub code: Vec<CodeableConcept>,
    /// Speciality (savoir-faire).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub specialty: Vec<CodeableConcept>,
}

/// `Organization`: a FINESS establishment (geographical entity) or legal entity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// Logical id.
    pub id: String,
    /// Meta.
    pub meta: Meta,
    /// FINESS, SIRET.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub identifier: Vec<Identifier>,
    /// Whether the record is in the current extract.
    pub active: bool,
    /// Entity kind, category, APE code.
    #[serde(rename = "type", skip_serializing_if = "Vec::is_empty", default)]
    pub type_: Vec<CodeableConcept>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Phone numbers, then the structure's MSSanté mailboxes (`email`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub telecom: Vec<ContactPoint>,
    /// Postal address.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub address: Vec<Address>,
    /// The legal entity of an establishment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_of: Option<Reference>,
}

/// `HealthcareService`: a care activity authorised at a FINESS site (ARHGOS), as Annuaire
/// Santé's HealthCareActivity profile: the activity (`type`, TRE_R274), its modality
/// (`category`, TRE_R275) and form (`characteristic`, TRE_R276), the site (`providedBy`); or
/// a social equipment of a site (SocialEquipment profile: `type`, `eligibility`,
/// `characteristic`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthcareService {
    /// Logical id.
    pub id: String,
    /// Meta.
    pub meta: Meta,
    /// The ARHGOS authorisation number and FINESS's authorisation number.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub identifier: Vec<Identifier>,
    /// Whether the record is in the current extract.
    pub active: bool,
    /// The FINESS site the activity is authorised at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provided_by: Option<Reference>,
    /// The modality (TRE_R275).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub category: Vec<CodeableConcept>,
    /// The activity (TRE_R274).
    #[serde(rename = "type", skip_serializing_if = "Vec::is_empty", default)]
    pub type_: Vec<CodeableConcept>,
    /// The activity's label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The form (TRE_R276); of social equipment, the type of activity (TRE_R209).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub characteristic: Vec<CodeableConcept>,
    /// Of social equipment, the clientele (TRE_R279).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub eligibility: Vec<Eligibility>,
}

/// `HealthcareService.eligibility`: who the service is for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Eligibility {
    /// The clientele.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeableConcept>,
}

/// `OperationOutcome.issue`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// `error`, `fatal`…
    pub severity: String,
    /// The issue type code (`invalid`, `not-found`, `login`, `forbidden`, `throttled`…).
    pub code: String,
    /// Human readable text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<String>,
}

/// `OperationOutcome`: every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationOutcome {
    /// The issues.
    pub issue: Vec<Issue>,
}

impl OperationOutcome {
    /// One error issue of type `code`.
    pub fn error(code: &str, diagnostics: impl Into<String>) -> Self {
        Self {
            issue: vec![Issue {
                severity: "error".into(),
                code: code.into(),
                diagnostics: Some(diagnostics.into()),
            }],
        }
    }
}

/// `Bundle.link`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleLink {
    /// `self` or `next`.
    pub relation: String,
    /// The URL.
    pub url: String,
}

/// `Bundle.entry.search`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntrySearch {
    /// `match` or `include`.
    pub mode: String,
}

/// `Bundle.entry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The resource's absolute URL.
    pub full_url: String,
    /// The resource.
    pub resource: EntryResource,
    /// Why it is in the bundle.
    pub search: EntrySearch,
}

/// The resource of a bundle's entry: mapped, or as kept (its JSON, written as it is).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // As `Resource`: entries are built once and moved little.
pub enum EntryResource {
    /// A mapped resource.
    Mapped(Resource),
    /// A resource's JSON as kept ([`crate::store::kept`]), with its `Type/id`.
    Kept {
        /// `Type/id`.
        reference: String,
        /// The resource.
        json: Box<serde_json::value::RawValue>,
    },
}

impl EntryResource {
    /// `Type/id` of a directory resource.
    pub fn reference(&self) -> Option<String> {
        match self {
            Self::Mapped(r) => r.reference(),
            Self::Kept { reference, .. } => Some(reference.clone()),
        }
    }
}

impl PartialEq for EntryResource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Mapped(a), Self::Mapped(b)) => a == b,
            (Self::Kept { json: a, .. }, Self::Kept { json: b, .. }) => a.get() == b.get(),
            _ => false,
        }
    }
}

impl From<Resource> for EntryResource {
    fn from(r: Resource) -> Self {
        Self::Mapped(r)
    }
}

impl Serialize for EntryResource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Mapped(r) => r.serialize(s),
            Self::Kept { json, .. } => json.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for EntryResource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Resource::deserialize(d).map(Self::Mapped)
    }
}

/// `Bundle` of type `searchset`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// Always `searchset`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The number of matches (only with `_summary=count`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// `self`, and `next` while there are more pages.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub link: Vec<BundleLink>,
    /// Matches, then included resources.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub entry: Vec<Entry>,
}

/// Any resource the directory returns, tagged with its `resourceType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "resourceType")]
#[allow(clippy::large_enum_variant)]
pub enum Resource {
    /// A professional.
    Practitioner(Practitioner),
    /// An exercise.
    PractitionerRole(PractitionerRole),
    /// A structure.
    Organization(Organization),
    /// An authorised care activity.
    HealthcareService(HealthcareService),
    /// A search result.
    Bundle(Bundle),
    /// An error.
    OperationOutcome(OperationOutcome),
}

impl Resource {
    /// `Type/id` of a directory resource.
    pub fn reference(&self) -> Option<String> {
        match self {
            Self::Practitioner(r) => Some(format!("Practitioner/{}", r.id)),
            Self::PractitionerRole(r) => Some(format!("PractitionerRole/{}", r.id)),
            Self::Organization(r) => Some(format!("Organization/{}", r.id)),
            Self::HealthcareService(r) => Some(format!("HealthcareService/{}", r.id)),
            _ => None,
        }
    }
}
