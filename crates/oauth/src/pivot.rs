//! The pivot identity (FranceConnect's family name, given names, birth date, birth place and
//! birth country) compared with identities' records, for realms that link an upstream account
//! on an exact match (`link_by_pivot_identity`) after the person confirms.
//!
//! A match is [`PivotMatched`], which only [`PivotMatched::find`] makes: every element of the
//! pivot identity present, the birth date complete (a FranceConnect `birthdate` with an
//! unknown month or day never matches), and exactly one record equal on all of them after
//! [`normalise`]. Never on e-mail, never on names alone.

use coeur_common::identity::Identity;
use coeur_common::identity::cog_code as cog;
use unicode_normalization::UnicodeNormalization as _;
use unicode_normalization::char::is_combining_mark;

pub use coeur_common::identity::full_birth_date;

/// The COG code of France as a birth country.
pub const FRANCE: &str = coeur_common::identity::BIRTH_COUNTRY_FRANCE;

/// A name as compared: Unicode NFKD, diacritics removed, ligatures œ and æ spelled out, upper
/// case, spaces, hyphens and apostrophes (of any kind) each run made one space, no space at
/// either end.
pub fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.nfkd().filter(|c| !is_combining_mark(*c)) {
        let sep = c.is_whitespace()
            || matches!(
                c,
                '-' | '\u{2010}'
                    | '\u{2011}'
                    | '\u{2012}'
                    | '\u{2013}'
                    | '\u{2014}'
                    | '\u{2212}'
                    | '\''
                    | '\u{2018}'
                    | '\u{2019}'
                    | '\u{02BC}'
                    | '`'
                    | '\u{00B4}'
            );
        if sep {
            gap = !out.is_empty();
            continue;
        }
        if gap {
            out.push(' ');
            gap = false;
        }
        match c {
            'œ' | 'Œ' => out.push_str("OE"),
            'æ' | 'Æ' => out.push_str("AE"),
            _ => out.extend(c.to_uppercase()),
        }
    }
    out
}

/// The pivot identity, raw: from an upstream's userinfo, or from an identity's record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pivot {
    /// Family name (birth name).
    pub family_name: String,
    /// Given names, space-separated.
    pub given_names: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// INSEE COG code of the birth place (a commune); empty when born abroad.
    pub birth_place: String,
    /// INSEE COG code of the birth country (`99100` France).
    pub birth_country: String,
}

/// The comparable form of a pivot identity: only complete ones have one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    family_name: String,
    given_names: String,
    birth_date: String,
    birth_place: Option<String>,
    birth_country: String,
}

impl Pivot {
    /// The pivot identity of FranceConnect's userinfo claims (`family_name`, `given_name`,
    /// `birthdate`, `birthplace`, `birthcountry`).
    pub fn of_claims(claims: &serde_json::Map<String, serde_json::Value>) -> Self {
        let s = |k: &str| {
            claims
                .get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Pivot {
            family_name: s("family_name"),
            given_names: s("given_name"),
            birth_date: s("birthdate"),
            birth_place: s("birthplace"),
            birth_country: s("birthcountry"),
        }
    }

    /// The pivot identity of an identity's record: its family name, given name and birth
    /// data (empty where unknown, so that a record without birth data never matches).
    pub fn of_identity(identity: &Identity) -> Self {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Pivot {
            family_name: identity.family_name.clone(),
            given_names: identity.given_name.clone(),
            birth_date: s(&identity.birth_date),
            birth_place: s(&identity.birth_place),
            birth_country: s(&identity.birth_country),
        }
    }

    /// The complete birth date to look records up by (`None` when partial or absent: no
    /// record may match then).
    pub fn full_birth_date(&self) -> Option<String> {
        full_birth_date(&self.birth_date)
    }

    /// Its comparable form: `None` when an element is missing, the birth date partial, or a
    /// citizen born in France has no birth place. Born abroad, the birth place is not
    /// compared (FranceConnect gives none), the country is.
    fn key(&self) -> Option<Key> {
        let family_name = normalise(&self.family_name);
        let given_names = normalise(&self.given_names);
        if family_name.is_empty() || given_names.is_empty() {
            return None;
        }
        let birth_country = cog(&self.birth_country)?;
        let birth_place = if birth_country == FRANCE {
            Some(cog(&self.birth_place)?)
        } else {
            None
        };
        Some(Key {
            family_name,
            given_names,
            birth_date: full_birth_date(&self.birth_date)?,
            birth_place,
            birth_country,
        })
    }
}

/// An upstream pivot identity equal to exactly one identity's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PivotMatched {
    national_id: String,
}

