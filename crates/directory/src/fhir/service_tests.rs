//! HealthcareService searches, `identifier-type` and `_total` read into typed queries, and
//! what they match.

use super::lookup::{Driver, driver};
use super::map::{SYSTEM_R274, SYSTEM_R276, resource};
use super::query::*;
use crate::index;
use crate::record::{Record, RecordKind};
use crate::store::StoredRecord;

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn stored(kind: RecordKind, key: &str, fields: &[(&str, &str)]) -> StoredRecord {
    StoredRecord {
        record: Record::of(kind, key, fields),
        active: true,
        updated_at: 1_767_225_600,
        deactivated_at: None,
        version: 3,
    }
}

fn service() -> StoredRecord {
    stored(
        RecordKind::Authorisation,
        "010000024|02|00|07",
        &[
            ("nofinesset", "010000024"),
            ("activite", "02"),
            ("libactivite", "Chirurgie"),
            ("modalite", "00"),
            ("forme", "07"),
            ("noautor", "762201956"),
            ("noautorarhgos", "01-00-000"),
        ],
    )
}

fn hit(t: ResourceType, q: &[(&str, &str)], s: &StoredRecord) -> bool {
    let q = parse(t, &p(q), Handling::Strict).expect("query");
    q.matches(s, &resource(s).expect("resource"))
}

#[test]
fn healthcare_service_parameters() {
    let s = service();
    let t = ResourceType::HealthcareService;
    assert_eq!(ResourceType::parse("HealthcareService"), Some(t));
    assert!(hit(t, &[], &s));
    assert!(hit(t, &[("_id", "010000024.02.00.07")], &s));
    assert!(!hit(t, &[("_id", "010000024.02.00.01")], &s));
    assert!(hit(t, &[("identifier", "01-00-000")], &s));
    assert!(hit(t, &[("identifier", "762201956")], &s));
    assert!(hit(t, &[("identifier", "|01-00-000")], &s), "no system");
    assert!(!hit(t, &[("identifier", "https://x|01-00-000")], &s));
    assert!(hit(t, &[("organization", "Organization/010000024")], &s));
    assert!(hit(t, &[("organization", "010000024")], &s));
    assert!(!hit(t, &[("organization", "010000032")], &s));
    assert!(hit(
        t,
        &[("service-type", format!("{SYSTEM_R274}|02").as_str())],
        &s
    ));
    assert!(hit(t, &[("service-type", "02")], &s));
    assert!(!hit(t, &[("service-type", "07")], &s), "07 is the form");
    assert!(hit(
        t,
        &[("characteristic", format!("{SYSTEM_R276}|07").as_str())],
        &s
    ));
    assert!(!hit(
        t,
        &[("characteristic", format!("{SYSTEM_R274}|07").as_str())],
        &s
    ));
    assert!(hit(t, &[("service-category", "00")], &s));
    assert!(!hit(t, &[("service-category", "40")], &s));
    assert!(hit(t, &[("active", "true")], &s));
    assert!(hit(t, &[("_lastUpdated", "ge2026-01-01")], &s));
    assert!(!hit(t, &[("_lastUpdated", "lt2026-01-01")], &s));
    // Parameters of other types are refused, not ignored.
    for bad in [
        "name",
        "family",
        "type",
        "partof",
        "role",
        "identifier-type",
    ] {
        let e = parse(t, &p(&[(bad, "x")]), Handling::Strict).unwrap_err();
        assert_eq!(e.code(), "not-supported", "{bad}");
    }
}

#[test]
fn includes_between_services_and_organizations() {
    let q = parse(
        ResourceType::HealthcareService,
        &p(&[("_include", "HealthcareService:organization")]),
        Handling::Strict,
    )
    .unwrap();
    assert_eq!(q.include, [Include::ServiceOrganization]);
    let q = parse(
        ResourceType::Organization,
        &p(&[(
            "_revinclude",
            "HealthcareService:organization,PractitionerRole:organization",
        )]),
        Handling::Strict,
    )
    .unwrap();
    assert_eq!(
        q.revinclude,
        [
            RevInclude::ServicesAtOrganization,
            RevInclude::RolesAtOrganization
        ]
    );
    for (t, bad) in [
        (ResourceType::Practitioner, "HealthcareService:organization"),
        (ResourceType::HealthcareService, "Organization:partof"),
    ] {
        let params = p(&[("_include", bad)]);
        assert!(parse(t, &params, Handling::Strict).is_err(), "{bad}");
    }
    let params = p(&[("_revinclude", "HealthcareService:organization")]);
    assert!(parse(ResourceType::Practitioner, &params, Handling::Strict).is_err());
}

