-- The directory's own store (coeur-directory), separate from the provider's schema: one row
-- per imported record (professional, exercise, qualification, diploma, MSSanté mailbox,
-- FINESS establishment or legal entity). Portable SQL: SQLite and PostgreSQL.
-- Records are never deleted: a record absent from a complete extract gets active = 0 and the
-- date of its deactivation. `version` grows with every change and orders `_lastUpdated`
-- paging (keyset), stable while data changes.
CREATE TABLE IF NOT EXISTS directory_record (
    kind TEXT NOT NULL,
    record_key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    fields TEXT NOT NULL,
    active BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deactivated_at BIGINT,
    version BIGINT NOT NULL,
    PRIMARY KEY (kind, record_key)
);
CREATE INDEX IF NOT EXISTS directory_record_version ON directory_record (kind, version);
