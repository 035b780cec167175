//! Health professionals' identities as PSC returns them, national identifiers, the checks an
//! identity passes before a realm holds it ([`admit`]), the sandbox's test identities
//! ([`sandbox_identities`]) and the operators' import formats ([`import`]).

pub mod fhir;
mod generator;
pub mod import;
mod validate;

pub use generator::{edit_test_identities, generate_test_identities, sandbox_identities};
pub use validate::{
    AdmissionError, AdmittedIdentities, IdentityError, PROFESSIONS, admit, profession_label,
};

use crate::environment::Environment;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A national identifier (IdNat_PS).
///
/// Accepted forms, told apart by their first character (see [`IdOrigin`]):
/// - `8` + an 11-digit RPPS number whose last digit is its Luhn key (`899700218896`);
/// - the structure-staff forms `<type digit><structure id>/<local id>`, type digit `0`
///   (ADELI-based), `3` (FINESS), `4` (SIREN) or `5` (SIRET) (`500000001815646/CPAT00045`);
/// - EDIT test identities, as ANS's sandbox (EDIT) makes them: `ANS` in upper case followed
///   by exactly 14 digits that are the date and time of their creation, `yyyymmddhhmmss`, a
///   real calendar date from the year 2000 on, hours 00–23, minutes and seconds 00–59
///   (`ANS20231122132732`). They exist only in the sandbox: see
///   [`NationalId::admissible_in`].
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
    /// `ANS` not followed by a date and time `yyyymmddhhmmss`.
    #[error(
        "an EDIT test identifier is ANS followed by the date and time yyyymmddhhmmss \
         (e.g. ANS20231122132732)"
    )]
    EditFormat,
    /// Not a known form.
    #[error("unknown national identifier form")]
    UnknownForm,
}

/// Where a national identifier comes from, as PSC's `otherIds[].origine` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdOrigin {
    /// `8` + RPPS number.
    Rpps,
    /// The structure-staff forms (ADELI-based, FINESS, SIREN, SIRET).
    Structure,
    /// An EDIT test identity (`ANS` + timestamp): sandbox only.
    Edit,
}

impl IdOrigin {
    /// The `origine` value: `RPPS`, `ADELI` (coeur's default for the structure-staff forms,
    /// the ADELI-based family of IdNat_PS), `EDIT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rpps => "RPPS",
            Self::Structure => "ADELI",
            Self::Edit => "EDIT",
        }
    }
}

