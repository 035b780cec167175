//! Rows of the FINESS extracts of authorised care activities (ARHGOS) and of social
//! equipment → records (pure).
//!
//! The layout supported is the etalab one's `activiteoffresoin` record with a header line of
//! its field names (as the establishments file, `columns::FINESS`): `;`-separated, Latin-1 or
//! UTF-8. Its first twelve fields (`columns::AUTORISATIONS`) are the ones both the etalab
//! publication and FINESS's enriched extract give, in that order; the enriched extract's
//! ARHGOS number, dates and deletion indicators (`columns::AUTORISATIONS_OPTIONAL`) are kept
//! when the header has them. The raw etalab file (no header, a `finess;etalab;…` first line,
//! each record prefixed with its type) is not read as such: its `activiteoffresoin` lines,
//! prefix removed, under that header, are this file.
//!
//! Social equipment is read the same way: the `equipementsocial` records of the etalab
//! publication `etalab-cs1100505` under a header line of FINESS's field names
//! (`columns::EQUIPEMENTS`, `columns::EQUIPEMENTS_OPTIONAL`).

use super::Collector;
use super::columns::{AUTORISATIONS, AUTORISATIONS_OPTIONAL, EQUIPEMENTS, EQUIPEMENTS_OPTIONAL};
use super::reader::Row;
use crate::fhir::query::parse_date_range;
use crate::keys::{check_finess, check_optional};
use crate::record::{Record, RecordKind};

/// Whether `v` is a NOS code of the authorisations (`16`, `A0`, `00`): 1 to 4 ASCII letters
/// or digits.
fn is_code(v: &str) -> bool {
    (1..=4).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `v` is a FINESS date (`AAAA-MM-JJ`), a real day.
fn is_date(v: &str) -> bool {
    v.len() == 10 && !v.contains('T') && parse_date_range(v).is_some()
}

/// The key of an authorisation: the site, activity, modality and form (one authorisation of
/// an activity in one modality and form per site).
fn authorisation_key(site: &str, activity: &str, modality: &str, form: &str) -> String {
    [site, activity, modality, form].join("|")
}

impl Collector {
    /// A social equipment: the site's FINESS number and key, the discipline, type of activity
    /// and clientele codes (digits), dates and indicators when given; keyed by the four.
    /// Discipline codes have three digits and activity codes two, so that no key is also an
    /// authorisation's (their logical ids share `HealthcareService`).
    pub(super) fn take_social_equipment(&mut self, row: &Row) -> Result<(), String> {
        let site = self.get(row, "nofinesset");
        if site.is_empty() {
            return Err("empty nofinesset".into());
        }
        check_finess(site).map_err(|e| e.to_string())?;
        let digits = |v: &str, n: usize| v.len() == n && v.bytes().all(|b| b.is_ascii_digit());
        let (discipline, activity, clientele) = (
            self.get(row, "de"),
            self.get(row, "ta"),
            self.get(row, "client"),
        );
        for (name, v, n) in [
            ("de", discipline, 3),
            ("ta", activity, 2),
            ("client", clientele, 3),
        ] {
            if !digits(v, n) {
                return Err(format!("{name} {v:?} is not a code of {n} digits"));
            }
        }
        for name in ["dateautor", "datederinst"] {
            let v = self.get(row, name);
            if !v.is_empty() && !is_date(v) {
                return Err(format!("{name} {v:?} is not a date (AAAA-MM-JJ)"));
            }
        }
        for name in ["indsupinst", "indsupaut"] {
            let v = self.get(row, name);
            if !matches!(v, "" | "O" | "N") {
                return Err(format!("{name} {v:?} is neither O nor N"));
            }
        }
        let key = [site, discipline, activity, clientele].join("|");
        let names: Vec<&'static str> = EQUIPEMENTS
            .iter()
            .chain(EQUIPEMENTS_OPTIONAL)
            .copied()
            .collect();
        let fields = self.fields(row, &names);
        self.insert_new(Record {
            kind: RecordKind::SocialEquipment,
            key,
            fields,
        })
    }

    pub(super) fn take_authorisation(&mut self, row: &Row) -> Result<(), String> {
        let site = self.get(row, "nofinesset");
        if site.is_empty() {
            return Err("empty nofinesset".into());
        }
        check_finess(site).map_err(|e| e.to_string())?;
        check_optional(self.get(row, "nofinessej"), check_finess).map_err(|e| e.to_string())?;
        let activity = self.get(row, "activite");
        let modality = self.get(row, "modalite");
        let form = self.get(row, "forme");
        if !is_code(activity) {
            return Err(format!("activite {activity:?} is not a code"));
        }
        for (name, v) in [("modalite", modality), ("forme", form)] {
            if !v.is_empty() && !is_code(v) {
                return Err(format!("{name} {v:?} is not a code"));
            }
        }
        for name in ["dateautor", "datemeo", "datefin"] {
            let v = self.get(row, name);
            if !v.is_empty() && !is_date(v) {
                return Err(format!("{name} {v:?} is not a date (AAAA-MM-JJ)"));
            }
        }
        let key = authorisation_key(site, activity, modality, form);
        let names: Vec<&'static str> = AUTORISATIONS
            .iter()
            .chain(AUTORISATIONS_OPTIONAL)
            .copied()
            .collect();
        let fields = self.fields(row, &names);
        self.insert_new(Record {
            kind: RecordKind::Authorisation,
            key,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::reader::Rows;
    use crate::extract::{ExtractKind, collect};

    const HEADER: &str = "nofinessej;rsej;activite;libactivite;modalite;libmodalite;forme;\
                          libforme;noautor;dateautor;nofinesset;rset;noautorarhgos;datefin";

    fn file(rows: &[&str]) -> Vec<u8> {
        let mut out = format!("{HEADER}\n").into_bytes();
        for r in rows {
            out.extend_from_slice(r.as_bytes());
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn the_header_is_recognised_and_rows_become_records() {
        let bytes = file(&[
            "010780054;CH FLEYRIAT;16;Traitement de l'insuffisance rénale chronique;40;\
             Hémodialyse en centre;00;Pas de forme;762201955;2004-11-02;010000024;\
             CH DE FLEYRIAT;52-52-49883;2027-09-23",
            "010780054;CH FLEYRIAT;02;Chirurgie;00;Pas de modalité;07;Chirurgie ambulatoire;\
             762201956;1998-07-07;010000024;CH DE FLEYRIAT;;",
        ]);
        let rows = Rows::open(bytes.as_slice()).unwrap();
        assert_eq!(
            ExtractKind::of_header(rows.header()).unwrap(),
            ExtractKind::Authorisations
        );
        let (kind, c) = collect(bytes.as_slice()).unwrap();
        assert_eq!(kind, ExtractKind::Authorisations);
        assert!(c.rejected.is_empty(), "{:?}", c.rejected);
        let keys: Vec<&str> = c.records.values().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["010000024|02|00|07", "010000024|16|40|00"]);
        let r = c.records.values().nth(1).unwrap();
        assert_eq!(r.kind, RecordKind::Authorisation);
        assert_eq!(r.get("noautorarhgos"), "52-52-49883");
        assert_eq!(r.get("libmodalite"), "Hémodialyse en centre");
        assert_eq!(r.get("datefin"), "2027-09-23");
    }

    #[test]
    fn bad_rows_are_refused_with_their_reason() {
        let ok = "010780054;EJ;16;A;40;M;00;F;1;2004-11-02;010000024;ET;;";
        let bytes = file(&[
            ok,
            // the same authorisation again
            ok,
            // wrong FINESS key of the site
            "010780054;EJ;16;A;40;M;00;F;1;2004-11-02;010000025;ET;;",
            // wrong FINESS key of the legal entity
            "010780055;EJ;16;A;41;M;00;F;1;2004-11-02;010000024;ET;;",
            // no activity
            "010780054;EJ;;A;40;M;00;F;1;2004-11-02;010000024;ET;;",
            // not a date
            "010780054;EJ;16;A;42;M;00;F;1;02/11/2004;010000024;ET;;",
            // a column short
            "010780054;EJ;16;A;43;M;00;F;1;2004-11-02;010000024;ET;",
        ]);
        let (_, c) = collect(bytes.as_slice()).unwrap();
        assert_eq!(c.records.len(), 1);
        assert_eq!(c.read, 7);
        let reasons: Vec<(u64, &str)> = c
            .rejected
            .iter()
            .map(|e| (e.line, e.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 6, "{reasons:?}");
        assert!(reasons[0].0 == 3 && reasons[0].1.contains("duplicate"));
        assert!(reasons[1].0 == 4 && reasons[1].1.contains("010000025"));
        assert!(reasons[2].0 == 5 && reasons[2].1.contains("010780055"));
        assert!(reasons[3].0 == 6 && reasons[3].1.contains("activite"));
        assert!(reasons[4].0 == 7 && reasons[4].1.contains("dateautor"));
        assert_eq!(reasons[5].0, 8);
    }

    #[test]
    fn a_file_without_a_required_column_is_refused() {
        let header = HEADER.replace(";forme;", ";");
        let bytes = format!("{header}\n").into_bytes();
        let e = collect(bytes.as_slice()).unwrap_err();
        assert!(e.to_string().contains("forme"), "{e}");
    }
}
