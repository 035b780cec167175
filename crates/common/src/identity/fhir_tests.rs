use super::*;
use serde_json::json;

fn page(entries: Vec<serde_json::Value>, next: Option<&str>) -> Vec<u8> {
    let mut link = vec![json!({"relation": "self", "url": "http://d/Practitioner"})];
    if let Some(n) = next {
        link.push(json!({"relation": "next", "url": n}));
    }
    serde_json::to_vec(&json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": link,
        "entry": entries
            .into_iter()
            .map(|r| json!({"fullUrl": "x", "resource": r, "search": {"mode": "match"}}))
            .collect::<Vec<_>>(),
    }))
    .unwrap()
}

fn practitioner(active: bool) -> serde_json::Value {
    json!({
        "resourceType": "Practitioner",
        "id": "810001045367",
        "meta": {"versionId": "3", "lastUpdated": "2026-01-01T00:00:10Z"},
        "identifier": [
            {"system": SYSTEM_IDNPS, "value": "810001045367"},
            {"system": "https://rpps.esante.gouv.fr", "value": "10001045367"}
        ],
        "active": active,
        "name": [{"family": "GUIGNARD", "given": ["ERIC"], "prefix": ["DR"]}],
        "gender": "male",
        "telecom": [
            {"system": "email", "value": "eric.guignard@medecin.mssante.fr"},
            {"system": "email", "value": "eric@example.org", "use": "work"},
            {"system": "phone", "value": "+33 6 12 34 56 78", "use": "work"}
        ],
    })
}

fn role(id: &str, profession: &str, active: bool) -> serde_json::Value {
    json!({
        "resourceType": "PractitionerRole",
        "id": id,
        "meta": {"lastUpdated": "2026-01-01T00:00:20Z"},
        "active": active,
        "practitioner": {"reference": "Practitioner/810001045367"},
        "organization": {"reference": "Organization/750000001", "display": "CH TEST"},
        "code": [
            {"coding": [{"system": SYSTEM_G15, "code": profession}]},
            {"coding": [{"system": SYSTEM_R23, "code": "S"}]},
            {"coding": [{"system": SYSTEM_R21, "code": "FON-01"}]}
        ],
        "specialty": [{"coding": [{"system": SYSTEM_SPECIALTY, "code": "SM26"}]}],
    })
}

fn organization() -> serde_json::Value {
    json!({
        "resourceType": "Organization",
        "id": "750000001",
        "identifier": [
            {"system": SYSTEM_FINESS, "value": "750000001"},
            {"system": SYSTEM_SIRENE, "value": "85131528300016"}
        ],
        "active": true,
        "name": "CENTRE HOSPITALIER TEST",
        "telecom": [{"system": "phone", "value": "0140000000"}],
        "address": [{"line": ["12 RUE DE LYON"], "city": "PARIS", "postalCode": "75012"}],
        "partOf": {"reference": "Organization/750000002"},
    })
}

fn map(body: &[u8]) -> Result<Synced, Refused> {
    let p = parse_page(body).unwrap();
    let roles: Vec<&PractitionerRole> = p.roles.iter().collect();
    let orgs: HashMap<String, Organization> = p
        .organizations
        .iter()
        .map(|o| (o.id.clone(), o.clone()))
        .collect();
    identity(Environment::Test, &p.practitioners[0], &roles, &orgs)
}

#[test]
fn a_page_reads_by_type_with_its_next_link() {
    let body = page(
        vec![
            practitioner(true),
            role("r1", "10", true),
            organization(),
            json!({"resourceType": "OperationOutcome", "issue": []}),
        ],
        Some("http://d/Practitioner?_page=abc"),
    );
    let p = parse_page(&body).unwrap();
    assert_eq!(p.practitioners.len(), 1);
    assert_eq!(p.roles.len(), 1);
    assert_eq!(p.organizations.len(), 1);
    assert_eq!(p.next.as_deref(), Some("http://d/Practitioner?_page=abc"));
    assert_eq!(p.practitioners[0].last_updated(), Some(1_767_225_610));
    assert_eq!(p.roles[0].practitioner_id(), Some("810001045367"));
    assert_eq!(parse_page(&page(vec![], None)).unwrap().next, None);
}

