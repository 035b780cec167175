//! The public extracts: which file a header belongs to ([`ExtractKind`]), the streaming reader
//! ([`reader`]) and the mapping of rows to [`Record`]s with their checks ([`Collector`]).

pub mod columns;
pub mod reader;

use crate::keys::{check_finess, check_optional, check_rpps, check_siren, check_siret};
use crate::record::{Record, RecordKind};
use reader::{FileError, Header, Row, RowError};
use std::collections::BTreeMap;

/// The known extract files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractKind {
    /// `PS_LibreAcces_Personne_activite` (52 or 56 columns).
    PersonneActivite,
    /// `PS_LibreAcces_SavoirFaire`.
    SavoirFaire,
    /// `PS_LibreAcces_Dipl_AutExerc`.
    Diplome,
    /// `Extraction_Correspondance_MSSante`.
    MsSante,
    /// The FINESS establishments extract.
    Finess,
}

impl ExtractKind {
    /// Recognises a file by its header.
    pub fn of_header(header: &Header) -> Result<Self, FileError> {
        let has = |c: &str| header.position(c).is_some();
        let kind = if has("nofinesset") {
            Self::Finess
        } else if has("Adresse BAL") {
            Self::MsSante
        } else if has("Code diplôme obtenu") {
            Self::Diplome
        } else if has("Code mode exercice") || has("Identifiant technique de la structure") {
            Self::PersonneActivite
        } else if has("Code savoir-faire") {
            Self::SavoirFaire
        } else {
            return Err(FileError::UnknownKind);
        };
        header.require(kind.columns())?;
        Ok(kind)
    }

    /// The columns the file must have.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::PersonneActivite => columns::PERSONNE_ACTIVITE,
            Self::SavoirFaire => columns::SAVOIR_FAIRE,
            Self::Diplome => columns::DIPLOME,
            Self::MsSante => columns::MSSANTE,
            Self::Finess => columns::FINESS,
        }
    }

    /// The record kinds a complete extract of this file covers (those it can deactivate).
    pub fn record_kinds(self) -> &'static [RecordKind] {
        match self {
            Self::PersonneActivite => &[RecordKind::Practitioner, RecordKind::PractitionerRole],
            Self::SavoirFaire => &[RecordKind::Qualification],
            Self::Diplome => &[RecordKind::Diploma],
            Self::MsSante => &[RecordKind::Mailbox],
            Self::Finess => &[RecordKind::Establishment, RecordKind::LegalEntity],
        }
    }
}

/// Columns describing the person in `Personne_activite` (the rest describe the exercise).
const PERSON_COLUMNS: &[&str] = &[
    "Type d'identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Code civilité d'exercice",
    "Libellé civilité d'exercice",
    "Code civilité",
    "Libellé civilité",
    "Nom d'exercice",
    "Prénom d'exercice",
];

/// Gathers the records of one file, rejecting bad rows with their reason.
#[derive(Debug)]
pub struct Collector {
    kind: ExtractKind,
    header: Header,
    /// The records, by kind and key.
    pub records: BTreeMap<(RecordKind, String), Record>,
    /// Rows read (good and bad).
    pub read: u64,
    /// Rejected rows.
    pub rejected: Vec<RowError>,
}

impl Collector {
    /// A collector for a file whose header has been recognised.
    pub fn new(kind: ExtractKind, header: Header) -> Self {
        Self {
            kind,
            header,
            records: BTreeMap::new(),
            read: 0,
            rejected: Vec::new(),
        }
    }

    /// Takes one row (or a row the reader refused).
    pub fn push(&mut self, row: Result<Row, RowError>) {
        self.read += 1;
        let result = row.and_then(|row| {
            let line = row.line;
            self.take(&row).map_err(|reason| RowError { line, reason })
        });
        if let Err(e) = result {
            self.rejected.push(e);
        }
    }

    fn fields(&self, row: &Row, names: &[&str]) -> BTreeMap<String, String> {
        names
            .iter()
            .filter_map(|n| {
                let v = &row.fields[self.header.position(n)?];
                (!v.is_empty()).then(|| ((*n).to_owned(), v.clone()))
            })
            .collect()
    }

