//! Annuaire Santé's extensions the directory fills (pure): the data trace in `meta`
//! (`as-ext-data-trace`: the information system a record comes from and its registration
//! authorities), and a professional's CPS / CPF cards (`as-ext-smartcard`).

use super::model::{CodeableConcept, Coding, Extension, Meta, Period};
use crate::record::{Record, RecordKind};

/// The data trace extension (in `meta.extension`).
pub const DATA_TRACE: &str =
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-data-trace";
/// A professional's card (`Practitioner.extension`).
pub const SMARTCARD: &str =
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-smartcard";
/// Information systems (the values of the data trace's `systeme-information` code).
pub const SYSTEM_INFORMATION_SYSTEM: &str =
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/CodeSystem/as-cs-type-systeme-information";
/// Registration authorities (TRE_R60, the JDV_J83 of the data trace).
pub const SYSTEM_R60: &str = "https://mos.esante.gouv.fr/NOS/TRE_R60-AutoriteEnregistrement/FHIR/TRE-R60-AutoriteEnregistrement";
/// Card types (TRE_R87, the JDV_J128 of the card extension).
pub const SYSTEM_R87: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R87-TypeCarte/FHIR/TRE-R87-TypeCarte";

/// The information system (Annuaire Santé's `as-cs-type-systeme-information`) a record comes
/// from, when the extracts say it: `RPPS` for a professional of the RPPS (type of identifier
/// `8`), `FINESS` for a structure. ADELI professionals have none (the code system has no code
/// for ADELI).
pub fn information_system(r: &Record) -> Option<&'static str> {
    match r.kind {
        RecordKind::Practitioner => (r.get("Type d'identifiant PP") == "8").then_some("RPPS"),
        RecordKind::Establishment | RecordKind::LegalEntity => Some("FINESS"),
        _ => None,
    }
}

/// The registration authorities of an exercise: its `Autorité d'enregistrement`, whose
/// `/`-separated parts (`CNOM/CNOM/CNOM`) each name one (TRE_R60 codes), without repeats.
pub fn authorities(role: &Record) -> Vec<&str> {
    let mut out: Vec<&str> = vec![];
    for part in role.get("Autorité d'enregistrement").split('/') {
        let part = part.trim();
        if !part.is_empty() && !out.contains(&part) {
            out.push(part);
        }
    }
    out
}

/// The data trace of a record: its information system and the registration `authorities`
/// given (one coding each); `None` when there is neither.
pub fn data_trace(system: Option<&str>, authorities: &[&str]) -> Option<Extension> {
    let mut parts = vec![];
    if !authorities.is_empty() {
        parts.push(Extension {
            url: "autorite-enregistrement".into(),
            value_codeable_concept: Some(CodeableConcept {
                coding: authorities
                    .iter()
                    .map(|a| Coding {
                        system: Some(SYSTEM_R60.into()),
                        code: Some((*a).to_owned()),
                        display: None,
                    })
                    .collect(),
                text: None,
            }),
            ..Extension::default()
        });
    }
    if let Some(s) = system {
        parts.push(Extension {
            url: "systeme-information".into(),
            value_code: Some(s.to_owned()),
            ..Extension::default()
        });
    }
    (!parts.is_empty()).then(|| Extension {
        url: DATA_TRACE.into(),
        extension: parts,
        ..Extension::default()
    })
}

/// The values of the data trace of `meta` whose part is `part` (`systeme-information`: the
/// code, of [`SYSTEM_INFORMATION_SYSTEM`]; `autorite-enregistrement`: the codings' codes),
/// with their system.
pub fn trace_values<'m>(meta: &'m Meta, part: &str) -> Vec<(Option<&'m str>, &'m str)> {
    meta.extension
        .iter()
        .filter(|e| e.url == DATA_TRACE)
        .flat_map(|e| &e.extension)
        .filter(|e| e.url == part)
        .flat_map(|e| {
            let code = e
                .value_code
                .as_deref()
                .map(|c| (Some(SYSTEM_INFORMATION_SYSTEM), c));
            let codings = e
                .value_codeable_concept
                .iter()
                .flat_map(|c| &c.coding)
                .filter_map(|c| Some((c.system.as_deref(), c.code.as_deref()?)));
            code.into_iter().chain(codings)
        })
        .collect()
}

