"""The offer's (ROR) FHIR API as independent FHIR software sees it.

Driven by the integration tests `offer::api::offer_peer_*` and `offer::write::*`
(tests/it/offer/):

1. fhirpy's synchronous client, with the bearer token given, searches Locations with
   available beds (capacity-type 01, capacity-status 02, nb-capacity ge5), Locations within
   20 km of Paris, and pages through every Location with `_count=7`;
2. fhir.resources (the FHIR R4 4.0.1 models) validates every resource kind the API returns:
   Location, HealthcareService, Bundle (searchset and history), OperationOutcome,
   CapabilityStatement;
3. prints one JSON line with what it found, and exits 0, or non-zero with the reason on
   stderr.

Arguments: BASE_URL TOKEN LOCATION_ID
"""

import json
import sys

import fhir.resources
import requests
from fhir.resources import construct_fhir_element
from fhirpy import SyncFHIRClient


def fail(why):
    print(f"offer_peer: {why}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 4:
        fail("arguments: BASE_URL TOKEN LOCATION_ID")
    base, token, location = sys.argv[1:]
    if fhir.resources.__fhir_version__ != "4.0.1":
        fail(f"fhir.resources models FHIR {fhir.resources.__fhir_version__}, not R4 4.0.1")
    auth = f"Bearer {token}"
    client = SyncFHIRClient(base, authorization=auth)

    beds = client.resources("Location").search(
        **{"capacity-type": "01", "capacity-status": "02", "nb-capacity": "ge5"}
    ).limit(7).fetch_all()
    near = client.resources("Location").search(near="48.84|2.388|20|km").fetch_all()
    every = [l.id for l in client.resources("Location").limit(7).fetch_all()]

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
    get(f"Location/{location}", 200)
    get(f"Location?_id={location}&_revinclude=HealthcareService:location", 200)
    get("HealthcareService?_include=HealthcareService:location&_count=10", 200)
    get(f"Location/{location}/_history", 200)
    get("Location?capacity-type=99", 400)
    get("Location/nowhere", 404)

    print(json.dumps({
        "available_beds": [l.id for l in beds],
        "near_paris": [l.id for l in near],
        "all": every,
        "validated": validated,
    }))


if __name__ == "__main__":
    main()
