-- Upstream identity providers (FranceConnect, FranceConnect+): logins under way, links
-- between an upstream identity and a national id, links waiting for their proof, and the
-- upstream sessions coeur's logout ends. Portable SQL.

-- A login sent upstream, found again by the SHA-256 of its `state`; used once. The nonce and
-- PKCE verifier are needed in clear to check the answer and redeem the code; they live ten
-- minutes and serve one login.
CREATE TABLE upstream_logins (
    state_hash TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    upstream TEXT NOT NULL,
    pending_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    acr TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX upstream_logins_expiry ON upstream_logins (expires_at);

-- An upstream identity (realm, upstream, sub) linked to one national id at most.
CREATE TABLE upstream_links (
    realm TEXT NOT NULL,
    upstream TEXT NOT NULL,
    sub TEXT NOT NULL,
    national_id TEXT NOT NULL,
    method TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (realm, upstream, sub)
);
CREATE INDEX upstream_links_person ON upstream_links (realm, national_id);

-- An upstream identity seen for the first time, waiting for the proof of a national id (a
-- card or e-CPS login) in the same pending authorization request (so the same browser).
-- `handle_hash`: the SHA-256 of the handle the linking page posts back.
CREATE TABLE upstream_pending_links (
    handle_hash TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    upstream TEXT NOT NULL,
    sub TEXT NOT NULL,
    pending_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX upstream_pending_links_login ON upstream_pending_links (pending_hash);

-- The upstream session of a coeur session opened through an upstream (`sid` set once the
-- login completed), with the ID token coeur's logout gives as `id_token_hint`; during a
-- logout, the SHA-256 of the `state` sent to the upstream and where to continue afterwards.
CREATE TABLE upstream_sessions (
    pending_hash TEXT PRIMARY KEY,
    sid TEXT,
    realm TEXT NOT NULL,
    upstream TEXT NOT NULL,
    id_token TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    logout_state_hash TEXT,
    logout_next TEXT
);
CREATE INDEX upstream_sessions_sid ON upstream_sessions (sid);
CREATE INDEX upstream_sessions_logout ON upstream_sessions (logout_state_hash);
