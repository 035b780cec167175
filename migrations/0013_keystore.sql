-- Keys and published artefacts in the store, so that no instance keeps on its disk what
-- another one needs.

-- Realms' signing key rings, one row per version: a rotation (or a first start, or a pruning
-- of expired keys) adds the next version; no version is ever rewritten. The ring is JSON, its
-- private keys sealed under the master key (AES-256-GCM, bound to realm and kid).
CREATE TABLE key_rings (
    realm TEXT NOT NULL,
    version BIGINT NOT NULL,
    ring TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (realm, version)
);

-- Private keys held for the CA (CA keys, OCSP responders, coeur's own TLS keys), sealed under
-- the master key (bound to the key's id), versioned likewise.
CREATE TABLE held_keys (
    key_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, version)
);

-- The master key's check value: a constant sealed under the master key that sealed the
-- stored keys. One row.
CREATE TABLE master_key_check (
    id BIGINT PRIMARY KEY,
    sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The CRLs as signed (base64 of the DER), the latest of each kind per CA; `crls` keeps the
-- numbering and history.
CREATE TABLE crl_documents (
    ca_id TEXT NOT NULL,
    delta BIGINT NOT NULL,
    number BIGINT NOT NULL,
    der TEXT NOT NULL,
    PRIMARY KEY (ca_id, delta, number)
);
