//! The ROR value sets (MEv3) the offer uses, each with the codes the service accepts and
//! generates. A code outside its value set is refused at the API's edge
//! ([`ValueSet::check`]), so nothing stored carries an unknown code.
//!
//! The codes and labels are those of the ANS's NOS tables as published in the ANS's
//! "Terminologies de Santé" FHIR IG (`ans.fr.terminologies`, 1.10.0 to 1.12.0: the
//! CodeSystems `TRE_R329-NatureCapacite`, `TRE_R330-TypeStatutCapacite`, `TRE_R331`,
//! `TRE_R332`, `TRE_R335`, `TRE_R337`, `TRE_R227`, the ValueSets `JDV_J188`, `JDV_J189`,
//! `JDV_J190`, `JDV_J193`, `JDV_J17`, `JDV_J19`), and as the ROR FHIR IG
//! (`ansforge/IG-fhir-repertoire-offre-ressources-sante`: the extension
//! `ror-location-supported-capacity`, the examples `ror-location-exemple-1` and
//! `ror-healthcareservice-exemple`) codes them: a `Coding`'s `system` is the code system
//! (`TRE_R…`), the value set (`JDV_J…`) only binds the element. J188, J189, J190, J193 are
//! their value sets' expansions; J187, J195 and J20, whose expansions were not found, the
//! codes of their code systems; J17 (ActiviteOperationnelle, some 250 codes) and J19
//! (ModePriseEnCharge) samples of their value sets; J237 the regions of the synthetic data
//! (INSEE codes, TRE_R30-RegionOM). Adding a code is adding a row.
//!
//! Each code has the table's label, in French: the official one, which FHIR codings carry as
//! their `display`; and an English one, which the editors' pages show when they are in
//! English (the regions' names are the same in both).

use coeur_web::Lang;

/// A value set: the code system of its codings (`system`), its own URL, its codes with
/// their labels in French and English.
#[derive(Debug)]
pub struct ValueSet {
    /// Short name, as in the IG (`J187`).
    pub id: &'static str,
    /// The code system's URL: the `system` of codings (`TRE_R…`).
    pub system: &'static str,
    /// The value set's URL (`JDV_J…`), which the IG binds the element to.
    pub url: &'static str,
    /// `(code, label, English label)`: the label is the table's, in French.
    pub codes: &'static [(&'static str, &'static str, &'static str)],
}

impl ValueSet {
    /// The code's label (the table's, in French: a coding's `display`), when the code belongs
    /// to the set.
    pub fn label(&self, code: &str) -> Option<&'static str> {
        self.label_in(code, Lang::Fr)
    }

    /// The code's label in `lang`, when the code belongs to the set.
    pub fn label_in(&self, code: &str, lang: Lang) -> Option<&'static str> {
        self.codes
            .iter()
            .find(|(c, _, _)| *c == code)
            .map(|(_, fr, en)| match lang {
                Lang::Fr => *fr,
                Lang::En => *en,
            })
    }

    /// Whether `code` belongs to the set.
    pub fn contains(&self, code: &str) -> bool {
        self.label(code).is_some()
    }

    /// The code, or an error naming the value set.
    pub fn check(&self, code: &str) -> Result<(), String> {
        if self.contains(code) {
            Ok(())
        } else {
            Err(format!("{code:?} is not a code of {}", self.id))
        }
    }
}

/// The NOS tables' base URL.
pub const MOS: &str = "https://mos.esante.gouv.fr/NOS";

macro_rules! value_set {
    ($name:ident, $id:literal, $vs:literal, $cs:literal, [$(($c:literal, $l:literal, $en:literal)),* $(,)?]) => {
        #[doc = concat!("`", $id, "` (", $vs, ", codes of ", $cs, ").")]
        pub const $name: ValueSet = ValueSet {
            id: $id,
            system: concat!("https://mos.esante.gouv.fr/NOS/", $cs),
            url: concat!("https://mos.esante.gouv.fr/NOS/", $vs),
            codes: &[$(($c, $l, $en)),*],
        };
    };
}

