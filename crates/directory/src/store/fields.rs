//! A record's stored fields: how they are written, and how they are read back, all of them or
//! only some.
//!
//! They are written as a JSON array of names and values, `[name, value, name, value, …]`,
//! where a name is its position in [`NAMES`] (the extracts' column names) or, for a name not
//! listed there, the name itself as a string. The column names were half the bytes of a
//! stored exercise (1.3 KB as an object). Records written earlier as a JSON object of
//! strings are read as they are; both forms decode to the same fields.

use crate::record::{FieldName, Fields, FieldsBuilder};
use anyhow::Result;
use serde::Deserializer as _;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, Serializer};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The names written as their position. Stored records refer to these positions: the list is
/// only ever appended to (a test pins what it holds). It copies the extracts' column names as
/// `extract::columns` listed them when it was written, rather than refer to those lists, whose
/// order may change; a test checks that every column listed there is here too.
const NAMES: &[&str] = &[
    "Type d'identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Code civilité d'exercice",
    "Libellé civilité d'exercice",
    "Code civilité",
    "Libellé civilité",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Code profession",
    "Libellé profession",
    "Code catégorie professionnelle",
    "Libellé catégorie professionnelle",
    "Code type savoir-faire",
    "Libellé type savoir-faire",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Code mode exercice",
    "Libellé mode exercice",
    "Numéro SIRET site",
    "Numéro SIREN site",
    "Numéro FINESS site",
    "Numéro FINESS établissement juridique",
    "Identifiant technique de la structure",
    "Raison sociale site",
    "Enseigne commerciale site",
    "Complément destinataire (coord. structure)",
    "Complément point géographique (coord. structure)",
    "Numéro Voie (coord. structure)",
    "Indice répétition voie (coord. structure)",
    "Code type de voie (coord. structure)",
    "Libellé type de voie (coord. structure)",
    "Libellé Voie (coord. structure)",
    "Mention distribution (coord. structure)",
    "Bureau cedex (coord. structure)",
    "Code postal (coord. structure)",
    "Code commune (coord. structure)",
    "Libellé commune (coord. structure)",
    "Code pays (coord. structure)",
    "Libellé pays (coord. structure)",
    "Téléphone (coord. structure)",
    "Téléphone 2 (coord. structure)",
    "Télécopie (coord. structure)",
    "Adresse e-mail (coord. structure)",
    "Code Département (structure)",
    "Libellé Département (structure)",
    "Ancien identifiant de la structure",
    "Autorité d'enregistrement",
    "Code secteur d'activité",
    "Libellé secteur d'activité",
    "Code section tableau pharmaciens",
    "Libellé section tableau pharmaciens",
    "Code rôle",
    "Libellé rôle",
    "Code genre activité",
    "Libellé genre activité",
    "Code type diplôme obtenu",
    "Libellé type diplôme obtenu",
    "Code diplôme obtenu",
    "Libellé diplôme obtenu",
    "Code type autorisation",
    "Libellé type autorisation",
    "Code discipline autorisation",
    "Libellé discipline autorisation",
    "Type de BAL",
    "Adresse BAL",
    "Type Identifiant PP",
    "Type identifiant structure",
    "Identification Structure",
    "Service de rattachement",
    "Civilité d'exercice",
    "Catégorie profession",
    "Libellé de catégorie profession",
    "Code Profession",
    "Libellé Profession",
    "Dématérialisation",
    "Raison Sociale structure BAL",
    "Enseigne commerciale structure BAL",
    "L2COMPLEMENTLOCALISATION",
    "L3COMPLEMENTDISTRIBUTION",
    "L4NUMEROVOIE",
    "L4COMPLEMENTNUMEROVOIE",
    "NL4TYPEVOIE",
    "L4LIBELLEVOIE",
    "L5LIEUDITMENTION",
    "L6LIGNEACHEMINEMENT",
    "Code postal",
    "Département",
    "Pays",
    "nofinesset",
    "nofinessej",
    "rs",
    "rslongue",
    "complrs",
    "compldistrib",
    "numvoie",
    "typvoie",
    "voie",
    "compvoie",
    "lieuditbp",
    "region",
    "libregion",
    "departement",
    "libdepartement",
    "cog",
    "codepostal",
    "libelle_routage",
    "ligneacheminement",
    "telephone",
    "telecopie",
    "categetab",
    "libcategetab",
    "liblongcategetab",
    "categretab",
    "libcategretab",
    "siret",
    "codeape",
    "libcodeape",
    "mft",
    "libmft",
    "liblongmft",
    "sph",
    "libsph",
    "numen",
    "coordx",
    "coordy",
    "sourcegeocod",
    "dategeocod",
    "dateautor",
    "dateouvert",
    "datemaj",
    "rsej",
    "activite",
    "libactivite",
    "modalite",
    "libmodalite",
    "forme",
    "libforme",
    "noautor",
    "rset",
    "noautorarhgos",
    "datemeo",
    "datefin",
    "Code type de carte",
    "Libellé type de carte",
    "Numéro carte",
    "Identifiant national contenu dans la carte",
    "Date début validité",
    "Date fin validité",
    "Date opposition",
    "Date de mise à jour",
    "de",
    "libde",
    "ta",
    "libta",
    "client",
    "libclient",
    "capinstot",
    "capautot",
    "datederinst",
    "indsupinst",
    "indsupaut",
];

