//! The sandbox's test identities: RPPS-based ones generated from a seed in the `8997…` test
//! range, and a fixed handful of EDIT ones (`ANS` + timestamp) as ANS's sandbox makes them.

use super::{Activity, Exercice, Identity, NationalId, luhn_key};
use crate::random::testing::SeededRandom;

/// The identities a sandbox realm is seeded with: `count` generated RPPS-based identities
/// ([`generate_test_identities`]) followed by the EDIT ones ([`edit_test_identities`]).
pub fn sandbox_identities(seed: u64, count: usize) -> Vec<Identity> {
    let mut ids = generate_test_identities(seed, count);
    ids.extend(edit_test_identities());
    ids
}

const GIVEN: &[&str] = &[
    "CAMILLE", "LOUISE", "HUGO", "JULES", "EMMA", "LEA", "GABRIEL", "CHLOE", "ARTHUR", "MANON",
    "PAUL", "INES", "LUCAS", "JADE", "ADAM", "ZOE", "NATHAN", "ALICE", "THEO", "ROSE",
];
const FAMILY: &[&str] = &[
    "MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY",
    "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX",
    "VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRE", "MERCIER", "BONNET", "LAMBERT",
];
/// (profession code, know-how type, know-how code, label) for generated practices.
const PROFESSIONS: &[(&str, &str, &str)] = &[
    ("10", "S", "SM54"),
    ("10", "S", "SM26"),
    ("10", "S", "SM04"),
    ("21", "", ""),
    ("40", "", ""),
    ("50", "", ""),
    ("60", "", ""),
    ("70", "", ""),
    ("80", "", ""),
];
const STREETS: &[&str] = &[
    "DE LA REPUBLIQUE",
    "VICTOR HUGO",
    "JEAN JAURES",
    "DE PARIS",
    "PASTEUR",
    "DES LILAS",
];
const TOWNS: &[(&str, &str, &str)] = &[
    ("75009", "75109", "PARIS"),
    ("69003", "69383", "LYON"),
    ("13005", "13205", "MARSEILLE"),
    ("33000", "33063", "BORDEAUX"),
    ("59000", "59350", "LILLE"),
    ("35000", "35238", "RENNES"),
];

/// Makes `count` realistic, reproducible test identities in the `8997…` test range.
///
/// The first three are the identities seen in ANS's public sandbox samples (`899700218896`,
/// `899700366240`, `899700427869`); the rest have generated RPPS numbers with valid keys.
/// One in ten generated identities is inactive so that refusals can be exercised.
pub fn generate_test_identities(seed: u64, count: usize) -> Vec<Identity> {
    let rng = SeededRandom::new(seed);
    let mut out = Vec::with_capacity(count);
    let known = ["99700218896", "99700366240", "99700427869"];
    let mut used = std::collections::HashSet::new();
    for i in 0..count {
        let rpps = if let Some(k) = known.get(i) {
            (*k).to_owned()
        } else {
            loop {
                let body = format!("997{:07}", rng.below(10_000_000));
                let candidate = format!("{body}{}", luhn_key(&body));
                if !known.contains(&candidate.as_str()) && used.insert(candidate.clone()) {
                    break candidate;
                }
            }
        };
        let mut identity = generate_one(&rng, &rpps, i);
        birth(seed, i, &mut identity);
        out.push(identity);
    }
    out
}

/// Birth communes (COG codes) of generated identities born in France.
const BIRTH_COMMUNES: &[&str] = &[
    "75107", "75115", "69383", "13205", "33063", "59350", "35238", "31555", "44109", "67482",
    "06088", "34172", "2A004", "97411",
];
/// Birth countries (COG codes) of generated identities born abroad.
const BIRTH_COUNTRIES: &[&str] = &["99134", "99109", "99127", "99350", "99351", "99131"];

