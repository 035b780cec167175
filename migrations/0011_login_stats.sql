-- Connection statistics ("Stats PSC"): completed logins per UTC day, realm, relying party and
-- authentication method, counted in the transaction that completes each login. Kept when the
-- sessions and grants they came from are purged. Portable SQL.
CREATE TABLE login_stats (
    day TEXT NOT NULL,
    realm TEXT NOT NULL,
    client_id TEXT NOT NULL,
    method TEXT NOT NULL,
    logins BIGINT NOT NULL,
    PRIMARY KEY (day, realm, client_id, method)
);
