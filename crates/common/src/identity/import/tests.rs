use super::*;
use crate::identity::Activity;
use serde_json::json;

const HEADER: &str = "national_id,civilite,given_name,family_name,email,code_profession,code_savoir_faire,code_type_savoir_faire,raison_sociale_site,code_postal,bureau_cedex";

fn csv(rows: &[&str]) -> String {
    let mut text = String::from(HEADER);
    for r in rows {
        text.push('\n');
        text.push_str(r);
    }
    text
}

const GOOD_RPPS: &str = "899700218896,M,HUGO,MARTIN,hugo.martin@test.sante.fr,10,SM54,S,CABINET M MARTIN,75009,75009 PARIS";
const GOOD_EDIT: &str = "ANS20240101120000,MME,ALICE,DUPONT,,60,,,,,";

fn errors(format: Format, text: &str, env: Environment) -> Vec<RowError> {
    parse(format, text, env).unwrap_err().0
}

#[test]
fn good_csv_rows_with_their_defaults() {
    let admitted = parse(
        Format::Csv,
        &csv(&[GOOD_RPPS, GOOD_EDIT]),
        Environment::Test,
    )
    .unwrap();
    let [doctor, nurse] = admitted.identities() else {
        panic!("two identities")
    };
    assert_eq!(doctor.national_id.as_str(), "899700218896");
    assert_eq!(doctor.origin, "RPPS");
    assert!(doctor.active);
    assert_eq!(doctor.email.as_deref(), Some("hugo.martin@test.sante.fr"));
    let ex = &doctor.exercices[0];
    assert_eq!(ex.code_civilite_dexercice, "DR");
    assert_eq!(ex.code_categorie_professionnelle, "C");
    assert_eq!(
        (ex.nom_dexercice.as_str(), ex.prenom_dexercice.as_str()),
        ("MARTIN", "HUGO")
    );
    let act = &ex.activities[0];
    assert_eq!(act.code_mode_exercice, "L");
    assert_eq!(act.code_secteur_dactivite, "SA07");
    assert_eq!(act.code_genre_activite, "GENR01");
    assert_eq!(act.code_pays, "99000");
    assert_eq!(act.code_departement, "75");
    assert_eq!(act.raison_sociale_site, "CABINET M MARTIN");

    assert_eq!(nurse.national_id.as_str(), "ANS20240101120000");
    assert_eq!(nurse.origin, "EDIT");
    assert_eq!(nurse.email, None);
    assert_eq!(nurse.exercices[0].code_civilite_dexercice, "MME");
    assert!(
        nurse.exercices[0].activities.is_empty(),
        "no activity column set"
    );
}

#[test]
fn semicolons_quotes_any_column_order_and_inactive() {
    let text = "\u{feff}code_profession;family_name;given_name;civilite;national_id;active;libelle_voie\r\n\
                70;\"D'ARC; JEANNE\";JEANNE;MME;ANS20240101120000;non;\"DE LA \"\"PAIX\"\"\"\r\n";
    let admitted = parse(Format::Csv, text, Environment::Test).unwrap();
    let i = &admitted.identities()[0];
    assert_eq!(i.family_name, "D'ARC; JEANNE");
    assert!(!i.active);
    assert_eq!(i.exercices[0].activities[0].libelle_voie, "DE LA \"PAIX\"");
}

