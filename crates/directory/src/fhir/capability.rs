//! `GET /metadata`: the CapabilityStatement, built from the same tables the parser uses, so
//! that it states exactly what is supported.

use super::query::{COMMON, ResourceType};
use serde_json::{Value, json};

fn param_type(name: &str) -> &'static str {
    match name {
        "_id"
        | "identifier"
        | "identifier-type"
        | "active"
        | "type"
        | "role"
        | "qualification-code"
        | "mailbox-mss"
        | "service-type"
        | "service-category"
        | "characteristic"
        | "data-information-system"
        | "data-registration-authority" => "token",
        "_lastUpdated" => "date",
        "practitioner" | "organization" | "partof" => "reference",
        _ => "string",
    }
}

/// The CapabilityStatement of this server at `base`, `date` being the server's start time.
pub fn capability_statement(base: &str, date: &str, public_reads: bool) -> Value {
    let resources: Vec<Value> = [
        ResourceType::Practitioner,
        ResourceType::PractitionerRole,
        ResourceType::Organization,
        ResourceType::HealthcareService,
    ]
    .into_iter()
    .map(|t| {
        let params: Vec<Value> = COMMON
            .iter()
            .chain(t.parameters())
            .map(|p| json!({ "name": p, "type": param_type(p) }))
            .collect();
        let mut r = json!({
            "type": t.as_str(),
            "interaction": [{ "code": "read" }, { "code": "search-type" }],
            "searchParam": params,
        });
        // FHIR JSON has no empty arrays.
        if !t.includes().is_empty() {
            r["searchInclude"] = json!(t.includes());
        }
        if !t.revincludes().is_empty() {
            r["searchRevInclude"] = json!(t.revincludes());
        }
        r
    })
    .collect();
    let security = if public_reads {
        "Reads are public; a coeur access token (client_credentials) may be presented and is then checked."
    } else {
        "A coeur access token (client_credentials, Bearer) with the directory's audience and read scope is required."
    };
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "kind": "instance",
        "software": { "name": "coeur-annuaire", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "Health directory (RPPS, FINESS)", "url": base },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": { "description": security },
            "resource": resources,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::query::{Handling, parse};

    #[test]
    fn the_statement_lists_what_the_parser_accepts() {
        let cap = capability_statement("http://d", "2026-01-01T00:00:00Z", false);
        assert_eq!(cap["fhirVersion"], "4.0.1");
        for r in cap["rest"][0]["resource"].as_array().unwrap() {
            let t = ResourceType::parse(r["type"].as_str().unwrap()).unwrap();
            for p in r["searchParam"].as_array().unwrap() {
                let name = p["name"].as_str().unwrap();
                let value = match p["type"].as_str().unwrap() {
                    "date" => "2026-01-01",
                    "token" if name == "active" => "true",
                    _ => "x",
                };
                let params = [(name.to_owned(), value.to_owned())];
                assert!(parse(t, &params, Handling::Strict).is_ok(), "{name}");
            }
            for inc in r["searchInclude"].as_array().into_iter().flatten() {
                let params = [("_include".to_owned(), inc.as_str().unwrap().to_owned())];
                assert!(parse(t, &params, Handling::Strict).is_ok(), "{inc}");
            }
            for inc in r["searchRevInclude"].as_array().into_iter().flatten() {
                let params = [("_revinclude".to_owned(), inc.as_str().unwrap().to_owned())];
                assert!(parse(t, &params, Handling::Strict).is_ok(), "{inc}");
            }
        }
    }
}
