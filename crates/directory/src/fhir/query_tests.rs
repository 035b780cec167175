//! Search parameters read into typed queries, and their refusals.

use super::*;
use crate::fhir::map::resource;
use crate::record::{Record, RecordKind};

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn practitioner(family: &str, given: &str, active: bool, updated_at: i64) -> StoredRecord {
    StoredRecord {
        record: Record {
            kind: RecordKind::Practitioner,
            key: "810001045367".into(),
            fields: [
                ("Type d'identifiant PP", "8"),
                ("Identifiant PP", "10001045367"),
                ("Nom d'exercice", family),
                ("Prénom d'exercice", given),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned().into(), (*v).to_owned()))
            .collect(),
        },
        active,
        updated_at,
        deactivated_at: None,
        version: 1,
    }
}

fn hit(q: &[(&str, &str)], s: &StoredRecord) -> bool {
    let q = parse(ResourceType::Practitioner, &p(q), Handling::Strict).expect("query");
    q.matches(s, &resource(s).expect("resource"))
}

#[test]
fn practitioner_search_parameters() {
    let s = practitioner("LEFÈVRE", "HÉLÈNE", true, 1_767_225_600);
    assert!(hit(&[], &s));
    assert!(hit(&[("family", "lefevre")], &s));
    assert!(hit(&[("family", "LEF")], &s));
    assert!(!hit(&[("family", "EFEV")], &s));
    assert!(hit(&[("family:contains", "efev")], &s));
    assert!(!hit(&[("family:exact", "LEFEVRE")], &s));
    assert!(hit(&[("family:exact", "LEFÈVRE")], &s));
    assert!(hit(&[("name", "helene")], &s));
    assert!(hit(&[("given", "x,hél")], &s), "comma: or");
    assert!(
        !hit(&[("given", "hél"), ("family", "x")], &s),
        "repeat: and"
    );
    assert!(hit(
        &[("identifier", "https://rpps.esante.gouv.fr|10001045367")],
        &s
    ));
    assert!(hit(
        &[("identifier", "urn:oid:1.2.250.1.71.4.2.1|810001045367")],
        &s
    ));
    assert!(!hit(
        &[("identifier", "https://rpps.esante.gouv.fr|810001045367")],
        &s
    ));
    assert!(hit(&[("identifier", "10001045367")], &s));
    assert!(hit(&[("identifier", "https://rpps.esante.gouv.fr|")], &s));
    assert!(!hit(&[("identifier", "|10001045367")], &s));
    assert!(hit(&[("active", "true")], &s));
    assert!(!hit(&[("active", "false")], &s));
    assert!(hit(&[("_id", "810001045367")], &s));
    assert!(hit(&[("_lastUpdated", "2026-01-01")], &s));
    assert!(hit(&[("_lastUpdated", "ge2025-12-31T23:00:00Z")], &s));
    assert!(!hit(&[("_lastUpdated", "gt2026-01-01")], &s));
    assert!(hit(&[("_lastUpdated", "lt2026-01-01T01:00:01+01:00")], &s));
    assert!(!hit(&[("_lastUpdated", "lt2026-01-01T01:00:00+01:00")], &s));
}

#[test]
fn qualification_and_mailbox_match_the_related_records() {
    use crate::fhir::map::{Related, practitioner_with};
    let s = practitioner("X", "Y", true, 0);
    let rec = |kind, key: &str, f: &[(&str, &str)]| Record {
        kind,
        key: key.into(),
        fields: f
            .iter()
            .map(|(k, v)| ((*k).to_owned().into(), (*v).to_owned()))
            .collect(),
    };
    let related = Related {
        roles: vec![rec(
            RecordKind::PractitionerRole,
            "r",
            &[
                ("Code profession", "10"),
                ("Autorité d'enregistrement", "CNOM/CNOM/ARS"),
            ],
        )],
        qualifications: vec![rec(
            RecordKind::Qualification,
            "q",
            &[("Code profession", "10"), ("Code savoir-faire", "SM26")],
        )],
        mailboxes: vec![rec(RecordKind::Mailbox, "dr.x@example.mssante.fr", &[])],
        cards: vec![rec(
            RecordKind::Card,
            "2100123456",
            &[("Code type de carte", "CPS")],
        )],
        contact: None,
    };
    let r = Resource::Practitioner(practitioner_with(&s, &related));
    let Resource::Practitioner(pr) = &r else {
        unreachable!()
    };
    assert_eq!(
        pr.qualification.len(),
        2,
        "profession once, speciality once"
    );
    let hit = |q: &[(&str, &str)]| {
        parse(ResourceType::Practitioner, &p(q), Handling::Strict)
            .expect("query")
            .matches(&s, &r)
    };
    assert!(hit(&[("qualification-code", "10")]));
    assert!(hit(&[(
        "qualification-code",
        "urn:oid:1.2.250.1.213.2.28|SM26"
    )]));
    assert!(!hit(&[("qualification-code", "21")]));
    assert!(hit(&[("mailbox-mss", "DR.X@example.mssante.fr")]));
    assert!(!hit(&[("mailbox-mss", "other@example.mssante.fr")]));
    // The card (a string: numbers starting with the value), the data trace.
    assert!(hit(&[("number-smartcard", "2100123456")]));
    assert!(hit(&[("number-smartcard", "21001")]));
    assert!(!hit(&[("number-smartcard", "3100")]));
    assert!(hit(&[("data-registration-authority", "ARS")]));
    assert!(hit(&[(
        "data-registration-authority",
        "https://mos.esante.gouv.fr/NOS/TRE_R60-AutoriteEnregistrement/FHIR/TRE-R60-AutoriteEnregistrement|CNOM"
    )]));
    assert!(!hit(&[("data-registration-authority", "CNOSF")]));
    assert!(hit(&[("data-information-system", "RPPS")]));
    assert!(!hit(&[("data-information-system", "FINESS")]));
    assert!(!hit(&[("data-information-system", "other|RPPS")]));
}

