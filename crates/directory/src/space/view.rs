//! Pure: what the space's page shows of a professional's records: names and identifiers
//! (Practitioner), savoir-faire and diplomas, exercises and activities (PractitionerRole) with
//! their structure (Organization), and the contact details for correspondence.

use crate::record::Record;
use crate::space::contact::Contact;
use serde::Serialize;
use std::collections::HashMap;

/// The professional as the page shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordView {
    /// Civility, first name and name of practice.
    pub name: String,
    /// The identifiers: (kind, value).
    pub identifiers: Vec<(String, String)>,
    /// Savoir-faire (qualifications): (kind, label).
    pub qualifications: Vec<(String, String)>,
    /// Diplomas and authorisations: (kind, label).
    pub diplomas: Vec<(String, String)>,
    /// Exercises and activities.
    pub exercises: Vec<ExerciseView>,
    /// The e-mail for correspondence, if given.
    pub email: Option<String>,
    /// The phone for correspondence, if given.
    pub phone: Option<String>,
}

/// One exercise (a profession) or activity (at a structure).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExerciseView {
    /// The profession.
    pub profession: String,
    /// The mode of practice (liberal, salaried…).
    pub mode: String,
    /// The role at the structure.
    pub role: String,
    /// The structure's name.
    pub structure: String,
    /// Its FINESS site number, if any.
    pub finess: String,
    /// Its address on one line.
    pub address: String,
}

fn nonempty(parts: &[&str], sep: &str) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(sep)
}

/// The view of `practitioner` with its `roles`, `qualifications` and `diplomas`, the
/// establishments of its sites by FINESS number, and its `contact`.
pub fn record_view(
    practitioner: &Record,
    roles: &[Record],
    qualifications: &[Record],
    diplomas: &[Record],
    establishments: &HashMap<String, Record>,
    contact: Option<&Contact>,
) -> RecordView {
    let p = practitioner;
    let mut identifiers = vec![("IdNat_PS".to_owned(), p.key.clone())];
    let pp = p.get("Identifiant PP");
    match p.get("Type d'identifiant PP") {
        "8" if !pp.is_empty() => identifiers.push(("RPPS".into(), pp.into())),
        "0" if !pp.is_empty() => identifiers.push(("ADELI".into(), pp.into())),
        _ => {}
    }
    let pair =
        |r: &Record, kind: &str, label: &str| (r.get(kind).to_owned(), r.get(label).to_owned());
    let mut qualifications: Vec<(String, String)> = qualifications
        .iter()
        .map(|q| pair(q, "Libellé type savoir-faire", "Libellé savoir-faire"))
        .chain(
            roles
                .iter()
                .map(|r| pair(r, "Libellé type savoir-faire", "Libellé savoir-faire")),
        )
        .filter(|(_, label)| !label.is_empty())
        .collect();
    qualifications.sort();
    qualifications.dedup();
    let diplomas = diplomas
        .iter()
        .flat_map(|d| {
            [
                pair(d, "Libellé type diplôme obtenu", "Libellé diplôme obtenu"),
                pair(
                    d,
                    "Libellé type autorisation",
                    "Libellé discipline autorisation",
                ),
            ]
        })
        .filter(|(_, label)| !label.is_empty())
        .collect();
    let exercises = roles
        .iter()
        .map(|r| {
            let finess = r.get("Numéro FINESS site").to_owned();
            let org = establishments.get(&finess);
            let structure = org
                .map(|o| nonempty(&[o.get("rslongue")], ""))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| {
                    nonempty(
                        &[
                            r.get("Raison sociale site"),
                            r.get("Enseigne commerciale site"),
                        ],
                        " — ",
                    )
                });
            let street = nonempty(
                &[
                    r.get("Numéro Voie (coord. structure)"),
                    r.get("Indice répétition voie (coord. structure)"),
                    r.get("Libellé type de voie (coord. structure)"),
                    r.get("Libellé Voie (coord. structure)"),
                ],
                " ",
            );
            let town = nonempty(
                &[
                    r.get("Code postal (coord. structure)"),
                    r.get("Libellé commune (coord. structure)"),
                ],
                " ",
            );
            ExerciseView {
                profession: nonempty(&[r.get("Libellé profession")], ""),
                mode: r.get("Libellé mode exercice").to_owned(),
                role: r.get("Libellé rôle").to_owned(),
                structure,
                finess,
                address: nonempty(&[&street, &town], ", "),
            }
        })
        .collect();
    RecordView {
        name: nonempty(
            &[
                p.get("Libellé civilité d'exercice"),
                p.get("Prénom d'exercice"),
                p.get("Nom d'exercice"),
            ],
            " ",
        ),
        identifiers,
        qualifications,
        diplomas,
        exercises,
        email: contact.and_then(|c| c.email.as_ref().map(|e| e.as_str().to_owned())),
        phone: contact.and_then(|c| c.phone.as_ref().map(|p| p.as_str().to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordKind;

    #[test]
    fn the_page_shows_names_identifiers_exercises_and_contact() {
        let p = Record::of(
            RecordKind::Practitioner,
            "810001234567",
            &[
                ("Type d'identifiant PP", "8"),
                ("Identifiant PP", "10001234567"),
                ("Libellé civilité d'exercice", "Docteur"),
                ("Prénom d'exercice", "Jeanne"),
                ("Nom d'exercice", "MARTIN"),
            ],
        );
        let role = Record::of(
            RecordKind::PractitionerRole,
            "810001234567|1",
            &[
                ("Libellé profession", "Médecin"),
                ("Libellé mode exercice", "Libéral"),
                ("Libellé savoir-faire", "Cardiologie"),
                ("Libellé type savoir-faire", "Spécialité ordinale"),
                ("Numéro FINESS site", "750000001"),
                ("Raison sociale site", "CABINET"),
                ("Numéro Voie (coord. structure)", "3"),
                ("Libellé type de voie (coord. structure)", "Rue"),
                ("Libellé Voie (coord. structure)", "de la Paix"),
                ("Code postal (coord. structure)", "75002"),
                ("Libellé commune (coord. structure)", "Paris"),
            ],
        );
        let diploma = Record::of(
            RecordKind::Diploma,
            "810001234567|d",
            &[
                ("Libellé type diplôme obtenu", "Diplôme d'État"),
                ("Libellé diplôme obtenu", "DE docteur en médecine"),
            ],
        );
        let org = Record::of(
            RecordKind::Establishment,
            "750000001",
            &[("rslongue", "CENTRE DE SANTÉ DE LA PAIX")],
        );
        let orgs = HashMap::from([("750000001".to_owned(), org)]);
        let contact = crate::space::contact::check_form("j@x.fr", "").unwrap();
        let v = record_view(&p, &[role], &[], &[diploma], &orgs, Some(&contact));
        assert_eq!(v.name, "Docteur Jeanne MARTIN");
        assert_eq!(
            v.identifiers,
            [
                ("IdNat_PS".to_owned(), "810001234567".to_owned()),
                ("RPPS".to_owned(), "10001234567".to_owned())
            ]
        );
        assert_eq!(
            v.qualifications,
            [("Spécialité ordinale".to_owned(), "Cardiologie".to_owned())]
        );
        assert_eq!(v.diplomas.len(), 1);
        let e = &v.exercises[0];
        assert_eq!(e.structure, "CENTRE DE SANTÉ DE LA PAIX");
        assert_eq!(e.address, "3 Rue de la Paix, 75002 Paris");
        assert_eq!(v.email.as_deref(), Some("j@x.fr"));
        assert_eq!(v.phone, None);
    }
}
