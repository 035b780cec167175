-- Passkeys: a professional's WebAuthn credentials (ES256, user verification), registered from
-- an active e-CPS device, for same-device login; and the one-time challenges of their
-- registrations and logins. Portable SQL.

-- A credential: its id (base64url, as the authenticator chose it), its public key (the
-- uncompressed P-256 point, base64url) and its signature counter, updated compare-and-set.
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    national_id TEXT NOT NULL,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL,
    sign_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_owner ON passkeys (realm, national_id);

-- A challenge given for a registration (`purpose` 'register', for `national_id`) or a login
-- ('login', for the pending login `pending_hash`), stored hashed, used once.
CREATE TABLE passkey_challenges (
    challenge_hash TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    purpose TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX passkey_challenges_expiry ON passkey_challenges (expires_at);
