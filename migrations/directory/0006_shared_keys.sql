-- Keys every instance of the directory sharing this database must use alike, made once by
-- the first instance that needs them (the first insert wins): `cursor`, the key of the
-- paging cursors in `next` links, so that a link one instance wrote is followed at another.
-- The value is the key in hexadecimal.
CREATE TABLE IF NOT EXISTS directory_shared_key (
    name TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
