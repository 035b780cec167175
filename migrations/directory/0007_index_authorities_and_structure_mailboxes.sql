-- The search index (coeur-directory) gains rows for two kinds of records already stored: an
-- exercise's registration authorities (param `authority`, the parts of its `Autorité
-- d'enregistrement`, for `data-registration-authority`) and the structure of a structure's own
-- MSSanté mailbox (param `organization`, for Organization's `mailbox-mss`). Their rows are
-- dropped here, and the store writes them again, with the new ones, when it is opened (the
-- kinds left without index rows are indexed again from their records). Portable SQL.
DELETE FROM directory_search WHERE kind IN ('practitioner_role', 'mailbox')