/// A name's position in [`NAMES`]; hashed with foldhash, not SipHash: names are no input an
/// attacker chooses to collide (they are looked up, never inserted), and every field of every
/// record written is looked up here.
static POSITIONS: LazyLock<HashMap<&'static str, u64, foldhash::fast::FixedState>> =
    LazyLock::new(|| (0u64..).zip(NAMES).map(|(i, n)| (*n, i)).collect());

/// The stored form of `fields`.
pub(crate) fn encode(fields: &Fields) -> Result<String> {
    Ok(serde_json::to_string(&Compact(fields))?)
}

/// Writes fields as `[name, value, …]`, a listed name as its position.
struct Compact<'a>(&'a Fields);

impl Serialize for Compact<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len() * 2))?;
        for (name, value) in self.0.iter() {
            match POSITIONS.get(name.as_ref()) {
                Some(n) => seq.serialize_element(n)?,
                None => seq.serialize_element(name)?,
            }
            seq.serialize_element(value)?;
        }
        seq.end()
    }
}

/// The fields stored as `json`; only those named in `only`, when given: the others are
/// skipped while the JSON is read, not decoded into strings.
pub(crate) fn decode(json: &str, only: Option<&[&str]>) -> Result<Fields> {
    let mut de = serde_json::Deserializer::from_str(json);
    let fields = if json.starts_with('[') {
        de.deserialize_seq(Only(only))?
    } else {
        de.deserialize_map(Only(only))?
    };
    de.end()?;
    Ok(fields)
}

/// Reads a record's stored fields (either form), keeping those named (all when `None`).
struct Only<'a>(Option<&'a [&'a str]>);

impl<'de> Visitor<'de> for Only<'_> {
    type Value = Fields;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of names and strings, or an object of strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Fields::builder(0, 0);
        while let Some(name) = map.next_key_seed(Kept(self.0))? {
            match name {
                Some(name) => map.next_value_seed(Push(&mut out, name))?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out.build())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut out = Fields::builder(0, 0);
        while let Some(name) = seq.next_element_seed(Kept(self.0))? {
            let missing = || A::Error::custom("a field name without its value");
            match name {
                Some(name) => seq
                    .next_element_seed(Push(&mut out, name))?
                    .ok_or_else(missing)?,
                None => {
                    seq.next_element::<IgnoredAny>()?.ok_or_else(missing)?;
                }
            }
        }
        Ok(out.build())
    }
}

/// A field's value, a string, added with its name to the fields being read (copied from the
/// stored JSON once, into the fields' one string).
struct Push<'a>(&'a mut FieldsBuilder, FieldName);

impl<'de> DeserializeSeed<'de> for Push<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Push<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field's value, a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push(self.1, v);
        Ok(())
    }
}

/// A field's name (a string, or a position in [`NAMES`]), `Some` (owned) when it is one of
/// those kept.
struct Kept<'a>(Option<&'a [&'a str]>);

impl Kept<'_> {
    fn keeps(&self, name: &str) -> bool {
        self.0.is_none_or(|only| only.contains(&name))
    }
}

