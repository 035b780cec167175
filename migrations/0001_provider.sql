-- The provider's store. Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Times are Unix seconds (BIGINT). Secrets are never stored in clear: opaque tokens and
-- cookies as SHA-256 hashes, client secrets as salted hashes (and sealed for HS256 clients).

CREATE TABLE identities (
    realm TEXT NOT NULL,
    national_id TEXT NOT NULL,
    active BIGINT NOT NULL,
    data TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (realm, national_id)
);

CREATE TABLE clients (
    realm TEXT NOT NULL,
    client_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    secret_hash TEXT,
    secret_sealed TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (realm, client_id)
);

CREATE TABLE pending_logins (
    id_hash TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    params TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX pending_logins_expiry ON pending_logins (expires_at);

CREATE TABLE sessions (
    sid TEXT PRIMARY KEY,
    cookie_hash TEXT NOT NULL UNIQUE,
    realm TEXT NOT NULL,
    national_id TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    method TEXT NOT NULL,
    acr TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);

CREATE TABLE grants (
    grant_id TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    client_id TEXT NOT NULL,
    national_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    method TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_sid ON grants (sid);

CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants (grant_id),
    realm TEXT NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    redirect_uri_given BIGINT NOT NULL,
    code_challenge TEXT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants (grant_id),
    realm TEXT NOT NULL,
    client_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE assertion_jtis (
    realm TEXT NOT NULL,
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (realm, client_id, jti)
);