/// Plausible birth data (a complete date between 1950 and 1999; one in eight born abroad),
/// drawn from a generator of its own so that the rest of each identity stays as it was.
fn birth(seed: u64, index: usize, identity: &mut Identity) {
    let rng = SeededRandom::new(seed ^ 0xB127_u64.rotate_left(40) ^ index as u64);
    let year = 1950 + rng.below(50);
    let month = 1 + rng.below(12);
    let day = 1 + rng.below(28);
    identity.birth_date = Some(format!("{year:04}-{month:02}-{day:02}"));
    if rng.below(8) == 0 {
        identity.birth_country = Some((*pick(&rng, BIRTH_COUNTRIES)).to_owned());
    } else {
        identity.birth_country = Some(super::BIRTH_COUNTRY_FRANCE.to_owned());
        identity.birth_place = Some((*pick(&rng, BIRTH_COMMUNES)).to_owned());
    }
}

fn pick<'a, T>(rng: &SeededRandom, items: &'a [T]) -> &'a T {
    // `items` is a non-empty constant table.
    &items[(rng.below(items.len() as u64)) as usize]
}

fn generate_one(rng: &SeededRandom, rpps: &str, index: usize) -> Identity {
    let given = (*pick(rng, GIVEN)).to_owned();
    let family = format!("{}{}", pick(rng, FAMILY), rng.below(100));
    let civilite = if rng.below(2) == 0 { "M" } else { "MME" };
    let (prof, sf_type, sf_code) = *pick(rng, PROFESSIONS);
    let n_activities = 1 + rng.below(2) as usize;
    // Drawn in order: the generated identities depend on the sequence of draws.
    let activities = (0..n_activities)
        .map(|a| activity(rng, a == 0, civilite, &family))
        .collect();
    let civ_ex = if prof == "10" || prof == "40" {
        "DR"
    } else {
        civilite
    };
    Identity {
        national_id: NationalId(format!("8{rpps}")),
        active: index < 3 || rng.below(10) != 0,
        civilite: civilite.into(),
        given_name: given.clone(),
        family_name: family.clone(),
        email: Some(format!(
            "{}.{}@test.sante.fr",
            given.to_lowercase(),
            family.to_lowercase()
        )),
        phone: Some(fictional_mobile(rng)),
        origin: "RPPS".into(),
        birth_date: None,
        birth_place: None,
        birth_country: None,
        exercices: vec![Exercice {
            code_profession: prof.into(),
            code_categorie_professionnelle: "C".into(),
            code_civilite_dexercice: civ_ex.into(),
            nom_dexercice: family,
            prenom_dexercice: given,
            code_type_savoir_faire: sf_type.into(),
            code_savoir_faire: sf_code.into(),
            activities,
        }],
    }
}

/// A mobile number of the range ARCEP keeps for fiction (06 39 98 00 00 to 06 39 98 99 99), so
/// that the sandbox's e-CPS activations by SMS reach nobody real. Four draws, as the numbers
/// drawn before took, so that what is drawn after them stays the same.
fn fictional_mobile(rng: &SeededRandom) -> String {
    let draws = [
        rng.below(100),
        rng.below(100),
        rng.below(100),
        rng.below(100),
    ];
    format!("+33 6 39 98 {:02} {:02}", draws[0], draws[1])
}

