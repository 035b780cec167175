//! The public extracts: which file a header belongs to ([`ExtractKind`]), the streaming reader
//! ([`reader`]) and the mapping of rows to [`Record`]s with their checks ([`Collector`]).

mod authorisation;
pub mod columns;
pub mod reader;

use crate::keys::{check_finess, check_optional, check_rpps, check_siren, check_siret};
use crate::record::{FieldName, Fields, KeyId, Record, RecordKind, digest_of, key_id, prefix_of};
use reader::{FileError, Header, Row, RowError};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

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
    /// The FINESS extract of authorised care activities.
    Authorisations,
    /// `Porteurs_CPS_CPF`, the CPS / CPF cards.
    Cartes,
    /// The FINESS extract of social equipment.
    Equipements,
}

impl ExtractKind {
    /// Recognises a file by its header.
    pub fn of_header(header: &Header) -> Result<Self, FileError> {
        let has = |c: &str| header.position(c).is_some();
        let kind = if has("Numéro carte") {
            Self::Cartes
        } else if has("nofinesset") && has("de") && has("client") {
            Self::Equipements
        } else if has("nofinesset") && has("activite") {
            Self::Authorisations
        } else if has("nofinesset") {
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
            Self::Authorisations => columns::AUTORISATIONS,
            Self::Cartes => columns::CARTES,
            Self::Equipements => columns::EQUIPEMENTS,
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
            Self::Authorisations => &[RecordKind::Authorisation],
            Self::Cartes => &[RecordKind::Card],
            Self::Equipements => &[RecordKind::SocialEquipment],
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

/// What an import knows of a record key, in 16 bytes: whether this file already gave it (and
/// its content hash), and its stored state before the import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Known {
    /// [`Record::hash_prefix`] of the record this file gave, low bit set; 0 when the file
    /// has not given it (yet).
    in_file: u64,
    /// The stored record's hash prefix, its two low bits replaced by 1 (stored) and whether it
    /// is active; 0 when nothing is stored.
    stored: u64,
}

impl Known {
    /// A stored record: the prefix of its content hash and whether it is active.
    pub fn stored(hash_prefix: u64, active: bool) -> Self {
        Self {
            in_file: 0,
            stored: (hash_prefix & !3) | 2 | u64::from(active),
        }
    }

    /// The stored state, with the hash prefix of the record the file gave.
    fn state(self) -> Option<StoredState> {
        (self.stored != 0).then_some(StoredState {
            stored: self.stored,
            given: self.in_file,
        })
    }
}

/// What an import knows of each record key ([`Known`]), in shards chosen by the key digest's
/// first byte, each a map that grows on its own. A single map of millions of keys doubles in
/// one step, holding its old and its new table at once: for 4 million keys, 415 MiB at that
/// moment instead of 277 MiB, the import's peak of memory. The shards double one at a time.
#[derive(Debug)]
pub struct KnownKeys(Vec<HashMap<KeyId, Known, BuildHasherDefault<KeyIdHasher>>>);

/// Hashes a [`KeyId`] by eight of its own bytes: they are a digest already, uniform (SipHash
/// over them took 3 % of an import's reading).
#[derive(Default)]
struct KeyIdHasher(u64);

impl Hasher for KeyIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    /// The id's bytes (a `[u8; 16]` also writes its length first, which is ignored); the
    /// first byte chooses the shard, the hash takes bytes 8 to 15.
    fn write(&mut self, bytes: &[u8]) {
        if let Some(b) = bytes.get(8..16) {
            let mut word = [0; 8];
            word.copy_from_slice(b);
            self.0 = u64::from_le_bytes(word);
        }
    }
}

/// Shards of [`KnownKeys`].
const SHARDS: usize = 64;

impl Default for KnownKeys {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl KnownKeys {
    /// Room for about `n` keys without growing.
    pub fn with_capacity(n: usize) -> Self {
        Self(
            (0..SHARDS)
                .map(|_| HashMap::with_capacity_and_hasher(n / SHARDS, Default::default()))
                .collect(),
        )
    }

    fn shard(id: &KeyId) -> usize {
        usize::from(id[0]) % SHARDS
    }