#[test]
fn identifier_type_and_total() {
    let pr = stored(
        RecordKind::Practitioner,
        "810001045367",
        &[
            ("Type d'identifiant PP", "8"),
            ("Identifiant PP", "10001045367"),
        ],
    );
    let t = ResourceType::Practitioner;
    assert!(hit(t, &[("identifier-type", "RPPS")], &pr));
    assert!(hit(t, &[("identifier-type", "IDNPS")], &pr));
    assert!(hit(
        t,
        &[(
            "identifier-type",
            "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203|RPPS"
        )],
        &pr
    ));
    assert!(!hit(t, &[("identifier-type", "ADELI")], &pr));
    let et = stored(
        RecordKind::Establishment,
        "010000024",
        &[("siret", "26010004500012")],
    );
    let o = ResourceType::Organization;
    assert!(hit(o, &[("identifier-type", "FINEG")], &et));
    assert!(hit(o, &[("identifier-type", "SIRET")], &et));
    assert!(!hit(o, &[("identifier-type", "FINEJ")], &et));
    let ej = stored(RecordKind::LegalEntity, "010780054", &[]);
    assert!(hit(o, &[("identifier-type", "FINEJ")], &ej));

    let q = parse(t, &p(&[("_total", "accurate")]), Handling::Strict).unwrap();
    assert!(q.total && !q.summary_count);
    assert!(
        q.query_string(None).contains("_total=accurate"),
        "kept in links"
    );
    assert!(
        !parse(t, &p(&[("_total", "none")]), Handling::Strict)
            .unwrap()
            .total
    );
    let e = parse(t, &p(&[("_total", "all")]), Handling::Strict).unwrap_err();
    assert_eq!(e.code(), "invalid");
}

#[test]
fn organization_names_with_modifiers() {
    let et = stored(
        RecordKind::Establishment,
        "010000024",
        &[("rslongue", "CENTRE HOSPITALIER DE BOURG-EN-BRESSE FLEYRIAT")],
    );
    let o = ResourceType::Organization;
    assert!(hit(o, &[("name", "centre hosp")], &et));
    assert!(!hit(o, &[("name", "fleyriat")], &et));
    assert!(hit(o, &[("name:contains", "bresse fley")], &et));
    assert!(!hit(o, &[("name:contains", "lyon")], &et));
    assert!(hit(
        o,
        &[(
            "name:exact",
            "CENTRE HOSPITALIER DE BOURG-EN-BRESSE FLEYRIAT"
        )],
        &et
    ));
    assert!(!hit(
        o,
        &[(
            "name:exact",
            "centre hospitalier de bourg-en-bresse fleyriat"
        )],
        &et
    ));
    let e = parse(o, &p(&[("partof:exact", "x")]), Handling::Strict).unwrap_err();
    assert_eq!(e.code(), "not-supported");
}

#[test]
fn service_searches_start_from_the_index() {
    let q = |params: &[(&str, &str)]| {
        parse(
            ResourceType::HealthcareService,
            &p(params),
            Handling::Strict,
        )
        .unwrap()
    };
    let d = driver(&q(&[("organization", "Organization/010000024")]));
    assert!(matches!(d, Some(Driver::Index(l)) if l.params == [index::ORGANIZATION]));
    let d = driver(&q(&[("characteristic", "07")]));
    assert!(matches!(d, Some(Driver::Index(l)) if l.params == [index::CODE]));
    let d = driver(&q(&[("identifier", "01-00-000"), ("service-type", "02")]));
    assert!(matches!(d, Some(Driver::Index(l)) if l.params == [index::IDENTIFIER]));
    assert_eq!(driver(&q(&[("active", "true")])), None);
}

#[test]
fn service_index_rows_follow_its_resource() {
    let s = service();
    let e = index::entries(&s.record);
    let has = |param: &str, system: &str, value: &str| {
        e.iter()
            .any(|x| x.param == param && x.system == system && x.value == value)
    };
    assert!(has(index::IDENTIFIER, "", "01-00-000"));
    assert!(has(index::IDENTIFIER, "", "762201956"));
    assert!(has(index::ORGANIZATION, "", "010000024"));
    assert!(has(index::CODE, SYSTEM_R274, "02"));
    assert!(has(index::CODE, SYSTEM_R276, "07"));
    assert_eq!(e.len(), 6);
}
