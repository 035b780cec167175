//! JSON Patch (RFC 6902) of a Location's capacities (pure): the patch is applied to the
//! Location as the API serves it, and the result must differ from it only in its
//! supported-capacity extensions, every one of them valid. What comes out is the new list of
//! capacities; nothing else of a Location can be changed through the API.

use crate::codes::SUPPORTED_CAPACITY;
use crate::fhir::Location;
use crate::model::{Capacity, capacities_of};
use serde_json::Value;

/// Why a patch is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// Not a JSON Patch document (`400`).
    Malformed(String),
    /// A well-formed patch that cannot be applied or gives an invalid Location (`422`).
    Unprocessable(String),
}

impl PatchError {
    /// For people.
    pub fn diagnostics(&self) -> &str {
        match self {
            Self::Malformed(s) | Self::Unprocessable(s) => s,
        }
    }
}

/// The Location without what a patch may change (its capacities) nor what the server
/// maintains (`meta`).
fn fixed_part(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("meta");
        if let Some(Value::Array(exts)) = o.get_mut("extension") {
            exts.retain(|e| e.get("url").and_then(Value::as_str) != Some(SUPPORTED_CAPACITY));
            if exts.is_empty() {
                o.remove("extension");
            }
        }
    }
    v
}

/// Applies `patch` (the request's body) to `current`: the new capacities.
pub fn apply(current: &Location, patch: &[u8]) -> Result<Vec<Capacity>, PatchError> {
    let patch: json_patch::Patch = serde_json::from_slice(patch)
        .map_err(|e| PatchError::Malformed(format!("not a JSON Patch document: {e}")))?;
    if patch.0.is_empty() {
        return Err(PatchError::Malformed("the patch is empty".into()));
    }
    let before = serde_json::to_value(current)
        .map_err(|e| PatchError::Unprocessable(format!("the location: {e}")))?;
    let mut after = before.clone();
    json_patch::patch(&mut after, &patch)
        .map_err(|e| PatchError::Unprocessable(format!("the patch does not apply: {e}")))?;
    if fixed_part(after.clone()) != fixed_part(before) {
        return Err(PatchError::Unprocessable(
            "only the location's supported capacities (ror-location-supported-capacity) may \
             be patched"
                .into(),
        ));
    }
    let patched: Location = serde_json::from_value(after)
        .map_err(|e| PatchError::Unprocessable(format!("the patched location: {e}")))?;
    capacities_of(&patched).map_err(PatchError::Unprocessable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{offer_of, synthetic_structures};

    fn location() -> Location {
        let s = &synthetic_structures(1)[0];
        offer_of(s, 1, 1_767_225_600).0.remove(0).resource()
    }

    #[test]
    fn a_capacity_count_is_replaced() {
        let l = location();
        let caps = apply(
            &l,
            br#"[{"op":"test","path":"/extension/1/extension/1/valueCodeableConcept/coding/0/code","value":"02"},
                 {"op":"replace","path":"/extension/1/extension/3/valueInteger","value":2},
                 {"op":"replace","path":"/extension/1/extension/5/valueDateTime","value":"2026-01-02T10:00:00+01:00"}]"#,
        )
        .unwrap();
        assert_eq!(caps[1].nb, 2);
        assert_eq!(caps[1].update_date, 1_767_225_600 + 86_400 + 9 * 3600);
        assert_eq!(caps[0], crate::model::capacities_of(&l).unwrap()[0]);
    }

    #[test]
    fn a_capacity_can_be_added_and_removed() {
        let l = location();
        let n = l.extension.len();
        let ext = serde_json::to_string(&l.extension[0]).unwrap();
        let add = format!(r#"[{{"op":"add","path":"/extension/-","value":{ext}}}]"#);
        assert_eq!(apply(&l, add.as_bytes()).unwrap().len(), n + 1);
        let rm = apply(&l, br#"[{"op":"remove","path":"/extension/0"}]"#).unwrap();
        assert_eq!(rm.len(), n - 1);
    }

    #[test]
    fn bad_patches_are_refused() {
        let l = location();
        let malformed: [&[u8]; 4] = [b"{", b"{}", b"[]", br#"[{"op":"jump","path":"/x"}]"#];
        for p in malformed {
            assert!(
                matches!(apply(&l, p), Err(PatchError::Malformed(_))),
                "{p:?}"
            );
        }
        for p in [
            r#"[{"op":"replace","path":"/name","value":"x"}]"#,
            r#"[{"op":"replace","path":"/extension/0/extension/3/valueInteger","value":-3}]"#,
            r#"[{"op":"replace","path":"/extension/0/extension/0/valueCodeableConcept/coding/0/code","value":"99"}]"#,
            r#"[{"op":"replace","path":"/extension/0/extension/3/valueInteger","value":"3"}]"#,
            r#"[{"op":"test","path":"/extension/0/extension/3/valueInteger","value":100000}]"#,
            r#"[{"op":"replace","path":"/extension/0/extension/42/valueInteger","value":1}]"#,
            r#"[{"op":"add","path":"/extension/-","value":{"url":"other","valueCode":"x"}}]"#,
            r#"[{"op":"replace","path":"/meta/versionId","value":"9"},{"op":"replace","path":"/id","value":"y"}]"#,
        ] {
            assert!(
                matches!(apply(&l, p.as_bytes()), Err(PatchError::Unprocessable(_))),
                "{p}"
            );
        }
    }
}
