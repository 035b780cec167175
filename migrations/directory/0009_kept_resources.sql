-- The resources served, kept as their JSON (coeur-directory): a Practitioner with what it
-- shows of its exercises, qualifications, mailboxes, cards and contact details, written by a
-- search that mapped it and read by the next ones instead of its record and related records.
-- `format` names the code that wrote it: a row of another format is not read. A write that
-- changes what a kept resource shows removes its row in the same transaction, and a search
-- keeps a resource only while no change has been committed since it read the records.
-- (No semicolon in these comments: the store splits the file on them.)
CREATE TABLE IF NOT EXISTS directory_resource (
    kind TEXT NOT NULL,
    record_key TEXT NOT NULL,
    format TEXT NOT NULL,
    resource TEXT NOT NULL,
    PRIMARY KEY (kind, record_key)
)
