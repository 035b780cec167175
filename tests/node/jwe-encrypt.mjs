// Encrypts a text to a public JWK with panva's jose, the independent implementation coeur's
// JWE decryption (coeur_oauth::jwe) is checked against. Prints the compact JWE. Run by
// tests/it/franceconnect/jwe.rs.
//
// Usage: node jwe-encrypt.mjs JWK_JSON ALG TEXT   (ALG: RSA-OAEP-256, RSA-OAEP, ECDH-ES)
import * as jose from 'jose';

const [jwk, alg, text] = process.argv.slice(2);
const parsed = JSON.parse(jwk);
const key = await jose.importJWK(parsed, alg);
const jwe = await new jose.CompactEncrypt(new TextEncoder().encode(text))
  .setProtectedHeader({ alg, enc: 'A256GCM', kid: parsed.kid, cty: 'JWT' })
  .encrypt(key);
console.log(jwe);
