"""coeur as Authlib's OAuth 2.0 client sees it: private_key_jwt with Authlib's defaults.

Driven by the integration test `compat::authlib_private_key_jwt` (tests/it/compat.rs):

1. generates an RSA key and prints its public JWK as one JSON line on stdout;
2. waits for one line on stdin (the test has registered the client with that JWK);
3. with `OAuth2Session` and `PrivateKeyJWT()` as shipped (RS256, assertions valid one hour,
   `aud` the URL being called): client_credentials at the token endpoint, introspection of
   the access token, its revocation, and introspection again;
4. prints one JSON line with what the provider answered, and exits 0, or non-zero with the
   reason on stderr.

Arguments: TOKEN_URL INTROSPECTION_URL REVOCATION_URL CLIENT_ID
"""

import json
import sys

from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def fail(why):
    print(f"authlib_peer: {why}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 5:
        fail("usage: authlib_peer.py TOKEN_URL INTROSPECTION_URL REVOCATION_URL CLIENT_ID")
    token_url, introspection_url, revocation_url, client_id = sys.argv[1:]

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    jwk = JsonWebKey.import_key(pem, {"kty": "RSA"}).as_dict(is_private=False)
    print(json.dumps({"jwk": jwk}), flush=True)
    if not sys.stdin.readline():
        fail("no go-ahead on stdin")

    session = OAuth2Session(
        client_id,
        pem,
        token_endpoint_auth_method="private_key_jwt",
        revocation_endpoint_auth_method="private_key_jwt",
    )
    # Authlib's defaults: RS256, one-hour assertions, aud = the URL called.
    session.register_client_auth_method(PrivateKeyJWT())

    token = session.fetch_token(token_url, grant_type="client_credentials")
    access = token.get("access_token")
    if not access:
        fail(f"no access token: {token}")

    seen = session.introspect_token(introspection_url, token=access)
    if seen.status_code != 200:
        fail(f"introspection answered {seen.status_code}: {seen.text}")
    before = seen.json()

    revoked = session.revoke_token(revocation_url, token=access)
    if revoked.status_code != 200:
        fail(f"revocation answered {revoked.status_code}: {revoked.text}")

    seen = session.introspect_token(introspection_url, token=access)
    if seen.status_code != 200:
        fail(f"introspection after revocation answered {seen.status_code}: {seen.text}")
    after = seen.json()

    print(
        json.dumps(
            {
                "token_type": token.get("token_type"),
                "introspected": before,
                "introspected_after_revocation": after,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
