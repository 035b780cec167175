-- The records' keys in an index of their own (coeur-directory, PostgreSQL), instead of the
-- table's primary key: an import into an empty store drops it with the other secondary
-- indexes and builds it once, sorted, at its end.
-- (No semicolon in these comments: the store splits the file on them.)
CREATE UNIQUE INDEX IF NOT EXISTS directory_record_key ON directory_record (kind, record_key);
ALTER TABLE directory_record DROP CONSTRAINT IF EXISTS directory_record_pkey
