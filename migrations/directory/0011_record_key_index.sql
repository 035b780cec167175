-- The records' keys in an index of their own (coeur-directory, SQLite), instead of the table's
-- primary key: an import into an empty store drops it with the other secondary indexes and
-- builds it once, sorted, at its end. Kept while the records were written, in the extract's
-- order, each batch rewrote thousands of that index's pages (at national size, most of what
-- the import wrote). SQLite cannot drop a primary key: the table is copied into one without
-- it, in one transaction. (No semicolon in these comments: the store splits the file on them.)
CREATE TABLE directory_record_keyed (
    kind TEXT NOT NULL,
    record_key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    fields TEXT NOT NULL,
    active BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deactivated_at BIGINT,
    version BIGINT NOT NULL
);
INSERT INTO directory_record_keyed
    (kind, record_key, content_hash, fields, active, updated_at, deactivated_at, version)
    SELECT kind, record_key, content_hash, fields, active, updated_at, deactivated_at, version
    FROM directory_record ORDER BY rowid;
DROP TABLE directory_record;
ALTER TABLE directory_record_keyed RENAME TO directory_record;
CREATE UNIQUE INDEX directory_record_key ON directory_record (kind, record_key);
CREATE INDEX directory_record_version ON directory_record (kind, version);
CREATE INDEX directory_record_state ON directory_record (kind, record_key, content_hash, active)
