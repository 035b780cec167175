-- The search index's rows by record (coeur-directory) only for the parameters of names and
-- addresses, and without the record's version. Portable SQL (SQLite and PostgreSQL).
-- A search's further criteria (`also`) on a code, an identifier or a reference are checked
-- through the index's own order (param, value, kind, record_key): one exact row each. Those on
-- a name or an address are prefixes, checked among the record's rows of that parameter: the
-- index by record keeps only these (the rows of index::BY_RECORD, one term each, so that a
-- condition on one of them implies it), about a sixth of the rows. A first import builds it
-- in a fifth of the time the whole one took (at national size, 25 s).
-- The version went with it: it was kept equal to the record's (every change of a record
-- rewrote its rows' versions through the index by record) and is read from the record.
-- A changed record's rows are removed one by one, those its stored fields give.
-- (No semicolon in these comments: the store splits the file on them.)
DROP INDEX IF EXISTS directory_search_of_record;
ALTER TABLE directory_search DROP COLUMN version;
CREATE INDEX IF NOT EXISTS directory_search_of_record
    ON directory_search (kind, record_key, param, value)
    WHERE param = 'family' OR param = 'given' OR param = 'prefix' OR param = 'name'
        OR param = 'address-city' OR param = 'address-postalcode'
