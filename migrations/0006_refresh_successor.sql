-- The answer a refresh token's first use got (the successor tokens, sealed under the master
-- key), given again to a retry within the realm's reuse window.
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed TEXT;
