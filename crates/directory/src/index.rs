//! The search index's rows of a record (pure): what the store writes into `directory_search`
//! beside each record, and what a search looks up there. The values mirror what
//! [`crate::fhir::map`] shows of the record, so that a search through the index finds what the
//! matching of [`crate::fhir::query`] accepts (it checks every candidate again).

use crate::fhir::extensions::{SYSTEM_R60, authorities};
use crate::fhir::map::{
    SYSTEM_ADELI, SYSTEM_FINESS, SYSTEM_G15, SYSTEM_IDNPS, SYSTEM_ORG_KIND, SYSTEM_R21, SYSTEM_R23,
    SYSTEM_R66, SYSTEM_R75, SYSTEM_R209, SYSTEM_R274, SYSTEM_R275, SYSTEM_R276, SYSTEM_R279,
    SYSTEM_R280, SYSTEM_RPPS, SYSTEM_SIRENE, SYSTEM_SPECIALTY, id_of_key, role_practitioner, town,
};
use crate::fhir::query::fold;
use crate::record::{Record, RecordKind};

/// `identifier` (Practitioner, Organization): system and value.
pub const IDENTIFIER: &str = "identifier";
/// A Practitioner's family name, folded.
pub const FAMILY: &str = "family";
/// A Practitioner's given name, folded.
pub const GIVEN: &str = "given";
/// A Practitioner's family and given names together: the folded family name, [`SEPARATOR`],
/// the folded given name. A search by family and given name reads the rows of the matches
/// only, family by family ([`crate::store::search::Names`]), instead of every professional
/// of a common family name.
pub const FAMILY_GIVEN: &str = "family-given";
/// Between the family and the given name of a [`FAMILY_GIVEN`] row: below every character a
/// folded name holds, so that the rows of one family name come before those of a longer one
/// it begins ("martin\u{1}…" < "martin-dubois\u{1}…"). Names holding it get no such row.
pub const SEPARATOR: char = '\u{1}';
/// A Practitioner's name prefix (civility), folded: `name` looks at family, given and prefix.
pub const PREFIX: &str = "prefix";
/// An Organization's name, folded.
pub const NAME: &str = "name";
/// An Organization's town, folded.
pub const CITY: &str = "address-city";
/// An Organization's postal code, folded.
pub const POSTAL_CODE: &str = "address-postalcode";
/// An Organization's types: system and code.
pub const TYPE: &str = "type";
/// An establishment's legal entity: its logical id.
pub const PART_OF: &str = "partof";
/// Codes of an exercise (profession, mode, role), of a qualification (profession,
/// savoir-faire) or of an authorised activity (activity, modality, form): system and code;
/// `role`, `qualification-code`, `service-type`, `service-category` and `characteristic`
/// look here.
pub const CODE: &str = "code";
/// The professional (IdNat_PS) an exercise, a qualification or a mailbox belongs to.
pub const OWNER: &str = "owner";
/// The site (logical id) of an exercise, of an authorised activity, or of a structure's own
/// MSSanté mailbox (`Type de BAL` `ORG`).
pub const ORGANIZATION: &str = "organization";
/// The registration authorities of an exercise (TRE_R60): `data-registration-authority` of
/// its professional looks here.
pub const AUTHORITY: &str = "authority";
/// A card's number, folded: `number-smartcard` looks here.
pub const SMARTCARD: &str = "smartcard";

/// The parameters whose rows the index by record holds (`directory_search_of_record`, a
/// partial index, schema `0012`): those a search looks up by prefix. A search's further
/// criteria on them are checked among the record's rows of the parameter; those on the others
/// (tokens, references) as one exact row of the index's own order.
pub const BY_RECORD: &[&str] = &[FAMILY, GIVEN, PREFIX, NAME, CITY, POSTAL_CODE];

/// The systems of the index rows, each stored as its short code (schema `0013`): the systems
/// are URLs of up to 100 bytes, and a third of a national-size index's rows hold one (every
/// exercise's profession, mode, role and authority): they made up a third of the table's
/// bytes. The codes are stored: a pair is never changed nor removed, only added.
pub const STORED_SYSTEMS: &[(&str, &str)] = &[
    (SYSTEM_IDNPS, "1"),
    (SYSTEM_RPPS, "2"),
    (SYSTEM_ADELI, "3"),
    (SYSTEM_FINESS, "4"),
    (SYSTEM_SIRENE, "5"),
    (SYSTEM_G15, "6"),
    (SYSTEM_R23, "7"),
    (SYSTEM_R21, "8"),
    (SYSTEM_R60, "9"),
    (SYSTEM_SPECIALTY, "10"),
    (SYSTEM_ORG_KIND, "11"),
    (SYSTEM_R66, "12"),
    (SYSTEM_R75, "13"),
    (SYSTEM_R274, "14"),
    (SYSTEM_R275, "15"),
    (SYSTEM_R276, "16"),
    (SYSTEM_R280, "17"),
    (SYSTEM_R209, "18"),
    (SYSTEM_R279, "19"),
];