#[test]
fn bad_and_unknown_parameters_are_refused() {
    let strict = |q: &[(&str, &str)]| parse(ResourceType::Practitioner, &p(q), Handling::Strict);
    assert!(matches!(
        strict(&[("pharmacy-licence", "1")]),
        Err(QueryError::NotSupported(_))
    ));
    assert!(matches!(
        strict(&[("address-city", "Paris")]),
        Err(QueryError::NotSupported(_))
    ));
    assert!(matches!(
        strict(&[("active", "yes")]),
        Err(QueryError::Invalid(_))
    ));
    assert!(matches!(
        strict(&[("_count", "x")]),
        Err(QueryError::Invalid(_))
    ));
    assert!(matches!(
        strict(&[("_lastUpdated", "2026-13-01")]),
        Err(QueryError::Invalid(_))
    ));
    assert!(matches!(
        strict(&[("_lastUpdated", "2026-02-30")]),
        Err(QueryError::Invalid(_))
    ));
    assert!(matches!(
        strict(&[("family:below", "x")]),
        Err(QueryError::NotSupported(_))
    ));
    assert!(matches!(
        strict(&[("_include", "Organization:partof")]),
        Err(QueryError::NotSupported(_))
    ));
    assert!(matches!(
        strict(&[("_summary", "text")]),
        Err(QueryError::NotSupported(_))
    ));
    assert!(matches!(
        strict(&[("_id", "a_b")]),
        Err(QueryError::Invalid(_))
    ));
    let lenient = parse(
        ResourceType::Practitioner,
        &p(&[("foo", "1"), ("family", "X")]),
        Handling::Lenient,
    )
    .expect("lenient");
    assert_eq!(lenient.canonical, p(&[("family", "X")]));
    assert_eq!(
        Handling::of_prefer(Some("return=minimal, handling=lenient")),
        Handling::Lenient
    );
    assert_eq!(Handling::of_prefer(None), Handling::Strict);
}

#[test]
fn result_parameters() {
    let q = parse(
        ResourceType::PractitionerRole,
        &p(&[
            ("_include", "PractitionerRole:practitioner,PractitionerRole:organization"),
            ("_count", "100000"),
            ("role", "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante|10"),
            ("_page", "abc"),
        ]),
        Handling::Strict,
    )
    .expect("query");
    assert_eq!(
        q.include,
        [Include::RolePractitioner, Include::RoleOrganization]
    );
    assert_eq!(q.count, MAX_COUNT);
    assert_eq!(q.page.as_deref(), Some("abc"));
    assert!(q.canonical.iter().all(|(k, _)| k != "_page"));
    assert!(q.canonical.windows(2).all(|w| w[0] <= w[1]), "sorted");
    let c = parse(
        ResourceType::Organization,
        &p(&[("_summary", "count")]),
        Handling::Strict,
    )
    .expect("count");
    assert!(c.summary_count);
}

#[test]
fn a_practitioner_shows_the_same_with_its_related_records_read_in_part() {
    use crate::extract::columns::SAVOIR_FAIRE;
    use crate::extract::columns::{CARTES, MSSANTE, PERSONNE_ACTIVITE, PERSONNE_ACTIVITE_ROLE};
    use crate::fhir::map::{RELATED_FIELDS, Related, practitioner_with};
    // Every column of each related extract filled (dates as dates, authorities as a list),
    // so that a field a Practitioner shows and searches do not read changes what it shows.
    let full = |kind, key: &str, columns: &[&[&str]]| Record {
        kind,
        key: key.into(),
        fields: columns
            .iter()
            .flat_map(|c| c.iter())
            .enumerate()
            .map(|(i, c)| {
                let v = match *c {
                    c if c.starts_with("Date") => format!("0{}/03/2024", 1 + i % 9),
                    "Autorité d'enregistrement" => "CNOM/ARS".to_owned(),
                    _ => format!("V{i}"),
                };
                ((*c).to_owned().into(), v)
            })
            .collect(),
    };
    let related = Related {
        roles: vec![full(
            RecordKind::PractitionerRole,
            "810001045367|1",
            &[PERSONNE_ACTIVITE, PERSONNE_ACTIVITE_ROLE],
        )],
        qualifications: vec![full(RecordKind::Qualification, "q", &[SAVOIR_FAIRE])],
        mailboxes: vec![full(
            RecordKind::Mailbox,
            "dr.x@example.mssante.fr",
            &[MSSANTE],
        )],
        cards: vec![full(RecordKind::Card, "2100123456", &[CARTES])],
        contact: None,
    };
    let part = |records: &[Record]| -> Vec<Record> {
        records
            .iter()
            .map(|r| Record {
                fields: r
                    .fields
                    .iter()
                    .filter(|(k, _)| RELATED_FIELDS.contains(&k.as_ref()))
                    .map(|(k, v)| (k.clone(), v))
                    .collect(),
                ..r.clone()
            })
            .collect()
    };
    let read_in_part = Related {
        roles: part(&related.roles),
        qualifications: part(&related.qualifications),
        mailboxes: part(&related.mailboxes),
        cards: part(&related.cards),
        contact: None,
    };
    let s = practitioner("X", "Y", true, 0);
    let shown = practitioner_with(&s, &related);
    assert!(!shown.qualification.is_empty() && !shown.extension.is_empty());
    assert_eq!(shown, practitioner_with(&s, &read_in_part));
}
