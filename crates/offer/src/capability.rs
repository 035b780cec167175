//! The offer's CapabilityStatement (`/metadata`): the resources, interactions, search
//! parameters and includes it serves, a subset of the ROR's `ror-serveur`. Of the includes
//! `ror-serveur` lists, those the offer's data answers: the services of a location and the
//! location of a service (its own), and, when it reaches the directory, the structure of a
//! service and its legal entity (`HealthcareService:organization`, `Organization:partof`,
//! read from the directory). It holds no PractitionerRole nor Task, so not
//! `PractitionerRole:practitioner`, `PractitionerRole:service` and `Task:focus`.

use crate::codes::{self, ValueSet};
use serde_json::{Value, json};

fn param(name: &str, type_: &str) -> Value {
    match coded(name) {
        Some(vs) => json!({"name": name, "type": type_, "documentation": format!(
            "`code` or `system|code`, the system being the code system {} (value set {}, {})",
            vs.system, vs.id, vs.url)}),
        None => json!({"name": name, "type": type_}),
    }
}

/// The value set of a coded search parameter.
fn coded(name: &str) -> Option<&'static ValueSet> {
    Some(match name {
        "_tag" => &codes::REGION,
        "capacity-type" => &codes::CAPACITY_TYPE,
        "capacity-status" => &codes::CAPACITY_STATUS,
        "temporality-capacity" => &codes::TEMPORALITY,
        "service-type" => &codes::ACTIVITY_FIELD,
        "specialty" => &codes::OPERATIONAL_ACTIVITY,
        _ => return None,
    })
}

/// Whether the offer reaches the directory (the structures' Organizations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Organizations {
    /// Read from the directory: they may be included.
    FromDirectory,
    /// No directory: they may not.
    Unavailable,
}

/// The `_include` values of a HealthcareService search.
pub fn service_includes(organizations: Organizations) -> &'static [&'static str] {
    match organizations {
        Organizations::FromDirectory => &[
            "HealthcareService:location",
            "HealthcareService:organization",
            "Organization:partof",
        ],
        Organizations::Unavailable => &["HealthcareService:location"],
    }
}

/// The CapabilityStatement, dated `date`, for the API at `base_url`.
pub fn capability_statement(base_url: &str, date: &str, organizations: Organizations) -> Value {
    let location_params: Vec<Value> = [
        ("_id", "token"),
        ("_lastUpdated", "date"),
        ("_tag", "token"),
        ("identifier", "token"),
        ("near", "special"),
        ("address-postalcode", "string"),
        ("address-city", "string"),
        ("capacity-type", "token"),
        ("capacity-status", "token"),
        ("nb-capacity", "number"),
        ("temporality-capacity", "token"),
        ("capacity-update-date", "date"),
    ]
    .into_iter()
    .map(|(n, t)| param(n, t))
    .collect();
    let service_params: Vec<Value> = [
        ("_id", "token"),
        ("_lastUpdated", "date"),
        ("_tag", "token"),
        ("identifier", "token"),
        ("service-type", "token"),
        ("specialty", "token"),
        ("location", "reference"),
    ]
    .into_iter()
    .map(|(n, t)| param(n, t))
    .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "coeur",
        "kind": "instance",
        "software": {"name": "coeur-offer"},
        "implementation": {"description": "Offre de soins (ROR)", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "instantiates": ["https://interop.esante.gouv.fr/ig/fhir/ror/CapabilityStatement/ror-serveur"],
        "rest": [{
            "mode": "server",
            "security": {"service": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                "code": "OAuth"}]}]},
            "resource": [
                {
                    "type": "Location",
                    "profile": "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location",
                    "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"},
                        {"code": "patch"}, {"code": "history-instance"}],
                    "versioning": "versioned-update",
                    "conditionalUpdate": false,
                    "searchRevInclude": ["HealthcareService:location"],
                    "searchParam": location_params,
                },
                {
                    "type": "HealthcareService",
                    "profile": "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-healthcareservice",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchInclude": service_includes(organizations),
                    "searchParam": service_params,
                }
            ]
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_listed_are_those_served() {
        let includes = |o| {
            let c = capability_statement("http://o", "2026-01-01T00:00:00Z", o);
            let r = &c["rest"][0]["resource"];
            (
                r[0]["searchRevInclude"].clone(),
                r[1]["searchInclude"].clone(),
            )
        };
        let (rev, inc) = includes(Organizations::Unavailable);
        assert_eq!(rev, serde_json::json!(["HealthcareService:location"]));
        assert_eq!(inc, serde_json::json!(["HealthcareService:location"]));
        let (rev, inc) = includes(Organizations::FromDirectory);
        assert_eq!(rev, serde_json::json!(["HealthcareService:location"]));
        assert_eq!(
            inc,
            serde_json::json!([
                "HealthcareService:location",
                "HealthcareService:organization",
                "Organization:partof"
            ])
        );
    }

    #[test]
    fn coded_parameters_name_their_code_system() {
        let c = capability_statement(
            "http://o",
            "2026-01-01T00:00:00Z",
            Organizations::Unavailable,
        );
        let params = c["rest"][0]["resource"][0]["searchParam"]
            .as_array()
            .unwrap();
        let status = params
            .iter()
            .find(|p| p["name"] == "capacity-status")
            .unwrap();
        let doc = status["documentation"].as_str().unwrap();
        assert!(
            doc.contains("/TRE_R330-TypeStatutCapacite/") && doc.contains("J188"),
            "{doc}"
        );
        let near = params.iter().find(|p| p["name"] == "near").unwrap();
        assert!(near.get("documentation").is_none());
    }
}
