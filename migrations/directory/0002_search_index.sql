-- The search index (coeur-directory): one row per searchable value of a record, written by
-- the import in the same transaction as the record, so that every search parameter of the
-- FHIR API starts from an index instead of scanning the records. Portable SQL (SQLite and
-- PostgreSQL): `COLLATE BINARY` (bytewise order, what prefix ranges on folded strings need)
-- is written `COLLATE "C"` on PostgreSQL by the store.
--   param: the stored parameter (identifier, family, given, prefix, name, address-city,
--          address-postalcode, type, partof, code, owner, organization)
--   system: the token's system, '' when none or for strings and references
--   value: the token's code, the reference's logical id, or the string folded (lower case,
--          accents stripped) for FHIR's default starts-with match
--   version: the record's version, kept equal to directory_record.version (keyset paging).
-- (No semicolon in these comments: the store splits the file on them.)
CREATE TABLE IF NOT EXISTS directory_search (
    kind TEXT NOT NULL,
    record_key TEXT NOT NULL,
    param TEXT NOT NULL,
    system TEXT NOT NULL,
    value TEXT COLLATE BINARY NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS directory_search_value ON directory_search (param, value, version);
CREATE INDEX IF NOT EXISTS directory_search_record ON directory_search (kind, record_key);
