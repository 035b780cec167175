// The device's secrets, kept in IndexedDB, and the PIN that guards them.
//
// The device key is a P-256 ECDSA key made by WebCrypto as non-extractable: its private part
// can be used to sign by this origin's scripts but never read, copied or exported, not even by
// them; IndexedDB keeps the CryptoKey object itself (structured clone), not its bytes. Such a
// key cannot be wrapped under a PIN-derived key (wrapping needs an extractable key), so the
// PIN guards the other thing every decision needs: the device credential, the bearer token
// without which coeur accepts nothing from this device. The credential is kept only sealed
// with AES-256-GCM under a key derived from the PIN (PBKDF2-HMAC-SHA256, 600,000 iterations,
// a random salt): a wrong PIN fails the GCM tag. Before each signature the app asks for the
// PIN and unseals the credential again; after MAX_ATTEMPTS wrong PINs in a row, the key and
// the sealed credential are erased. An attacker who copies the browser's profile can try PINs
// offline against the sealed credential at PBKDF2's cost; the device's revocation (here, by
// another device, or by an operator) is the answer to a lost device.

const DB = "coeur-ecps";
const STORE = "devices";
export const PIN_ITERATIONS = 600000;
export const MAX_ATTEMPTS = 5;
const enc = new TextEncoder();
const dec = new TextDecoder();

function open() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE, { keyPath: "realm" });
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function tx(mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const req = fn(t.objectStore(STORE));
    t.oncomplete = () => {
      db.close();
      resolve(req ? req.result : undefined);
    };
    t.onerror = t.onabort = () => {
      db.close();
      reject(t.error);
    };
  });
}

/** The device record of `realm`, if this browser holds one. */
export const load = (realm) => tx("readonly", (s) => s.get(realm));
const save = (rec) => tx("readwrite", (s) => s.put(rec));
/** Erases the device record of `realm` (key and sealed credential). */
export const forget = (realm) => tx("readwrite", (s) => s.delete(realm));

/** base64url without padding. */
export function b64u(buf) {
  let s = "";
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A new device key pair; the private key cannot be extracted. */
export function newKeyPair() {
  return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
}

/** The public key as coeur registers it: the uncompressed point, base64url. */
export async function publicKey(pair) {
  return b64u(await crypto.subtle.exportKey("raw", pair.publicKey));
}

async function pinKey(pin, salt, iterations) {
  const base = await crypto.subtle.importKey("raw", enc.encode(pin), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", salt, iterations, hash: "SHA-256" },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** Stores a new device: `fields` ({realm, device_id, name, expires_at, key}) and the
 * credential sealed under `pin`. */
export async function seal(fields, pin, credential) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const k = await pinKey(pin, salt, PIN_ITERATIONS);
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, k, enc.encode(credential));
  const rec = { ...fields, salt, iv, sealed, iterations: PIN_ITERATIONS, attempts: 0 };
  await save(rec);
  return rec;
}

/** The error of a wrong PIN: `left` attempts remain, or the device was erased (`wiped`). */
export class WrongPin extends Error {
  constructor(left) {
    super("wrong PIN");
    this.left = left;
    this.wiped = left <= 0;
  }
}

/** The credential of `rec` if `pin` is right; counts wrong PINs, erasing the device at
 * MAX_ATTEMPTS. */
export async function unseal(rec, pin) {
  const k = await pinKey(pin, rec.salt, rec.iterations);
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: rec.iv }, k, rec.sealed);
    if (rec.attempts) {
      rec.attempts = 0;
      await save(rec);
    }
    return dec.decode(plain);
  } catch {
    rec.attempts = (rec.attempts || 0) + 1;
    const left = MAX_ATTEMPTS - rec.attempts;
    if (left <= 0) {
      await forget(rec.realm);
    } else {
      await save(rec);
    }
    throw new WrongPin(left);
  }
}

/** The text a decision signs, rebuilt from the request's fields as `coeur ecps` does
 * (coeur_oauth::ecps::Challenge): never a text the server wrote. */
export function signedText(realm, req, decision) {
  const fields = [
    "coeur-ecps-v1",
    realm,
    req.id,
    decision,
    req.client_id,
    req.binding_message || "",
    req.nonce,
    String(req.expires_at),
  ];
  if (fields.some((f) => typeof f !== "string" || /[\r\n]/.test(f))) {
    throw new Error("unsignable request");
  }
  return fields.join("\n");
}

/** ECDSA P-256 SHA-256 over `text`: WebCrypto's raw r || s (64 bytes), base64url; coeur
 * accepts it as is (and DER too). */
export async function sign(key, text) {
  return b64u(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, enc.encode(text)));
}