value_set!(
    CAPACITY_TYPE,
    "J187",
    "JDV_J187-NatureCapacite-ROR/FHIR/JDV-J187-NatureCapacite-ROR",
    "TRE_R329-NatureCapacite/FHIR/TRE-R329-NatureCapacite",
    [
        ("01", "Lit", "Bed"),
        ("02", "Place", "Place"),
        ("03", "Logement", "Housing unit"),
    ]
);
value_set!(
    CAPACITY_STATUS,
    "J188",
    "JDV_J188-TypeStatutCapacite-ROR/FHIR/JDV-J188-TypeStatutCapacite-ROR",
    "TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite",
    [
        ("01", "Installé", "Installed"),
        ("02", "Disponible", "Available"),
        ("03", "Occupé", "Occupied"),
        ("04", "Réservé", "Reserved"),
        ("05", "Fermé", "Closed"),
        ("06", "Supplémentaire", "Additional"),
    ]
);
value_set!(
    TEMPORALITY,
    "J189",
    "JDV_J189-TemporaliteCapacite-ROR/FHIR/JDV-J189-TemporaliteCapacite-ROR",
    "TRE_R331-TemporaliteCapacite/FHIR/TRE-R331-TemporaliteCapacite",
    [
        ("01", "Courant", "Current"),
        ("02", "Prévisionnel 1 heure", "Forecast 1 hour"),
        ("03", "Prévisionnel 24 heures", "Forecast 24 hours"),
        ("04", "Prévisionnel 48 heures", "Forecast 48 hours"),
        ("05", "Prévisionnel 7 jours", "Forecast 7 days"),
    ]
);
value_set!(
    GENDER,
    "J190",
    "JDV_J190-GenreCapacite-ROR/FHIR/JDV-J190-GenreCapacite-ROR",
    "TRE_R332-GenreCapacite/FHIR/TRE-R332-GenreCapacite",
    [
        ("01", "Femme", "Woman"),
        ("02", "Homme", "Man"),
        ("04", "Indéterminé", "Undetermined"),
    ]
);
value_set!(
    SOURCE,
    "J193",
    "JDV_J193-TypeSourceCapacite-ROR/FHIR/JDV-J193-TypeSourceCapacite-ROR",
    "TRE_R335-TypeSourceCapacite/FHIR/TRE-R335-TypeSourceCapacite",
    [
        ("01", "Saisie manuelle", "Manual entry"),
        ("02", "Bed management", "Bed management"),
        (
            "03",
            "Gestion administrative du malade (GAM)",
            "Patient administration system (GAM)"
        ),
        (
            "04",
            "Dossier patient informatisé (DPI)",
            "Electronic patient record (DPI)"
        ),
    ]
);
value_set!(
    TEMPORARY_ASSIGNMENT,
    "J195",
    "JDV_J195-AffectationTemporaire-ROR/FHIR/JDV-J195-AffectationTemporaire-ROR",
    "TRE_R337-AffectationTemporaire/FHIR/TRE-R337-AffectationTemporaire",
    [
        ("01", "Aucune", "None"),
        ("02", "Covid+", "Covid+"),
        ("03", "Covid-", "Covid-"),
    ]
);
value_set!(
    ACTIVITY_FIELD,
    "J20",
    "JDV_J20-ChampActivite-ROR/FHIR/JDV-J20-ChampActivite-ROR",
    "TRE_R227-ChampActivite/FHIR/TRE-R227-ChampActivite",
    [
        (
            "01",
            "Médecine Chirurgie Obstétrique (MCO)",
            "Medicine, surgery, obstetrics (MCO)"
        ),
        (
            "02",
            "Soins Médicaux et de réadaptation (SMR)",
            "Medical and rehabilitation care (SMR)"
        ),
        ("03", "Psychiatrie (PSY)", "Psychiatry (PSY)"),
        ("04", "Médico-social (MS)", "Medico-social (MS)"),
        ("05", "Ville", "Community care"),
    ]
);
value_set!(
    OPERATIONAL_ACTIVITY,
    "J17",
    "JDV_J17-ActiviteOperationnelle-ROR/FHIR/JDV-J17-ActiviteOperationnelle-ROR",
    "TRE_R211-ActiviteOperationnelle/FHIR/TRE-R211-ActiviteOperationnelle",
    [
        ("013", "Cardiologie générale", "General cardiology"),
        ("050", "Gériatrie, Gérontologie", "Geriatrics, gerontology"),
        ("083", "Médecine polyvalente", "General medicine"),
        ("088", "Médecine pédiatrique", "Paediatric medicine"),
        ("127", "Réanimation polyvalente", "General intensive care"),
        ("172", "Réadaptation polyvalente", "General rehabilitation"),
        ("229", "Psychiatrie adulte", "Adult psychiatry"),
        (
            "241",
            "Réadaptation gériatrique",
            "Geriatric rehabilitation"
        ),
    ]
);
value_set!(
    CARE_MODE,
    "J19",
    "JDV_J19-ModePriseEnCharge-ROR/FHIR/JDV-J19-ModePriseEnCharge-ROR",
    "TRE_R213-ModePriseEnCharge/FHIR/TRE-R213-ModePriseEnCharge",
    [
        (
            "28",
            "Hospitalisation complète (HC)",
            "Full-time hospitalisation (HC)"
        ),
        (
            "29",
            "Hospitalisation de jour (HJ)",
            "Day hospitalisation (HJ)"
        ),
        (
            "32",
            "Consultation (CS) ou Séance",
            "Consultation (CS) or session"
        ),
    ]
);
value_set!(
    REGION,
    "J237",
    "JDV_J237-RegionOM-ROR/FHIR/JDV-J237-RegionOM-ROR",
    "TRE_R30-RegionOM/FHIR/TRE-R30-RegionOM",
    [
        ("11", "Île-de-France", "Île-de-France"),
        ("32", "Hauts-de-France", "Hauts-de-France"),
        ("44", "Grand Est", "Grand Est"),
        ("52", "Pays de la Loire", "Pays de la Loire"),
        ("75", "Nouvelle-Aquitaine", "Nouvelle-Aquitaine"),
        ("76", "Occitanie", "Occitanie"),
        ("84", "Auvergne-Rhône-Alpes", "Auvergne-Rhône-Alpes"),
        (
            "93",
            "Provence-Alpes-Côte d'Azur",
            "Provence-Alpes-Côte d'Azur"
        ),
    ]
);