/// The stored form of an index row's system ([`STORED_SYSTEMS`]): empty for none, `None` for a
/// system no row holds (a search by it finds nothing).
pub fn stored_system(system: &str) -> Option<&'static str> {
    if system.is_empty() {
        return Some("");
    }
    STORED_SYSTEMS
        .iter()
        .find(|(s, _)| *s == system)
        .map(|(_, code)| *code)
}

/// One row of the search index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// One of the constants of this module.
    pub param: &'static str,
    /// The token's system, empty when none.
    pub system: &'static str,
    /// The token's code, the logical id, or the folded string.
    pub value: String,
}

fn push(out: &mut Vec<Entry>, param: &'static str, system: &'static str, value: &str) {
    if !value.is_empty() {
        out.push(Entry {
            param,
            system,
            value: value.to_owned(),
        });
    }
}

fn push_folded(out: &mut Vec<Entry>, param: &'static str, value: &str) {
    if !value.is_empty() {
        out.push(Entry {
            param,
            system: "",
            value: fold(value),
        });
    }
}

/// The index rows of a record.
pub fn entries(r: &Record) -> Vec<Entry> {
    let mut out = Vec::with_capacity(6);
    match r.kind {
        RecordKind::Practitioner => {
            push(&mut out, IDENTIFIER, SYSTEM_IDNPS, &r.key);
            match r.get("Type d'identifiant PP") {
                "8" => push(&mut out, IDENTIFIER, SYSTEM_RPPS, r.get("Identifiant PP")),
                "0" => push(&mut out, IDENTIFIER, SYSTEM_ADELI, r.get("Identifiant PP")),
                _ => {}
            }
            let (family, given) = (r.get("Nom d'exercice"), r.get("Prénom d'exercice"));
            push_folded(&mut out, FAMILY, family);
            push_folded(&mut out, GIVEN, given);
            if let Some(both) = family_given(&fold(family), &fold(given)) {
                push(&mut out, FAMILY_GIVEN, "", &both);
            }
            push_folded(&mut out, PREFIX, r.get("Code civilité d'exercice"));
        }
        RecordKind::PractitionerRole => {
            push(&mut out, OWNER, "", role_practitioner(r));
            push(&mut out, CODE, SYSTEM_G15, r.get("Code profession"));
            push(&mut out, CODE, SYSTEM_R23, r.get("Code mode exercice"));
            push(&mut out, CODE, SYSTEM_R21, r.get("Code rôle"));
            let finess = r.get("Numéro FINESS site");
            push(&mut out, ORGANIZATION, "", &id_of_key(finess));
            for a in authorities(r) {
                push(&mut out, AUTHORITY, SYSTEM_R60, a);
            }
        }
        RecordKind::Qualification => {
            push(&mut out, OWNER, "", role_practitioner(r));
            push(&mut out, CODE, SYSTEM_G15, r.get("Code profession"));
            push(&mut out, CODE, SYSTEM_SPECIALTY, r.get("Code savoir-faire"));
        }
        RecordKind::Mailbox => {
            push(&mut out, OWNER, "", r.get("Identification nationale PP"));
            if let Some(finess) = mailbox_structure(r) {
                push(&mut out, ORGANIZATION, "", &id_of_key(finess));
            }
        }
        RecordKind::SocialEquipment => {
            push(&mut out, ORGANIZATION, "", &id_of_key(r.get("nofinesset")));
            push(&mut out, CODE, SYSTEM_R280, r.get("de"));
            push(&mut out, CODE, SYSTEM_R209, r.get("ta"));
            push(&mut out, CODE, SYSTEM_R279, r.get("client"));
        }
        RecordKind::Card => {
            push(&mut out, OWNER, "", r.get("Identification nationale PP"));
            push_folded(&mut out, SMARTCARD, &r.key);
        }
        RecordKind::Diploma => {}
        RecordKind::LegalEntity => {
            push(&mut out, IDENTIFIER, SYSTEM_FINESS, &r.key);
            push(&mut out, TYPE, SYSTEM_ORG_KIND, "LEGAL-ENTITY");
        }
        RecordKind::Establishment => {
            push(&mut out, IDENTIFIER, SYSTEM_FINESS, &r.key);
            push(&mut out, IDENTIFIER, SYSTEM_SIRENE, r.get("siret"));
            push(&mut out, TYPE, SYSTEM_ORG_KIND, "GEOGRAPHICAL-ENTITY");
            push(&mut out, TYPE, SYSTEM_R66, r.get("categetab"));
            push(&mut out, TYPE, SYSTEM_R75, r.get("codeape"));
            let name = match r.get("rslongue") {
                "" => r.get("rs"),
                long => long,
            };
            push_folded(&mut out, NAME, name);
            let cp = r.get("codepostal");
            push_folded(&mut out, CITY, &town(r.get("ligneacheminement"), cp));
            push_folded(&mut out, POSTAL_CODE, cp);
            push(&mut out, PART_OF, "", &id_of_key(r.get("nofinessej")));
        }
        RecordKind::Authorisation => {
            push(&mut out, IDENTIFIER, "", r.get("noautorarhgos"));
            push(&mut out, IDENTIFIER, "", r.get("noautor"));
            push(&mut out, ORGANIZATION, "", &id_of_key(r.get("nofinesset")));
            push(&mut out, CODE, SYSTEM_R274, r.get("activite"));
            push(&mut out, CODE, SYSTEM_R275, r.get("modalite"));
            push(&mut out, CODE, SYSTEM_R276, r.get("forme"));
        }
    }
    out
}

