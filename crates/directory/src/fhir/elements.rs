//! `_elements` (pure): the matches of a searchset cut down to the elements asked for, besides
//! `resourceType`, `id` and `meta`, and tagged `SUBSETTED` as FHIR asks; included resources
//! stay whole.

use serde_json::{Value, json};

/// The code system of the `SUBSETTED` tag.
pub const SYSTEM_OBSERVATION_VALUE: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

/// Parses the value of `_elements`: element names (letters, digits), comma-separated.
pub fn parse(value: &str) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(|e| {
            let e = e.trim();
            let ok = !e.is_empty()
                && e.bytes().all(|b| b.is_ascii_alphanumeric())
                && e.as_bytes()[0].is_ascii_lowercase();
            ok.then(|| e.to_owned())
                .ok_or_else(|| format!("_elements: {e:?} is not an element name"))
        })
        .collect()
}

/// Keeps `elements` (and `resourceType`, `id`, `meta`) of one resource, and tags it.
pub fn subset(resource: &mut Value, elements: &[String]) {
    let Some(map) = resource.as_object_mut() else {
        return;
    };
    map.retain(|k, _| {
        matches!(k.as_str(), "resourceType" | "id" | "meta") || elements.iter().any(|e| e == k)
    });
    let meta = map.entry("meta").or_insert_with(|| json!({}));
    if let Some(meta) = meta.as_object_mut() {
        let tag = json!({ "system": SYSTEM_OBSERVATION_VALUE, "code": "SUBSETTED" });
        match meta.get_mut("tag").and_then(Value::as_array_mut) {
            Some(tags) => tags.push(tag),
            None => {
                meta.insert("tag".into(), json!([tag]));
            }
        }
    }
}

/// Subsets the `match` entries of a searchset bundle (as JSON).
pub fn subset_matches(bundle: &mut Value, elements: &[String]) {
    for entry in bundle
        .get_mut("entry")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if entry["search"]["mode"] == "match"
            && let Some(r) = entry.get_mut("resource")
        {
            subset(r, elements);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_keep_what_is_asked_and_are_tagged() {
        let mut b = json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                { "search": { "mode": "match" }, "resource": {
                    "resourceType": "Practitioner", "id": "1", "meta": { "versionId": "3" },
                    "name": [{ "family": "A" }], "identifier": [], "active": true } },
                { "search": { "mode": "include" }, "resource": {
                    "resourceType": "Organization", "id": "2", "name": "O" } }
            ]
        });
        subset_matches(&mut b, &parse("name,active").unwrap());
        let m = &b["entry"][0]["resource"];
        let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5, "{keys:?}");
        assert!(m.get("identifier").is_none());
        assert_eq!(m["name"][0]["family"], "A");
        assert_eq!(m["meta"]["versionId"], "3");
        assert_eq!(m["meta"]["tag"][0]["code"], "SUBSETTED");
        assert_eq!(
            b["entry"][1]["resource"]["name"], "O",
            "includes stay whole"
        );
        assert!(b["entry"][1]["resource"].get("meta").is_none());
        assert!(parse("name,").is_err());
        assert!(parse("na-me").is_err());
        assert!(parse("Name").is_err());
    }
}