#[test]
fn each_kind_of_bad_row_is_reported_with_its_line() {
    let text = csv(&[
        GOOD_RPPS,                                        // line 2
        "899700218897,M,HUGO,MARTIN,,10,,,,,",            // 3: Luhn key
        "ANS20231301120000,M,HUGO,MARTIN,,10,,,,,",       // 4: month 13
        "ANS20240101120001,,HUGO,MARTIN,,10,,,,,",        // 5: no civility
        "ANS20240101120002,M,,MARTIN,,10,,,,,",           // 6: no given name
        "ANS20240101120003,M,HUGO,MARTIN,,99,,,,,",       // 7: profession
        "ANS20240101120004,M,HUGO,MARTIN,,,,,,,",         // 8: no profession
        "ANS20240101120005,M,HUGO,MARTIN,,10,,,,",        // 9: a field short
        "899700218896,M,HUGO,MARTIN,,10,,,,,",            // 10: twice
        "ANS20240101120006,M,HUGO,MARTIN,nobody,10,,,,,", // 11: e-mail
        "ANS20240101120007,M,HUGO,MARTIN,,10,,,,7500,",   // 12: postcode
    ]);
    let e = errors(Format::Csv, &text, Environment::Test);
    let got: Vec<(usize, &str)> = e.iter().map(|e| (e.line, e.reason.as_str())).collect();
    assert_eq!(
        got,
        [
            (3, "national_id: the RPPS number's check digit is wrong"),
            (
                4,
                "national_id: an EDIT test identifier is ANS followed by the date and time \
                 yyyymmddhhmmss (e.g. ANS20231122132732)"
            ),
            (5, "civilite: \"\" is not one of \"M\", \"MME\""),
            (6, "given_name is required"),
            (
                7,
                "code_profession: unknown profession code \"99\" (known: 10, 21, 40, 50, 60, 70, 80)"
            ),
            (8, "code_profession is required"),
            (9, "10 fields where the header has 11 columns"),
            (10, "the national identifier is already on line 2"),
            (11, "email: \"nobody\" is not an e-mail address"),
            (12, "code_postal: 5 digits"),
        ]
    );
    assert_eq!(e[0].national_id.as_deref(), Some("899700218897"));
    assert_eq!(
        e[0].to_string(),
        "line 3 (899700218897): national_id: the RPPS number's check digit is wrong"
    );
}

#[test]
fn bad_headers() {
    let e = errors(
        Format::Csv,
        "national_id,civilite,given_name,family_name,code_profession,age\n",
        Environment::Test,
    );
    assert_eq!(e[0].line, 1);
    assert!(
        e[0].reason.starts_with("unknown column \"age\""),
        "{}",
        e[0]
    );
    let e = errors(
        Format::Csv,
        "national_id,civilite,given_name\nANS20240101120000,M,A\n",
        Environment::Test,
    );
    assert_eq!(
        e[0].reason,
        "missing required columns: family_name, code_profession"
    );
    let e = errors(Format::Csv, "national_id,national_id\n", Environment::Test);
    assert!(e[0].reason.contains("twice"), "{}", e[0]);
    let e = errors(Format::Csv, HEADER, Environment::Test);
    assert_eq!(e[0].reason, "no identities after the header line");
    let e = errors(Format::Csv, "", Environment::Test);
    assert_eq!(e[0].line, 1);
}

#[test]
fn production_refuses_edit_rows() {
    let e = errors(
        Format::Csv,
        &csv(&[GOOD_RPPS, GOOD_EDIT]),
        Environment::Production,
    );
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, 3);
    assert!(
        e[0].reason
            .contains("ANS20240101120000 is an EDIT test identity"),
        "{}",
        e[0]
    );
    assert!(e[0].reason.contains("refused in production"), "{}", e[0]);
    let rpps_only = parse(Format::Csv, &csv(&[GOOD_RPPS]), Environment::Production).unwrap();
    assert_eq!(rpps_only.environment(), Environment::Production);
    let doc = psc_doc("ANS20210107161422");
    let e = errors(Format::Json, &doc.to_string(), Environment::Production);
    assert!(e[0].reason.contains("EDIT test identity"), "{}", e[0]);
}