/// An EDIT test identity met where only the sandbox may have one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0} is an EDIT test identity: EDIT identities exist only in sandbox realms and are \
     refused in production"
)]
pub struct EditOutsideSandbox(pub NationalId);

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
            'A' => Self::parse_edit(s),
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

    /// `ANS` + a real date and time `yyyymmddhhmmss` (year 2000 or later).
    fn parse_edit(s: &str) -> Result<Self, NationalIdError> {
        let stamp = s.strip_prefix("ANS").ok_or(NationalIdError::UnknownForm)?;
        if stamp.len() != 14 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NationalIdError::EditFormat);
        }
        let n = |from: usize, to: usize| stamp.get(from..to).and_then(|d| d.parse::<u32>().ok());
        let fields = (n(0, 4), n(4, 6), n(6, 8), n(8, 10), n(10, 12), n(12, 14));
        let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = fields else {
            return Err(NationalIdError::EditFormat);
        };
        let valid = y >= 2000
            && (1..=12).contains(&mo)
            && d >= 1
            && d <= days_in_month(y, mo)
            && h <= 23
            && mi <= 59
            && sec <= 59;
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(NationalIdError::EditFormat)
        }
    }

    /// The EDIT test identifier of an identity created at `now` (seconds since the epoch,
    /// from the injected clock): `ANS` + its UTC date and time `yyyymmddhhmmss`. `None`
    /// before 2000 or after 9999.
    pub fn edit_at(now: i64) -> Option<Self> {
        let (days, secs) = (now.div_euclid(86_400), now.rem_euclid(86_400));
        let (y, mo, d) = civil_from_days(days);
        if !(2000..=9999).contains(&y) {
            return None;
        }
        let (h, mi, sec) = (secs / 3600, secs % 3600 / 60, secs % 60);
        Some(Self(format!("ANS{y:04}{mo:02}{d:02}{h:02}{mi:02}{sec:02}")))
    }

    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the identifier comes from, by its form.
    pub fn origin(&self) -> IdOrigin {
        if self.0.starts_with('8') {
            IdOrigin::Rpps
        } else if self.0.starts_with("ANS") {
            IdOrigin::Edit
        } else {
            IdOrigin::Structure
        }
    }

    /// Whether an identity with this identifier may be held by, or log in to, a realm of
    /// `environment`: EDIT test identities belong to the sandbox only.
    pub fn admissible_in(&self, environment: Environment) -> Result<(), EditOutsideSandbox> {
        match (self.origin(), environment) {
            (IdOrigin::Edit, Environment::Production) => Err(EditOutsideSandbox(self.clone())),
            _ => Ok(()),
        }
    }

    /// The RPPS number, for RPPS-based identifiers.
    pub fn rpps(&self) -> Option<&str> {
        self.0.strip_prefix('8')
    }
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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
    /// Origin of the identifier, as `otherIds[].origine` (`RPPS`, `ADELI`, `EDIT`): that of
    /// its form ([`NationalId::origin`]), which [`admit`] checks.
    pub origin: String,
    /// Practices ("exercices"), one per profession.
    pub exercices: Vec<Exercice>,
    /// Birth date (`YYYY-MM-DD`, complete), if known: with the birth place or country, what
    /// an upstream's pivot identity is compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// Birth place: INSEE COG code of the commune, if known (none when born abroad).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_place: Option<String>,
    /// Birth country: INSEE COG code (`99100` France), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_country: Option<String>,
}

/// The COG code of France as a birth country.
pub const BIRTH_COUNTRY_FRANCE: &str = "99100";

/// A complete birth date `YYYY-MM-DD` (a real calendar day from 1800), or `None`: partial
/// dates (`1992-11-00`, `1992-00-00`, `1992`) are not birth dates here.
pub fn full_birth_date(s: &str) -> Option<String> {
    let b = s.trim().as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = std::str::from_utf8(&b[r]).ok()?;
        t.bytes()
            .all(|x| x.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (y >= 1800 && (1..=days).contains(&d)).then(|| format!("{y:04}-{m:02}-{d:02}"))
}

/// A COG code (5 characters, digits or `2A` / `2B` for Corsica), upper case; `None` if empty
/// or malformed.
pub fn cog_code(s: &str) -> Option<String> {
    let s = s.trim().to_ascii_uppercase();
    (s.len() == 5
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'A' || b == b'B'))
    .then_some(s)
}

/// One practice (profession) of a professional.
///
/// A missing key reads as empty, as in PSC's abbreviated payloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
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
///
/// A missing key reads as empty, as in PSC's abbreviated payloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
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