/// A FHIR date from an extract's `JJ/MM/AAAA` or `AAAA-MM-JJ`; `None` for anything else.
pub fn fhir_date(v: &str) -> Option<String> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = v.split(['/', '-']).collect();
    match parts.as_slice() {
        [d, m, y] if v.contains('/') && digits(d, 2) && digits(m, 2) && digits(y, 4) => {
            Some(format!("{y}-{m}-{d}"))
        }
        [y, m, d] if v.contains('-') && digits(y, 4) && digits(m, 2) && digits(d, 2) => {
            Some(v.to_owned())
        }
        _ => None,
    }
}

/// A card (a record of the `Porteurs_CPS_CPF` extract) as the `as-ext-smartcard` extension:
/// its type, number, validity and opposition date.
pub fn smartcard(card: &Record) -> Extension {
    let mut parts = vec![];
    let code = card.get("Code type de carte");
    if !code.is_empty() {
        parts.push(Extension {
            url: "type".into(),
            value_codeable_concept: Some(CodeableConcept {
                coding: vec![Coding {
                    system: Some(SYSTEM_R87.into()),
                    code: Some(code.to_owned()),
                    display: Some(card.get("Libellé type de carte"))
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned),
                }],
                text: None,
            }),
            ..Extension::default()
        });
    }
    parts.push(Extension {
        url: "number".into(),
        value_string: Some(card.key.clone()),
        ..Extension::default()
    });
    let period = Period {
        start: fhir_date(card.get("Date début validité")),
        end: fhir_date(card.get("Date fin validité")),
    };
    if period != Period::default() {
        parts.push(Extension {
            url: "period".into(),
            value_period: Some(period),
            ..Extension::default()
        });
    }
    if let Some(d) = fhir_date(card.get("Date opposition")) {
        parts.push(Extension {
            url: "oppositionDate".into(),
            value_date_time: Some(d),
            ..Extension::default()
        });
    }
    Extension {
        url: SMARTCARD.into(),
        extension: parts,
        ..Extension::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_names_the_source_and_the_authorities() {
        let role = Record::of(
            RecordKind::PractitionerRole,
            "8|R|10|S||",
            &[("Autorité d'enregistrement", "CNOM/ARS/CNOM")],
        );
        assert_eq!(authorities(&role), ["CNOM", "ARS"]);
        let p = Record::of(
            RecordKind::Practitioner,
            "810001045367",
            &[("Type d'identifiant PP", "8")],
        );
        assert_eq!(information_system(&p), Some("RPPS"));
        let adeli = Record::of(
            RecordKind::Practitioner,
            "0",
            &[("Type d'identifiant PP", "0")],
        );
        assert_eq!(information_system(&adeli), None);
        let meta = Meta {
            extension: data_trace(information_system(&p), &authorities(&role))
                .into_iter()
                .collect(),
            ..Meta::default()
        };
        assert_eq!(
            trace_values(&meta, "systeme-information"),
            [(Some(SYSTEM_INFORMATION_SYSTEM), "RPPS")]
        );
        assert_eq!(
            trace_values(&meta, "autorite-enregistrement"),
            [(Some(SYSTEM_R60), "CNOM"), (Some(SYSTEM_R60), "ARS")]
        );
        assert!(data_trace(None, &[]).is_none());
    }

    #[test]
    fn cards_show_their_number_type_and_dates() {
        let card = Record::of(
            RecordKind::Card,
            "2100123456",
            &[
                ("Code type de carte", "CPS"),
                ("Date début validité", "01/02/2024"),
                ("Date fin validité", "2027-02-01"),
                ("Date opposition", "bientôt"),
            ],
        );
        let v = serde_json::to_value(smartcard(&card)).unwrap();
        assert_eq!(v["url"], SMARTCARD);
        assert_eq!(
            v["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
            "CPS"
        );
        assert_eq!(v["extension"][1]["valueString"], "2100123456");
        assert_eq!(v["extension"][2]["valuePeriod"]["start"], "2024-02-01");
        assert_eq!(v["extension"][2]["valuePeriod"]["end"], "2027-02-01");
        assert_eq!(
            v["extension"].as_array().unwrap().len(),
            3,
            "no invented date"
        );
        assert_eq!(fhir_date("2024-13"), None);
    }
}