    /// Records what is known of `id`.
    pub fn insert(&mut self, id: KeyId, known: Known) {
        self.0[Self::shard(&id)].insert(id, known);
    }

    fn get(&self, id: &KeyId) -> Option<&Known> {
        self.0[Self::shard(id)].get(id)
    }

    fn get_or_default(&mut self, id: KeyId) -> &mut Known {
        self.0[Self::shard(&id)].entry(id).or_default()
    }

    /// How many keys are known.
    pub fn len(&self) -> usize {
        self.0.iter().map(HashMap::len).sum()
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(HashMap::is_empty)
    }
}

/// The stored state of a record an extract gives again, with the hash prefix of the record
/// the extract gave (taken once, when the record was handed out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredState {
    stored: u64,
    given: u64,
}

impl StoredState {
    /// Whether the stored record is active with the same content as the one the file gave.
    pub fn unchanged(self) -> bool {
        self.stored & 1 == 1 && self.stored & !3 == self.given & !3
    }
}

/// A record a [`Collector`] hands out.
#[derive(Debug)]
pub struct Taken {
    /// The record.
    pub record: Record,
    /// Its stored state, when one is stored.
    pub stored: Option<StoredState>,
    /// Its [`Record::digest`], taken once: the writer stores it as its content hash.
    pub digest: [u8; 32],
}

/// Takes the rows of one file one at a time and hands out its records as they come
/// ([`Collector::take_records`]), rejecting bad rows with their reason. It remembers every
/// record key seen (16 bytes and two hashes each, not the records): duplicates are refused,
/// a person repeated on several exercise rows is handed out once.
#[derive(Debug)]
pub struct Collector {
    kind: ExtractKind,
    header: Header,
    known: KnownKeys,
    /// The columns of a person and of an exercise (`Personne_activite`: all but the person's,
    /// IdNat kept) present in the header, with their positions, in the order of their names:
    /// a record's fields are then built in order (not sorted for each row) without looking
    /// each name up again (2 M rows of some 40 fields at national size).
    person_fields: Vec<(&'static str, usize)>,
    role_fields: Vec<(&'static str, usize)>,
    /// The records taken and not handed out yet, with the stored state of their key.
    out: Vec<Taken>,
    /// Rows read (good and bad).
    pub read: u64,
    /// Rejected rows.
    pub rejected: Vec<RowError>,
}

impl Collector {
    /// A collector for a file whose header has been recognised, with nothing stored.
    pub fn new(kind: ExtractKind, header: Header) -> Self {
        Self::with_stored(kind, header, KnownKeys::default())
    }

    /// A collector that knows the stored state of the keys of `known`.
    pub fn with_stored(kind: ExtractKind, header: Header, known: KnownKeys) -> Self {
        let role_columns: Vec<&'static str> = columns::PERSONNE_ACTIVITE
            .iter()
            .chain(columns::PERSONNE_ACTIVITE_ROLE)
            .copied()
            .filter(|c| !PERSON_COLUMNS.contains(c) || *c == "Identification nationale PP")
            .collect();
        let in_order = |names: &[&'static str]| {
            let mut at: Vec<_> = names
                .iter()
                .filter_map(|n| Some((*n, header.position(n)?)))
                .collect();
            at.sort_unstable();
            at.dedup_by_key(|(n, _)| *n);
            at
        };
        let (person_fields, role_fields) = (in_order(PERSON_COLUMNS), in_order(&role_columns));
        Self {
            kind,
            header,
            known,
            person_fields,
            role_fields,
            out: Vec::new(),
            read: 0,
            rejected: Vec::new(),
        }
    }

    /// The records taken since the last call, each with its stored state when it had one.
    pub fn take_records(&mut self) -> Vec<Taken> {
        std::mem::take(&mut self.out)
    }

    /// Forgets the keys seen, once every row is read and nothing will ask [`Self::in_file`]:
    /// their memory is then free for what follows (the index builds of a first import).
    pub fn forget_keys(&mut self) {
        self.known = KnownKeys::default();
    }

    /// Whether this file gave the record `id`.
    pub fn in_file(&self, id: &KeyId) -> bool {
        self.known.get(id).is_some_and(|k| k.in_file != 0)
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

    /// The hash this file gave for `id` before, if it did.
    fn given(&self, id: &KeyId) -> Option<u64> {
        self.known.get(id).map(|k| k.in_file).filter(|h| *h != 0)
    }

    /// Hands out a record the file has not given before, with its [`Record::digest`] when
    /// already taken (else taken here).
    fn emit(&mut self, id: KeyId, record: Record, digest: Option<[u8; 32]>) {
        let digest = digest.unwrap_or_else(|| record.digest());
        let k = self.known.get_or_default(id);
        k.in_file = prefix_of(&digest) | 1;
        let stored = k.state();
        self.out.push(Taken {
            record,
            stored,
            digest,
        });
    }

    fn fields(&self, row: &Row, names: &[&'static str]) -> Fields {
        names
            .iter()
            .filter_map(|n| {
                let v = row.field(self.header.position(n)?);
                (!v.is_empty()).then_some((FieldName::Borrowed(*n), v))
            })
            .collect()
    }

    /// [`Self::fields`] of columns given with their positions, in the order of their names.
    fn fields_at(row: &Row, at: &[(&'static str, usize)]) -> Fields {
        let values = Self::values_at(row, at);
        let len = values.clone().map(|(_, v)| v.len()).sum();
        let mut fields = Fields::builder(len, at.len());
        for (n, v) in values {
            fields.push(FieldName::Borrowed(n), v);
        }
        fields.build()
    }

    /// The names and values of [`Self::fields_at`], not copied.
    fn values_at<'a>(
        row: &'a Row,
        at: &'a [(&'static str, usize)],
    ) -> impl Iterator<Item = (&'static str, &'a str)> + Clone {
        at.iter()
            .map(|(n, i)| (*n, row.field(*i)))
            .filter(|(_, v)| !v.is_empty())
    }

    fn get<'r>(&self, row: &'r Row, name: &str) -> &'r str {
        self.header
            .position(name)
            .map(|i| row.field(i))
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
        let id = key_id(record.kind, &record.key);
        if self.given(&id).is_some() {
            return Err(format!(
                "duplicate {} {:?}",
                record.kind.as_str(),
                record.key
            ));
        }
        self.emit(id, record, None);
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
            ExtractKind::Authorisations => self.take_authorisation(row),
            ExtractKind::Cartes => self.take_card(row),
            ExtractKind::Equipements => self.take_social_equipment(row),
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
            fields: Self::fields_at(row, &self.role_fields),
        };
        let person_id = key_id(RecordKind::Practitioner, &idnat);
        let given = self.given(&person_id);
        // The professional's record is built once, from their first row; the rows after it
        // are checked against it by digest alone (at national size, 0.8 M rows of 2.1 M).
        let person_digest = digest_of(
            RecordKind::Practitioner,
            &idnat,
            Self::values_at(row, &self.person_fields),
        );
        if given.is_some_and(|h| h != prefix_of(&person_digest) | 1) {
            return Err(format!("person {idnat} differs from an earlier row"));
        }
        let role_id = key_id(role.kind, &role.key);
        if self.given(&role_id).is_some() {
            return Err(format!("duplicate exercise {:?}", role.key));
        }
        if given.is_none() {
            let person = Record {
                kind: RecordKind::Practitioner,
                fields: Self::fields_at(row, &self.person_fields),
                key: idnat,
            };
            self.emit(person_id, person, Some(person_digest));
        }
        self.emit(role_id, role, None);
        Ok(())
    }

