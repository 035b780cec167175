-- Searches by capacity: the locations having a capacity of a type and status, in the order
-- of their ids (the order of search pages), straight from the index, whose other columns
-- match the rest of a capacity's conditions without reading the table.
-- (Statements are split on semicolons: none in comments.)
CREATE INDEX IF NOT EXISTS offer_capacity_by_location ON offer_capacity (
    capacity_type, status, location_id, nb, temporality, update_date
);
