//! Health professionals' identities as PSC returns them, national identifiers, and a generator
//! of realistic test identities for sandbox realms.

use super::random::testing::SeededRandom;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A national identifier (IdNat_PS).
///
/// Accepted forms: `8` + an 11-digit RPPS number whose last digit is its Luhn key, and the
/// structure-staff forms `<type digit><structure id>/<local id>` (`0`, `3`, `4`, `5`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NationalId(String);

/// Why a string is not a national identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    /// Empty input.
    #[error("the national identifier is empty")]
    Empty,
    /// Wrong length or characters for an RPPS-based identifier.
    #[error("an RPPS-based national identifier is 8 followed by 11 digits")]
    RppsFormat,
    /// The Luhn key of the RPPS number does not match.
    #[error("the RPPS number's check digit is wrong")]
    RppsKey,
    /// Not a known form.
    #[error("unknown national identifier form")]
    UnknownForm,
}

/// Luhn check over a string of ASCII digits.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    luhn_sum(digits, false).is_multiple_of(10)
}

/// The Luhn check digit to append to `digits`.
pub fn luhn_key(digits: &str) -> u8 {
    let s = luhn_sum(digits, true);
    ((10 - (s % 10)) % 10) as u8
}

fn luhn_sum(digits: &str, doubling_first: bool) -> u32 {
    digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            let double = (i % 2 == 0) == doubling_first;
            if double {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum()
}

impl NationalId {
    /// Parses and checks a national identifier.
    pub fn parse(s: &str) -> Result<Self, NationalIdError> {
        let s = s.trim();
        let first = s.chars().next().ok_or(NationalIdError::Empty)?;
        match first {
            '8' => {
                let rpps = &s[1..];
                if rpps.len() != 11 || !rpps.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(NationalIdError::RppsFormat);
                }
                if !luhn_valid(rpps) {
                    return Err(NationalIdError::RppsKey);
                }
                Ok(Self(s.to_owned()))
            }
            '0' | '3' | '4' | '5' => {
                let (structure, local) = s.split_once('/').ok_or(NationalIdError::UnknownForm)?;
                let ok_structure = structure.len() >= 2
                    && structure.len() <= 20
                    && structure.bytes().all(|b| b.is_ascii_alphanumeric());
                let ok_local = !local.is_empty()
                    && local.len() <= 30
                    && local
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if ok_structure && ok_local {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(NationalIdError::UnknownForm)
                }
            }
            _ => Err(NationalIdError::UnknownForm),
        }
    }

    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The RPPS number, for RPPS-based identifiers.
    pub fn rpps(&self) -> Option<&str> {
        self.0.strip_prefix('8')
    }
}

impl TryFrom<String> for NationalId {
    type Error = NationalIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        NationalId::parse(&s)
    }
}

impl From<NationalId> for String {
    fn from(n: NationalId) -> String {
        n.0
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A professional's identity: civil status and professional record, with PSC's field names
/// where they are serialised (see `claims`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The national identifier.
    pub national_id: NationalId,
    /// Whether logins are allowed.
    pub active: bool,
    /// Civility code (`M`, `MME`).
    pub civilite: String,
    /// Given name (upper case, as in the directory).
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// E-mail address, if known.
    pub email: Option<String>,
    /// Phone number, if known.
    pub phone: Option<String>,
    /// Origin of the identifier (`RPPS`, `ADELI`, `EDIT`).
    pub origin: String,
    /// Practices ("exercices"), one per profession.
    pub exercices: Vec<Exercice>,
}

/// One practice (profession) of a professional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exercice {
    /// Profession code (`10` médecin, `21` pharmacien…).
    pub code_profession: String,
    /// Professional category (`C` civil).
    pub code_categorie_professionnelle: String,
    /// Civility of practice (`DR`, `M`, `MME`).
    pub code_civilite_dexercice: String,
    /// Name of practice.
    pub nom_dexercice: String,
    /// Given name of practice.
    pub prenom_dexercice: String,
    /// Know-how type (`S` spécialité).
    pub code_type_savoir_faire: String,
    /// Know-how code (`SM26`…).
    pub code_savoir_faire: String,
    /// Work situations.
    pub activities: Vec<Activity>,
}

/// One work situation (activity in a structure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// Mode (`L` libéral, `S` salarié).
    pub code_mode_exercice: String,
    /// Sector (`SA07` cabinet, `SA01` hôpital…).
    pub code_secteur_dactivite: String,
    /// Pharmacist section.
    pub code_section_pharmacien: String,
    /// Role.
    pub code_role: String,
    /// Activity kind (`GENR01`).
    pub code_genre_activite: String,
    /// SIRET of the site.
    pub numero_siret_site: String,
    /// SIREN of the site.
    pub numero_siren_site: String,
    /// FINESS of the site.
    pub numero_finess_site: String,
    /// FINESS of the legal entity.
    pub numero_finessetablissement_juridique: String,
    /// Technical id of the structure (`R…`, `F…`).
    pub identifiant_technique_de_la_structure: String,
    /// Name of the site.
    pub raison_sociale_site: String,
    /// Trade name.
    pub enseigne_commerciale_site: String,
    /// Address line: recipient complement.
    pub complement_destinataire: String,
    /// Address line: geographic complement.
    pub complement_point_geographique: String,
    /// Street number.
    pub numero_voie: String,
    /// Repetition index (bis, ter).
    pub indice_repetition_voie: String,
    /// Street type code.
    pub code_type_de_voie: String,
    /// Street name.
    pub libelle_voie: String,
    /// Distribution mention.
    pub mention_distribution: String,
    /// Post office line.
    pub bureau_cedex: String,
    /// Postcode.
    pub code_postal: String,
    /// INSEE commune code.
    pub code_commune: String,
    /// Country code (`99000` France).
    pub code_pays: String,
    /// Phone.
    pub telephone: String,
    /// Second phone.
    pub telephone2: String,
    /// Fax.
    pub telecopie: String,
    /// E-mail.
    pub adresse_e_mail: String,
    /// Department code.
    pub code_departement: String,
    /// Former structure id.
    pub ancien_identifiant_de_la_structure: String,
    /// Registration authority.
    pub autorite_denregistrement: String,
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
        out.push(generate_one(&rng, &rpps, i));
    }
    out
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
        phone: Some(format!(
            "+33 1 {:02} {:02} {:02} {:02}",
            rng.below(100),
            rng.below(100),
            rng.below(100),
            rng.below(100)
        )),
        origin: "RPPS".into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psc_sample_ids_parse() {
        for s in [
            "899700218896",
            "899700366240",
            "899700427869",
            "500000001815646/CPAT00045",
        ] {
            assert!(NationalId::parse(s).is_ok(), "{s}");
        }
        assert_eq!(
            NationalId::parse("899700218897"),
            Err(NationalIdError::RppsKey)
        );
        assert_eq!(
            NationalId::parse("89970021889"),
            Err(NationalIdError::RppsFormat)
        );
        assert_eq!(NationalId::parse(""), Err(NationalIdError::Empty));
        assert_eq!(NationalId::parse("X1"), Err(NationalIdError::UnknownForm));
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
    }

    #[test]
    fn luhn_key_matches_check() {
        assert_eq!(luhn_key("9970021889"), 6);
        assert!(luhn_valid("99700218896"));
    }
}
