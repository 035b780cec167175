//! Synthetic extracts in exactly the public formats, at any size: RPPS numbers in the `997…`
//! test range (the range of coeur's generated test identities), FINESS and SIRET numbers with
//! valid Luhn keys, realistic professions, specialities, exercise modes and structures.
//! Reproducible from a seed.

use crate::extract::columns;
use coeur_common::identity::luhn_key;
use coeur_common::random::testing::SeededRandom;
use std::io::{self, Write};

/// (code, label) of a TRE_G15 profession or of a speciality.
type Coded = (&'static str, &'static str);

const PROFESSIONS: &[(&str, &str, &[Coded])] = &[
    (
        "10",
        "Médecin",
        &[
            ("SM26", "Qualifié en Médecine Générale"),
            ("SM04", "Cardiologie et maladies vasculaires"),
            ("SM49", "Santé publique et médecine sociale"),
            ("SM54", "Pédiatrie"),
        ],
    ),
    ("21", "Pharmacien", &[]),
    (
        "40",
        "Chirurgien-Dentiste",
        &[("SCD01", "Orthopédie dento-faciale")],
    ),
    ("50", "Sage-Femme", &[]),
    ("60", "Infirmier", &[]),
    ("70", "Masseur-Kinésithérapeute", &[]),
    ("80", "Pédicure-Podologue", &[]),
];
const FAMILIES: &[&str] = &[
    "MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY",
    "MOREAU", "SIMON", "LAURENT", "LEFÈVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX",
    "VINCENT", "FOURNIER",
];
const GIVEN: &[(&str, &str)] = &[
    ("M", "Jean"),
    ("MME", "Marie"),
    ("M", "Pierre"),
    ("MME", "Sophie"),
    ("M", "François"),
    ("MME", "Hélène"),
    ("M", "Éric"),
    ("MME", "Chloé"),
    ("M", "Nicolas"),
    ("MME", "Camille"),
];
const TOWNS: &[(&str, &str, &str)] = &[
    ("75012", "75112", "Paris"),
    ("69003", "69383", "Lyon"),
    ("13005", "13205", "Marseille"),
    ("33000", "33063", "Bordeaux"),
    ("59000", "59350", "Lille"),
    ("31000", "31555", "Toulouse"),
    ("44000", "44109", "Nantes"),
    ("67000", "67482", "Strasbourg"),
];
const STREETS: &[&str] = &[
    "DE LA REPUBLIQUE",
    "VICTOR HUGO",
    "PASTEUR",
    "JEAN JAURES",
    "DES LILAS",
    "DU GENERAL LECLERC",
];
const CATEGORIES: &[(&str, &str, &str)] = &[
    ("355", "C.H.", "Centre Hospitalier (C.H.)"),
    ("124", "C.S.", "Centre de Santé"),
    ("620", "Pharmacie", "Pharmacie d'Officine"),
    ("611", "Labo.", "Laboratoire de Biologie Médicale"),
    ("365", "Clin.", "Etablissement de Soins Pluridisciplinaire"),
];

fn pick<'a, T>(rng: &SeededRandom, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

