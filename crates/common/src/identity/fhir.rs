//! Identities from a health directory's FHIR R4 API (Annuaire Santé's shape, as
//! `coeur-directory` serves it): searchset pages read into typed resources ([`parse_page`]),
//! and a Practitioner with its PractitionerRoles and their Organizations made into the
//! [`Identity`] PSC's claims are built from ([`identity`]). Pure: the provider's shell fetches
//! the pages and writes what this gives.
//!
//! What comes from where:
//! - national identifier: the Practitioner's IdNat_PS identifier (`urn:oid:1.2.250.1.71.4.2.1`),
//!   `active` its `active`;
//! - names: its first `name` (`family`, first `given`), the practice's civility its `prefix`;
//!   the civility (`M`, `MME`) from `gender`, else from the prefix when it is one;
//! - e-mail and phone: its `telecom` (`email`, `phone`), a `work` one first;
//! - one practice (exercice) per profession code (TRE_G15) of its active roles, each role an
//!   activity: mode (TRE_R23), role (TRE_R21), specialty, and the site from the Organization
//!   it points to (FINESS, SIRET, name, address, phone, legal entity).

use super::{Activity, Exercice, Identity, IdentityError, NationalId};
use crate::environment::Environment;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// IdNat_PS.
pub const SYSTEM_IDNPS: &str = "urn:oid:1.2.250.1.71.4.2.1";
/// Professions (TRE_G15).
pub const SYSTEM_G15: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante";
/// Exercise modes (TRE_R23).
pub const SYSTEM_R23: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R23-ModeExercice/FHIR/TRE-R23-ModeExercice";
/// Roles (TRE_R21).
pub const SYSTEM_R21: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R21-Fonction/FHIR/TRE-R21-Fonction";
/// Specialities (savoir-faire).
pub const SYSTEM_SPECIALTY: &str = "urn:oid:1.2.250.1.213.2.28";
/// FINESS.
pub const SYSTEM_FINESS: &str = "https://finess.esante.gouv.fr";
/// SIREN / SIRET.
pub const SYSTEM_SIRENE: &str = "https://sirene.fr";

/// A `meta` element.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Meta {
    /// When the resource last changed (FHIR `instant`).
    pub last_updated: Option<String>,
}

/// A coding.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Coding {
    /// Its code system.
    pub system: Option<String>,
    /// The code.
    pub code: Option<String>,
}

/// A codeable concept.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CodeableConcept {
    /// Its codings.
    pub coding: Vec<Coding>,
}

/// An identifier.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Identifier {
    /// Its system.
    pub system: Option<String>,
    /// Its value.
    pub value: Option<String>,
}

/// A human name.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HumanName {
    /// Family name.
    pub family: Option<String>,
    /// Given names.
    pub given: Vec<String>,
    /// Prefixes (civility of practice: `DR`, `M`, `MME`…).
    pub prefix: Vec<String>,
}

/// A contact point.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ContactPoint {
    /// `email`, `phone`, `fax`…
    pub system: Option<String>,
    /// The address or number.
    pub value: Option<String>,
    /// `work`, `home`…
    #[serde(rename = "use")]
    pub use_: Option<String>,
}

/// An address.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Address {
    /// Lines.
    pub line: Vec<String>,
    /// Town.
    pub city: Option<String>,
    /// Postcode.
    pub postal_code: Option<String>,
}

/// A reference.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Reference {
    /// `Type/id`.
    pub reference: Option<String>,
    /// What it shows.
    pub display: Option<String>,
}

impl Reference {
    /// The logical id of a `Type/id` reference of `rtype`.
    fn id_of(&self, rtype: &str) -> Option<&str> {
        let (t, id) = self.reference.as_deref()?.split_once('/')?;
        (t == rtype && !id.is_empty()).then_some(id)
    }
}