/// One activity: the first of an identity is liberal (a practice with a SIRET), the others
/// salaried (a hospital with a FINESS).
fn activity(rng: &SeededRandom, liberal: bool, civilite: &str, family: &str) -> Activity {
    let (cp, commune, town) = *pick(rng, TOWNS);
    let mut act = Activity {
        code_mode_exercice: if liberal { "L" } else { "S" }.into(),
        code_secteur_dactivite: if liberal { "SA07" } else { "SA01" }.into(),
        code_genre_activite: "GENR01".into(),
        numero_voie: (1 + rng.below(120)).to_string(),
        code_type_de_voie: "R".into(),
        libelle_voie: (*pick(rng, STREETS)).into(),
        bureau_cedex: format!("{cp} {town}"),
        code_postal: cp.into(),
        code_commune: commune.into(),
        code_pays: "99000".into(),
        code_departement: cp[..2].into(),
        ..Activity::default()
    };
    if liberal {
        let siren_body = format!("{:08}", rng.below(100_000_000));
        let siren = format!("{siren_body}{}", luhn_key(&siren_body));
        let nic_body = format!("{siren}{:04}", 1 + rng.below(9));
        let siret = format!("{nic_body}{}", luhn_key(&nic_body));
        act.numero_siret_site = siret.clone();
        act.numero_siren_site = siren;
        act.identifiant_technique_de_la_structure = format!("R{}", 10000 + rng.below(89999));
        act.raison_sociale_site = format!("CABINET {civilite} {family}");
        act.complement_destinataire = format!("CABINET {civilite} {family}");
        act.ancien_identifiant_de_la_structure = format!("4{siret}");
        act.autorite_denregistrement = "CNOM/CNOM/CNOM".into();
    } else {
        let dept = &cp[..2];
        let body = format!("{dept}0{:05}", rng.below(100_000));
        let finess = format!("{body}{}", luhn_key(&body));
        let ej_body = format!("{dept}0{:05}", rng.below(100_000));
        let finess_ej = format!("{ej_body}{}", luhn_key(&ej_body));
        act.numero_finess_site = finess.clone();
        act.numero_finessetablissement_juridique = finess_ej;
        act.identifiant_technique_de_la_structure = format!("F{finess}");
        act.raison_sociale_site = format!("CENTRE HOSPITALIER DE {town}");
        act.ancien_identifiant_de_la_structure = format!("1{finess}");
        act.autorite_denregistrement = "CNOM/CNOM/ARS".into();
    }
    act
}

