//! Records → FHIR resources, logical ids, and FHIR instants.
//!
//! Logical ids: a Practitioner is its IdNat_PS, an Organization its FINESS number
//! (establishment or legal entity: one numbering), a PractitionerRole its record key. Keys are
//! written in the FHIR id alphabet (`[A-Za-z0-9\-\.]`): `|` becomes `.`, any other byte outside
//! `[A-Za-z0-9]` becomes `-` and two upper-case hex digits; [`key_of_id`] reverses it.

use super::extensions::{authorities, data_trace, information_system, smartcard};
use super::model::*;
use crate::record::{Record, RecordKind};
use crate::store::StoredRecord;

/// The format of the resources kept as JSON ([`crate::store::kept`]): the crate's version and
/// a digest of the code that maps and writes them (this file, the models, the extensions), so
/// that a kept resource is read only by the code that would map it the same way.
pub const KEPT_FORMAT: &str = kept_format();

const KEPT_SOURCES: [&[u8]; 3] = [
    include_bytes!("map.rs"),
    include_bytes!("model.rs"),
    include_bytes!("extensions.rs"),
];

/// `1.` + the version's digits + `.` + 16 hex digits of FNV-1a over [`KEPT_SOURCES`].
const fn kept_format() -> &'static str {
    const LEN: usize = kept_format_bytes().1;
    const BYTES: [u8; 64] = kept_format_bytes().0;
    match std::str::from_utf8(BYTES.split_at(LEN).0) {
        Ok(s) => s,
        Err(_) => panic!("the kept format is ASCII"),
    }
}

const fn kept_format_bytes() -> ([u8; 64], usize) {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut f = 0;
    while f < KEPT_SOURCES.len() {
        let src = KEPT_SOURCES[f];
        let mut i = 0;
        while i < src.len() {
            hash ^= src[i] as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            i += 1;
        }
        f += 1;
    }
    let mut out = [0u8; 64];
    let mut n = 0;
    out[n] = b'1';
    out[n + 1] = b'.';
    n += 2;
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let mut i = 0;
    while i < version.len() && n < 40 {
        if version[i].is_ascii_alphanumeric() {
            out[n] = version[i];
            n += 1;
        }
        i += 1;
    }
    out[n] = b'.';
    n += 1;
    let mut shift = 64;
    while shift > 0 {
        shift -= 4;
        let d = ((hash >> shift) & 0xf) as u8;
        out[n] = if d < 10 { b'0' + d } else { b'a' + d - 10 };
        n += 1;
    }
    (out, n)
}

/// IdNat_PS.
pub const SYSTEM_IDNPS: &str = "urn:oid:1.2.250.1.71.4.2.1";
/// RPPS.
pub const SYSTEM_RPPS: &str = "https://rpps.esante.gouv.fr";
/// ADELI.
pub const SYSTEM_ADELI: &str = "https://adeli.esante.gouv.fr";
/// FINESS.
pub const SYSTEM_FINESS: &str = "https://finess.esante.gouv.fr";
/// SIREN / SIRET.
pub const SYSTEM_SIRENE: &str = "https://sirene.fr";
/// Identifier types (fr-core-cs-v2-0203).
pub const SYSTEM_ID_TYPE: &str = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203";
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
/// Establishment categories (TRE_R66).
pub const SYSTEM_R66: &str = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement";
/// APE codes (TRE_R75).
pub const SYSTEM_R75: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R75-InseeNAFrev2Niveau5/FHIR/TRE-R75-InseeNAFrev2Niveau5";
/// Regulated care activities (TRE_R274).
pub const SYSTEM_R274: &str = "https://mos.esante.gouv.fr/NOS/TRE_R274-ActiviteSanitaireRegulee/FHIR/TRE-R274-ActiviteSanitaireRegulee";
/// Modalities of a care activity (TRE_R275).
pub const SYSTEM_R275: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R275-ModaliteActivite/FHIR/TRE-R275-ModaliteActivite";
/// Forms of a care activity (TRE_R276).
pub const SYSTEM_R276: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R276-FormeActivite/FHIR/TRE-R276-FormeActivite";
/// Disciplines of social equipment (TRE_R280).
pub const SYSTEM_R280: &str = "https://mos.esante.gouv.fr/NOS/TRE_R280-DisciplineEquipementSocial/FHIR/TRE-R280-DisciplineEquipementSocial";
/// Types of activity of social equipment (TRE_R209).
pub const SYSTEM_R209: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R209-TypeActivite/FHIR/TRE-R209-TypeActivite";
/// Clienteles of social equipment (TRE_R279).
pub const SYSTEM_R279: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R279-Clientele/FHIR/TRE-R279-Clientele";
/// Organization kinds (plain codes `GEOGRAPHICAL-ENTITY`, `LEGAL-ENTITY`).
pub const SYSTEM_ORG_KIND: &str =
    "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-type-organisation";