/// Every value set.
pub const ALL: [&ValueSet; 10] = [
    &CAPACITY_TYPE,
    &CAPACITY_STATUS,
    &TEMPORALITY,
    &GENDER,
    &SOURCE,
    &TEMPORARY_ASSIGNMENT,
    &ACTIVITY_FIELD,
    &OPERATIONAL_ACTIVITY,
    &CARE_MODE,
    &REGION,
];

/// The region (J237) of a French department (the postal code's first two digits), for the
/// departments of the synthetic data and their neighbours.
pub fn region_of_postal_code(postal_code: &str) -> Option<&'static str> {
    let dept = postal_code.get(..2)?;
    Some(match dept {
        "75" | "77" | "78" | "91" | "92" | "93" | "94" | "95" => "11",
        "02" | "59" | "60" | "62" | "80" => "32",
        "08" | "10" | "51" | "52" | "54" | "55" | "57" | "67" | "68" | "88" => "44",
        "44" | "49" | "53" | "72" | "85" => "52",
        "16" | "17" | "19" | "23" | "24" | "33" | "40" | "47" | "64" | "79" | "86" | "87" => "75",
        "09" | "11" | "12" | "30" | "31" | "32" | "34" | "46" | "48" | "65" | "66" | "81"
        | "82" => "76",
        "01" | "03" | "07" | "15" | "26" | "38" | "42" | "43" | "63" | "69" | "73" | "74" => "84",
        "04" | "05" | "06" | "13" | "83" | "84" => "93",
        _ => return None,
    })
}

