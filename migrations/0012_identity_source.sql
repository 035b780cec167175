-- The provider's identities kept in sync from the health directory's FHIR API: where each
-- identity comes from ('local': realm files, imports, the sandbox generator; 'directory':
-- the sync, which never touches the others), and per realm how far the sync has read.
ALTER TABLE identities ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
CREATE INDEX identities_source ON identities (realm, source);

CREATE TABLE directory_sync (
    realm TEXT PRIMARY KEY,
    -- The directory's _lastUpdated (seconds) the next increment starts from; NULL: none yet.
    watermark BIGINT,
    -- When the last pass ended and the last full pass ended (the provider's clock).
    synced_at BIGINT NOT NULL,
    full_at BIGINT
);
