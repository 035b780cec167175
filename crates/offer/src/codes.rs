//! The ROR value sets (MEv3) the offer uses, each with the sample of codes the service
//! accepts and generates. A code outside its value set is refused at the API's edge
//! ([`ValueSet::check`]), so nothing stored carries an unknown code.
//!
//! The lists are a sample of the NOS tables (`JDV_J187`… on the MOS terminology server): the
//! codes the synthetic data uses, with their labels; adding a code is adding a row.

/// A value set: its canonical URL (the `system` of its codings) and its codes with labels.
#[derive(Debug)]
pub struct ValueSet {
    /// Short name, as in the IG (`J187`).
    pub id: &'static str,
    /// The code system's URL.
    pub system: &'static str,
    /// `(code, label)` pairs.
    pub codes: &'static [(&'static str, &'static str)],
}

impl ValueSet {
    /// The code's label, when the code belongs to the set.
    pub fn label(&self, code: &str) -> Option<&'static str> {
        self.codes.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
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
    ($name:ident, $id:literal, $path:literal, [$(($c:literal, $l:literal)),* $(,)?]) => {
        #[doc = concat!("`", $id, "` (", $path, ").")]
        pub const $name: ValueSet = ValueSet {
            id: $id,
            system: concat!("https://mos.esante.gouv.fr/NOS/", $path),
            codes: &[$(($c, $l)),*],
        };
    };
}

value_set!(
    CAPACITY_TYPE,
    "J187",
    "JDV_J187-NatureCapacite-ROR/FHIR/JDV-J187-NatureCapacite-ROR",
    [
        ("01", "Lit"),
        ("02", "Place"),
        ("03", "Berceau"),
        ("04", "Couveuse"),
        ("05", "Brancard"),
    ]
);
value_set!(
    CAPACITY_STATUS,
    "J188",
    "JDV_J188-TypeStatutCapacite-ROR/FHIR/JDV-J188-TypeStatutCapacite-ROR",
    [
        ("01", "Installée"),
        ("02", "Ouverte"),
        ("03", "Disponible"),
        ("04", "Fermée"),
        ("05", "Occupée"),
    ]
);
value_set!(
    TEMPORALITY,
    "J189",
    "JDV_J189-TemporaliteCapacite-ROR/FHIR/JDV-J189-TemporaliteCapacite-ROR",
    [("01", "Courante"), ("02", "Prévisionnelle"),]
);
value_set!(
    GENDER,
    "J190",
    "JDV_J190-GenreCapacite-ROR/FHIR/JDV-J190-GenreCapacite-ROR",
    [("01", "Homme"), ("02", "Femme"), ("03", "Indifférencié"),]
);
value_set!(
    SOURCE,
    "J193",
    "JDV_J193-TypeSourceCapacite-ROR/FHIR/JDV-J193-TypeSourceCapacite-ROR",
    [("01", "Saisie manuelle"), ("02", "Flux automatisé"),]
);
value_set!(
    TEMPORARY_ASSIGNMENT,
    "J195",
    "JDV_J195-AffectationTemporaire-ROR/FHIR/JDV-J195-AffectationTemporaire-ROR",
    [
        ("01", "Pas d'affectation temporaire"),
        ("02", "Affectation temporaire"),
    ]
);
value_set!(
    ACTIVITY_FIELD,
    "J20",
    "JDV_J20-ChampActivite-ROR/FHIR/JDV-J20-ChampActivite-ROR",
    [
        ("01", "Médecine, chirurgie, obstétrique (MCO)"),
        ("02", "Psychiatrie"),
        ("03", "Soins médicaux et de réadaptation"),
        ("04", "Médico-social"),
    ]
);
value_set!(
    OPERATIONAL_ACTIVITY,
    "J17",
    "JDV_J17-ActiviteOperationnelle-ROR/FHIR/JDV-J17-ActiviteOperationnelle-ROR",
    [
        ("001", "Médecine générale"),
        ("012", "Cardiologie"),
        ("045", "Réanimation adulte"),
        ("068", "Pédiatrie"),
        ("092", "Gériatrie"),
        ("110", "Psychiatrie générale"),
    ]
);
value_set!(
    CARE_MODE,
    "J19",
    "JDV_J19-ModePriseEnCharge-ROR/FHIR/JDV-J19-ModePriseEnCharge-ROR",
    [
        ("01", "Hospitalisation complète"),
        ("02", "Hospitalisation de jour"),
        ("07", "Consultation"),
    ]
);
value_set!(
    REGION,
    "J237",
    "JDV_J237-RegionOM-ROR/FHIR/JDV-J237-RegionOM-ROR",
    [
        ("11", "Île-de-France"),
        ("32", "Hauts-de-France"),
        ("44", "Grand Est"),
        ("52", "Pays de la Loire"),
        ("75", "Nouvelle-Aquitaine"),
        ("76", "Occitanie"),
        ("84", "Auvergne-Rhône-Alpes"),
        ("93", "Provence-Alpes-Côte d'Azur"),
    ]
);

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
        assert_eq!(CAPACITY_STATUS.label("03"), Some("Disponible"));
        assert!(CAPACITY_STATUS.check("x").unwrap_err().contains("J188"));
        assert!(CAPACITY_TYPE.system.starts_with(MOS));
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
