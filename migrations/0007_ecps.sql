-- e-CPS: professionals' devices, their activation codes, and the decisions awaited from a
-- professional (a wallet login by e-CPS, a CIBA authentication request). Portable SQL.

-- A device holding an e-CPS: its P-256 public key (the uncompressed point, base64url);
-- the private key never leaves the device. Expired or revoked devices approve nothing.
CREATE TABLE ecps_devices (
    device_id TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    national_id TEXT NOT NULL,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX ecps_devices_owner ON ecps_devices (realm, national_id);

-- A one-time activation code (hashed) letting a device enrol for an identity: shown after a
-- card login, or sent by e-mail with a second code (hashed) sent on the second channel.
CREATE TABLE ecps_activations (
    code_hash TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    national_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    second_code_hash TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX ecps_activations_expiry ON ecps_activations (expires_at);

-- A decision awaited from a professional: `origin` 'wallet' (a browser login by e-CPS) or
-- 'ciba' (a CIBA request); `channel` 'MOBILE' (the e-CPS devices) or 'CARD' (the card, on
-- coeur's approval page). `id` is public (the device shows and signs it); a CIBA request's
-- auth_req_id is a separate secret, stored hashed (`secret_hash`). `params` (JSON) holds what
-- completing the request needs. Status: pending, approved, denied, consumed.
CREATE TABLE approval_requests (
    id TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    national_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    channel TEXT NOT NULL,
    binding_message TEXT,
    acr TEXT,
    nonce TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    device_id TEXT,
    method TEXT,
    amr TEXT,
    decided_at BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    secret_hash TEXT UNIQUE,
    poll_interval BIGINT,
    last_polled_at BIGINT
);
CREATE INDEX approval_requests_waiting ON approval_requests (realm, national_id, status);
CREATE INDEX approval_requests_expiry ON approval_requests (expires_at);
