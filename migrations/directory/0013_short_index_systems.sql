-- The search index's systems as short codes (coeur-directory, index::STORED_SYSTEMS).
-- Portable SQL (SQLite and PostgreSQL). The systems are URLs of up to 100 bytes, held by a
-- third of the rows (every exercise's profession, mode, role and authority): a third of the
-- table's bytes, written, logged and read again by every import. Each is now its code, the
-- position of the system in the list. No index holds the column: only the table's rows are
-- written again. A search by a system no row holds finds nothing.
-- (No semicolon in these comments: the store splits the file on them.)
UPDATE directory_search SET system = CASE system
    WHEN 'urn:oid:1.2.250.1.71.4.2.1' THEN '1'
    WHEN 'https://rpps.esante.gouv.fr' THEN '2'
    WHEN 'https://adeli.esante.gouv.fr' THEN '3'
    WHEN 'https://finess.esante.gouv.fr' THEN '4'
    WHEN 'https://sirene.fr' THEN '5'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante' THEN '6'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_R23-ModeExercice/FHIR/TRE-R23-ModeExercice' THEN '7'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_R21-Fonction/FHIR/TRE-R21-Fonction' THEN '8'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_R60-AutoriteEnregistrement/FHIR/TRE-R60-AutoriteEnregistrement' THEN '9'
    WHEN 'urn:oid:1.2.250.1.213.2.28' THEN '10'
    WHEN 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-type-organisation' THEN '11'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement' THEN '12'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_R75-InseeNAFrev2Niveau5/FHIR/TRE-R75-InseeNAFrev2Niveau5' THEN '13'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_R274-ActiviteSanitaireRegulee/FHIR/TRE-R274-ActiviteSanitaireRegulee' THEN '14'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_R275-ModaliteActivite/FHIR/TRE-R275-ModaliteActivite' THEN '15'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_R276-FormeActivite/FHIR/TRE-R276-FormeActivite' THEN '16'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_R280-DisciplineEquipementSocial/FHIR/TRE-R280-DisciplineEquipementSocial' THEN '17'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_R209-TypeActivite/FHIR/TRE-R209-TypeActivite' THEN '18'
    WHEN 'https://mos.esante.gouv.fr/NOS/TRE_R279-Clientele/FHIR/TRE-R279-Clientele' THEN '19'
    ELSE system END
WHERE system <> '' AND length(system) > 2;
