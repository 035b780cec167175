-- Revoked certificates are read in serial order per CA to build CRLs, and by revocation time
-- to keep the OCSP cache fresh: partial indexes cover both without touching valid ones.
CREATE INDEX certificates_revoked_by_serial ON certificates (ca_id, serial, revoked_at, reason) WHERE revoked_at IS NOT NULL;
CREATE INDEX certificates_revoked_at ON certificates (revoked_at) WHERE revoked_at IS NOT NULL;