impl<'de> DeserializeSeed<'de> for Kept<'_> {
    type Value = Option<FieldName>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Kept<'_> {
    type Value = Option<FieldName>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name or its position")
    }

    /// A listed name as the list's own (no string allocated for each field of each record
    /// read), another one owned.
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.keeps(v).then(|| match POSITIONS.get(v) {
            Some(&i) => FieldName::Borrowed(NAMES[i as usize]),
            None => FieldName::Owned(v.to_owned()),
        }))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        let name = usize::try_from(v)
            .ok()
            .and_then(|i| NAMES.get(i))
            .ok_or_else(|| E::custom(format!("no field name at position {v}")))?;
        Ok(self.keeps(name).then_some(FieldName::Borrowed(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::{NAMES, POSITIONS, decode, encode};

    #[test]
    fn only_the_fields_named_are_kept_whatever_their_escapes() {
        let json = r#"{"Nom d'exercice":"MARTIN","Pr\u00e9nom":"Jos\u00e9 \"Jo\"","Code":"10","Autre":"x"}"#;
        let all = decode(json, None).unwrap();
        assert_eq!(all.len(), 4);
        let some = decode(json, Some(&["Prénom", "Code", "Absent"])).unwrap();
        assert_eq!(some.len(), 2);
        assert_eq!(some.get("Prénom"), Some("José \"Jo\""));
        assert_eq!(some.get("Code"), Some("10"));
        assert_eq!(decode(json, Some(&[])).unwrap().len(), 0);
    }

    #[test]
    fn stored_fields_that_are_not_an_object_of_strings_are_refused() {
        for bad in [r#"{"a":1}"#, r#"{"a":"b"} x"#, r#"{"a":"b""#] {
            assert!(decode(bad, Some(&["a"])).is_err(), "{bad}");
            assert!(decode(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_fields_that_are_not_names_and_strings_are_refused() {
        for bad in [
            r#"["a"]"#,
            r#"[0]"#,
            r#"["a",1]"#,
            r#"[true,"b"]"#,
            r#"[-1,"b"]"#,
            r#"[99999,"b"]"#,
            r#"["a","b"] x"#,
            r#"["a","b""#,
        ] {
            assert!(decode(bad, Some(&["a"])).is_err(), "{bad}");
            assert!(decode(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_are_stored_with_listed_names_as_positions_and_read_back_whole() {
        let fields: crate::record::Fields = [
            ("Nom d'exercice", "MARTIN \"Jo\" \\ é"),
            ("Identifiant PP", "10000000001"),
            ("nofinessej", "010000024"),
            ("Un nom \"inconnu\"", "x"),
            ("Code profession", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.to_owned()))
        .collect();
        let stored = encode(&fields).unwrap();
        assert!(stored.starts_with('['), "{stored}");
        assert!(!stored.contains("Nom d'exercice"), "{stored}");
        assert!(stored.contains(r#""Un nom \"inconnu\"""#), "{stored}");
        assert_eq!(decode(&stored, None).unwrap(), fields);
        let some = decode(
            &stored,
            Some(&["Nom d'exercice", "Un nom \"inconnu\"", "Absent"]),
        )
        .unwrap();
        assert_eq!(some.len(), 2);
        assert_eq!(some["Nom d'exercice"], fields["Nom d'exercice"]);
        assert_eq!(decode(&stored, Some(&[])).unwrap().len(), 0);
        assert_eq!(encode(&crate::record::Fields::default()).unwrap(), "[]");
        assert!(decode("[]", None).unwrap().is_empty());
    }

    /// Stored records refer to the positions of [`NAMES`]: its first names may never change.
    /// A name appended after them leaves this test as it is.
    #[test]
    fn the_listed_names_keep_their_positions() {
        const PINNED: usize = 162;
        assert!(NAMES.len() >= PINNED);
        let digest = NAMES[..PINNED]
            .iter()
            .flat_map(|n| n.bytes().chain([0]))
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        assert_eq!(digest, 0x022e_c3d1_b452_0e01);
        assert_eq!(POSITIONS.len(), NAMES.len(), "a name listed twice");
    }

    #[test]
    fn every_column_of_the_extracts_is_listed() {
        use crate::extract::columns::*;
        for name in [
            PERSONNE_ACTIVITE,
            PERSONNE_ACTIVITE_ROLE,
            SAVOIR_FAIRE,
            DIPLOME,
            MSSANTE,
            FINESS,
            AUTORISATIONS,
            AUTORISATIONS_OPTIONAL,
            CARTES,
            EQUIPEMENTS,
            EQUIPEMENTS_OPTIONAL,
        ]
        .concat()
        {
            assert!(POSITIONS.contains_key(name), "{name}");
        }
    }
}