/// The canonical URL of the ROR implementation guide.
pub const IG: &str = "https://interop.esante.gouv.fr/ig/fhir/ror";

/// The supported-capacity extension's URL.
pub const SUPPORTED_CAPACITY: &str = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity";

/// FINESS identifiers' system.
pub const SYSTEM_FINESS: &str = "https://finess.esante.gouv.fr";

/// The offer's own identifiers (identifiantOffre, idLocation).
pub const SYSTEM_ROR: &str = "https://ror.esante.gouv.fr";

/// `_tag` system of regions.
pub fn region_system() -> &'static str {
    REGION.system
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_sets_know_their_codes() {
        assert!(CAPACITY_TYPE.contains("01"));
        assert!(!CAPACITY_TYPE.contains("99"));
        assert_eq!(CAPACITY_TYPE.label("03"), Some("Logement"));
        assert_eq!(CAPACITY_STATUS.label("02"), Some("Disponible"));
        assert_eq!(CAPACITY_STATUS.label("03"), Some("Occupé"));
        assert_eq!(CAPACITY_STATUS.label("05"), Some("Fermé"));
        assert!(CAPACITY_STATUS.check("x").unwrap_err().contains("J188"));
        assert!(!CAPACITY_STATUS.contains("07"));
        // Codings name the code system, the binding the value set.
        assert_eq!(
            CAPACITY_STATUS.system,
            "https://mos.esante.gouv.fr/NOS/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite"
        );
        assert!(CAPACITY_TYPE.url.contains("/JDV_J187-NatureCapacite-ROR/"));
        assert!(REGION.system.contains("/TRE_R30-RegionOM/"));
        for vs in ALL {
            assert!(vs.system.starts_with(MOS) && vs.system.contains("/TRE_R"));
            assert!(vs.url.starts_with(MOS) && vs.url.contains("/JDV_J"));
        }
    }

    #[test]
    fn every_code_has_an_english_label() {
        for vs in ALL {
            for (code, fr, en) in vs.codes {
                assert!(!fr.trim().is_empty(), "{} {code}", vs.id);
                assert!(!en.trim().is_empty(), "{} {code}: no English label", vs.id);
                assert_eq!(vs.label_in(code, Lang::En), Some(*en));
                assert_eq!(vs.label(code), Some(*fr), "the official label is French");
            }
        }
        for (code, en) in [("01", "Bed"), ("02", "Place"), ("03", "Housing unit")] {
            assert_eq!(CAPACITY_TYPE.label_in(code, Lang::En), Some(en));
        }
        for (code, en) in [
            ("01", "Installed"),
            ("02", "Available"),
            ("03", "Occupied"),
            ("04", "Reserved"),
            ("05", "Closed"),
            ("06", "Additional"),
        ] {
            assert_eq!(CAPACITY_STATUS.label_in(code, Lang::En), Some(en));
        }
        assert_eq!(CAPACITY_STATUS.label_in("02", Lang::Fr), Some("Disponible"));
        assert_eq!(CAPACITY_STATUS.label_in("99", Lang::En), None);
        // Regions keep their names.
        for (code, fr, en) in REGION.codes {
            assert_eq!(fr, en, "{code}");
        }
    }

    #[test]
    fn regions_of_departments() {
        assert_eq!(region_of_postal_code("75012"), Some("11"));
        assert_eq!(region_of_postal_code("69003"), Some("84"));
        assert_eq!(region_of_postal_code("13005"), Some("93"));
        assert_eq!(region_of_postal_code("2A004"), None);
        for d in ["75", "69", "13", "33", "59", "31", "44", "67"] {
            assert!(REGION.contains(region_of_postal_code(&format!("{d}000")).unwrap()));
        }
    }
}
