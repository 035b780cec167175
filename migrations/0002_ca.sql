-- The certificate authority's store. Portable SQL (SQLite and PostgreSQL).
-- Certificates are unique per issuer by (ca_id, serial). DER values are base64 text.

CREATE TABLE ca_certs (
    ca_id TEXT PRIMARY KEY,
    hierarchy TEXT NOT NULL,
    der TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE cert_requests (
    id TEXT PRIMARY KEY,
    ca_id TEXT NOT NULL,
    profile TEXT NOT NULL,
    status TEXT NOT NULL,
    csr TEXT NOT NULL,
    subject TEXT NOT NULL,
    requester TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT,
    reason TEXT,
    serial TEXT
);
CREATE INDEX cert_requests_status ON cert_requests (status, created_at);

CREATE TABLE certificates (
    ca_id TEXT NOT NULL,
    serial TEXT NOT NULL,
    profile TEXT NOT NULL,
    subject TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    der TEXT NOT NULL,
    request_id TEXT,
    issued_at BIGINT NOT NULL,
    revoked_at BIGINT,
    reason BIGINT,
    PRIMARY KEY (ca_id, serial)
);
CREATE INDEX certificates_revoked ON certificates (ca_id, revoked_at);

CREATE TABLE crls (
    ca_id TEXT NOT NULL,
    number BIGINT NOT NULL,
    delta_base BIGINT,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    PRIMARY KEY (ca_id, number)
);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    actor TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