impl Activity {
    /// Every field, named as in CSV imports (snake case), in declaration order.
    pub fn fields(&self) -> [(&'static str, &str); 30] {
        [
            ("code_mode_exercice", &self.code_mode_exercice),
            ("code_secteur_dactivite", &self.code_secteur_dactivite),
            ("code_section_pharmacien", &self.code_section_pharmacien),
            ("code_role", &self.code_role),
            ("code_genre_activite", &self.code_genre_activite),
            ("numero_siret_site", &self.numero_siret_site),
            ("numero_siren_site", &self.numero_siren_site),
            ("numero_finess_site", &self.numero_finess_site),
            (
                "numero_finessetablissement_juridique",
                &self.numero_finessetablissement_juridique,
            ),
            (
                "identifiant_technique_de_la_structure",
                &self.identifiant_technique_de_la_structure,
            ),
            ("raison_sociale_site", &self.raison_sociale_site),
            ("enseigne_commerciale_site", &self.enseigne_commerciale_site),
            ("complement_destinataire", &self.complement_destinataire),
            (
                "complement_point_geographique",
                &self.complement_point_geographique,
            ),
            ("numero_voie", &self.numero_voie),
            ("indice_repetition_voie", &self.indice_repetition_voie),
            ("code_type_de_voie", &self.code_type_de_voie),
            ("libelle_voie", &self.libelle_voie),
            ("mention_distribution", &self.mention_distribution),
            ("bureau_cedex", &self.bureau_cedex),
            ("code_postal", &self.code_postal),
            ("code_commune", &self.code_commune),
            ("code_pays", &self.code_pays),
            ("telephone", &self.telephone),
            ("telephone2", &self.telephone2),
            ("telecopie", &self.telecopie),
            ("adresse_e_mail", &self.adresse_e_mail),
            ("code_departement", &self.code_departement),
            (
                "ancien_identifiant_de_la_structure",
                &self.ancien_identifiant_de_la_structure,
            ),
            ("autorite_denregistrement", &self.autorite_denregistrement),
        ]
    }

    /// The field named `name` (as in [`Activity::fields`]).
    pub fn field_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "code_mode_exercice" => &mut self.code_mode_exercice,
            "code_secteur_dactivite" => &mut self.code_secteur_dactivite,
            "code_section_pharmacien" => &mut self.code_section_pharmacien,
            "code_role" => &mut self.code_role,
            "code_genre_activite" => &mut self.code_genre_activite,
            "numero_siret_site" => &mut self.numero_siret_site,
            "numero_siren_site" => &mut self.numero_siren_site,
            "numero_finess_site" => &mut self.numero_finess_site,
            "numero_finessetablissement_juridique" => {
                &mut self.numero_finessetablissement_juridique
            }
            "identifiant_technique_de_la_structure" => {
                &mut self.identifiant_technique_de_la_structure
            }
            "raison_sociale_site" => &mut self.raison_sociale_site,
            "enseigne_commerciale_site" => &mut self.enseigne_commerciale_site,
            "complement_destinataire" => &mut self.complement_destinataire,
            "complement_point_geographique" => &mut self.complement_point_geographique,
            "numero_voie" => &mut self.numero_voie,
            "indice_repetition_voie" => &mut self.indice_repetition_voie,
            "code_type_de_voie" => &mut self.code_type_de_voie,
            "libelle_voie" => &mut self.libelle_voie,
            "mention_distribution" => &mut self.mention_distribution,
            "bureau_cedex" => &mut self.bureau_cedex,
            "code_postal" => &mut self.code_postal,
            "code_commune" => &mut self.code_commune,
            "code_pays" => &mut self.code_pays,
            "telephone" => &mut self.telephone,
            "telephone2" => &mut self.telephone2,
            "telecopie" => &mut self.telecopie,
            "adresse_e_mail" => &mut self.adresse_e_mail,
            "code_departement" => &mut self.code_departement,
            "ancien_identifiant_de_la_structure" => &mut self.ancien_identifiant_de_la_structure,
            "autorite_denregistrement" => &mut self.autorite_denregistrement,
            _ => return None,
        })
    }
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
            "ANS20231122132732",
            "ANS20210107161422",
            "ANS20211229094028",
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
    fn edit_ids_are_ans_and_a_real_date_and_time() {
        let edit = |s: &str| NationalId::parse(s);
        assert_eq!(
            edit(" ANS20240229235959 ").unwrap().as_str(),
            "ANS20240229235959"
        );
        assert!(edit("ANS20000101000000").is_ok(), "from 2000 on");
        for bad in [
            "ANS",
            "ANS2023112213273",   // 13 digits
            "ANS202311221327321", // 15 digits
            "ANS2023112213273X",  // not a digit
            "ANS+2023112213273",  // sign
            "ANS19991231235959",  // before 2000
            "ANS20230229120000",  // not a leap year
            "ANS21000229120000",  // 2100 is not a leap year either
            "ANS20231301120000",  // month 13
            "ANS20231100120000",  // day 0
            "ANS20230431120000",  // 31 April
            "ANS20231122242732",  // hour 24
            "ANS20231122136032",  // minute 60
            "ANS20231122132760",  // second 60
            "ANS 20231122132732", // inner space
            "ANS２0231122132732", // a non-ASCII digit
        ] {
            assert_eq!(edit(bad), Err(NationalIdError::EditFormat), "{bad}");
        }
        for other in ["ans20231122132732", "AN20231122132732", "ANX20231122132732"] {
            assert_eq!(edit(other), Err(NationalIdError::UnknownForm), "{other}");
        }
    }

    #[test]
    fn origin_by_form() {
        let origin = |s: &str| NationalId::parse(s).unwrap().origin();
        assert_eq!(origin("899700218896"), IdOrigin::Rpps);
        assert_eq!(origin("500000001815646/CPAT00045"), IdOrigin::Structure);
        assert_eq!(origin("ANS20231122132732"), IdOrigin::Edit);
        assert_eq!(IdOrigin::Edit.as_str(), "EDIT");
        assert_eq!(IdOrigin::Rpps.as_str(), "RPPS");
    }

    #[test]
    fn edit_ids_stay_in_the_sandbox() {
        let edit = NationalId::parse("ANS20231122132732").unwrap();
        assert!(edit.admissible_in(Environment::Test).is_ok());
        let e = edit.admissible_in(Environment::Production).unwrap_err();
        assert!(e.to_string().contains("only in sandbox realms"), "{e}");
        for s in ["899700218896", "500000001815646/CPAT00045"] {
            let id = NationalId::parse(s).unwrap();
            assert!(id.admissible_in(Environment::Production).is_ok(), "{s}");
            assert!(id.admissible_in(Environment::Test).is_ok(), "{s}");
        }
    }

    #[test]
    fn edit_id_from_the_clock() {
        let id = NationalId::edit_at(1_700_659_652).unwrap();
        assert_eq!(id.as_str(), "ANS20231122132732");
        assert_eq!(NationalId::parse(id.as_str()), Ok(id));
        let leap = NationalId::edit_at(1_709_251_199).unwrap();
        assert_eq!(leap.as_str(), "ANS20240229235959");
        assert_eq!(
            NationalId::edit_at(946_684_800).unwrap().as_str(),
            "ANS20000101000000"
        );
        assert_eq!(NationalId::edit_at(946_684_799), None, "1999");
        assert_eq!(NationalId::edit_at(0), None);
        // Every second of a few years round-trips through the parser.
        for t in (946_684_800..1_900_000_000).step_by(86_399 * 7 + 3_601) {
            let id = NationalId::edit_at(t).unwrap();
            assert!(NationalId::parse(id.as_str()).is_ok(), "{id}");
        }
    }

    #[test]
    fn activity_fields_are_named_once_and_settable() {
        let mut a = Activity::default();
        let names: Vec<&str> = a.fields().iter().map(|(n, _)| *n).collect();
        let unique: std::collections::HashSet<&&str> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        for (i, n) in names.iter().enumerate() {
            *a.field_mut(n).unwrap() = i.to_string();
        }
        for (i, (_, v)) in a.fields().iter().enumerate() {
            assert_eq!(*v, i.to_string());
        }
        assert!(a.field_mut("nope").is_none());
    }

    #[test]
    fn luhn_key_matches_check() {
        assert_eq!(luhn_key("9970021889"), 6);
        assert!(luhn_valid("99700218896"));
    }
}
