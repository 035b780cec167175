-- The records' keys with their state (coeur-directory): an import reads the key, content hash
-- and state of every stored record of its kinds, twice (what it compares its rows with, then
-- what a complete extract did not give), in key order. From this index alone, instead of a
-- read of each record's row (its fields included) in an order that is not the table's.
-- (No semicolon in these comments: the store splits the file on them.)
CREATE INDEX IF NOT EXISTS directory_record_state
    ON directory_record (kind, record_key, content_hash, active)
