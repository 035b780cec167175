-- Family and given names together (coeur-directory): one `family-given` row per professional
-- with both, the folded family name, the character U+0001, the folded given name, as the
-- import now writes them (index::FAMILY_GIVEN). A search by family and given name then reads
-- the rows of its matches only. Rows of the records already stored, from their `family` and
-- `given` rows. `char(1)` is written `chr(1)` on PostgreSQL by the store.
-- (No semicolon in these comments: the store splits the file on them.)
INSERT INTO directory_search (kind, record_key, param, system, value, version)
SELECT f.kind, f.record_key, 'family-given', '', f.value || char(1) || g.value, f.version
FROM directory_search f
JOIN directory_search g ON g.kind = f.kind AND g.record_key = f.record_key AND g.param = 'given'
WHERE f.param = 'family'
  AND NOT EXISTS (
    SELECT 1 FROM directory_search x
    WHERE x.kind = f.kind AND x.record_key = f.record_key AND x.param = 'family-given'
  )
