-- near: the version of the locations' positions, one more at each write that adds locations
-- (in its transaction). An instance holding the positions in memory reads it in the
-- statement of each near search and reads the positions again when it moved, so that what
-- it holds is exact whichever instance wrote.
CREATE TABLE IF NOT EXISTS offer_positions (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO offer_positions (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING
