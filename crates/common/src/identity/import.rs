//! Identities from operators' files (`coeur identity import`, `coeur identity add`): CSV with
//! one identity per row ([`COLUMNS`]), or JSON documents shaped as PSC's userinfo
//! ([`identity_from_psc`]). Parsing and checking only: [`parse`] gives the batch the store
//! writes, or every bad row with its line and reason.

mod csv;
mod json;

use super::validate::problems;
use super::{Activity, AdmittedIdentities, Exercice, Identity, NationalId, admit};
use crate::environment::Environment;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One identity per row, columns named by the header ([`COLUMNS`]).
    Csv,
    /// PSC userinfo documents: one object, an array, or one object per line.
    Json,
}

impl Format {
    /// The format a file name's extension says (`.csv`; `.json`, `.jsonl`, `.ndjson`).
    pub fn of_file_name(name: &str) -> Option<Self> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "json" | "jsonl" | "ndjson" => Some(Self::Json),
            _ => None,
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            _ => Err(format!("unknown format {s:?} (csv or json)")),
        }
    }
}

/// A bad row: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The line of the file the row (or JSON object) starts on, from 1.
    pub line: usize,
    /// The row's national identifier, when it has one.
    pub national_id: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl RowError {
    fn at(line: usize, reason: impl Into<String>) -> Self {
        Self {
            line,
            national_id: None,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.national_id {
            Some(n) => write!(f, "line {} ({n}): {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// Every bad row of a file, in the file's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportErrors(pub Vec<RowError>);

impl fmt::Display for ImportErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for e in &self.0 {
            if !first {
                f.write_str("\n")?;
            }
            first = false;
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ImportErrors {}

/// A CSV column, which is also a flag of `coeur identity add` (`--` + `flag`).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The header name.
    pub name: &'static str,
    /// The command-line flag (the name with dashes).
    pub flag: &'static str,
    /// Whether every row must have a value.
    pub required: bool,
    /// What it holds, with its default.
    pub help: &'static str,
}

const fn col(name: &'static str, flag: &'static str, required: bool, help: &'static str) -> Column {
    Column {
        name,
        flag,
        required,
        help,
    }
}

/// The columns of a CSV import, in the order the documentation lists them: civil status,
/// one practice (`exercice`), and one activity (site), whose fields are PSC's userinfo names
/// in snake case. Columns may come in any order; only the required ones must be present.
#[rustfmt::skip] // A table: one column per line.
pub const COLUMNS: &[Column] = &[
    col("national_id", "national-id", true, "national identifier: 8 + RPPS, a structure-staff form, or ANS + yyyymmddhhmmss (EDIT)"),
    col("civilite", "civilite", true, "civility: M or MME"),
    col("given_name", "given-name", true, "given name"),
    col("family_name", "family-name", true, "family name"),
    col("email", "email", false, "e-mail address"),
    col("phone", "phone", false, "phone number"),
    col("active", "active", false, "whether logins are allowed: true (default) or false"),
    col("birth_date", "birth-date", false, "birth date YYYY-MM-DD (complete)"),
    col("birth_place", "birth-place", false, "birth place: INSEE COG code of the commune (born in France)"),
    col("birth_country", "birth-country", false, "birth country: INSEE COG code (99100 France)"),
    col("code_profession", "code-profession", true, "profession code (TRE_G15): 10 médecin, 21 pharmacien, 40 chirurgien-dentiste, 50 sage-femme, 60 infirmier, 70 masseur-kinésithérapeute, 80 pédicure-podologue"),
    col("code_categorie_professionnelle", "code-categorie-professionnelle", false, "professional category: C civil (default), M military, E student"),
    col("code_civilite_dexercice", "code-civilite-dexercice", false, "civility of practice: DR (default for 10 and 40), M, MME (default: the civility), PR, or empty"),
    col("nom_dexercice", "nom-dexercice", false, "name of practice (default: the family name)"),
    col("prenom_dexercice", "prenom-dexercice", false, "given name of practice (default: the given name)"),
    col("code_type_savoir_faire", "code-type-savoir-faire", false, "know-how type (S spécialité)"),
    col("code_savoir_faire", "code-savoir-faire", false, "know-how code (SM54 médecine générale…)"),
    col("code_mode_exercice", "code-mode-exercice", false, "activity: L liberal (default), S salaried, B volunteer; the activity exists when any activity column has a value"),
    col("code_secteur_dactivite", "code-secteur-dactivite", false, "activity sector (default SA07 for L, SA01 for S)"),
    col("code_section_pharmacien", "code-section-pharmacien", false, "pharmacist's section"),
    col("code_role", "code-role", false, "role"),
    col("code_genre_activite", "code-genre-activite", false, "activity kind (default GENR01)"),
    col("numero_siret_site", "numero-siret-site", false, "SIRET of the site"),
    col("numero_siren_site", "numero-siren-site", false, "SIREN of the site"),
    col("numero_finess_site", "numero-finess-site", false, "FINESS of the site"),
    col("numero_finessetablissement_juridique", "numero-finessetablissement-juridique", false, "FINESS of the legal entity"),
    col("identifiant_technique_de_la_structure", "identifiant-technique-de-la-structure", false, "structure's technical id (SubjectOrganizationID)"),
    col("raison_sociale_site", "raison-sociale-site", false, "site's name (SubjectOrganization)"),
    col("enseigne_commerciale_site", "enseigne-commerciale-site", false, "trade name"),
    col("complement_destinataire", "complement-destinataire", false, "address: recipient complement"),
    col("complement_point_geographique", "complement-point-geographique", false, "address: geographic complement"),
    col("numero_voie", "numero-voie", false, "address: street number"),
    col("indice_repetition_voie", "indice-repetition-voie", false, "address: repetition index (B, T)"),
    col("code_type_de_voie", "code-type-de-voie", false, "address: street type (R rue, AV, BD, PL)"),
    col("libelle_voie", "libelle-voie", false, "address: street name"),
    col("mention_distribution", "mention-distribution", false, "address: distribution mention"),
    col("bureau_cedex", "bureau-cedex", false, "address: post office line (75009 PARIS)"),
    col("code_postal", "code-postal", false, "address: postcode (5 digits)"),
    col("code_commune", "code-commune", false, "address: INSEE commune code"),
    col("code_pays", "code-pays", false, "address: country code (default 99000, France)"),
    col("code_departement", "code-departement", false, "address: department (default: from the postcode)"),
    col("telephone", "telephone", false, "site's phone"),
    col("telephone2", "telephone2", false, "site's second phone"),
    col("telecopie", "telecopie", false, "site's fax"),
    col("adresse_e_mail", "adresse-e-mail", false, "site's e-mail address"),
    col("ancien_identifiant_de_la_structure", "ancien-identifiant-de-la-structure", false, "structure's former id"),
    col("autorite_denregistrement", "autorite-denregistrement", false, "registration authority (CNOM/CNOM/CNOM)"),
];

/// Parses and checks a file for a realm of `environment`: every row made into an identity
/// and admitted ([`admit`]), or every bad row with its line and reason. All or nothing.
pub fn parse(
    format: Format,
    text: &str,
    environment: Environment,
) -> Result<AdmittedIdentities, ImportErrors> {
    let rows = match format {
        Format::Csv => csv_rows(text),
        Format::Json => json_rows(text),
    }
    .map_err(|e| ImportErrors(vec![e]))?;
    let mut errors = Vec::new();
    let mut lines = Vec::new();
    let mut identities = Vec::new();
    for (line, row) in rows {
        match row {
            Ok(identity) => {
                lines.push(line);
                identities.push(identity);
            }
            Err(e) => errors.push(e),
        }
    }
    for p in problems(environment, &identities) {
        let line = lines.get(p.index).copied().unwrap_or_default();
        let reason = match p.error {
            super::IdentityError::Duplicate { first } => format!(
                "the national identifier is already on line {}",
                lines.get(first).copied().unwrap_or_default()
            ),
            other => other.to_string(),
        };
        errors.push(RowError {
            line,
            national_id: Some(p.national_id),
            reason,
        });
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(ImportErrors(errors));
    }
    admit(environment, identities).map_err(|e| {
        ImportErrors(vec![RowError::at(
            lines.get(e.index).copied().unwrap_or_default(),
            e.to_string(),
        )])
    })
}

/// Each row of a file: (line, the identity or why not).
type Rows = Vec<(usize, Result<Identity, RowError>)>;

fn csv_rows(text: &str) -> Result<Rows, RowError> {
    let records = csv::records(text)?;
    let header: Vec<String> = records
        .header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    check_header(&header)?;
    if records.rows.is_empty() {
        return Err(RowError::at(1, "no identities after the header line"));
    }
    Ok(records
        .rows
        .into_iter()
        .map(|(line, fields)| {
            if fields.len() != header.len() {
                return (
                    line,
                    Err(RowError::at(
                        line,
                        format!(
                            "{} fields where the header has {} columns",
                            fields.len(),
                            header.len()
                        ),
                    )),
                );
            }
            let pairs: Vec<(&str, &str)> = header
                .iter()
                .map(String::as_str)
                .zip(fields.iter().map(String::as_str))
                .collect();
            let national_id = fields_value(&pairs, "national_id").map(str::to_owned);
            let row = identity_from_fields(&pairs).map_err(|reason| RowError {
                line,
                national_id,
                reason,
            });
            (line, row)
        })
        .collect())
}

fn fields_value<'a>(pairs: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Known columns, each once, the required ones present.
fn check_header(header: &[String]) -> Result<(), RowError> {
    let mut seen = HashMap::new();
    for h in header {
        if !COLUMNS.iter().any(|c| c.name == h) {
            return Err(RowError::at(
                1,
                format!(
                    "unknown column {h:?} (the columns are listed by `coeur identity import --help`)"
                ),
            ));
        }
        if seen.insert(h.as_str(), ()).is_some() {
            return Err(RowError::at(1, format!("column {h:?} appears twice")));
        }
    }
    let missing: Vec<&str> = COLUMNS
        .iter()
        .filter(|c| c.required && !seen.contains_key(c.name))
        .map(|c| c.name)
        .collect();
    if !missing.is_empty() {
        return Err(RowError::at(
            1,
            format!("missing required columns: {}", missing.join(", ")),
        ));
    }
    Ok(())
}

fn json_rows(text: &str) -> Result<Rows, RowError> {
    Ok(json::documents(text)?
        .into_iter()
        .map(|(line, doc)| {
            let national_id = ["preferred_username", "SubjectNameID"]
                .iter()
                .find_map(|k| doc.get(*k).and_then(Value::as_str))
                .map(str::to_owned);
            let row = identity_from_psc(&doc, None).map_err(|reason| RowError {
                line,
                national_id,
                reason,
            });
            (line, row)
        })
        .collect())
}

/// An identity from named values (CSV columns, `coeur identity add` flags), with the
/// defaults [`COLUMNS`] describes. Values are trimmed; empty ones are absent. The identity is
/// not yet checked ([`Identity::check`]).
pub fn identity_from_fields(fields: &[(&str, &str)]) -> Result<Identity, String> {
    let mut values: HashMap<&str, &str> = HashMap::new();
    for (name, value) in fields {
        if !COLUMNS.iter().any(|c| c.name == *name) {
            return Err(format!("unknown field {name:?}"));
        }
        let value = value.trim();
        if !value.is_empty() {
            values.insert(name, value);
        }
    }
    let get = |name: &str| values.get(name).copied().unwrap_or_default().to_owned();
    let national_id =
        NationalId::parse(&get("national_id")).map_err(|e| format!("national_id: {e}"))?;
    let active = match values
        .get("active")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("true" | "1" | "yes" | "oui") => true,
        Some("false" | "0" | "no" | "non") => false,
        Some(other) => return Err(format!("active: {other:?} is not true or false")),
    };
    let (civilite, given, family) = (get("civilite"), get("given_name"), get("family_name"));
    let profession = get("code_profession");
    let or = |v: String, default: &str| if v.is_empty() { default.to_owned() } else { v };
    let civ_ex_default = if profession == "10" || profession == "40" {
        "DR"
    } else {
        civilite.as_str()
    };
    let mut activity = Activity::default();
    let mut any_activity = false;
    for (name, value) in &values {
        if let Some(slot) = activity.field_mut(name) {
            *slot = (*value).to_owned();
            any_activity = true;
        }
    }
    let exercice = Exercice {
        code_categorie_professionnelle: or(get("code_categorie_professionnelle"), "C"),
        code_civilite_dexercice: or(get("code_civilite_dexercice"), civ_ex_default),
        nom_dexercice: or(get("nom_dexercice"), &family),
        prenom_dexercice: or(get("prenom_dexercice"), &given),
        code_type_savoir_faire: get("code_type_savoir_faire"),
        code_savoir_faire: get("code_savoir_faire"),
        activities: if any_activity {
            vec![activity_defaults(activity)]
        } else {
            vec![]
        },
        code_profession: profession,
    };
    Ok(Identity {
        origin: national_id.origin().as_str().to_owned(),
        national_id,
        active,
        civilite,
        given_name: given,
        family_name: family,
        email: values.get("email").map(|v| (*v).to_owned()),
        phone: values.get("phone").map(|v| (*v).to_owned()),
        exercices: vec![exercice],
        birth_date: values.get("birth_date").map(|v| (*v).to_owned()),
        birth_place: values.get("birth_place").map(|v| v.to_ascii_uppercase()),
        birth_country: values.get("birth_country").map(|v| (*v).to_owned()),
    })
}

/// The defaults of an activity's empty fields: liberal, its sector, `GENR01`, France, the
/// department of the postcode.
fn activity_defaults(mut a: Activity) -> Activity {
    if a.code_mode_exercice.is_empty() {
        a.code_mode_exercice = "L".into();
    }
    if a.code_secteur_dactivite.is_empty() {
        a.code_secteur_dactivite = match a.code_mode_exercice.as_str() {
            "L" => "SA07",
            "S" => "SA01",
            _ => "",
        }
        .into();
    }
    if a.code_genre_activite.is_empty() {
        a.code_genre_activite = "GENR01".into();
    }
    if a.code_pays.is_empty() {
        a.code_pays = "99000".into();
    }
    if a.code_departement.is_empty() && a.code_postal.len() == 5 {
        a.code_departement = a.code_postal.get(..2).unwrap_or_default().to_owned();
    }
    a
}

/// An identity from a document shaped as PSC's userinfo (`scope_all`), as "Essaie ta e-CPS"
/// or a relying party's logs show it: `preferred_username` / `SubjectNameID` /
/// `otherIds[0].identifiant` (all those present must agree), `given_name`, `family_name`,
/// `codeCivilite` (top level or in `SubjectRefPro`), `email`, `phone_number`,
/// `SubjectRefPro.exercices` (PSC's practices and activities, missing keys empty), the
/// birth data under FranceConnect's names (`birthdate`, `birthplace`, `birthcountry`), and
/// coeur's own `active` (default true). Other claims are ignored.
///
/// With `national_id`, the document's identifiers are ignored and the identity takes that
/// one (a production profile copied into a test identity). Not yet checked.
pub fn identity_from_psc(doc: &Value, national_id: Option<NationalId>) -> Result<Identity, String> {
    let obj = doc.as_object().ok_or("expected a JSON object")?;
    let string = |m: &Map<String, Value>, k: &str| -> Result<Option<String>, String> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{k}: a string is expected")),
        }
    };
    let (national_id, given_origin) = match national_id {
        Some(n) => (n, None),
        None => psc_national_id(obj)?,
    };
    let refpro = match obj.get("SubjectRefPro") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err("SubjectRefPro: an object is expected".into()),
    };
    let civilite = match string(obj, "codeCivilite")? {
        Some(c) => c,
        None => string(&refpro, "codeCivilite")?.unwrap_or_default(),
    };
    let exercices: Vec<Exercice> = match refpro.get("exercices") {
        None => vec![],
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| format!("SubjectRefPro.exercices: {e}"))?,
    };
    let active = match obj.get("active") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("active: true or false is expected".into()),
    };
    Ok(Identity {
        origin: given_origin.unwrap_or_else(|| national_id.origin().as_str().to_owned()),
        national_id,
        active,
        civilite,
        given_name: string(obj, "given_name")?.unwrap_or_default(),
        family_name: string(obj, "family_name")?.unwrap_or_default(),
        email: string(obj, "email")?.filter(|e| !e.is_empty()),
        phone: string(obj, "phone_number")?.filter(|p| !p.is_empty()),
        exercices,
        birth_date: string(obj, "birthdate")?.filter(|d| !d.is_empty()),
        birth_place: string(obj, "birthplace")?.filter(|p| !p.is_empty()),
        birth_country: string(obj, "birthcountry")?.filter(|c| !c.is_empty()),
    })
}