    fn get<'r>(&self, row: &'r Row, name: &str) -> &'r str {
        self.header
            .position(name)
            .map(|i| row.fields[i].as_str())
            .unwrap_or("")
    }

    fn person_id(&self, row: &Row, type_col: &str) -> Result<String, String> {
        let typ = self.get(row, type_col);
        let id = self.get(row, "Identifiant PP");
        let idnat = self.get(row, "Identification nationale PP");
        if idnat.is_empty() {
            return Err("empty Identification nationale PP".into());
        }
        if typ == "8" {
            check_rpps(id).map_err(|e| e.to_string())?;
            if idnat != format!("8{id}") {
                return Err(format!("IdNat {idnat:?} is not 8 + RPPS {id:?}"));
            }
        }
        Ok(idnat.to_owned())
    }

    fn insert_new(&mut self, record: Record) -> Result<(), String> {
        let id = (record.kind, record.key.clone());
        if self.records.contains_key(&id) {
            return Err(format!(
                "duplicate {} {:?}",
                record.kind.as_str(),
                record.key
            ));
        }
        self.records.insert(id, record);
        Ok(())
    }

    fn take(&mut self, row: &Row) -> Result<(), String> {
        match self.kind {
            ExtractKind::PersonneActivite => self.take_activity(row),
            ExtractKind::SavoirFaire => {
                let idnat = self.person_id(row, "Type d'identifiant PP")?;
                let key = [
                    idnat.as_str(),
                    self.get(row, "Code profession"),
                    self.get(row, "Code type savoir-faire"),
                    self.get(row, "Code savoir-faire"),
                ]
                .join("|");
                let fields = self.fields(row, columns::SAVOIR_FAIRE);
                self.insert_new(Record {
                    kind: RecordKind::Qualification,
                    key,
                    fields,
                })
            }
            ExtractKind::Diplome => {
                let idnat = self.person_id(row, "Type d'identifiant PP")?;
                let key = [
                    idnat.as_str(),
                    self.get(row, "Code type diplôme obtenu"),
                    self.get(row, "Code diplôme obtenu"),
                    self.get(row, "Code type autorisation"),
                    self.get(row, "Code discipline autorisation"),
                ]
                .join("|");
                let fields = self.fields(row, columns::DIPLOME);
                self.insert_new(Record {
                    kind: RecordKind::Diploma,
                    key,
                    fields,
                })
            }
            ExtractKind::MsSante => {
                let address = self.get(row, "Adresse BAL");
                if !address.contains('@') {
                    return Err(format!("mailbox address {address:?} has no @"));
                }
                if !self.get(row, "Identification nationale PP").is_empty() {
                    self.person_id(row, "Type Identifiant PP")?;
                }
                let fields = self.fields(row, columns::MSSANTE);
                let key = address.to_ascii_lowercase();
                self.insert_new(Record {
                    kind: RecordKind::Mailbox,
                    key,
                    fields,
                })
            }
            ExtractKind::Finess => self.take_finess(row),
        }
    }

    fn take_activity(&mut self, row: &Row) -> Result<(), String> {
        let idnat = self.person_id(row, "Type d'identifiant PP")?;
        let check = |r: Result<(), crate::keys::KeyError>| r.map_err(|e| e.to_string());
        check(check_optional(
            self.get(row, "Numéro SIRET site"),
            check_siret,
        ))?;
        check(check_optional(
            self.get(row, "Numéro SIREN site"),
            check_siren,
        ))?;
        check(check_optional(
            self.get(row, "Numéro FINESS site"),
            check_finess,
        ))?;
        check(check_optional(
            self.get(row, "Numéro FINESS établissement juridique"),
            check_finess,
        ))?;
        let person = Record {
            kind: RecordKind::Practitioner,
            key: idnat.clone(),
            fields: self.fields(row, PERSON_COLUMNS),
        };
        let role_columns: Vec<&str> = columns::PERSONNE_ACTIVITE
            .iter()
            .chain(columns::PERSONNE_ACTIVITE_ROLE)
            .copied()
            .filter(|c| !PERSON_COLUMNS.contains(c) || *c == "Identification nationale PP")
            .collect();
        let role_key = [
            idnat.as_str(),
            self.get(row, "Identifiant technique de la structure"),
            self.get(row, "Code profession"),
            self.get(row, "Code mode exercice"),
            self.get(row, "Code savoir-faire"),
            self.get(row, "Code rôle"),
        ]
        .join("|");
        let role = Record {
            kind: RecordKind::PractitionerRole,
            key: role_key,
            fields: self.fields(row, &role_columns),
        };
        let person_id = (person.kind, person.key.clone());
        match self.records.get(&person_id) {
            Some(known) if *known != person => {
                return Err(format!("person {idnat} differs from an earlier row"));
            }
            _ => {}
        }
        if self.records.contains_key(&(role.kind, role.key.clone())) {
            return Err(format!("duplicate exercise {:?}", role.key));
        }
        self.records.insert(person_id, person);
        self.records.insert((role.kind, role.key.clone()), role);
        Ok(())
    }

    fn take_finess(&mut self, row: &Row) -> Result<(), String> {
        let et = self.get(row, "nofinesset");
        let ej = self.get(row, "nofinessej");
        check_finess(et).map_err(|e| e.to_string())?;
        check_optional(ej, check_finess).map_err(|e| e.to_string())?;
        check_optional(self.get(row, "siret"), check_siret).map_err(|e| e.to_string())?;
        let fields = self.fields(row, columns::FINESS);
        self.insert_new(Record {
            kind: RecordKind::Establishment,
            key: et.to_owned(),
            fields,
        })?;
        if !ej.is_empty() {
            let id = (RecordKind::LegalEntity, ej.to_owned());
            self.records.entry(id).or_insert_with(|| Record {
                kind: RecordKind::LegalEntity,
                key: ej.to_owned(),
                fields: [("nofinessej".to_owned(), ej.to_owned())].into(),
            });
        }
        Ok(())
    }
}

/// Reads a whole file (already decompressed) into a [`Collector`].
pub fn collect<R: std::io::BufRead>(input: R) -> Result<(ExtractKind, Collector), FileError> {
    let mut rows = reader::Rows::open(input)?;
    let kind = ExtractKind::of_header(rows.header())?;
    let mut c = Collector::new(kind, rows.header().clone());
    while let Some(row) = rows.next_row()? {
        c.push(row);
    }
    Ok((kind, c))
}
