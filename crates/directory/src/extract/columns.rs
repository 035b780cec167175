//! The column names of each extract (igc digest §5), as the headers spell them.

/// `PS_LibreAcces_Personne_activite`, the 52 columns; newer files add [`PERSONNE_ACTIVITE_ROLE`].
pub const PERSONNE_ACTIVITE: &[&str] = &[
    "Type d'identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Code civilité d'exercice",
    "Libellé civilité d'exercice",
    "Code civilité",
    "Libellé civilité",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Code profession",
    "Libellé profession",
    "Code catégorie professionnelle",
    "Libellé catégorie professionnelle",
    "Code type savoir-faire",
    "Libellé type savoir-faire",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Code mode exercice",
    "Libellé mode exercice",
    "Numéro SIRET site",
    "Numéro SIREN site",
    "Numéro FINESS site",
    "Numéro FINESS établissement juridique",
    "Identifiant technique de la structure",
    "Raison sociale site",
    "Enseigne commerciale site",
    "Complément destinataire (coord. structure)",
    "Complément point géographique (coord. structure)",
    "Numéro Voie (coord. structure)",
    "Indice répétition voie (coord. structure)",
    "Code type de voie (coord. structure)",
    "Libellé type de voie (coord. structure)",
    "Libellé Voie (coord. structure)",
    "Mention distribution (coord. structure)",
    "Bureau cedex (coord. structure)",
    "Code postal (coord. structure)",
    "Code commune (coord. structure)",
    "Libellé commune (coord. structure)",
    "Code pays (coord. structure)",
    "Libellé pays (coord. structure)",
    "Téléphone (coord. structure)",
    "Téléphone 2 (coord. structure)",
    "Télécopie (coord. structure)",
    "Adresse e-mail (coord. structure)",
    "Code Département (structure)",
    "Libellé Département (structure)",
    "Ancien identifiant de la structure",
    "Autorité d'enregistrement",
    "Code secteur d'activité",
    "Libellé secteur d'activité",
    "Code section tableau pharmaciens",
    "Libellé section tableau pharmaciens",
];

/// The four columns newer `Personne_activite` files append.
pub const PERSONNE_ACTIVITE_ROLE: &[&str] = &[
    "Code rôle",
    "Libellé rôle",
    "Code genre activité",
    "Libellé genre activité",
];

/// `PS_LibreAcces_SavoirFaire`.
pub const SAVOIR_FAIRE: &[&str] = &[
    "Type d'identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Code profession",
    "Libellé profession",
    "Code catégorie professionnelle",
    "Libellé catégorie professionnelle",
    "Code type savoir-faire",
    "Libellé type savoir-faire",
    "Code savoir-faire",
    "Libellé savoir-faire",
];

/// `PS_LibreAcces_Dipl_AutExerc`.
pub const DIPLOME: &[&str] = &[
    "Type d'identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Code type diplôme obtenu",
    "Libellé type diplôme obtenu",
    "Code diplôme obtenu",
    "Libellé diplôme obtenu",
    "Code type autorisation",
    "Libellé type autorisation",
    "Code discipline autorisation",
    "Libellé discipline autorisation",
];

/// `Extraction_Correspondance_MSSante`.
pub const MSSANTE: &[&str] = &[
    "Type de BAL",
    "Adresse BAL",
    "Type Identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Type identifiant structure",
    "Identification Structure",
    "Service de rattachement",
    "Civilité d'exercice",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Catégorie profession",
    "Libellé de catégorie profession",
    "Code Profession",
    "Libellé Profession",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Dématérialisation",
    "Raison Sociale structure BAL",
    "Enseigne commerciale structure BAL",
    "L2COMPLEMENTLOCALISATION",
    "L3COMPLEMENTDISTRIBUTION",
    "L4NUMEROVOIE",
    "L4COMPLEMENTNUMEROVOIE",
    "NL4TYPEVOIE",
    "L4LIBELLEVOIE",
    "L5LIEUDITMENTION",
    "L6LIGNEACHEMINEMENT",
    "Code postal",
    "Département",
    "Pays",
];

/// The FINESS establishments extract (`;`, Latin-1), one row per site with its legal entity.
pub const FINESS: &[&str] = &[
    "nofinesset",
    "nofinessej",
    "rs",
    "rslongue",
    "complrs",
    "compldistrib",
    "numvoie",
    "typvoie",
    "voie",
    "compvoie",
    "lieuditbp",
    "region",
    "libregion",
    "departement",
    "libdepartement",
    "cog",
    "codepostal",
    "libelle_routage",
    "ligneacheminement",
    "telephone",
    "telecopie",
    "categetab",
    "libcategetab",
    "liblongcategetab",
    "categretab",
    "libcategretab",
    "siret",
    "codeape",
    "libcodeape",
    "mft",
    "libmft",
    "liblongmft",
    "sph",
    "libsph",
    "numen",
    "coordx",
    "coordy",
    "sourcegeocod",
    "dategeocod",
    "dateautor",
    "dateouvert",
    "datemaj",
];

/// The FINESS extract of authorised care activities (ARHGOS, `activiteoffresoin` records of
/// the etalab publication), one row per activity, modality and form authorised at a site:
/// `;`, Latin-1, with a header line of the etalab field names. These twelve are required, in
/// the order the etalab records give them; [`AUTORISATIONS_OPTIONAL`] are kept when present.
pub const AUTORISATIONS: &[&str] = &[
    "nofinessej",
    "rsej",
    "activite",
    "libactivite",
    "modalite",
    "libmodalite",
    "forme",
    "libforme",
    "noautor",
    "dateautor",
    "nofinesset",
    "rset",
];

/// Columns of the authorisations extract kept when the file has them (FINESS's enriched
/// layout): the ARHGOS authorisation number, the dates of implementation and end of the
/// authorisation.
pub const AUTORISATIONS_OPTIONAL: &[&str] = &["noautorarhgos", "datemeo", "datefin"];

/// `Porteurs_CPS_CPF`, the CPS / CPF card holders (`|`, one header line, trailing separator):
/// the columns read, as public code reading the file names them (the card's number is its
/// twelfth column); the holder's identifiers lead as in every `PS_LibreAcces` file. Other
/// columns (name, profession) are ignored.
pub const CARTES: &[&str] = &[
    "Type d'identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Code type de carte",
    "Libellé type de carte",
    "Numéro carte",
    "Identifiant national contenu dans la carte",
    "Date début validité",
    "Date fin validité",
    "Date opposition",
    "Date de mise à jour",
];

/// The FINESS extract of social equipment (`equipementsocial` records of the etalab
/// publication `etalab-cs1100505`), one row per discipline, type of activity and clientele of
/// a site: `;`, Latin-1, with a header line of FINESS's field names (those of its enriched
/// extract). These seven are required: the site, the discipline (TRE_R280), the type of
/// activity (TRE_R209) and the clientele (TRE_R279), each with its label;
/// [`EQUIPEMENTS_OPTIONAL`] are kept when present.
pub const EQUIPEMENTS: &[&str] = &[
    "nofinesset",
    "de",
    "libde",
    "ta",
    "libta",
    "client",
    "libclient",
];

/// Columns of the social equipment extract kept when the file has them: installed and
/// authorised capacities, dates of authorisation and last installation, whether the
/// installation and the authorisation are deleted (`O`/`N`).
pub const EQUIPEMENTS_OPTIONAL: &[&str] = &[
    "capinstot",
    "capautot",
    "dateautor",
    "datederinst",
    "indsupinst",
    "indsupaut",
];