/// A shipped EDIT identity: civil status, one practice, its sites.
struct EditSeed {
    id: &'static str,
    civilite: &'static str,
    given: &'static str,
    family: &'static str,
    profession: (&'static str, &'static str, &'static str),
    sites: &'static [Site],
    /// Birth date, commune (none when born abroad), country.
    birth: (&'static str, Option<&'static str>, &'static str),
}

/// A work site: liberal (a practice with a SIRET) or salaried (a hospital with a FINESS).
struct Site {
    liberal: bool,
    name: &'static str,
    /// SIREN without its key (liberal) or FINESS without its key (salaried).
    number: &'static str,
    street: (&'static str, &'static str),
    town: (&'static str, &'static str, &'static str),
}

const EDIT_SEEDS: &[EditSeed] = &[
    EditSeed {
        id: "ANS20231122132732",
        birth: ("1978-05-14", Some("75114"), "99100"),
        civilite: "MME",
        given: "SOPHIE",
        family: "LEFORT",
        profession: ("10", "S", "SM54"),
        sites: &[Site {
            liberal: true,
            name: "CABINET MEDICAL LEFORT",
            number: "81234567",
            street: ("12", "DES MARTYRS"),
            town: ("75009", "75109", "PARIS"),
        }],
    },
    EditSeed {
        id: "ANS20240305091547",
        birth: ("1985-11-02", Some("69387"), "99100"),
        civilite: "M",
        given: "JULIEN",
        family: "MARCHAND",
        profession: ("70", "", ""),
        sites: &[Site {
            liberal: true,
            name: "CABINET DE KINESITHERAPIE MARCHAND",
            number: "82345678",
            street: ("48", "GARIBALDI"),
            town: ("69003", "69383", "LYON"),
        }],
    },
    EditSeed {
        id: "ANS20240612143008",
        birth: ("1990-02-27", None, "99350"),
        civilite: "MME",
        given: "NADIA",
        family: "BENALI",
        profession: ("60", "", ""),
        sites: &[Site {
            liberal: false,
            name: "CENTRE HOSPITALIER DE BORDEAUX",
            number: "33000412",
            street: ("3", "DE LA PELOUSE"),
            town: ("33000", "33063", "BORDEAUX"),
        }],
    },
    EditSeed {
        id: "ANS20250117104521",
        birth: ("1982-07-19", Some("35238"), "99100"),
        civilite: "MME",
        given: "CLAIRE",
        family: "ROUSSEL",
        profession: ("50", "", ""),
        sites: &[
            Site {
                liberal: true,
                name: "CABINET DE SAGE-FEMME ROUSSEL",
                number: "83456789",
                street: ("7", "DE SAINT-MALO"),
                town: ("35000", "35238", "RENNES"),
            },
            Site {
                liberal: false,
                name: "CENTRE HOSPITALIER DE RENNES",
                number: "35000071",
                street: ("2", "HENRI LE GUILLOUX"),
                town: ("35000", "35238", "RENNES"),
            },
        ],
    },
    EditSeed {
        id: "ANS20250923171203",
        birth: ("1969-09-30", Some("59350"), "99100"),
        civilite: "M",
        given: "ANTOINE",
        family: "FAURE",
        profession: ("40", "", ""),
        sites: &[Site {
            liberal: true,
            name: "CABINET DENTAIRE FAURE",
            number: "84567890",
            street: ("21", "NATIONALE"),
            town: ("59000", "59350", "LILLE"),
        }],
    },
];

/// The EDIT test identities every sandbox realm ships with, all active, with realistic
/// practice data: `ANS20231122132732` (médecin généraliste, Paris), `ANS20240305091547`
/// (masseur-kinésithérapeute, Lyon), `ANS20240612143008` (infirmière salariée, Bordeaux),
/// `ANS20250117104521` (sage-femme, liberal and salaried, Rennes), `ANS20250923171203`
/// (chirurgien-dentiste, Lille).
pub fn edit_test_identities() -> Vec<Identity> {
    EDIT_SEEDS.iter().map(edit_identity).collect()
}

fn edit_identity(seed: &EditSeed) -> Identity {
    let (prof, sf_type, sf_code) = seed.profession;
    let civ_ex = if prof == "10" || prof == "40" {
        "DR"
    } else {
        seed.civilite
    };
    Identity {
        national_id: NationalId(seed.id.to_owned()),
        active: true,
        civilite: seed.civilite.into(),
        given_name: seed.given.into(),
        family_name: seed.family.into(),
        email: Some(format!(
            "{}.{}@test.sante.fr",
            seed.given.to_lowercase(),
            seed.family.to_lowercase()
        )),
        phone: None,
        origin: "EDIT".into(),
        birth_date: Some(seed.birth.0.into()),
        birth_place: seed.birth.1.map(str::to_owned),
        birth_country: Some(seed.birth.2.into()),
        exercices: vec![Exercice {
            code_profession: prof.into(),
            code_categorie_professionnelle: "C".into(),
            code_civilite_dexercice: civ_ex.into(),
            nom_dexercice: seed.family.into(),
            prenom_dexercice: seed.given.into(),
            code_type_savoir_faire: sf_type.into(),
            code_savoir_faire: sf_code.into(),
            activities: seed.sites.iter().map(site_activity).collect(),
        }],
    }
}

fn site_activity(site: &Site) -> Activity {
    let (numero, voie) = site.street;
    let (cp, commune, town) = site.town;
    let mut act = Activity {
        code_mode_exercice: if site.liberal { "L" } else { "S" }.into(),
        code_secteur_dactivite: if site.liberal { "SA07" } else { "SA01" }.into(),
        code_genre_activite: "GENR01".into(),
        raison_sociale_site: site.name.into(),
        numero_voie: numero.into(),
        code_type_de_voie: "R".into(),
        libelle_voie: voie.into(),
        bureau_cedex: format!("{cp} {town}"),
        code_postal: cp.into(),
        code_commune: commune.into(),
        code_pays: "99000".into(),
        code_departement: cp.get(..2).unwrap_or_default().into(),
        ..Activity::default()
    };
    if site.liberal {
        let siren = format!("{}{}", site.number, luhn_key(site.number));
        let nic = format!("{siren}0001");
        let siret = format!("{nic}{}", luhn_key(&nic));
        act.identifiant_technique_de_la_structure =
            format!("R{}", site.number.get(3..).unwrap_or_default());
        act.complement_destinataire = site.name.into();
        act.ancien_identifiant_de_la_structure = format!("4{siret}");
        act.numero_siret_site = siret;
        act.numero_siren_site = siren;
        act.autorite_denregistrement = "CNOM/CNOM/CNOM".into();
    } else {
        let finess = format!("{}{}", site.number, luhn_key(site.number));
        act.identifiant_technique_de_la_structure = format!("F{finess}");
        act.ancien_identifiant_de_la_structure = format!("1{finess}");
        act.numero_finessetablissement_juridique = finess.clone();
        act.numero_finess_site = finess;
        act.autorite_denregistrement = "CNOM/CNOM/ARS".into();
    }
    act
}

#[cfg(test)]
mod tests {
    use super::super::{IdOrigin, admit, luhn_valid};
    use super::*;
    use crate::environment::Environment;

    #[test]
    fn generated_birth_data_is_plausible_and_reproducible() {
        let a = generate_test_identities(7, 200);
        let mut abroad = 0;
        for i in &a {
            let date = i.birth_date.as_deref().expect("a birth date");
            assert_eq!(super::super::full_birth_date(date).as_deref(), Some(date));
            assert!(("1950".."2000").contains(&&date[..4]), "{date}");
            match i.birth_country.as_deref() {
                Some(super::super::BIRTH_COUNTRY_FRANCE) => {
                    assert!(i.birth_place.is_some(), "{i:?}");
                }
                Some(c) => {
                    assert!(c.starts_with("99") && i.birth_place.is_none(), "{i:?}");
                    abroad += 1;
                }
                None => panic!("no birth country: {i:?}"),
            }
        }
        assert!((5..60).contains(&abroad), "{abroad} born abroad of 200");
        // Another seed, other birth data; the same seed, the same.
        let other = generate_test_identities(8, 200);
        assert_ne!(
            a.iter().map(|i| &i.birth_date).collect::<Vec<_>>(),
            other.iter().map(|i| &i.birth_date).collect::<Vec<_>>()
        );
        for e in edit_test_identities() {
            assert!(e.birth_date.is_some() && e.birth_country.is_some());
        }
    }

    #[test]
    fn generator_is_reproducible_and_valid() {
        let a = generate_test_identities(7, 50);
        let b = generate_test_identities(7, 50);
        assert_eq!(a, b);
        assert_eq!(a[0].national_id.as_str(), "899700218896");
        let mut ids = std::collections::HashSet::new();
        for i in &a {
            let rpps = i.national_id.rpps().unwrap();
            assert!(rpps.starts_with("997"));
            assert!(luhn_valid(rpps));
            assert!(ids.insert(i.national_id.clone()));
            for act in &i.exercices[0].activities {
                if !act.numero_siret_site.is_empty() {
                    assert!(luhn_valid(&act.numero_siret_site));
                    assert!(luhn_valid(&act.numero_siren_site));
                }
            }
        }
        assert!(a.iter().any(|i| !i.active), "some identities are inactive");
        for i in &a {
            let phone = i.phone.as_deref().unwrap();
            assert!(phone.starts_with("+33 6 39 98 "), "fictional: {phone}");
            assert!(i.email.is_some(), "e-CPS by contact details needs both");
        }
    }

    #[test]
    fn sandbox_identities_are_the_generated_then_the_edit_ones() {
        let all = sandbox_identities(2026, 200);
        assert_eq!(all.len(), 205);
        assert_eq!(all[..200], generate_test_identities(2026, 200)[..]);
        let edit = &all[200..];
        assert_eq!(edit, &edit_test_identities()[..]);
        assert_eq!(edit[0].national_id.as_str(), "ANS20231122132732");
        for i in edit {
            assert_eq!(i.national_id.origin(), IdOrigin::Edit, "{}", i.national_id);
            assert_eq!(i.origin, "EDIT");
            assert!(i.active);
            for act in &i.exercices[0].activities {
                for n in [
                    &act.numero_siret_site,
                    &act.numero_siren_site,
                    &act.numero_finess_site,
                ] {
                    assert!(n.is_empty() || luhn_valid(n), "{n}");
                }
            }
        }
        // They pass the checks any identity of a sandbox realm passes, and only those.
        let admitted = admit(Environment::Test, all).unwrap();
        assert_eq!(admitted.identities().len(), 205);
        let e = admit(Environment::Production, edit_test_identities()).unwrap_err();
        assert_eq!(e.index, 0);
        assert!(e.to_string().contains("EDIT"), "{e}");
        assert!(admit(Environment::Production, generate_test_identities(2026, 200)).is_ok());
    }
}
