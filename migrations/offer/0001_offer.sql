-- The offer service's own schema (ROR): locations with their capacities, healthcare
-- services, the history of capacity changes, the structures' service accounts. Portable SQL
-- (SQLite and PostgreSQL), times are seconds since the epoch.

CREATE TABLE IF NOT EXISTS offer_location (
    id TEXT PRIMARY KEY,
    finess TEXT NOT NULL,
    name TEXT NOT NULL,
    line TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    city TEXT NOT NULL,
    city_folded TEXT NOT NULL,
    region TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    capacities TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS offer_location_finess ON offer_location (finess);
CREATE INDEX IF NOT EXISTS offer_location_position ON offer_location (lat, lon);
CREATE INDEX IF NOT EXISTS offer_location_postal ON offer_location (postal_code);

-- One row per capacity of a location, for searches (the location's `capacities` is the
-- source of what is served).
CREATE TABLE IF NOT EXISTS offer_capacity (
    location_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    capacity_type TEXT NOT NULL,
    status TEXT NOT NULL,
    temporality TEXT NOT NULL,
    nb BIGINT NOT NULL,
    update_date BIGINT NOT NULL,
    PRIMARY KEY (location_id, position)
);
CREATE INDEX IF NOT EXISTS offer_capacity_search ON offer_capacity (capacity_type, status, nb);

CREATE TABLE IF NOT EXISTS offer_service (
    id TEXT PRIMARY KEY,
    finess TEXT NOT NULL,
    structure_name TEXT NOT NULL,
    location_id TEXT NOT NULL,
    name TEXT NOT NULL,
    service_type TEXT NOT NULL,
    specialty TEXT NOT NULL,
    care_mode TEXT NOT NULL,
    region TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS offer_service_location ON offer_service (location_id);
CREATE INDEX IF NOT EXISTS offer_service_finess ON offer_service (finess);

-- Every version of a location's capacities: who made it, when, and the capacities after
-- (those before are the previous version's).
CREATE TABLE IF NOT EXISTS offer_capacity_history (
    location_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    changed_by TEXT NOT NULL,
    capacities TEXT NOT NULL,
    PRIMARY KEY (location_id, version)
);
CREATE INDEX IF NOT EXISTS offer_capacity_history_time ON offer_capacity_history (changed_at);

-- A structure's service accounts: clients (client credentials) allowed to change the
-- capacities of the structure's locations.
CREATE TABLE IF NOT EXISTS offer_service_account (
    client_id TEXT NOT NULL,
    finess TEXT NOT NULL,
    PRIMARY KEY (client_id, finess)
);