#[test]
fn what_is_not_a_searchset_is_refused() {
    assert!(parse_page(b"{").is_err());
    assert!(parse_page(br#"{"resourceType":"OperationOutcome","issue":[]}"#).is_err());
    let bad = page(vec![json!({"resourceType": "Practitioner", "id": 5})], None);
    assert!(
        parse_page(&bad)
            .unwrap_err()
            .to_string()
            .contains("Practitioner")
    );
}

#[test]
fn instants_read_as_seconds() {
    assert_eq!(instant_secs("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(instant_secs("2026-01-01T00:00:00Z"), Some(1_767_225_600));
    assert_eq!(instant_secs("2000-02-29T12:34:56.789Z"), Some(951_827_696));
    for bad in [
        "",
        "2026-01-01",
        "2026-01-01T00:00:00+01:00",
        "2026-13-01T00:00:00Z",
    ] {
        assert_eq!(instant_secs(bad), None, "{bad}");
    }
    for t in [0, 951_827_696, 1_767_225_600, 1_767_225_661] {
        assert_eq!(instant_secs(&instant(t)), Some(t));
    }
}

#[test]
fn a_practitioner_with_its_roles_is_a_psc_identity() {
    let body = page(
        vec![
            practitioner(true),
            role("r2", "10", true),
            role("r1", "21", true),
            role("r3", "10", false),
            organization(),
        ],
        None,
    );
    let Synced::Active(i) = map(&body).unwrap() else {
        panic!("active")
    };
    assert_eq!(i.national_id.as_str(), "810001045367");
    assert_eq!(i.origin, "RPPS");
    assert_eq!((i.civilite.as_str(), i.given_name.as_str()), ("M", "ERIC"));
    assert_eq!(i.family_name, "GUIGNARD");
    assert_eq!(i.email.as_deref(), Some("eric@example.org"), "work first");
    assert_eq!(i.phone.as_deref(), Some("+33 6 12 34 56 78"));
    // One practice per profession, roles by id; the inactive role is not an activity.
    let professions: Vec<&str> = i
        .exercices
        .iter()
        .map(|e| e.code_profession.as_str())
        .collect();
    assert_eq!(professions, ["21", "10"]);
    let e = &i.exercices[1];
    assert_eq!(e.code_civilite_dexercice, "DR");
    assert_eq!(
        (e.nom_dexercice.as_str(), e.prenom_dexercice.as_str()),
        ("GUIGNARD", "ERIC")
    );
    assert_eq!(e.code_savoir_faire, "SM26");
    assert_eq!(e.activities.len(), 1);
    let a = &e.activities[0];
    assert_eq!(a.code_mode_exercice, "S");
    assert_eq!(a.code_role, "FON-01");
    assert_eq!(a.numero_finess_site, "750000001");
    assert_eq!(a.numero_finessetablissement_juridique, "750000002");
    assert_eq!(a.numero_siret_site, "85131528300016");
    assert_eq!(a.numero_siren_site, "851315283");
    assert_eq!(a.identifiant_technique_de_la_structure, "F750000001");
    assert_eq!(a.raison_sociale_site, "CENTRE HOSPITALIER TEST");
    assert_eq!(
        (a.numero_voie.as_str(), a.libelle_voie.as_str()),
        ("12", "RUE DE LYON")
    );
    assert_eq!(
        (a.code_postal.as_str(), a.bureau_cedex.as_str()),
        ("75012", "75012 PARIS")
    );
    assert_eq!(a.telephone, "0140000000");
}

#[test]
fn without_its_organization_the_activity_keeps_the_display() {
    let body = page(vec![practitioner(true), role("r1", "10", true)], None);
    let Synced::Active(i) = map(&body).unwrap() else {
        panic!("active")
    };
    let a = &i.exercices[0].activities[0];
    assert_eq!(a.raison_sociale_site, "CH TEST");
    assert_eq!(a.numero_finess_site, "");
}

#[test]
fn deactivated_or_without_practice_is_inactive() {
    let off = page(vec![practitioner(false), role("r1", "10", true)], None);
    assert_eq!(
        map(&off).unwrap(),
        Synced::Inactive(NationalId::parse("810001045367").unwrap())
    );
    let no_role = page(vec![practitioner(true), role("r1", "10", false)], None);
    assert!(matches!(map(&no_role).unwrap(), Synced::Inactive(_)));
}

#[test]
fn bad_records_are_refused_with_their_reason() {
    let mut p = practitioner(true);
    p["gender"] = json!(null);
    let e = map(&page(vec![p, role("r1", "10", true)], None)).unwrap_err();
    assert!(e.why.contains("civility"), "{e}");
    // A prefix that is a civility is enough.
    let mut p = practitioner(true);
    p["gender"] = json!(null);
    p["name"][0]["prefix"] = json!(["MME"]);
    let Synced::Active(i) = map(&page(vec![p, role("r1", "10", true)], None)).unwrap() else {
        panic!("active")
    };
    assert_eq!(i.civilite, "MME");

    let e = map(&page(
        vec![practitioner(true), role("r1", "91", true)],
        None,
    ))
    .unwrap_err();
    assert!(e.why.contains("profession"), "{e}");
    assert_eq!(e.who, "810001045367");

    let mut p = practitioner(true);
    p["identifier"] = json!([{"system": SYSTEM_IDNPS, "value": "810001045368"}]);
    let e = map(&page(vec![p, role("r1", "10", true)], None)).unwrap_err();
    assert_eq!(e.who, "Practitioner/810001045367");

    // EDIT test identities only in the sandbox.
    let mut p = practitioner(true);
    p["identifier"] = json!([{"system": SYSTEM_IDNPS, "value": "ANS20231122132732"}]);
    let parsed = parse_page(&page(vec![p], None)).unwrap();
    let r = identity(
        Environment::Production,
        &parsed.practitioners[0],
        &[],
        &HashMap::new(),
    );
    assert!(r.unwrap_err().why.contains("sandbox"));
}
