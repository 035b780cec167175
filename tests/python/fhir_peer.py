"""The directory's FHIR API as independent FHIR software sees it.

Driven by the integration test `directory::fhir::fhir_peer_*` (tests/it/directory/fhir.rs):

1. fhirpy's synchronous client, with the bearer token given, searches Practitioner by
   identifier (RPPS system) and pages through every Practitioner with `_count=7`, following
   the `next` links;
2. fhir.resources (the FHIR R4 4.0.1 models) validates every resource kind the API returns:
   Practitioner, PractitionerRole, Organization, Bundle, OperationOutcome,
   CapabilityStatement, with Annuaire Santé's extensions (cards, data trace) and structures'
   mailboxes;
3. prints one JSON line with what it found, and exits 0, or non-zero with the reason on
   stderr.

Arguments: BASE_URL TOKEN RPPS
"""

import json
import sys

import fhir.resources
import requests
from fhir.resources import construct_fhir_element
from fhirpy import SyncFHIRClient


def fail(why):
    print(f"fhir_peer: {why}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 4:
        fail("arguments: BASE_URL TOKEN RPPS")
    base, token, rpps = sys.argv[1:]
    if fhir.resources.__fhir_version__ != "4.0.1":
        fail(f"fhir.resources models FHIR {fhir.resources.__fhir_version__}, not R4 4.0.1")
    auth = f"Bearer {token}"
    client = SyncFHIRClient(base, authorization=auth)

    found = client.resources("Practitioner").search(
        identifier=f"https://rpps.esante.gouv.fr|{rpps}"
    ).fetch()
    by_identifier = [p.id for p in found]
    every = [p.id for p in client.resources("Practitioner").limit(7).fetch_all()]

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
    get(f"Practitioner?identifier=https://rpps.esante.gouv.fr|{rpps}"
        "&_revinclude=PractitionerRole:practitioner", 200)
    get("PractitionerRole?_count=10&_include=PractitionerRole:practitioner"
        "&_include=PractitionerRole:organization", 200)
    get("Organization?_include=Organization:partof", 200)
    get(f"Practitioner/8{rpps}", 200)
    get("Practitioner?unknown-parameter=1", 400)
    get("Practitioner/800000000000", 404)
    get("Organization?_summary=count", 200)
    # Annuaire Santé's extensions: cards (as-ext-smartcard), the data trace in meta
    # (as-ext-data-trace), a structure's own mailboxes in its telecom.
    get("Practitioner?number-smartcard=2&_count=10", 200)
    get("Practitioner?data-registration-authority=CNOM&_count=5", 200)
    get("Organization?data-information-system=FINESS&_count=50", 200)

    print(json.dumps({
        "by_identifier": by_identifier,
        "all": every,
        "validated": validated,
    }))


if __name__ == "__main__":
    main()