/// A structure of the synthetic FINESS extract.
#[derive(Debug, Clone)]
pub struct Structure {
    /// FINESS of the site.
    pub finess_et: String,
    /// FINESS of the legal entity.
    pub finess_ej: String,
    /// SIRET.
    pub siret: String,
    /// Name.
    pub name: String,
    /// (postal code, commune code, town).
    pub town: (&'static str, &'static str, &'static str),
    /// Category (code, short, long).
    pub category: (&'static str, &'static str, &'static str),
}

fn keyed(body: String) -> String {
    let k = luhn_key(&body);
    format!("{body}{k}")
}

/// `count` structures; numbers are distinct and carry valid keys.
pub fn structures(rng: &SeededRandom, count: usize) -> Vec<Structure> {
    (0..count)
        .map(|i| {
            let town = *pick(rng, TOWNS);
            let dept = &town.0[..2];
            let category = *pick(rng, CATEGORIES);
            let siren = keyed(format!("99{:06}", i));
            Structure {
                finess_et: keyed(format!("{dept}9{:05}", i % 100_000)),
                finess_ej: keyed(format!("{dept}8{:05}", (i / 3) % 100_000)),
                siret: keyed(format!("{siren}{:04}", 1 + i % 9)),
                name: format!("{} {} {}", category.1, town.2.to_uppercase(), i + 1),
                town,
                category,
            }
        })
        .collect()
}

/// Writes the synthetic extracts: `Personne_activite` (56-column variant), `SavoirFaire`,
/// `Dipl_AutExerc`, MSSanté (these in UTF-8, `|`, trailing separator) and FINESS (Latin-1, `;`).
pub struct Writers<'a> {
    /// `PS_LibreAcces_Personne_activite`.
    pub activite: &'a mut dyn Write,
    /// `PS_LibreAcces_SavoirFaire`.
    pub savoir_faire: &'a mut dyn Write,
    /// `PS_LibreAcces_Dipl_AutExerc`.
    pub diplome: &'a mut dyn Write,
    /// `Extraction_Correspondance_MSSante`.
    pub mssante: &'a mut dyn Write,
    /// FINESS establishments.
    pub finess: &'a mut dyn Write,
    /// `Porteurs_CPS_CPF`, the professionals' cards.
    pub cartes: &'a mut dyn Write,
}

fn line(out: &mut dyn Write, fields: &[&str], trailing: bool) -> io::Result<()> {
    out.write_all(fields.join("|").as_bytes())?;
    out.write_all(if trailing { b"|\n" } else { b"\n" })
}

fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// The synthetic extracts of [`generate`], in memory.
#[derive(Debug, Default)]
pub struct Generated {
    /// `PS_LibreAcces_Personne_activite`.
    pub activite: Vec<u8>,
    /// `PS_LibreAcces_SavoirFaire`.
    pub savoir_faire: Vec<u8>,
    /// `PS_LibreAcces_Dipl_AutExerc`.
    pub diplome: Vec<u8>,
    /// `Extraction_Correspondance_MSSante`.
    pub mssante: Vec<u8>,
    /// FINESS establishments.
    pub finess: Vec<u8>,
    /// `Porteurs_CPS_CPF`.
    pub cartes: Vec<u8>,
}

/// [`generate`] into memory (the first start's fill, tests).
pub fn generate_in_memory(seed: u64, persons: usize, structures: usize) -> io::Result<Generated> {
    let mut g = Generated::default();
    generate(
        seed,
        persons,
        structures,
        Writers {
            activite: &mut g.activite,
            savoir_faire: &mut g.savoir_faire,
            diplome: &mut g.diplome,
            mssante: &mut g.mssante,
            finess: &mut g.finess,
            cartes: &mut g.cartes,
        },
    )?;
    Ok(g)
}

/// Generates `persons` professionals (one or two exercises each) and `structures` FINESS sites.
pub fn generate(
    seed: u64,
    persons: usize,
    structure_count: usize,
    w: Writers<'_>,
) -> io::Result<()> {
    let rng = SeededRandom::new(seed);
    let sites = structures(&rng, structure_count.max(1));
    let pa: Vec<&str> = columns::PERSONNE_ACTIVITE
        .iter()
        .chain(columns::PERSONNE_ACTIVITE_ROLE)
        .copied()
        .collect();
    line(w.activite, &pa, true)?;
    line(w.savoir_faire, columns::SAVOIR_FAIRE, true)?;
    line(w.diplome, columns::DIPLOME, true)?;
    line(w.mssante, columns::MSSANTE, false)?;
    line(w.cartes, columns::CARTES, true)?;
    w.finess
        .write_all(latin1(&columns::FINESS.join(";")).as_slice())?;
    w.finess.write_all(b"\n")?;
    for s in &sites {
        let (cp, cog, town) = s.town;
        let dept = &cp[..2];
        let row = [
            s.finess_et.as_str(),
            &s.finess_ej,
            &s.name,
            &s.name,
            "",
            "",
            "1",
            "R",
            "DE LA SANTE",
            "",
            "",
            "",
            "",
            dept,
            "",
            cog,
            cp,
            "",
            &format!("{cp} {}", town.to_uppercase()),
            "0100000000",
            "",
            s.category.0,
            s.category.1,
            s.category.2,
            "",
            "",
            &s.siret,
            "8610Z",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "2001-01-01",
            "2001-01-01",
            "2024-01-01",
        ];
        w.finess.write_all(&latin1(&row.join(";")))?;
        w.finess.write_all(b"\n")?;
    }
    // Every third site has a mailbox of its own (`ORG`), named after its FINESS number.
    for s in sites.iter().step_by(3) {
        let addr = format!("secretariat.{}@test.mssante.fr", s.finess_et);
        let mut row = vec![""; columns::MSSANTE.len()];
        row[0] = "ORG";
        row[1] = addr.as_str();
        row[5] = "1";
        row[6] = s.finess_et.as_str();
        row[18] = s.name.as_str();
        row[28] = s.town.0;
        row[29] = &s.town.0[..2];
        row[30] = "France";
        line(w.mssante, &row, false)?;
    }
    let mut used = std::collections::HashSet::new();
    for i in 0..persons {
        let rpps = loop {
            let c = keyed(format!("997{:07}", rng.below(10_000_000)));
            if used.insert(c.clone()) {
                break c;
            }
        };
        let idnat = format!("8{rpps}");
        // Beyond the first 10,000 professionals, double-barrelled family names (400 of them):
        // large synthetic extracts get a spread of names closer to the real one (the commonest
        // name about 0.3 % of professionals), small ones stay as they were.
        let base = *pick(&rng, FAMILIES);
        let family_name = if i < 10_000 {
            base.to_owned()
        } else {
            format!("{base}-{}", FAMILIES[(i / FAMILIES.len()) % FAMILIES.len()])
        };
        let family = family_name.as_str();
        let (civ, given) = *pick(&rng, GIVEN);
        let (pcode, plabel, specs) = *pick(&rng, PROFESSIONS);
        let spec = (!specs.is_empty()).then(|| *pick(&rng, specs));
        let (tsf, ltsf, csf, lsf) = match spec {
            Some((c, l)) => ("S", "Spécialité ordinale", c, l),
            None => ("", "", "", ""),
        };
        let exercises = 1 + usize::from(i % 4 == 0);
        for e in 0..exercises {
            let site = &sites[(i + e * 7) % sites.len()];
            let (cp, cog, town) = site.town;
            let liberal = e == 0 && i % 2 == 0;
            let (mode, lmode) = if liberal {
                ("L", "Libéral")
            } else {
                ("S", "Salarié")
            };
            let tech = format!("F{}", site.finess_et);
            let siren = &site.siret[..9];
            let numero = (1 + rng.below(120)).to_string();
            let cedex = format!("{cp} {}", town.to_uppercase());
            let row: Vec<&str> = vec![
                "8",
                &rpps,
                &idnat,
                "DR",
                "Docteur",
                civ,
                if civ == "M" { "Monsieur" } else { "Madame" },
                family,
                given,
                pcode,
                plabel,
                "C",
                "Civil",
                tsf,
                ltsf,
                csf,
                lsf,
                mode,
                lmode,
                &site.siret,
                siren,
                &site.finess_et,
                &site.finess_ej,
                &tech,
                &site.name,
                "",
                "",
                "",
                &numero,
                "",
                "R",
                "Rue",
                *pick(&rng, STREETS),
                "",
                &cedex,
                cp,
                cog,
                town,
                "99000",
                "France",
                "0100000000",
                "",
                "",
                "",
                &cp[..2],
                "",
                "",
                "CNOM/CNOM/CNOM",
                "SA07",
                "Cabinet individuel",
                "",
                "",
                "FON-01",
                "Fonction",
                "GENR01",
                "Consultation",
            ];
            line(w.activite, &row, true)?;
        }
        if let Some((c, l)) = spec {
            line(
                w.savoir_faire,
                &[
                    "8",
                    &rpps,
                    &idnat,
                    family,
                    given,
                    pcode,
                    plabel,
                    "C",
                    "Civil",
                    "S",
                    "Spécialité ordinale",
                    c,
                    l,
                ],
                true,
            )?;
        }
        line(
            w.diplome,
            &[
                "8",
                &rpps,
                &idnat,
                family,
                given,
                "DE",
                "Diplôme d'Etat",
                &format!("DE{pcode}"),
                &format!("Diplôme d'Etat de {plabel}"),
                "",
                "",
                "",
                "",
            ],
            true,
        )?;
        // Every other professional has a CPS card, numbered after its rank.
        if i % 2 == 0 {
            let number = format!("2{:09}", i);
            line(
                w.cartes,
                &[
                    "8",
                    &rpps,
                    &idnat,
                    "CPS",
                    "Carte de Professionnel de Santé",
                    &number,
                    &idnat,
                    "01/01/2025",
                    "01/01/2028",
                    "",
                    "01/01/2025",
                ],
                true,
            )?;
        }
        if i % 3 == 0 {
            let addr = format!(
                "{}.{}{}@test.mssante.fr",
                given.to_lowercase(),
                family.to_lowercase(),
                i
            );
            let site = &sites[i % sites.len()];
            line(
                w.mssante,
                &[
                    "PER",
                    &addr,
                    "8",
                    &rpps,
                    &idnat,
                    "1",
                    &site.finess_et,
                    "",
                    "DR",
                    family,
                    given,
                    "C",
                    "Civil",
                    pcode,
                    plabel,
                    csf,
                    lsf,
                    "O",
                    &site.name,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    site.town.0,
                    &site.town.0[..2],
                    "France",
                ],
                false,
            )?;
        }
    }
    Ok(())
}

/// Writes `input` as the one file `name` (deflated) of a ZIP archive, as the extracts are
/// published.
pub fn zip_extract<W: std::io::Write + std::io::Seek>(
    name: &str,
    input: &mut dyn std::io::Read,
    out: W,
) -> std::io::Result<W> {
    let mut zip = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file(name, options)
        .map_err(std::io::Error::other)?;
    std::io::copy(input, &mut zip)?;
    zip.finish().map_err(std::io::Error::other)
}

/// Authorised care activities (TRE_R274 activity, TRE_R275 modality, TRE_R276 form, with
/// their labels) the synthetic authorisations extract gives its hospitals and clinics.
const ACTIVITIES: &[[&str; 6]] = &[
    [
        "01",
        "Médecine",
        "00",
        "Pas de modalité",
        "01",
        "Hospitalisation complète (24 heures consécutives ou plus)",
    ],
    [
        "02",
        "Chirurgie",
        "00",
        "Pas de modalité",
        "07",
        "Chirurgie ambulatoire",
    ],
    [
        "16",
        "Traitement de l'insuffisance rénale chronique par épuration extrarénale",
        "40",
        "Hémodialyse en centre pour adultes",
        "00",
        "Pas de forme",
    ],
    [
        "14",
        "Médecine d'urgence",
        "00",
        "Pas de modalité",
        "00",
        "Pas de forme",
    ],
];

/// Writes the synthetic FINESS extract of authorised care activities (Latin-1, `;`, header
/// [`columns::AUTORISATIONS`] then the ARHGOS number and dates) for the `structure_count`
/// structures [`generate`] writes with the same `seed`: one to three activities for each
/// hospital and clinic, one for the first structure whatever it is.
pub fn authorisations(seed: u64, structure_count: usize, out: &mut dyn Write) -> io::Result<()> {
    let rng = SeededRandom::new(seed);
    let sites = structures(&rng, structure_count.max(1));
    let header: Vec<&str> = columns::AUTORISATIONS
        .iter()
        .chain(columns::AUTORISATIONS_OPTIONAL)
        .copied()
        .collect();
    out.write_all(&latin1(&header.join(";")))?;
    out.write_all(b"\n")?;
    let mut number = 0u32;
    for (i, s) in sites.iter().enumerate() {
        let hospital = matches!(s.category.0, "355" | "365");
        let count = match (hospital, i) {
            (true, _) => 1 + i % 3,
            (false, 0) => 1,
            (false, _) => 0,
        };
        for a in ACTIVITIES.iter().cycle().skip(i).take(count) {
            number += 1;
            let noautor = format!("{}{:07}", &s.town.0[..2], number);
            let arhgos = format!("{}-{}-{:05}", &s.town.0[..2], &s.town.0[..2], number);
            let row = [
                s.finess_ej.as_str(),
                &s.name,
                a[0],
                a[1],
                a[2],
                a[3],
                a[4],
                a[5],
                &noautor,
                "2019-06-01",
                &s.finess_et,
                &s.name,
                &arhgos,
                "2019-09-01",
                "2026-05-31",
            ];
            out.write_all(&latin1(&row.join(";")))?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// Social equipment (discipline, type of activity, clientele: TRE_R280, TRE_R209, TRE_R279,
/// with their labels) the generated structures have.
const EQUIPMENTS: &[[&str; 6]] = &[
    [
        "924",
        "Accueil pour Personnes Âgées",
        "11",
        "Hébergement Complet Internat",
        "711",
        "Personnes Âgées dépendantes",
    ],
    [
        "657",
        "Accueil temporaire pour Personnes Âgées",
        "11",
        "Hébergement Complet Internat",
        "711",
        "Personnes Âgées dépendantes",
    ],
    [
        "961",
        "Pôles d'activité et de soins adaptés",
        "21",
        "Accueil de Jour",
        "436",
        "Personnes Alzheimer ou maladies apparentées",
    ],
];

/// Writes the FINESS social equipment extract (the `equipementsocial` records, under a header
/// line of their field names, `;`, Latin-1) of the structures [`generate`] writes with the
/// same seed and count: one or two equipments at every other site.
pub fn social_equipment(seed: u64, structure_count: usize, out: &mut dyn Write) -> io::Result<()> {
    let rng = SeededRandom::new(seed);
    let sites = structures(&rng, structure_count.max(1));
    let header: Vec<&str> = columns::EQUIPEMENTS
        .iter()
        .chain(columns::EQUIPEMENTS_OPTIONAL)
        .copied()
        .collect();
    out.write_all(&latin1(&header.join(";")))?;
    out.write_all(b"\n")?;
    for (i, s) in sites.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
        for e in EQUIPMENTS.iter().cycle().skip(i).take(1 + i % 4 / 2) {
            let capacity = (10 + i % 70).to_string();
            let row = [
                s.finess_et.as_str(),
                e[0],
                e[1],
                e[2],
                e[3],
                e[4],
                e[5],
                &capacity,
                &capacity,
                "2010-01-01",
                "2011-01-01",
                "N",
                "N",
            ];
            out.write_all(&latin1(&row.join(";")))?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{ExtractKind, collect};
    use crate::record::RecordKind;

    #[test]
    fn the_authorisations_name_the_generated_sites() {
        let Generated {
            finess: f,
            mssante: m,
            cartes: c,
            ..
        } = generate_in_memory(3, 5, 12).unwrap();
        // The cards and the structures' mailboxes read back without a reject.
        let (kind, cards) = collect(c.as_slice()).unwrap();
        assert_eq!(kind, ExtractKind::Cartes);
        assert!(cards.rejected.is_empty(), "{:?}", cards.rejected);
        assert_eq!(cards.records.len(), 3);
        let (_, boxes) = collect(m.as_slice()).unwrap();
        assert!(boxes.rejected.is_empty(), "{:?}", boxes.rejected);
        let own = boxes
            .records
            .values()
            .filter(|r| crate::index::mailbox_structure(r).is_some())
            .count();
        assert_eq!(own, 4, "every third of 12 sites");
        let mut h = vec![];
        authorisations(3, 12, &mut h).unwrap();
        let mut e = vec![];
        social_equipment(3, 12, &mut e).unwrap();
        let (kind, equipment) = collect(e.as_slice()).unwrap();
        assert_eq!(kind, ExtractKind::Equipements);
        assert!(equipment.rejected.is_empty(), "{:?}", equipment.rejected);
        assert!(!equipment.records.is_empty());
        assert!(std::str::from_utf8(&h).is_err(), "Latin-1, as FINESS");
        let (_, sites) = collect(f.as_slice()).unwrap();
        for r in equipment.records.values() {
            assert_eq!(r.kind, RecordKind::SocialEquipment);
            let site = (RecordKind::Establishment, r.get("nofinesset").to_owned());
            assert!(sites.records.contains_key(&site), "{}", r.key);
        }
        let (kind, c) = collect(h.as_slice()).unwrap();
        assert_eq!(kind, ExtractKind::Authorisations);
        assert!(c.rejected.is_empty(), "{:?}", c.rejected);
        assert!(!c.records.is_empty());
        for r in c.records.values() {
            assert_eq!(r.kind, RecordKind::Authorisation);
            let site = (RecordKind::Establishment, r.get("nofinesset").to_owned());
            assert!(sites.records.contains_key(&site), "{}", r.key);
            assert!(
                r.get("noautorarhgos").len() == 11,
                "{}",
                r.get("noautorarhgos")
            );
        }
    }
}
