-- CPS card logins: the hand-off from the wallet page to the card (mutual TLS) listener and
-- back. Tokens are stored as SHA-256 hashes and used once.
CREATE TABLE card_handoffs (
    handoff_hash TEXT PRIMARY KEY,
    pending_hash TEXT NOT NULL,
    realm TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    result_hash TEXT UNIQUE,
    national_id TEXT,
    cert_ca TEXT,
    cert_serial TEXT
);
