-- One source of versions for the whole directory (coeur-directory): the import's batches and
-- the professionals' contact changes both take theirs from this single row, raised in the
-- same transaction as the records they write. The row stays locked until that transaction
-- commits, so versions are unique and committed in increasing order: a reader paging by
-- version (`_lastUpdated` increments of the provider's sync) never sees a lower version
-- appear behind a higher one it has already read. Starts at the highest version stored.
CREATE TABLE IF NOT EXISTS directory_version (
    id BIGINT NOT NULL PRIMARY KEY,
    last BIGINT NOT NULL
);
INSERT INTO directory_version (id, last)
    SELECT 1, COALESCE(MAX(version), 0) FROM directory_record
    WHERE NOT EXISTS (SELECT 1 FROM directory_version);
-- Searches through the index walk its rows in the order (param, value, kind, record_key): a
-- string's prefix is a range of that index, read in order from the paging cursor's position,
-- with no sort of the whole range. It replaces the (param, value, version) index, whose
-- version order needed every row of a prefix sorted before the first page.
CREATE INDEX IF NOT EXISTS directory_search_order
    ON directory_search (param, value, kind, record_key);
DROP INDEX IF EXISTS directory_search_value;
-- A record's index rows with their parameter and value: the further criteria of a search (a
-- given name beside the family name it is driven by) are checked from this index alone,
-- without reading the rows. It replaces the (kind, record_key) index.
CREATE INDEX IF NOT EXISTS directory_search_of_record
    ON directory_search (kind, record_key, param, value);
DROP INDEX IF EXISTS directory_search_record