/// A userinfo document shaped as PSC's for an EDIT identity (psc.md §2.2).
fn psc_doc(id: &str) -> Value {
    json!({
        "sub": format!("f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:{id}"),
        "preferred_username": id,
        "SubjectNameID": id,
        "given_name": "Paul",
        "family_name": "NOM",
        "email_verified": false,
        "SubjectOrganization": "CAB MED BIS",
        "SubjectRole": ["10^1.2.250.1.213.1.1.5.5"],
        "otherIds": [{ "identifiant": id, "origine": "EDIT", "qualite": 1 }],
        "SubjectRefPro": {
            "codeCivilite": "M",
            "exercices": [{
                "codeProfession": "10", "codeCategorieProfessionnelle": "C",
                "codeCiviliteDexercice": "M", "nomDexercice": "Docteur OIDC",
                "prenomDexercice": "Paul", "codeTypeSavoirFaire": "", "codeSavoirFaire": "",
                "activities": [
                    { "codeModeExercice": "L", "codeSecteurDactivite": "SA07",
                      "raisonSocialeSite": "CAB MED BIS", "codeTypeDeVoie": "R",
                      "libelleVoie": "PARIS", "codePostal": "75009", "codeCommune": "75109",
                      "codeDepartement": "75" },
                    { "codeModeExercice": "S", "codeSecteurDactivite": "SA01",
                      "raisonSocialeSite": "HOPITAL GENERIQUE", "codePostal": "75020" }
                ]
            }]
        }
    })
}

#[test]
fn psc_shaped_json() {
    let text = serde_json::to_string_pretty(&json!([
        psc_doc("ANS20210107161422"),
        psc_doc("ANS20211229094028")
    ]))
    .unwrap();
    let admitted = parse(Format::Json, &text, Environment::Test).unwrap();
    let i = &admitted.identities()[0];
    assert_eq!(i.national_id.as_str(), "ANS20210107161422");
    assert_eq!(i.origin, "EDIT");
    assert_eq!(
        (i.given_name.as_str(), i.family_name.as_str()),
        ("Paul", "NOM")
    );
    assert_eq!(i.civilite, "M");
    let acts = &i.exercices[0].activities;
    assert_eq!(acts.len(), 2);
    assert_eq!(
        acts[1],
        Activity {
            code_mode_exercice: "S".into(),
            code_secteur_dactivite: "SA01".into(),
            raison_sociale_site: "HOPITAL GENERIQUE".into(),
            code_postal: "75020".into(),
            ..Activity::default()
        }
    );
    assert_eq!(
        admitted.identities()[1].national_id.as_str(),
        "ANS20211229094028"
    );
}

#[test]
fn bad_json_documents_are_reported_with_their_line() {
    let mut disagree = psc_doc("ANS20210107161422");
    disagree["SubjectNameID"] = "ANS20210107161423".into();
    let mut wrong_origin = psc_doc("ANS20210107161424");
    wrong_origin["otherIds"][0]["origine"] = "RPPS".into();
    let mut bad_type = psc_doc("ANS20210107161425");
    bad_type["SubjectRefPro"]["exercices"][0]["codeProfession"] = 10.into();
    let mut no_id = psc_doc("ANS20210107161426");
    for k in ["preferred_username", "SubjectNameID", "otherIds"] {
        no_id.as_object_mut().unwrap().remove(k);
    }
    let text = [
        &psc_doc("ANS20210107161421"),
        &disagree,
        &wrong_origin,
        &bad_type,
        &no_id,
    ]
    .iter()
    .map(|d| d.to_string())
    .collect::<Vec<_>>()
    .join("\n");
    let e = errors(Format::Json, &text, Environment::Test);
    let got: Vec<(usize, &str)> = e.iter().map(|e| (e.line, e.reason.as_str())).collect();
    assert_eq!(
        got[0],
        (
            2,
            "preferred_username \"ANS20210107161422\" and SubjectNameID \"ANS20210107161423\" differ"
        )
    );
    assert_eq!(
        got[1],
        (
            3,
            "origin \"RPPS\" does not match the national identifier, whose origin is EDIT"
        )
    );
    assert_eq!(got[2].0, 4);
    assert!(
        got[2]
            .1
            .starts_with("SubjectRefPro.exercices: invalid type"),
        "{}",
        got[2].1
    );
    assert_eq!(
        got[3],
        (5, "preferred_username (or SubjectNameID) is required")
    );
    assert_eq!(e.len(), 4);
}

