-- PostgreSQL only (the store applies this file there, and records it as applied on SQLite,
-- which has no trigram index): `:contains` on an organisation's name. A trigram index
-- (pg_trgm, a trusted extension: the database's owner may create it) over the index rows of
-- organisation names answers `value LIKE '%…%'` without reading every name. On SQLite such a
-- search reads the names' index rows in order and filters them.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS directory_search_name_trigram
    ON directory_search USING gin (value gin_trgm_ops) WHERE param = 'name'
