-- Linking an upstream (FranceConnect) identity by its pivot identity, where a realm's upstream
-- allows it: identities' birth data (each optional), looked up by birth date, and the
-- national id a pending link may be confirmed for. Portable SQL.

-- Birth date `YYYY-MM-DD` (complete), birth place (INSEE COG code of the commune) and birth
-- country (INSEE COG code, 99100 France), as in the identity's record.
ALTER TABLE identities ADD COLUMN birth_date TEXT;
ALTER TABLE identities ADD COLUMN birth_place TEXT;
ALTER TABLE identities ADD COLUMN birth_country TEXT;
CREATE INDEX identities_birth_date ON identities (realm, birth_date);

-- The national id whose record the upstream's pivot identity matched, offered to the person
-- for confirmation (cleared when they decline), and the level the upstream login reached.
ALTER TABLE upstream_pending_links ADD COLUMN pivot_national_id TEXT;
ALTER TABLE upstream_pending_links ADD COLUMN acr TEXT;