/// A record key in the FHIR id alphabet.
pub fn id_of_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'|' => out.push('.'),
            b if b.is_ascii_alphanumeric() => out.push(char::from(b)),
            b => out.push_str(&format!("-{b:02X}")),
        }
    }
    out
}

/// The record key of a logical id, `None` when it is not one [`id_of_key`] writes.
pub fn key_of_id(id: &str) -> Option<String> {
    let mut out = Vec::with_capacity(id.len());
    let mut bytes = id.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'.' => out.push(b'|'),
            b'-' => {
                let hex = [bytes.next()?, bytes.next()?];
                let v = u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?;
                if v.is_ascii_alphanumeric() || v == b'|' || hex.iter().any(u8::is_ascii_lowercase)
                {
                    return None;
                }
                out.push(v);
            }
            b if b.is_ascii_alphanumeric() => out.push(b),
            _ => return None,
        }
    }
    String::from_utf8(out).ok().filter(|k| !k.is_empty())
}

/// The resource type a record kind is exposed as, if it is.
pub fn resource_type(kind: RecordKind) -> Option<&'static str> {
    match kind {
        RecordKind::Practitioner => Some("Practitioner"),
        RecordKind::PractitionerRole => Some("PractitionerRole"),
        RecordKind::Establishment | RecordKind::LegalEntity => Some("Organization"),
        RecordKind::Authorisation | RecordKind::SocialEquipment => Some("HealthcareService"),
        _ => None,
    }
}

/// The record kinds behind a resource type.
pub fn kinds_of(resource_type: &str) -> &'static [RecordKind] {
    match resource_type {
        "Practitioner" => &[RecordKind::Practitioner],
        "PractitionerRole" => &[RecordKind::PractitionerRole],
        "Organization" => &[RecordKind::Establishment, RecordKind::LegalEntity],
        "HealthcareService" => &[RecordKind::Authorisation, RecordKind::SocialEquipment],
        _ => &[],
    }
}