/// The value of a [`FAMILY_GIVEN`] row or prefix: `None` when either part is empty or holds
/// the separator.
pub fn family_given(family: &str, given: &str) -> Option<String> {
    (!family.is_empty()
        && !given.is_empty()
        && !family.contains(SEPARATOR)
        && !given.contains(SEPARATOR))
    .then(|| format!("{family}{SEPARATOR}{given}"))
}

/// The FINESS number of the structure whose own mailbox `r` is (`Type de BAL` `ORG`, the
/// structure identified by its FINESS number: `Type identifiant structure` `1`, the number
/// alone or as IdNat_Struct, `1` + FINESS).
pub fn mailbox_structure(r: &Record) -> Option<&str> {
    if r.get("Type de BAL") != "ORG" || r.get("Type identifiant structure") != "1" {
        return None;
    }
    let id = r.get("Identification Structure");
    match id.len() {
        9 => Some(id),
        10 => id.strip_prefix('1'),
        _ => None,
    }
}

/// The upper bound (excluded) of the folded strings starting with `prefix`, bytewise.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_are_stored_as_short_codes_that_schema_0013_writes() {
        let migration = include_str!("../../../migrations/directory/0013_short_index_systems.sql");
        for (i, (system, code)) in STORED_SYSTEMS.iter().enumerate() {
            assert_eq!(
                *code,
                (i + 1).to_string(),
                "codes are positions, never reused"
            );
            assert_eq!(stored_system(system), Some(*code));
            assert!(
                migration.contains(&format!("WHEN '{system}' THEN '{code}'")),
                "{system}"
            );
        }
        assert_eq!(migration.matches("WHEN '").count(), STORED_SYSTEMS.len());
        assert_eq!(stored_system(""), Some(""));
        assert_eq!(stored_system("https://example.org"), None);
        // A code is no system: asked for as one, it finds nothing.
        assert_eq!(stored_system("1"), None);
    }

    #[test]
    fn every_system_an_index_row_holds_is_stored_as_a_code() {
        let records = [
            Record::of(
                RecordKind::Practitioner,
                "810001045367",
                &[
                    ("Type d'identifiant PP", "8"),
                    ("Identifiant PP", "10001045367"),
                ],
            ),
            Record::of(
                RecordKind::Practitioner,
                "0751234567",
                &[
                    ("Type d'identifiant PP", "0"),
                    ("Identifiant PP", "751234567"),
                ],
            ),
            Record::of(
                RecordKind::PractitionerRole,
                "810001045367|R1|10|S||",
                &[
                    ("Code profession", "10"),
                    ("Code mode exercice", "S"),
                    ("Code rôle", "FON-01"),
                    ("Autorité d'enregistrement", "CNOM/CNOM"),
                ],
            ),
            Record::of(
                RecordKind::Qualification,
                "810001045367|10|S|SM26",
                &[("Code profession", "10"), ("Code savoir-faire", "SM26")],
            ),
            Record::of(
                RecordKind::SocialEquipment,
                "750000001|1|2|3",
                &[("de", "1"), ("ta", "2"), ("client", "3")],
            ),
            Record::of(RecordKind::LegalEntity, "750000002", &[]),
            Record::of(
                RecordKind::Establishment,
                "750000001",
                &[
                    ("siret", "26750045200011"),
                    ("categetab", "355"),
                    ("codeape", "8610Z"),
                ],
            ),
            Record::of(
                RecordKind::Authorisation,
                "750000001|01|02|03",
                &[("activite", "01"), ("modalite", "02"), ("forme", "03")],
            ),
        ];
        let mut systems = std::collections::BTreeSet::new();
        for r in &records {
            for e in entries(r) {
                assert!(stored_system(e.system).is_some(), "{}", e.system);
                systems.insert(e.system);
            }
        }
        systems.remove("");
        assert_eq!(
            systems.len(),
            STORED_SYSTEMS.len(),
            "every listed system is used"
        );
    }
    use crate::fhir::map::resource;
    use crate::fhir::model::Resource;
    use crate::store::StoredRecord;

    fn has(e: &[Entry], param: &str, system: &str, value: &str) -> bool {
        e.iter()
            .any(|x| x.param == param && x.system == system && x.value == value)
    }

    #[test]
    fn practitioner_rows_follow_its_resource() {
        let r = Record::of(
            RecordKind::Practitioner,
            "810001045367",
            &[
                ("Type d'identifiant PP", "8"),
                ("Identifiant PP", "10001045367"),
                ("Nom d'exercice", "LEFÈVRE"),
                ("Prénom d'exercice", "Hélène"),
                ("Code civilité d'exercice", "DR"),
            ],
        );
        let e = entries(&r);
        let s = StoredRecord {
            record: r,
            active: true,
            updated_at: 0,
            deactivated_at: None,
            version: 1,
        };
        let Some(Resource::Practitioner(p)) = resource(&s) else {
            panic!("not a practitioner")
        };
        for id in &p.identifier {
            let (system, value) = (id.system.as_deref().unwrap(), id.value.as_deref().unwrap());
            assert!(has(&e, IDENTIFIER, system, value), "{system}|{value}");
        }
        assert!(has(&e, FAMILY, "", "lefevre"));
        assert!(has(&e, GIVEN, "", "helene"));
        assert!(has(&e, PREFIX, "", "dr"));
        assert!(has(&e, FAMILY_GIVEN, "", "lefevre\u{1}helene"));
        assert_eq!(e.len(), 6);
    }

    #[test]
    fn exercise_establishment_and_mailbox_rows() {
        let role = Record::of(
            RecordKind::PractitionerRole,
            "810001045367|R1|10|S||",
            &[
                ("Code profession", "10"),
                ("Code mode exercice", "S"),
                ("Numéro FINESS site", "750000001"),
            ],
        );
        let e = entries(&role);
        assert!(has(&e, OWNER, "", "810001045367"));
        assert!(has(&e, CODE, SYSTEM_G15, "10"));
        assert!(has(&e, CODE, SYSTEM_R23, "S"));
        assert!(has(&e, ORGANIZATION, "", "750000001"));
        assert_eq!(e.len(), 4, "no empty role code, no row without value");

        let et = Record::of(
            RecordKind::Establishment,
            "750000001",
            &[
                ("nofinessej", "750000002"),
                ("rs", "CH SAINT-ÉTIENNE"),
                ("codepostal", "42000"),
                ("ligneacheminement", "42000 ST ÉTIENNE"),
            ],
        );
        let e = entries(&et);
        assert!(has(&e, NAME, "", "ch saint-etienne"));
        assert!(has(&e, CITY, "", "st etienne"));
        assert!(has(&e, POSTAL_CODE, "", "42000"));
        assert!(has(&e, PART_OF, "", "750000002"));
        assert!(has(&e, TYPE, SYSTEM_ORG_KIND, "GEOGRAPHICAL-ENTITY"));

        let m = Record::of(
            RecordKind::Mailbox,
            "a@b.mssante.fr",
            &[("Identification nationale PP", "810001045367")],
        );
        assert_eq!(
            entries(&m),
            [Entry {
                param: OWNER,
                system: "",
                value: "810001045367".into()
            }]
        );
        // A structure's own mailbox: found by its site; a professional's, by its owner only.
        let org = Record::of(
            RecordKind::Mailbox,
            "secretariat@ch.mssante.fr",
            &[
                ("Type de BAL", "ORG"),
                ("Type identifiant structure", "1"),
                ("Identification Structure", "1750000001"),
            ],
        );
        assert_eq!(
            entries(&org),
            [Entry {
                param: ORGANIZATION,
                system: "",
                value: "750000001".into()
            }]
        );
        let role = Record::of(
            RecordKind::PractitionerRole,
            "810001045367|R1|10|S||",
            &[("Autorité d'enregistrement", "CNOM/CNOM/CNOM")],
        );
        let e = entries(&role);
        assert!(has(&e, AUTHORITY, SYSTEM_R60, "CNOM"));
        assert_eq!(e.iter().filter(|x| x.param == AUTHORITY).count(), 1);
        let card = Record::of(
            RecordKind::Card,
            "2100123456",
            &[("Identification nationale PP", "810001045367")],
        );
        let e = entries(&card);
        assert!(has(&e, OWNER, "", "810001045367"));
        assert!(has(&e, SMARTCARD, "", "2100123456"));
        assert!(prefix_end("mar").as_str() > "marzzzz");
        assert!(prefix_end("mar").as_str() < "mas");
    }
}
