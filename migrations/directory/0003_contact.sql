-- Professionals' contact details for correspondence (e-mail, phone), which they edit
-- themselves in their space of the directory, shown in Practitioner.telecom (use `work`) and
-- read by the provider for the e-CPS enrolment by contact details. One row per professional
-- (IdNat_PS). A change also moves the practitioner's `updated_at` and `version` in
-- `directory_record`, in the same transaction, so that `_lastUpdated` sees it.
CREATE TABLE IF NOT EXISTS directory_contact (
    practitioner_key TEXT NOT NULL PRIMARY KEY,
    email TEXT,
    phone TEXT,
    updated_at BIGINT NOT NULL
);