/// The document's national identifier, and the origin its `otherIds` gives, if any.
fn psc_national_id(obj: &Map<String, Value>) -> Result<(NationalId, Option<String>), String> {
    let other = obj
        .get("otherIds")
        .and_then(Value::as_array)
        .and_then(|ids| ids.first());
    let candidates = [
        ("preferred_username", obj.get("preferred_username")),
        ("SubjectNameID", obj.get("SubjectNameID")),
        (
            "otherIds[0].identifiant",
            other.and_then(|o| o.get("identifiant")),
        ),
    ];
    let mut found: Option<(&str, &str)> = None;
    for (name, value) in candidates {
        let Some(value) = value else { continue };
        let value = value
            .as_str()
            .ok_or(format!("{name}: a string is expected"))?;
        match found {
            None => found = Some((name, value)),
            Some((first, v)) if v != value => {
                return Err(format!("{first} {v:?} and {name} {value:?} differ"));
            }
            Some(_) => {}
        }
    }
    let (name, value) = found.ok_or("preferred_username (or SubjectNameID) is required")?;
    let national_id = NationalId::parse(value).map_err(|e| format!("{name}: {e}"))?;
    let origin = other
        .and_then(|o| o.get("origine"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((national_id, origin))
}

#[cfg(test)]
mod tests;