/// A professional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Practitioner {
    /// Logical id.
    pub id: String,
    /// Meta.
    pub meta: Meta,
    /// Identifiers.
    pub identifier: Vec<Identifier>,
    /// Whether the directory has them active.
    pub active: bool,
    /// Names.
    pub name: Vec<HumanName>,
    /// Contact points.
    pub telecom: Vec<ContactPoint>,
    /// `male`, `female`…
    pub gender: Option<String>,
}

/// An exercise of a professional in a structure.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PractitionerRole {
    /// Logical id.
    pub id: String,
    /// Meta.
    pub meta: Meta,
    /// Whether it is active.
    pub active: bool,
    /// Whose.
    pub practitioner: Option<Reference>,
    /// Where.
    pub organization: Option<Reference>,
    /// Profession, mode, role codes.
    pub code: Vec<CodeableConcept>,
    /// Specialties.
    pub specialty: Vec<CodeableConcept>,
}

/// A structure.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Organization {
    /// Logical id.
    pub id: String,
    /// Identifiers (FINESS, SIRET).
    pub identifier: Vec<Identifier>,
    /// Its name.
    pub name: Option<String>,
    /// Phone, fax.
    pub telecom: Vec<ContactPoint>,
    /// Addresses.
    pub address: Vec<Address>,
    /// Its legal entity.
    pub part_of: Option<Reference>,
}

/// One searchset page, its resources by type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Practitioners.
    pub practitioners: Vec<Practitioner>,
    /// Practitioner roles.
    pub roles: Vec<PractitionerRole>,
    /// Organizations.
    pub organizations: Vec<Organization>,
    /// The `next` link, if there is a next page.
    pub next: Option<String>,
}

/// A page that is not a FHIR searchset bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a FHIR searchset bundle: {0}")]
pub struct PageError(String);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    resource_type: String,
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    link: Vec<RawLink>,
    #[serde(default)]
    entry: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawLink {
    relation: String,
    url: String,
}

#[derive(Deserialize)]
struct RawEntry {
    resource: serde_json::Value,
}

/// Reads a searchset page. Resources of other types are skipped; a resource of a known type
/// that does not read is an error (nothing of the page is used).
pub fn parse_page(body: &[u8]) -> Result<Page, PageError> {
    let raw: RawBundle =
        serde_json::from_slice(body).map_err(|e| PageError(format!("unreadable JSON: {e}")))?;
    if raw.resource_type != "Bundle" || raw.type_ != "searchset" {
        return Err(PageError(format!(
            "a {} of type {:?}",
            raw.resource_type, raw.type_
        )));
    }
    let mut page = Page {
        next: raw
            .link
            .into_iter()
            .find(|l| l.relation == "next")
            .map(|l| l.url),
        ..Page::default()
    };
    for e in raw.entry {
        let rtype = e
            .resource
            .get("resourceType")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .to_owned();
        let bad = |err: serde_json::Error| PageError(format!("a {rtype}: {err}"));
        match rtype.as_str() {
            "Practitioner" => page
                .practitioners
                .push(serde_json::from_value(e.resource).map_err(bad)?),
            "PractitionerRole" => page
                .roles
                .push(serde_json::from_value(e.resource).map_err(bad)?),
            "Organization" => page
                .organizations
                .push(serde_json::from_value(e.resource).map_err(bad)?),
            _ => {}
        }
    }
    Ok(page)
}

/// A FHIR `instant` in UTC (`2026-01-01T00:00:00Z`, fractions ignored) as seconds since the
/// epoch.
pub fn instant_secs(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || !s.ends_with('Z') || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|x| x.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, sec) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's `days_from_civil`).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy.rem_euclid(400);
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