/// Seconds since the epoch as a FHIR `instant` (UTC).
pub fn instant(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn coding(system: &str, code: &str, display: &str) -> Option<CodeableConcept> {
    (!code.is_empty()).then(|| CodeableConcept {
        coding: vec![Coding {
            system: Some(system.to_owned()),
            code: Some(code.to_owned()),
            display: some(display),
        }],
        text: None,
    })
}

fn identifier(system: &str, type_code: &str, value: &str) -> Identifier {
    Identifier {
        type_: coding(SYSTEM_ID_TYPE, type_code, ""),
        system: Some(system.to_owned()),
        value: Some(value.to_owned()),
    }
}

/// Its version, last change and data trace (information system; the registration authorities
/// of a professional come with its exercises, [`practitioner_with`]).
fn meta(s: &StoredRecord) -> Meta {
    Meta {
        extension: data_trace(information_system(&s.record), &[])
            .into_iter()
            .collect(),
        version_id: Some(s.version.to_string()),
        last_updated: Some(instant(s.updated_at)),
    }
}

/// The IdNat_PS of a practitioner role.
pub fn role_practitioner(r: &Record) -> &str {
    r.key.split('|').next().unwrap_or("")
}

/// A stored record as its resource, `None` for kinds not exposed.
pub fn resource(s: &StoredRecord) -> Option<Resource> {
    let r = &s.record;
    Some(match r.kind {
        RecordKind::Practitioner => Resource::Practitioner(practitioner(s)),
        RecordKind::PractitionerRole => Resource::PractitionerRole(practitioner_role(s)),
        RecordKind::Establishment | RecordKind::LegalEntity => {
            Resource::Organization(organization(s))
        }
        RecordKind::Authorisation => Resource::HealthcareService(healthcare_service(s)),
        RecordKind::SocialEquipment => Resource::HealthcareService(social_equipment(s)),
        _ => return None,
    })
}

/// What a Practitioner shows from other records: its exercises (professions), its
/// qualifications (savoir-faire) and its MSSanté mailboxes.
#[derive(Debug, Default, Clone)]
pub struct Related {
    /// PractitionerRole records.
    pub roles: Vec<Record>,
    /// Qualification records.
    pub qualifications: Vec<Record>,
    /// Mailbox records.
    pub mailboxes: Vec<Record>,
    /// Card records.
    pub cards: Vec<Record>,
    /// The contact details the professional gave for correspondence.
    pub contact: Option<crate::space::contact::Contact>,
}

/// The fields of related records a Practitioner shows ([`add_related`]) or that tell whose
/// they are (a mailbox's or a card's IdNat_PS): searches read only these of them.
pub const RELATED_FIELDS: &[&str] = &[
    "Identification nationale PP",
    "Code profession",
    "Libellé profession",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Autorité d'enregistrement",
    "Code type de carte",
    "Libellé type de carte",
    "Date début validité",
    "Date fin validité",
    "Date opposition",
];

/// The profession and qualification codings of a practitioner's related records.
pub fn qualification_codes(related: &Related) -> Vec<CodeableConcept> {
    let mut out: Vec<CodeableConcept> = vec![];
    let professions = related
        .roles
        .iter()
        .chain(&related.qualifications)
        .filter_map(|r| {
            coding(
                SYSTEM_G15,
                r.get("Code profession"),
                r.get("Libellé profession"),
            )
        });
    let specialities = related.qualifications.iter().filter_map(|r| {
        coding(
            SYSTEM_SPECIALTY,
            r.get("Code savoir-faire"),
            r.get("Libellé savoir-faire"),
        )
    });
    for c in professions.chain(specialities) {
        if !out.iter().any(|o| o.coding == c.coding) {
            out.push(c);
        }
    }
    out
}

/// A practitioner with what its related records show: qualifications, telecom, cards, and
/// the registration authorities of its exercises in its data trace.
pub fn practitioner_with(s: &StoredRecord, related: &Related) -> Practitioner {
    let mut p = practitioner(s);
    add_related(&mut p, s, related);
    p
}

/// Adds to `p`, the Practitioner of `s` ([`resource`]), what its related records show, as
/// [`practitioner_with`] does: a search maps each candidate once, to check it, and completes
/// the matches it answers with.
pub fn add_related(p: &mut Practitioner, s: &StoredRecord, related: &Related) {
    let mut found: Vec<&str> = vec![];
    for a in related.roles.iter().flat_map(authorities) {
        if !found.contains(&a) {
            found.push(a);
        }
    }
    p.meta.extension = data_trace(information_system(&s.record), &found)
        .into_iter()
        .collect();
    p.extension = related.cards.iter().map(smartcard).collect();
    p.qualification = qualification_codes(related)
        .into_iter()
        .map(|code| Qualification { code })
        .collect();
    // The contact details for correspondence first (`use` `work`), then the MSSanté mailboxes.
    p.telecom = related
        .contact
        .iter()
        .flat_map(|c| c.telecom())
        .chain(related.mailboxes.iter().map(|m| ContactPoint {
            system: Some("email".into()),
            value: Some(m.key.clone()),
            use_: None,
        }))
        .collect();
}

fn practitioner(s: &StoredRecord) -> Practitioner {
    let r = &s.record;
    let mut ids = vec![identifier(SYSTEM_IDNPS, "IDNPS", &r.key)];
    let pp = r.get("Identifiant PP");
    match r.get("Type d'identifiant PP") {
        "8" if !pp.is_empty() => ids.push(identifier(SYSTEM_RPPS, "RPPS", pp)),
        "0" if !pp.is_empty() => ids.push(identifier(SYSTEM_ADELI, "ADELI", pp)),
        _ => {}
    }
    let name = HumanName {
        family: some(r.get("Nom d'exercice")),
        given: some(r.get("Prénom d'exercice")).into_iter().collect(),
        prefix: some(r.get("Code civilité d'exercice"))
            .into_iter()
            .collect(),
    };
    Practitioner {
        id: id_of_key(&r.key),
        meta: meta(s),
        identifier: ids,
        active: s.active,
        name: if name == HumanName::default() {
            vec![]
        } else {
            vec![name]
        },
        extension: vec![],
        gender: match r.get("Code civilité") {
            "M" => Some("male".into()),
            "MME" | "MLLE" => Some("female".into()),
            _ => None,
        },
        telecom: vec![],
        qualification: vec![],
    }
}

fn practitioner_role(s: &StoredRecord) -> PractitionerRole {
    let r = &s.record;
    let finess = r.get("Numéro FINESS site");
    let site =
        some(r.get("Raison sociale site")).or_else(|| some(r.get("Enseigne commerciale site")));
    let organization = if !finess.is_empty() {
        Some(Reference {
            reference: Some(format!("Organization/{}", id_of_key(finess))),
            display: site,
        })
    } else {
        site.map(|d| Reference {
            reference: None,
            display: Some(d),
        })
    };
    PractitionerRole {
        id: id_of_key(&r.key),
        meta: meta(s),
        active: s.active,
        practitioner: Some(Reference {
            reference: Some(format!("Practitioner/{}", id_of_key(role_practitioner(r)))),
            display: None,
        }),
        organization,
        code: [
            coding(
                SYSTEM_G15,
                r.get("Code profession"),
                r.get("Libellé profession"),
            ),
            coding(
                SYSTEM_R23,
                r.get("Code mode exercice"),
                r.get("Libellé mode exercice"),
            ),
            coding(SYSTEM_R21, r.get("Code rôle"), r.get("Libellé rôle")),
        ]
        .into_iter()
        .flatten()
        .collect(),
        specialty: coding(
            SYSTEM_SPECIALTY,
            r.get("Code savoir-faire"),
            r.get("Libellé savoir-faire"),
        )
        .into_iter()
        .collect(),
    }
}

/// The town of a FINESS `ligneacheminement` (`75012 PARIS` → `PARIS`).
pub fn town(line: &str, postal_code: &str) -> String {
    line.strip_prefix(postal_code)
        .unwrap_or(line)
        .trim()
        .to_owned()
}

/// Adds a structure's own MSSanté mailboxes to its Organization ([`resource`]): `telecom`,
/// `email`, after its phones.
pub fn add_mailboxes(o: &mut Organization, mailboxes: &[Record]) {
    o.telecom.extend(mailboxes.iter().map(|m| ContactPoint {
        system: Some("email".into()),
        value: Some(m.key.clone()),
        use_: None,
    }));
}

fn organization(s: &StoredRecord) -> Organization {
    let r = &s.record;
    if r.kind == RecordKind::LegalEntity {
        return Organization {
            id: id_of_key(&r.key),
            meta: meta(s),
            identifier: vec![identifier(SYSTEM_FINESS, "FINEJ", &r.key)],
            active: s.active,
            type_: coding(SYSTEM_ORG_KIND, "LEGAL-ENTITY", "")
                .into_iter()
                .collect(),
            ..Organization::default()
        };
    }
    let mut ids = vec![identifier(SYSTEM_FINESS, "FINEG", &r.key)];
    if let Some(siret) = some(r.get("siret")) {
        ids.push(identifier(SYSTEM_SIRENE, "SIRET", &siret));
    }
    let cp = r.get("codepostal");
    let street = [
        r.get("numvoie"),
        r.get("compvoie"),
        r.get("typvoie"),
        r.get("voie"),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    let address = Address {
        line: [street, r.get("lieuditbp").to_owned()]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect(),
        city: some(&town(r.get("ligneacheminement"), cp)),
        postal_code: some(cp),
        country: None,
    };
    let ej = r.get("nofinessej");
    Organization {
        id: id_of_key(&r.key),
        meta: meta(s),
        identifier: ids,
        active: s.active,
        type_: [
            coding(SYSTEM_ORG_KIND, "GEOGRAPHICAL-ENTITY", ""),
            coding(SYSTEM_R66, r.get("categetab"), r.get("libcategetab")),
            coding(SYSTEM_R75, r.get("codeape"), r.get("libcodeape")),
        ]
        .into_iter()
        .flatten()
        .collect(),
        name: some(r.get("rslongue")).or_else(|| some(r.get("rs"))),
        telecom: [("phone", r.get("telephone")), ("fax", r.get("telecopie"))]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(system, v)| ContactPoint {
                system: Some(system.to_owned()),
                value: Some(v.to_owned()),
                use_: None,
            })
            .collect(),
        address: if address == Address::default() {
            vec![]
        } else {
            vec![address]
        },
        part_of: (!ej.is_empty()).then(|| Reference {
            reference: Some(format!("Organization/{}", id_of_key(ej))),
            display: None,
        }),
    }
}

/// An authorised care activity: its identifiers (the ARHGOS number, FINESS's authorisation
/// number: no published system, told apart by their type's text), its site, its activity,
/// modality and form.
fn healthcare_service(s: &StoredRecord) -> HealthcareService {
    let r = &s.record;
    let identifier = [("ARHGOS", "noautorarhgos"), ("FINESS", "noautor")]
        .into_iter()
        .filter(|(_, column)| !r.get(column).is_empty())
        .map(|(label, column)| Identifier {
            type_: Some(CodeableConcept {
                coding: vec![],
                text: Some(label.to_owned()),
            }),
            system: None,
            value: Some(r.get(column).to_owned()),
        })
        .collect();
    let site = r.get("nofinesset");
    HealthcareService {
        id: id_of_key(&r.key),
        meta: meta(s),
        identifier,
        active: s.active,
        provided_by: (!site.is_empty()).then(|| Reference {
            reference: Some(format!("Organization/{}", id_of_key(site))),
            display: some(r.get("rset")),
        }),
        category: coding(SYSTEM_R275, r.get("modalite"), r.get("libmodalite"))
            .into_iter()
            .collect(),
        type_: coding(SYSTEM_R274, r.get("activite"), r.get("libactivite"))
            .into_iter()
            .collect(),
        name: some(r.get("libactivite")),
        characteristic: coding(SYSTEM_R276, r.get("forme"), r.get("libforme"))
            .into_iter()
            .collect(),
        eligibility: vec![],
    }
}

/// A social equipment, as Annuaire Santé's SocialEquipment profile: the discipline (`type`,
/// TRE_R280), the clientele (`eligibility.code`, TRE_R279), the type of activity
/// (`characteristic`, TRE_R209), the site (`providedBy`), the discipline's label (`name`).
fn social_equipment(s: &StoredRecord) -> HealthcareService {
    let r = &s.record;
    let site = r.get("nofinesset");
    HealthcareService {
        id: id_of_key(&r.key),
        meta: meta(s),
        active: s.active,
        provided_by: (!site.is_empty()).then(|| Reference {
            reference: Some(format!("Organization/{}", id_of_key(site))),
            display: None,
        }),
        type_: coding(SYSTEM_R280, r.get("de"), r.get("libde"))
            .into_iter()
            .collect(),
        name: some(r.get("libde")),
        eligibility: coding(SYSTEM_R279, r.get("client"), r.get("libclient"))
            .map(|code| Eligibility { code: Some(code) })
            .into_iter()
            .collect(),
        characteristic: coding(SYSTEM_R209, r.get("ta"), r.get("libta"))
            .into_iter()
            .collect(),
        ..HealthcareService::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_in_the_fhir_alphabet() {
        for key in [
            "810001045367",
            "810001045367|F750000001|10|S|SM26|",
            "a b/é-.",
            "2A0000001",
        ] {
            let id = id_of_key(key);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
                "{id}"
            );
            assert_eq!(key_of_id(&id).as_deref(), Some(key));
        }
        assert_eq!(id_of_key("8100|F7|10"), "8100.F7.10");
        // Not written by id_of_key: refused rather than read as another key.
        for bad in ["", "a_b", "-41", "-7c", "-2", "x-ZZ"] {
            assert_eq!(key_of_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn instants_are_utc_calendar_dates() {
        assert_eq!(instant(0), "1970-01-01T00:00:00Z");
        assert_eq!(instant(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(instant(951_827_696), "2000-02-29T12:34:56Z");
        assert_eq!(days_from_civil(2000, 2, 29) * 86_400 + 45_296, 951_827_696);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }

    fn stored(kind: RecordKind, key: &str, fields: &[(&str, &str)]) -> StoredRecord {
        StoredRecord {
            record: Record {
                kind,
                key: key.into(),
                fields: fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned().into(), (*v).to_owned()))
                    .collect(),
            },
            active: true,
            updated_at: 0,
            deactivated_at: None,
            version: 7,
        }
    }

    #[test]
    fn records_map_to_their_resources() {
        let p = stored(
            RecordKind::Practitioner,
            "810001045367",
            &[
                ("Type d'identifiant PP", "8"),
                ("Identifiant PP", "10001045367"),
                ("Nom d'exercice", "GUIGNARD"),
                ("Prénom d'exercice", "ERIC"),
                ("Code civilité", "M"),
            ],
        );
        let v = serde_json::to_value(resource(&p).unwrap()).unwrap();
        assert_eq!(v["resourceType"], "Practitioner");
        assert_eq!(v["id"], "810001045367");
        assert_eq!(v["meta"]["versionId"], "7");
        assert_eq!(v["identifier"][1]["system"], SYSTEM_RPPS);
        assert_eq!(v["identifier"][1]["value"], "10001045367");
        assert_eq!(v["name"][0]["family"], "GUIGNARD");
        assert_eq!(v["name"][0]["given"][0], "ERIC");
        assert_eq!(v["gender"], "male");

        let role = stored(
            RecordKind::PractitionerRole,
            "810001045367|F750000001|10|S||",
            &[
                ("Code profession", "10"),
                ("Numéro FINESS site", "750000001"),
            ],
        );
        let v = serde_json::to_value(resource(&role).unwrap()).unwrap();
        assert_eq!(v["practitioner"]["reference"], "Practitioner/810001045367");
        assert_eq!(v["organization"]["reference"], "Organization/750000001");
        assert_eq!(v["code"][0]["coding"][0]["code"], "10");
        assert_eq!(
            key_of_id(v["id"].as_str().unwrap()).unwrap(),
            role.record.key
        );

        let et = stored(
            RecordKind::Establishment,
            "750000001",
            &[
                ("nofinessej", "750000002"),
                ("rs", "CH TEST"),
                ("codepostal", "75012"),
                ("ligneacheminement", "75012 PARIS"),
            ],
        );
        let v = serde_json::to_value(resource(&et).unwrap()).unwrap();
        assert_eq!(v["address"][0]["city"], "PARIS");
        assert_eq!(v["address"][0]["postalCode"], "75012");
        assert_eq!(v["partOf"]["reference"], "Organization/750000002");
        assert_eq!(v["type"][0]["coding"][0]["code"], "GEOGRAPHICAL-ENTITY");
        assert!(resource(&stored(RecordKind::Mailbox, "a@b", &[])).is_none());

        let hcs = stored(
            RecordKind::Authorisation,
            "010000024|16|40|00",
            &[
                ("nofinesset", "010000024"),
                ("rset", "CH DE FLEYRIAT"),
                ("activite", "16"),
                (
                    "libactivite",
                    "Traitement de l'insuffisance rénale chronique",
                ),
                ("modalite", "40"),
                ("forme", "00"),
                ("noautor", "762201955"),
                ("noautorarhgos", "52-52-49883"),
            ],
        );
        let v = serde_json::to_value(resource(&hcs).unwrap()).unwrap();
        assert_eq!(v["resourceType"], "HealthcareService");
        assert_eq!(v["id"], "010000024.16.40.00");
        assert_eq!(v["providedBy"]["reference"], "Organization/010000024");
        assert_eq!(v["type"][0]["coding"][0]["system"], SYSTEM_R274);
        assert_eq!(v["type"][0]["coding"][0]["code"], "16");
        assert_eq!(v["category"][0]["coding"][0]["code"], "40");
        assert_eq!(v["characteristic"][0]["coding"][0]["system"], SYSTEM_R276);
        assert_eq!(v["identifier"][0]["value"], "52-52-49883");
        assert_eq!(v["identifier"][0]["type"]["text"], "ARHGOS");
        assert_eq!(v["identifier"][1]["value"], "762201955");
        assert_eq!(v["active"], true);
    }
}