    /// A card: its holder's identifiers checked, a number, dates `JJ/MM/AAAA` (or
    /// `AAAA-MM-JJ`) when given; keyed by its number.
    fn take_card(&mut self, row: &Row) -> Result<(), String> {
        self.person_id(row, "Type d'identifiant PP")?;
        let number = self.get(row, "Numéro carte").trim();
        if number.is_empty() {
            return Err("empty Numéro carte".into());
        }
        for column in [
            "Date début validité",
            "Date fin validité",
            "Date opposition",
        ] {
            let v = self.get(row, column);
            if !v.is_empty() && crate::fhir::extensions::fhir_date(v).is_none() {
                return Err(format!("{column} {v:?} is not a date (JJ/MM/AAAA)"));
            }
        }
        let fields = self.fields(row, columns::CARTES);
        self.insert_new(Record {
            kind: RecordKind::Card,
            key: number.to_owned(),
            fields,
        })
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
            let id = key_id(RecordKind::LegalEntity, ej);
            if self.given(&id).is_none() {
                let record = Record {
                    kind: RecordKind::LegalEntity,
                    key: ej.to_owned(),
                    fields: [(FieldName::Borrowed("nofinessej"), ej.to_owned())].into(),
                };
                self.emit(id, record, None);
            }
        }
        Ok(())
    }
}