/// A FHIR `instant` (UTC) of seconds since the epoch, for `_lastUpdated`.
pub fn instant(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = super::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl Practitioner {
    /// When it last changed, in seconds.
    pub fn last_updated(&self) -> Option<i64> {
        self.meta.last_updated.as_deref().and_then(instant_secs)
    }

    /// Its IdNat_PS.
    pub fn national_id(&self) -> Result<NationalId, Refused> {
        let value = self
            .identifier
            .iter()
            .find(|i| i.system.as_deref() == Some(SYSTEM_IDNPS))
            .and_then(|i| i.value.as_deref())
            .ok_or_else(|| Refused {
                who: format!("Practitioner/{}", self.id),
                why: "no IdNat_PS identifier".into(),
            })?;
        NationalId::parse(value).map_err(|e| Refused {
            who: format!("Practitioner/{}", self.id),
            why: e.to_string(),
        })
    }
}

impl PractitionerRole {
    /// When it last changed, in seconds.
    pub fn last_updated(&self) -> Option<i64> {
        self.meta.last_updated.as_deref().and_then(instant_secs)
    }

    /// The logical id of its practitioner.
    pub fn practitioner_id(&self) -> Option<&str> {
        self.practitioner.as_ref()?.id_of("Practitioner")
    }

    fn code_of(&self, system: &str) -> String {
        code_in(&self.code, system)
    }
}

fn code_in(concepts: &[CodeableConcept], system: &str) -> String {
    concepts
        .iter()
        .flat_map(|c| &c.coding)
        .find(|c| c.system.as_deref() == Some(system))
        .and_then(|c| c.code.clone())
        .unwrap_or_default()
}

fn identifier_in(ids: &[Identifier], system: &str) -> String {
    ids.iter()
        .find(|i| i.system.as_deref() == Some(system))
        .and_then(|i| i.value.clone())
        .unwrap_or_default()
}

fn contact(telecom: &[ContactPoint], system: &str) -> Option<String> {
    let of_system = || {
        telecom
            .iter()
            .filter(move |c| c.system.as_deref() == Some(system))
            .filter_map(|c| Some((c.use_.as_deref(), c.value.as_deref()?.trim())))
            .filter(|(_, v)| !v.is_empty())
    };
    of_system()
        .find(|(u, _)| *u == Some("work"))
        .or_else(|| of_system().next())
        .map(|(_, v)| v.to_owned())
}

/// A practitioner the directory has that the provider does not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{who}: {why}")]
pub struct Refused {
    /// The resource (`Practitioner/…`) or national identifier.
    pub who: String,
    /// Why.
    pub why: String,
}

/// What a practitioner of the directory is for the provider.
#[derive(Debug, Clone, PartialEq)]
pub enum Synced {
    /// An active professional, checked ([`Identity::check`]) and admissible in the realm's
    /// environment.
    Active(Box<Identity>),
    /// A professional the directory has deactivated: no login any more.
    Inactive(NationalId),
}

impl Synced {
    /// The national identifier.
    pub fn national_id(&self) -> &NationalId {
        match self {
            Self::Active(i) => &i.national_id,
            Self::Inactive(n) => n,
        }
    }
}

/// The identity of practitioner `p` for a realm of `environment`, from its roles (any order,
/// inactive ones ignored) and the organizations they point to (by logical id). A practitioner
/// without an active role is inactive for the provider: it cannot log in with no practice.
pub fn identity(
    environment: Environment,
    p: &Practitioner,
    roles: &[&PractitionerRole],
    organizations: &HashMap<String, Organization>,
) -> Result<Synced, Refused> {
    let national_id = p.national_id()?;
    let refused = |why: String| Refused {
        who: national_id.to_string(),
        why,
    };
    national_id
        .admissible_in(environment)
        .map_err(|e| refused(e.to_string()))?;
    let active_roles: Vec<&&PractitionerRole> = roles.iter().filter(|r| r.active).collect();
    if !p.active || active_roles.is_empty() {
        return Ok(Synced::Inactive(national_id));
    }
    let name = p.name.first().cloned().unwrap_or_default();
    let prefix = name.prefix.first().cloned().unwrap_or_default();
    let civilite = match (p.gender.as_deref(), prefix.as_str()) {
        (Some("female"), _) => "MME",
        (Some("male"), _) => "M",
        (_, "MME") => "MME",
        (_, "M") => "M",
        _ => return Err(refused("no civility (gender) in the directory".into())),
    };
    let given = name.given.first().cloned().unwrap_or_default();
    let family = name.family.clone().unwrap_or_default();
    // One practice per profession, in the order the roles come (sorted by id: stable).
    let mut sorted = active_roles;
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut exercices: BTreeMap<String, Exercice> = BTreeMap::new();
    let mut order: Vec<String> = vec![];
    for r in sorted {
        let profession = r.code_of(SYSTEM_G15);
        if profession.is_empty() {
            continue;
        }
        let e = exercices.entry(profession.clone()).or_insert_with(|| {
            order.push(profession.clone());
            Exercice {
                code_profession: profession.clone(),
                // The directory's FHIR API does not carry the category: civil, as nearly all.
                code_categorie_professionnelle: "C".into(),
                code_civilite_dexercice: prefix.clone(),
                nom_dexercice: family.clone(),
                prenom_dexercice: given.clone(),
                ..Exercice::default()
            }
        });
        let specialty = code_in(&r.specialty, SYSTEM_SPECIALTY);
        if e.code_savoir_faire.is_empty() && !specialty.is_empty() {
            e.code_savoir_faire = specialty;
        }
        e.activities.push(activity(r, organizations));
    }
    let identity = Identity {
        national_id: national_id.clone(),
        active: true,
        civilite: civilite.into(),
        given_name: given,
        family_name: family,
        email: contact(&p.telecom, "email"),
        phone: contact(&p.telecom, "phone"),
        origin: national_id.origin().as_str().into(),
        exercices: order
            .iter()
            .filter_map(|code| exercices.remove(code))
            .collect(),
        birth_date: None,
        birth_place: None,
        birth_country: None,
    };
    identity
        .check()
        .map_err(|e: IdentityError| refused(e.to_string()))?;
    Ok(Synced::Active(Box::new(identity)))
}

/// A role as a PSC activity, its site from the organization it points to.
fn activity(r: &PractitionerRole, organizations: &HashMap<String, Organization>) -> Activity {
    let mut a = Activity {
        code_mode_exercice: r.code_of(SYSTEM_R23),
        code_role: r.code_of(SYSTEM_R21),
        ..Activity::default()
    };
    let reference = r.organization.as_ref();
    a.raison_sociale_site = reference
        .and_then(|o| o.display.clone())
        .unwrap_or_default();
    let Some(o) = reference
        .and_then(|o| o.id_of("Organization"))
        .and_then(|id| organizations.get(id))
    else {
        return a;
    };
    a.numero_finess_site = identifier_in(&o.identifier, SYSTEM_FINESS);
    a.numero_siret_site = identifier_in(&o.identifier, SYSTEM_SIRENE);
    a.numero_siren_site = a.numero_siret_site.chars().take(9).collect();
    if !a.numero_finess_site.is_empty() {
        a.identifiant_technique_de_la_structure = format!("F{}", a.numero_finess_site);
    }
    if let Some(ej) = o.part_of.as_ref().and_then(|p| p.id_of("Organization")) {
        a.numero_finessetablissement_juridique = ej.to_owned();
    }
    if let Some(name) = &o.name {
        a.raison_sociale_site = name.clone();
    }
    if let Some(addr) = o.address.first() {
        let street = addr.line.first().map(String::as_str).unwrap_or_default();
        match street.split_once(' ') {
            Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => {
                a.numero_voie = n.to_owned();
                a.libelle_voie = rest.to_owned();
            }
            _ => a.libelle_voie = street.to_owned(),
        }
        a.code_postal = addr.postal_code.clone().unwrap_or_default();
        a.bureau_cedex = match (&addr.postal_code, &addr.city) {
            (Some(cp), Some(city)) => format!("{cp} {city}"),
            (None, Some(city)) => city.clone(),
            _ => String::new(),
        };
        if a.code_postal.len() == 5 {
            a.code_departement = a.code_postal[..2].to_owned();
        }
    }
    a.telephone = contact(&o.telecom, "phone").unwrap_or_default();
    a.telecopie = contact(&o.telecom, "fax").unwrap_or_default();
    a
}

#[cfg(test)]
#[path = "fhir_tests.rs"]
mod tests;
