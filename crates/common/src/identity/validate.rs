//! What an identity must be before a realm holds it: its fields well formed, its professions
//! known, its origin that of its identifier, an EDIT test identity only in the sandbox, and
//! one identity per national identifier in a batch. [`admit`] is the one way to a batch the
//! provider's store writes ([`AdmittedIdentities`]).

use super::{Activity, EditOutsideSandbox, Exercice, IdOrigin, Identity};
use crate::environment::Environment;
use std::collections::HashMap;

/// The profession codes coeur knows (nomenclature TRE_G15, sent in `SubjectRole` as
/// `code^1.2.250.1.213.1.1.5.5`), with the labels written in card certificates.
pub const PROFESSIONS: &[(&str, &str)] = &[
    ("10", "Médecin"),
    ("21", "Pharmacien"),
    ("40", "Chirurgien-Dentiste"),
    ("50", "Sage-Femme"),
    ("60", "Infirmier"),
    ("70", "Masseur-Kinésithérapeute"),
    ("80", "Pédicure-Podologue"),
];

/// The label of a known profession code.
pub fn profession_label(code: &str) -> Option<&'static str> {
    PROFESSIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, label)| *label)
}

/// Longest name (given, family, name of practice).
const NAME_MAX: usize = 100;
/// Longest free-text field of an activity (site name, street…).
const TEXT_MAX: usize = 200;

/// Why an identity cannot be held by a realm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A required field is missing or empty.
    #[error("{0} is required")]
    Missing(String),
    /// A field's value is not allowed.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, named as the CSV column (in a practice or activity after the first,
        /// with its position).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The origin is not that of the identifier's form.
    #[error("origin {got:?} does not match the national identifier, whose origin is {expected}")]
    Origin {
        /// The origin given.
        got: String,
        /// The origin of the identifier's form.
        expected: &'static str,
    },
    /// An EDIT test identity for a production realm.
    #[error(transparent)]
    OutsideSandbox(#[from] EditOutsideSandbox),
    /// The national identifier of an earlier identity of the same batch.
    #[error("the same national identifier as identity {}", first + 1)]
    Duplicate {
        /// The earlier identity's position in the batch (from 0).
        first: usize,
    },
}

fn invalid(field: &str, reason: impl Into<String>) -> IdentityError {
    IdentityError::Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Printable text of at most `max` characters.
fn text(field: &str, value: &str, max: usize) -> Result<(), IdentityError> {
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "control characters are not allowed"));
    }
    if value.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    Ok(())
}

/// Non-empty printable text of at most `max` characters.
fn required(field: &str, value: &str, max: usize) -> Result<(), IdentityError> {
    if value.trim().is_empty() {
        return Err(IdentityError::Missing(field.to_owned()));
    }
    text(field, value, max)
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), IdentityError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    let shown: Vec<String> = allowed
        .iter()
        .map(|a| {
            if a.is_empty() {
                "empty".into()
            } else {
                format!("{a:?}")
            }
        })
        .collect();
    Err(invalid(
        field,
        format!("{value:?} is not one of {}", shown.join(", ")),
    ))
}

/// A nomenclature code: empty, or up to `max` ASCII letters and digits.
fn code(field: &str, value: &str, max: usize) -> Result<(), IdentityError> {
    if value.len() <= max && value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("a code is at most {max} ASCII letters and digits"),
        ))
    }
}

/// `n` ASCII digits, or empty.
fn digits(field: &str, value: &str, n: usize) -> Result<(), IdentityError> {
    if value.is_empty() || (value.len() == n && value.bytes().all(|b| b.is_ascii_digit())) {
        Ok(())
    } else {
        Err(invalid(field, format!("{n} digits")))
    }
}

fn email(field: &str, value: &str) -> Result<(), IdentityError> {
    let ok = value.len() <= 254
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{value:?} is not an e-mail address"),
        ))
    }
}

fn phone(field: &str, value: &str) -> Result<(), IdentityError> {
    let ok = value.len() <= 30
        && value.bytes().any(|b| b.is_ascii_digit())
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || b" +.-()".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{value:?} is not a phone number (digits, spaces, + . - ( ))"),
        ))
    }
}

