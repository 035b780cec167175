-- near: the positions' index holds the ids too, so that the locations of a box are read from
-- the index alone. It replaces the index of positions only.
CREATE INDEX IF NOT EXISTS offer_location_near ON offer_location (lat, lon, id);
DROP INDEX IF EXISTS offer_location_position;