impl PivotMatched {
    /// The one record (national id, its pivot identity) among `records` whose pivot identity
    /// equals `upstream`'s, both complete; `None` when the upstream's is incomplete (a partial
    /// birth date…), or when no record, or more than one (homonyms), matches.
    pub fn find<'a>(
        upstream: &Pivot,
        records: impl IntoIterator<Item = (&'a str, &'a Pivot)>,
    ) -> Option<Self> {
        let want = upstream.key()?;
        let mut found = None;
        for (id, p) in records {
            if p.key().as_ref() == Some(&want) {
                if found.is_some() {
                    return None;
                }
                found = Some(id);
            }
        }
        found.map(|id| PivotMatched {
            national_id: id.to_owned(),
        })
    }

    /// The national id of the record matched.
    pub fn national_id(&self) -> &str {
        &self.national_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalise("Angela Claire Louise"), "ANGELA CLAIRE LOUISE");
        assert_eq!(normalise("  Hélène-Éloïse  "), "HELENE ELOISE");
        assert_eq!(normalise("D’ARTAGNAN"), "D ARTAGNAN");
        assert_eq!(normalise("d'artagnan"), "D ARTAGNAN");
        assert_eq!(normalise("Le  Gall -- Kervella"), "LE GALL KERVELLA");
        assert_eq!(normalise("Lætitia Cœur"), "LAETITIA COEUR");
        assert_eq!(normalise("Çağla Straße"), "CAGLA STRASSE");
        // Compatibility forms: full-width letters, the ﬁ ligature.
        assert_eq!(normalise("ＪＥＡＮ ﬁlou"), "JEAN FILOU");
        assert_eq!(normalise("ÅNGSTRÖM"), "ANGSTROM");
        assert_eq!(normalise("- ' "), "");
        assert_eq!(normalise(""), "");
        // Precomposed and decomposed spellings are one name.
        assert_eq!(normalise("Jos\u{e9}"), normalise("Jose\u{301}"));
    }

    #[test]
    fn only_complete_birth_dates_count() {
        assert_eq!(full_birth_date("1962-08-24").as_deref(), Some("1962-08-24"));
        assert_eq!(full_birth_date("2000-02-29").as_deref(), Some("2000-02-29"));
        for partial in [
            "1992-11-00",
            "1992-00-00",
            "1992",
            "1900-02-29",
            "1992-13-01",
            "1992-04-31",
            "92-11-10",
            "",
            "1992-1a-01",
            "+992-11-01",
        ] {
            assert_eq!(full_birth_date(partial), None, "{partial}");
        }
    }

    fn angela() -> Pivot {
        Pivot {
            family_name: "DUBOIS".into(),
            given_names: "Angela Claire Louise".into(),
            birth_date: "1962-08-24".into(),
            birth_place: "75107".into(),
            birth_country: "99100".into(),
        }
    }

    #[test]
    fn exactly_one_record_matches() {
        let fc = angela();
        let mut rec = angela();
        rec.given_names = "ANGÉLA CLAIRE-LOUISE".into();
        let other = Pivot {
            family_name: "MARTIN".into(),
            ..angela()
        };
        let m = PivotMatched::find(&fc, [("810000000001", &rec), ("810000000002", &other)]);
        assert_eq!(
            m.map(|m| m.national_id().to_owned()).as_deref(),
            Some("810000000001")
        );
        // Homonyms: two records match, none is chosen.
        assert_eq!(
            PivotMatched::find(&fc, [("1", &rec), ("2", &angela())]),
            None
        );
        // No record.
        assert_eq!(PivotMatched::find(&fc, [("2", &other)]), None);
        // Same names, another birth (date, place or country): nothing.
        for f in [
            (|p: &mut Pivot| p.birth_date = "1962-08-25".into()) as fn(&mut Pivot),
            |p| p.birth_place = "75108".into(),
            |p| p.birth_country = "99134".into(),
            |p| p.birth_date.clear(),
        ] {
            let mut r = angela();
            f(&mut r);
            assert_eq!(PivotMatched::find(&fc, [("1", &r)]), None);
        }
        // A partial birth date upstream never matches, even a record with the same digits.
        let mut partial = angela();
        partial.birth_date = "1962-08-00".into();
        let mut rec_partial = angela();
        rec_partial.birth_date = "1962-08-00".into();
        assert_eq!(PivotMatched::find(&partial, [("1", &rec_partial)]), None);
        // Names alone (no birth data upstream) never match.
        let names_only = Pivot {
            family_name: "DUBOIS".into(),
            given_names: "Angela Claire Louise".into(),
            ..Pivot::default()
        };
        assert_eq!(PivotMatched::find(&names_only, [("1", &names_only)]), None);
        // Born in France without a birth place: no match.
        let mut no_place = angela();
        no_place.birth_place.clear();
        assert_eq!(PivotMatched::find(&no_place, [("1", &no_place)]), None);
    }

    #[test]
    fn born_abroad_matches_on_the_country() {
        let fc = Pivot {
            family_name: "TANAKA".into(),
            given_names: "Kenji".into(),
            birth_date: "1979-03-14".into(),
            birth_place: String::new(),
            birth_country: "99217".into(),
        };
        let rec = Pivot {
            birth_place: String::new(),
            ..fc.clone()
        };
        assert!(PivotMatched::find(&fc, [("1", &rec)]).is_some());
        let elsewhere = Pivot {
            birth_country: "99134".into(),
            ..fc.clone()
        };
        assert_eq!(PivotMatched::find(&fc, [("1", &elsewhere)]), None);
    }
}
