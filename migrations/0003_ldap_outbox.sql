-- LDAP publication outbox. Portable SQL (SQLite and PostgreSQL).
-- A row is written in the same transaction as the change it announces (an issuance, a
-- revocation, a CRL build, a new CA certificate); the publisher delivers it to the directory
-- and marks it done. The id names the change and is unique: issue:<ca>/<serial>,
-- revoke:<ca>/<serial>, crl:<ca>/<number>, ca:<ca>/<digest>. Delivery reads the current
-- state from the store, so replaying a row, or rows out of order, is harmless.

CREATE TABLE ldap_outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    ca_id TEXT NOT NULL,
    serial TEXT,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    done_at BIGINT
);
CREATE INDEX ldap_outbox_pending ON ldap_outbox (next_attempt_at, created_at) WHERE done_at IS NULL;
CREATE INDEX ldap_outbox_done ON ldap_outbox (done_at) WHERE done_at IS NOT NULL;

-- The publisher's lease (one active publisher across nodes) and its health.
CREATE TABLE ldap_publisher (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    target TEXT NOT NULL,
    last_success_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    failures BIGINT NOT NULL DEFAULT 0
);