/// A whole file's records (for `check`: an import streams instead).
#[derive(Debug, Default)]
pub struct Collected {
    /// The records, by kind and key.
    pub records: BTreeMap<(RecordKind, String), Record>,
    /// Rows read (good and bad).
    pub read: u64,
    /// Rejected rows.
    pub rejected: Vec<RowError>,
}

/// Reads a whole file (already decompressed) into memory.
pub fn collect<R: std::io::BufRead>(input: R) -> Result<(ExtractKind, Collected), FileError> {
    let mut rows = reader::Rows::open(input)?;
    let kind = ExtractKind::of_header(rows.header())?;
    let mut c = Collector::new(kind, rows.header().clone());
    let mut records = BTreeMap::new();
    while let Some(row) = rows.next_row()? {
        c.push(row);
        for Taken { record: r, .. } in c.take_records() {
            records.insert((r.kind, r.key.clone()), r);
        }
    }
    Ok((
        kind,
        Collected {
            records,
            read: c.read,
            rejected: c.rejected,
        },
    ))
}

#[cfg(test)]
mod known_keys_tests {
    use super::{Known, KnownKeys};
    use crate::record::{RecordKind, key_id};

    #[test]
    fn keys_are_found_in_their_shard_whatever_it_is() {
        let mut known = KnownKeys::with_capacity(1000);
        assert!(known.is_empty());
        let ids: Vec<_> = (0..1000)
            .map(|n| key_id(RecordKind::Practitioner, &format!("8100010{n:05}")))
            .collect();
        for (n, id) in ids.iter().enumerate() {
            known.insert(*id, Known::stored(n as u64 * 4, n % 2 == 0));
        }
        assert_eq!(known.len(), 1000);
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(
                known.get(id),
                Some(&Known::stored(n as u64 * 4, n % 2 == 0))
            );
        }
        let other = key_id(RecordKind::PractitionerRole, "81000100000");
        assert_eq!(known.get(&other), None);
        known.get_or_default(other).in_file = 5;
        assert_eq!(known.len(), 1001);
        assert_eq!(known.get(&other).map(|k| k.in_file), Some(5));
    }
}

#[cfg(test)]
mod taken_tests {
    use super::{Collector, ExtractKind, Taken};
    use crate::generate::generate_in_memory;

    /// Every record handed out comes with its own digest: the writer stores it as the content
    /// hash, and a re-import compares with it.
    #[test]
    fn records_come_with_their_own_digest() {
        let g = generate_in_memory(3, 40, 5).expect("generated");
        let (a, f, m) = (&g.activite, &g.finess, &g.mssante);
        for file in [a, f, m] {
            let mut rows = super::reader::Rows::open(file.as_slice()).expect("header");
            let kind = ExtractKind::of_header(rows.header()).expect("kind");
            let mut collector = Collector::new(kind, rows.header().clone());
            let mut taken = 0;
            while let Some(row) = rows.next_row().expect("row") {
                collector.push(row);
                for Taken { record, digest, .. } in collector.take_records() {
                    assert_eq!(digest, record.digest(), "{}", record.key);
                    taken += 1;
                }
            }
            assert!(taken > 40 || !std::ptr::eq(file, a), "{taken}");
            assert!(collector.rejected.is_empty(), "{:?}", collector.rejected);
        }
    }
}