#[test]
fn a_production_profile_copied_into_a_test_identity() {
    let mut doc = psc_doc("899700366240");
    doc["otherIds"][0]["origine"] = "RPPS".into();
    let edit = NationalId::edit_at(1_700_659_652).unwrap();
    let i = identity_from_psc(&doc, Some(edit)).unwrap();
    assert_eq!(i.national_id.as_str(), "ANS20231122132732");
    assert_eq!(i.origin, "EDIT");
    assert_eq!(i.check(), Ok(()));
}

#[test]
fn fields_as_the_command_line_gives_them() {
    let i = identity_from_fields(&[
        ("national_id", "ANS20240101120000"),
        ("civilite", "MME"),
        ("given_name", "ALICE"),
        ("family_name", "DUPONT"),
        ("code_profession", "50"),
        ("code_mode_exercice", "S"),
        ("raison_sociale_site", "CENTRE HOSPITALIER DE RENNES"),
    ])
    .unwrap();
    assert_eq!(i.exercices[0].activities[0].code_secteur_dactivite, "SA01");
    assert_eq!(i.check(), Ok(()));
    let e = identity_from_fields(&[("national_id", "ANS20240101120000"), ("shoe_size", "42")]);
    assert_eq!(e.unwrap_err(), "unknown field \"shoe_size\"");
    let e = identity_from_fields(&[("national_id", "ANS20240101120000"), ("active", "maybe")]);
    assert_eq!(e.unwrap_err(), "active: \"maybe\" is not true or false");
}

#[test]
fn columns_are_the_activity_fields_and_the_flags_their_names() {
    let a = Activity::default();
    for (name, _) in a.fields() {
        assert!(COLUMNS.iter().any(|c| c.name == name), "{name}");
    }
    for c in COLUMNS {
        assert_eq!(c.flag, c.name.replace('_', "-"));
    }
}

#[test]
fn formats_by_name() {
    assert_eq!(Format::of_file_name("ids.CSV"), Some(Format::Csv));
    assert_eq!(Format::of_file_name("dir.v2/ids.json"), Some(Format::Json));
    assert_eq!(Format::of_file_name("ids.ndjson"), Some(Format::Json));
    assert_eq!(Format::of_file_name("ids"), None);
    assert_eq!("JSON".parse::<Format>(), Ok(Format::Json));
    assert!("xml".parse::<Format>().is_err());
}

#[test]
fn birth_data_from_csv_and_json() {
    let text = "national_id,civilite,given_name,family_name,code_profession,birth_date,birth_place,birth_country\n\
                899700218896,M,HUGO,MARTIN,10,1971-03-09,2a004,99100\n\
                ANS20240101120000,MME,ALICE,DUPONT,60,,,\n";
    let admitted = parse(Format::Csv, text, Environment::Test).unwrap();
    let [born, unknown] = admitted.identities() else {
        panic!("two identities")
    };
    assert_eq!(born.birth_date.as_deref(), Some("1971-03-09"));
    assert_eq!(born.birth_place.as_deref(), Some("2A004"));
    assert_eq!(born.birth_country.as_deref(), Some("99100"));
    assert_eq!(
        (
            &unknown.birth_date,
            &unknown.birth_place,
            &unknown.birth_country
        ),
        (&None, &None, &None)
    );
    let partial = "national_id,civilite,given_name,family_name,code_profession,birth_date\n\
                   899700218896,M,HUGO,MARTIN,10,1971-03-00\n";
    let e = errors(Format::Csv, partial, Environment::Test);
    assert_eq!(e.len(), 1);
    assert!(e[0].reason.contains("birth_date"), "{e:?}");

    let mut doc = psc_doc("ANS20210107161422");
    doc["birthdate"] = json!("1980-12-31");
    doc["birthcountry"] = json!("99134");
    let admitted = parse(Format::Json, &doc.to_string(), Environment::Test).unwrap();
    let i = &admitted.identities()[0];
    assert_eq!(i.birth_date.as_deref(), Some("1980-12-31"));
    assert_eq!(i.birth_place, None);
    assert_eq!(i.birth_country.as_deref(), Some("99134"));
}