impl Identity {
    /// Checks the identity's fields: civil status, e-mail and phone, origin, and each
    /// practice (at least one, with a known profession code) and activity.
    pub fn check(&self) -> Result<(), IdentityError> {
        one_of("civilite", &self.civilite, &["M", "MME"])?;
        required("given_name", &self.given_name, NAME_MAX)?;
        required("family_name", &self.family_name, NAME_MAX)?;
        if let Some(e) = &self.email {
            email("email", e)?;
        }
        if let Some(p) = &self.phone {
            phone("phone", p)?;
        }
        self.check_origin()?;
        self.check_birth()?;
        if self.exercices.is_empty() {
            return Err(IdentityError::Missing(
                "a practice (code_profession)".into(),
            ));
        }
        if self.exercices.len() > 10 {
            return Err(invalid("exercices", "at most 10 practices"));
        }
        let many = self.exercices.len() > 1;
        for (i, e) in self.exercices.iter().enumerate() {
            let at = if many {
                format!("exercices[{i}].")
            } else {
                String::new()
            };
            check_exercice(&at, e)?;
        }
        Ok(())
    }

    /// Birth data, each optional: a complete date `YYYY-MM-DD`, COG codes (a commune for the
    /// place, `99…` for the country), a birth place only for someone born in France.
    fn check_birth(&self) -> Result<(), IdentityError> {
        if let Some(d) = &self.birth_date
            && super::full_birth_date(d).as_deref() != Some(d.as_str())
        {
            return Err(invalid(
                "birth_date",
                format!("{d:?} is not a complete date YYYY-MM-DD"),
            ));
        }
        if let Some(c) = &self.birth_country
            && (super::cog_code(c).as_deref() != Some(c.as_str()) || !c.starts_with("99"))
        {
            return Err(invalid(
                "birth_country",
                format!("{c:?} is not an INSEE country code (99100 France)"),
            ));
        }
        if let Some(p) = &self.birth_place {
            if super::cog_code(p).as_deref() != Some(p.as_str()) || p.starts_with("99") {
                return Err(invalid(
                    "birth_place",
                    format!("{p:?} is not an INSEE commune code"),
                ));
            }
            if self
                .birth_country
                .as_deref()
                .is_some_and(|c| c != super::BIRTH_COUNTRY_FRANCE)
            {
                return Err(invalid(
                    "birth_place",
                    "a birth place (commune) is only for someone born in France (99100)",
                ));
            }
        }
        Ok(())
    }

    fn check_origin(&self) -> Result<(), IdentityError> {
        let form = self.national_id.origin();
        let ok = match form {
            IdOrigin::Rpps | IdOrigin::Edit => self.origin == form.as_str(),
            IdOrigin::Structure => {
                !self.origin.is_empty()
                    && self.origin.len() <= 16
                    && self
                        .origin
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    && self.origin != IdOrigin::Rpps.as_str()
                    && self.origin != IdOrigin::Edit.as_str()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(IdentityError::Origin {
                got: self.origin.clone(),
                expected: form.as_str(),
            })
        }
    }
}

fn check_exercice(at: &str, e: &Exercice) -> Result<(), IdentityError> {
    let field = |name: &str| format!("{at}{name}");
    if e.code_profession.is_empty() {
        return Err(IdentityError::Missing(field("code_profession")));
    }
    if profession_label(&e.code_profession).is_none() {
        let known: Vec<&str> = PROFESSIONS.iter().map(|(c, _)| *c).collect();
        return Err(invalid(
            &field("code_profession"),
            format!(
                "unknown profession code {:?} (known: {})",
                e.code_profession,
                known.join(", ")
            ),
        ));
    }
    one_of(
        &field("code_categorie_professionnelle"),
        &e.code_categorie_professionnelle,
        &["C", "M", "E"],
    )?;
    one_of(
        &field("code_civilite_dexercice"),
        &e.code_civilite_dexercice,
        &["", "M", "MME", "DR", "PR"],
    )?;
    text(&field("nom_dexercice"), &e.nom_dexercice, NAME_MAX)?;
    text(&field("prenom_dexercice"), &e.prenom_dexercice, NAME_MAX)?;
    code(
        &field("code_type_savoir_faire"),
        &e.code_type_savoir_faire,
        8,
    )?;
    code(&field("code_savoir_faire"), &e.code_savoir_faire, 10)?;
    if e.activities.len() > 20 {
        return Err(invalid(&field("activities"), "at most 20 activities"));
    }
    let many = e.activities.len() > 1;
    for (i, a) in e.activities.iter().enumerate() {
        let at = if many {
            format!("{at}activities[{i}].")
        } else {
            at.to_owned()
        };
        check_activity(&at, a)?;
    }
    Ok(())
}

fn check_activity(at: &str, a: &Activity) -> Result<(), IdentityError> {
    let field = |name: &str| format!("{at}{name}");
    for (name, value) in a.fields() {
        text(&field(name), value, TEXT_MAX)?;
    }
    one_of(
        &field("code_mode_exercice"),
        &a.code_mode_exercice,
        &["", "L", "S", "B"],
    )?;
    let sector = &a.code_secteur_dactivite;
    let sector_code = sector.len() == 4
        && sector.starts_with("SA")
        && sector.bytes().skip(2).all(|b| b.is_ascii_digit());
    if !sector.is_empty() && !sector_code {
        return Err(invalid(
            &field("code_secteur_dactivite"),
            format!("{sector:?} is not a sector code (SA and 2 digits)"),
        ));
    }
    digits(&field("code_postal"), &a.code_postal, 5)?;
    code(&field("code_commune"), &a.code_commune, 5)?;
    code(&field("code_pays"), &a.code_pays, 5)?;
    code(&field("code_departement"), &a.code_departement, 3)?;
    if !a.adresse_e_mail.is_empty() {
        email(&field("adresse_e_mail"), &a.adresse_e_mail)?;
    }
    Ok(())
}

/// Identities checked for realms of one environment: only [`admit`] makes it, and the
/// provider's store writes nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmittedIdentities {
    environment: Environment,
    identities: Vec<Identity>,
}

