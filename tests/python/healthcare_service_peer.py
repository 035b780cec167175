"""The directory's HealthcareService API as independent FHIR software sees it.

Driven by the integration test `directory::services::healthcare_service_peer`
(tests/it/directory/services.rs):

1. fhirpy's synchronous client, with the bearer token given, pages through every
   HealthcareService with `_count=2`, following the `next` links, and searches those of one
   site (`organization`);
2. fhir.resources (the FHIR R4 4.0.1 models) validates what the API returns: a
   HealthcareService read, searchsets with `_include=HealthcareService:organization` and an
   Organization with `_revinclude=HealthcareService:organization`, the CapabilityStatement;
3. prints one JSON line with what it found, and exits 0, or non-zero with the reason on
   stderr.

Arguments: BASE_URL TOKEN SITE_FINESS
"""

import json
import sys

import fhir.resources
import requests
from fhir.resources import construct_fhir_element
from fhirpy import SyncFHIRClient


def fail(why):
    print(f"healthcare_service_peer: {why}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 4:
        fail("arguments: BASE_URL TOKEN SITE_FINESS")
    base, token, site = sys.argv[1:]
    if fhir.resources.__fhir_version__ != "4.0.1":
        fail(f"fhir.resources models FHIR {fhir.resources.__fhir_version__}, not R4 4.0.1")
    auth = f"Bearer {token}"
    client = SyncFHIRClient(base, authorization=auth)

    every = [s.id for s in client.resources("HealthcareService").limit(2).fetch_all()]
    at_site = [
        s.id
        for s in client.resources("HealthcareService")
        .search(organization=f"Organization/{site}")
        .fetch_all()
    ]
    if not every:
        fail("no HealthcareService found")

    validated = {}

    def validate(resource):
        kind = resource["resourceType"]
        construct_fhir_element(kind, resource)
        validated[kind] = validated.get(kind, 0) + 1
        if kind == "Bundle":
            for entry in resource.get("entry", []):
                validate(entry["resource"])

    def get(path, expect):
        r = requests.get(f"{base}/{path}", headers={"Authorization": auth}, timeout=30)
        if r.status_code != expect:
            fail(f"GET {path}: {r.status_code} {r.text}")
        if not r.headers.get("content-type", "").startswith("application/fhir+json"):
            fail(f"GET {path}: content type {r.headers.get('content-type')}")
        validate(r.json())

    get("metadata", 200)
    get(f"HealthcareService/{every[0]}", 200)
    get("HealthcareService?_count=3&_include=HealthcareService:organization", 200)
    # Every service, social equipment (eligibility, its clientele) among them.
    get("HealthcareService?_count=500", 200)
    get(f"Organization?_id={site}&_revinclude=HealthcareService:organization", 200)
    get("HealthcareService?characteristic=unknown-code&_total=accurate", 200)
    get("HealthcareService?family=x", 400)

    print(json.dumps({"all": every, "at_site": at_site, "validated": validated}))


if __name__ == "__main__":
    main()
