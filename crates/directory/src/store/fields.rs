//! Decoding a record's stored fields (a JSON object of strings), all of them or only some.

use anyhow::Result;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use std::collections::BTreeMap;

/// The fields stored as `json`; only those named in `only`, when given: the others are
/// skipped while the JSON is read, not decoded into strings.
pub(crate) fn decode(json: &str, only: Option<&[&str]>) -> Result<BTreeMap<String, String>> {
    Ok(match only {
        None => serde_json::from_str(json)?,
        Some(names) => {
            let mut de = serde_json::Deserializer::from_str(json);
            let fields = Only(names).deserialize(&mut de)?;
            de.end()?;
            fields
        }
    })
}

/// Reads a record's stored fields (a JSON object of strings), keeping those named.
struct Only<'a>(&'a [&'a str]);

impl<'de> DeserializeSeed<'de> for Only<'_> {
    type Value = BTreeMap<String, String>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Only<'_> {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object of strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(name) = map.next_key_seed(Kept(self.0))? {
            match name {
                Some(name) => {
                    out.insert(name, map.next_value::<String>()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// A field's name, `Some` (owned) when it is one of those kept.
struct Kept<'a>(&'a [&'a str]);

impl<'de> DeserializeSeed<'de> for Kept<'_> {
    type Value = Option<String>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Kept<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.contains(&v).then(|| v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn only_the_fields_named_are_kept_whatever_their_escapes() {
        let json = r#"{"Nom d'exercice":"MARTIN","Pr\u00e9nom":"Jos\u00e9 \"Jo\"","Code":"10","Autre":"x"}"#;
        let all = decode(json, None).unwrap();
        assert_eq!(all.len(), 4);
        let some = decode(json, Some(&["Prénom", "Code", "Absent"])).unwrap();
        assert_eq!(some.len(), 2);
        assert_eq!(some["Prénom"], "José \"Jo\"");
        assert_eq!(some["Code"], "10");
        assert_eq!(decode(json, Some(&[])).unwrap().len(), 0);
    }

    #[test]
    fn stored_fields_that_are_not_an_object_of_strings_are_refused() {
        for bad in [r#"{"a":1}"#, r#"["a"]"#, r#"{"a":"b"} x"#, r#"{"a":"b""#] {
            assert!(decode(bad, Some(&["a"])).is_err(), "{bad}");
            assert!(decode(bad, None).is_err(), "{bad}");
        }
    }
}