impl AdmittedIdentities {
    /// The environment the identities were admitted for.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The identities, in the batch's order.
    pub fn identities(&self) -> &[Identity] {
        &self.identities
    }
}

/// Why a batch of identities was refused: its first bad identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("identity {} ({national_id}): {error}", index + 1)]
pub struct AdmissionError {
    /// The identity's position in the batch (from 0).
    pub index: usize,
    /// Its national identifier.
    pub national_id: String,
    /// What is wrong with it.
    pub error: IdentityError,
}

/// Admits a batch of identities for a realm of `environment`: every identity checked
/// ([`Identity::check`]), admissible in the environment (no EDIT test identity in
/// production), and no national identifier twice. All or nothing.
pub fn admit(
    environment: Environment,
    identities: Vec<Identity>,
) -> Result<AdmittedIdentities, AdmissionError> {
    match problems(environment, &identities).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(AdmittedIdentities {
            environment,
            identities,
        }),
    }
}

/// Every problem of a batch, in the batch's order.
pub(super) fn problems(environment: Environment, identities: &[Identity]) -> Vec<AdmissionError> {
    let mut first_at: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::new();
    for (index, identity) in identities.iter().enumerate() {
        let nid = identity.national_id.as_str();
        let checked = identity
            .national_id
            .admissible_in(environment)
            .map_err(IdentityError::from)
            .and_then(|()| identity.check())
            .and_then(|()| match first_at.get(nid) {
                Some(&first) => Err(IdentityError::Duplicate { first }),
                None => Ok(()),
            });
        first_at.entry(nid).or_insert(index);
        if let Err(error) = checked {
            out.push(AdmissionError {
                index,
                national_id: nid.to_owned(),
                error,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{NationalId, edit_test_identities, generate_test_identities};
    use super::*;

    fn doctor() -> Identity {
        generate_test_identities(1, 1).remove(0)
    }

    fn refused(i: Identity) -> IdentityError {
        admit(Environment::Test, vec![i]).unwrap_err().error
    }

    #[test]
    fn birth_data_is_checked() {
        let born = |date: Option<&str>, place: Option<&str>, country: Option<&str>| Identity {
            birth_date: date.map(str::to_owned),
            birth_place: place.map(str::to_owned),
            birth_country: country.map(str::to_owned),
            ..doctor()
        };
        assert!(born(None, None, None).check().is_ok());
        assert!(
            born(Some("1971-03-09"), Some("75107"), Some("99100"))
                .check()
                .is_ok()
        );
        assert!(
            born(Some("1980-12-31"), None, Some("99134"))
                .check()
                .is_ok()
        );
        assert!(born(None, Some("2A004"), None).check().is_ok());
        for (bad, field) in [
            (born(Some("1971-03-00"), None, None), "birth_date"),
            (born(Some("1971-02-30"), None, None), "birth_date"),
            (born(Some("09/03/1971"), None, None), "birth_date"),
            (born(None, Some("7510"), None), "birth_place"),
            (born(None, Some("99100"), None), "birth_place"),
            (born(None, Some("75107"), Some("99134")), "birth_place"),
            (born(None, None, Some("75107")), "birth_country"),
            (born(None, None, Some("france")), "birth_country"),
        ] {
            match refused(bad) {
                IdentityError::Invalid { field: f, .. } => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn generated_and_shipped_identities_pass() {
        for i in generate_test_identities(3, 100)
            .into_iter()
            .chain(edit_test_identities())
        {
            assert_eq!(i.check(), Ok(()), "{}", i.national_id);
        }
    }

    #[test]
    fn each_kind_of_bad_field_is_named() {
        let mut i = doctor();
        i.civilite = "MLLE".into();
        assert!(refused(i).to_string().starts_with("civilite: "));
        let mut i = doctor();
        i.given_name = " ".into();
        assert_eq!(refused(i), IdentityError::Missing("given_name".into()));
        let mut i = doctor();
        i.family_name = "A\u{7}B".into();
        assert!(refused(i).to_string().contains("control characters"));
        let mut i = doctor();
        i.email = Some("not-an-address".into());
        assert!(refused(i).to_string().starts_with("email: "));
        let mut i = doctor();
        i.phone = Some("call me".into());
        assert!(refused(i).to_string().starts_with("phone: "));
        let mut i = doctor();
        i.exercices.clear();
        assert!(matches!(refused(i), IdentityError::Missing(_)));
        let mut i = doctor();
        i.exercices[0].code_profession = "99".into();
        let e = refused(i).to_string();
        assert!(e.contains("unknown profession code \"99\""), "{e}");
        assert!(e.contains("10, 21, 40"), "{e}");
        let mut i = doctor();
        i.exercices[0].code_profession.clear();
        assert_eq!(refused(i), IdentityError::Missing("code_profession".into()));
        let mut i = doctor();
        i.exercices[0].code_categorie_professionnelle = "X".into();
        assert!(
            refused(i)
                .to_string()
                .starts_with("code_categorie_professionnelle")
        );
        let mut i = doctor();
        i.exercices[0].activities.truncate(1);
        i.exercices[0].activities[0].code_postal = "750".into();
        assert_eq!(refused(i).to_string(), "code_postal: 5 digits");
        let mut i = doctor();
        i.exercices[0].activities[0].code_secteur_dactivite = "XX07".into();
        assert!(refused(i).to_string().contains("code_secteur_dactivite"));
    }

    #[test]
    fn the_position_of_a_later_practice_is_named() {
        let mut i = doctor();
        let mut second = i.exercices[0].clone();
        second.activities.truncate(1);
        second.activities[0].code_mode_exercice = "Z".into();
        i.exercices.push(second);
        let e = refused(i).to_string();
        assert!(e.starts_with("exercices[1].code_mode_exercice: "), "{e}");
    }

    #[test]
    fn origin_follows_the_identifier() {
        let mut i = doctor();
        i.origin = "EDIT".into();
        assert_eq!(
            refused(i),
            IdentityError::Origin {
                got: "EDIT".into(),
                expected: "RPPS"
            }
        );
        let mut i = edit_test_identities().remove(0);
        i.origin = "RPPS".into();
        assert!(matches!(
            refused(i),
            IdentityError::Origin {
                expected: "EDIT",
                ..
            }
        ));
        let mut i = doctor();
        i.national_id = NationalId::parse("500000001815646/CPAT00045").unwrap();
        i.origin = "ADELI".into();
        assert!(admit(Environment::Production, vec![i.clone()]).is_ok());
        i.origin = "EDIT".into();
        assert!(matches!(refused(i), IdentityError::Origin { .. }));
    }

    #[test]
    fn production_refuses_edit_identities_whatever_else() {
        let mut edit = edit_test_identities().remove(0);
        edit.given_name.clear();
        let e = admit(Environment::Production, vec![doctor(), edit]).unwrap_err();
        assert_eq!(e.index, 1);
        assert!(matches!(e.error, IdentityError::OutsideSandbox(_)), "{e}");
        assert!(e.to_string().contains("refused in production"), "{e}");
    }

    #[test]
    fn a_batch_is_all_or_nothing_and_says_every_problem() {
        let mut bad = doctor();
        bad.national_id = NationalId::parse("899700366240").unwrap();
        bad.civilite.clear();
        let batch = vec![doctor(), bad, doctor()];
        let all = problems(Environment::Test, &batch);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].index, 1);
        assert_eq!(all[1].index, 2);
        assert_eq!(all[1].error, IdentityError::Duplicate { first: 0 });
        assert!(admit(Environment::Test, batch).is_err());
    }

    #[test]
    fn profession_labels() {
        assert_eq!(profession_label("10"), Some("Médecin"));
        assert_eq!(profession_label("99"), None);
    }
}
