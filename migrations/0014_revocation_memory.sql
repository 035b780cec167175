-- Revocations are answered from each instance's memory, which reads the recent ones from here
-- when it starts and, as a fallback for a lost notification, every few seconds.
ALTER TABLE revoked_tokens ADD COLUMN revoked_at BIGINT;
CREATE INDEX revoked_tokens_revoked_at ON revoked_tokens (revoked_at);
CREATE INDEX grants_revoked_at ON grants (revoked_at) WHERE revoked_at IS NOT NULL;
