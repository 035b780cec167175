//! The offer's CapabilityStatement (`/metadata`): the resources, interactions and search
//! parameters it serves, a subset of the ROR's `ror-serveur`.

use serde_json::{Value, json};

fn param(name: &str, type_: &str) -> Value {
    json!({"name": name, "type": type_})
}

/// The CapabilityStatement, dated `date`, for the API at `base_url`.
pub fn capability_statement(base_url: &str, date: &str) -> Value {
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
                    "searchInclude": ["HealthcareService:location"],
                    "searchParam": service_params,
                }
            ]
        }]
    })
}
