-- The capacities' index by (type, status, count) serves no search since 0002's index (type,
-- status, location, count …) does: dropped, one index less to write on each capacity change.
DROP INDEX IF EXISTS offer_capacity_search;
