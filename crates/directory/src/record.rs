//! The directory's records as imported: a kind, a natural key, the kept columns, and a content
//! hash that makes re-imports idempotent; [`plan`] compares an extract with the stored state.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// What a record is; each maps to one FHIR resource kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordKind {
    /// A professional (`Practitioner`), keyed by IdNat_PS.
    Practitioner,
    /// An exercise at a structure (`PractitionerRole`).
    PractitionerRole,
    /// A qualification (savoir-faire) of a professional.
    Qualification,
    /// A diploma or authorisation to practise.
    Diploma,
    /// An MSSanté mailbox, keyed by its address.
    Mailbox,
    /// A FINESS establishment (site, `Organization` of type GEOGRAPHICAL-ENTITY).
    Establishment,
    /// A FINESS legal entity (`Organization` of type LEGAL-ENTITY).
    LegalEntity,
    /// A care activity authorised at a FINESS site (`HealthcareService`), keyed by the
    /// site's FINESS number, activity, modality and form.
    Authorisation,
    /// A social equipment of a FINESS site (`HealthcareService`): a discipline, a type of
    /// activity and a clientele, keyed by the site's FINESS number and these three codes.
    SocialEquipment,
    /// A professional's CPS / CPF card (`Porteurs_CPS_CPF`), keyed by its number; shown in
    /// its holder's `Practitioner`.
    Card,
}

impl RecordKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Practitioner => "practitioner",
            Self::PractitionerRole => "practitioner_role",
            Self::Qualification => "qualification",
            Self::Diploma => "diploma",
            Self::Mailbox => "mailbox",
            Self::Establishment => "establishment",
            Self::LegalEntity => "legal_entity",
            Self::Authorisation => "authorisation",
            Self::SocialEquipment => "social_equipment",
            Self::Card => "card",
        }
    }
}

/// One record: its kind, natural key and kept columns (name → value, empty ones dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The kind.
    pub kind: RecordKind,
    /// The natural key within the kind.
    pub key: String,
    /// The kept columns.
    pub fields: Fields,
}

/// A field's name: the column's own (`'static`, not allocated for each record read or
/// imported) for the columns the extracts have, owned for any other.
pub type FieldName = std::borrow::Cow<'static, str>;

/// A record's fields, name → value, in the names' order (bytewise), each name once (an
/// import keeps no empty one). The values are one string, each name with its value's span:
/// a record read from an extract row or from the store costs two allocations, where a map of
/// owned strings cost one a field (some 25 an exercise) and its tree's nodes; building and
/// dropping those maps were 8 % of a national-size import's CPU. Written by hand: no crate
/// keeps a small sorted map of names over one string.
#[derive(Clone, Default)]
pub struct Fields {
    text: String,
    /// Each name with the start and end of its value in `text`, sorted by name, no name twice.
    spans: Vec<(FieldName, usize, usize)>,
}

impl Fields {
    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.spans
            .binary_search_by(|(n, _, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| self.value(i))
    }

    fn value(&self, i: usize) -> &str {
        let (_, start, end) = &self.spans[i];
        &self.text[*start..*end]
    }

    /// The names and values, in the names' order.
    pub fn iter(&self) -> impl Iterator<Item = (&FieldName, &str)> + Clone {
        self.spans
            .iter()
            .map(|(n, start, end)| (n, &self.text[*start..*end]))
    }

    /// The names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &FieldName> {
        self.spans.iter().map(|(n, _, _)| n)
    }

    /// Sets `name` to `value` (the fields built again: for a change now and then, not for
    /// building fields one at a time, which [`Fields::builder`] does).
    pub fn insert(&mut self, name: FieldName, value: String) {
        let mut b = Fields::builder(self.text.len() + value.len(), self.len() + 1);
        for (n, v) in self.iter() {
            b.push(n.clone(), v);
        }
        b.push(name, &value);
        *self = b.build();
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Fields built from names and values one at a time ([`FieldsBuilder`]).
    pub fn builder(values_len: usize, n: usize) -> FieldsBuilder {
        FieldsBuilder {
            fields: Fields {
                text: String::with_capacity(values_len),
                spans: Vec::with_capacity(n),
            },
            sorted: true,
        }
    }
}

/// Builds [`Fields`] from names and values in any order: a name given twice keeps its last
/// value (as a map's `insert`). Names given in order, each once (an extract's columns in
/// their names' order), need no sort.
pub struct FieldsBuilder {
    fields: Fields,
    sorted: bool,
}

impl FieldsBuilder {
    /// Adds `name` with `value`.
    pub fn push(&mut self, name: FieldName, value: &str) {
        let f = &mut self.fields;
        if f.spans.last().is_some_and(|(last, _, _)| *last >= name) {
            self.sorted = false;
        }
        let start = f.text.len();
        f.text.push_str(value);
        f.spans.push((name, start, f.text.len()));
    }

    /// The fields.
    pub fn build(self) -> Fields {
        let mut f = self.fields;
        if !self.sorted {
            // Stable: of the values of one name, the last given comes last, and is kept.
            f.spans.sort_by(|a, b| a.0.cmp(&b.0));
            let mut kept: Vec<(FieldName, usize, usize)> = Vec::with_capacity(f.spans.len());
            for span in f.spans {
                match kept.last_mut() {
                    Some(last) if last.0 == span.0 => *last = span,
                    _ => kept.push(span),
                }
            }
            f.spans = kept;
        }
        f
    }
}

impl<V: AsRef<str>> FromIterator<(FieldName, V)> for Fields {
    fn from_iter<I: IntoIterator<Item = (FieldName, V)>>(iter: I) -> Self {
        let mut b = Fields::builder(0, 0);
        for (name, value) in iter {
            b.push(name, value.as_ref());
        }
        b.build()
    }
}

impl<V: AsRef<str>, const N: usize> From<[(FieldName, V); N]> for Fields {
    fn from(pairs: [(FieldName, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = str;

    /// The value of `name`; panics when there is none (as a map's).
    fn index(&self, name: &str) -> &str {
        self.get(name)
            .unwrap_or_else(|| panic!("no field {name:?}"))
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Fields {}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Fields {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(d)?;
        Ok(map
            .into_iter()
            .map(|(k, v)| (FieldName::Owned(k), v))
            .collect())
    }
}

#[cfg(test)]
impl Record {
    /// A record of `kind` and `key` with these fields (the crate's unit tests).
    pub(crate) fn of(kind: RecordKind, key: &str, fields: &[(&str, &str)]) -> Self {
        Self {
            kind,
            key: key.into(),
            fields: fields
                .iter()
                .map(|(k, v)| (FieldName::Owned((*k).to_owned()), (*v).to_owned()))
                .collect(),
        }
    }
}

impl Record {
    /// SHA-256 over the kind, key and fields, hex: equal content, equal hash.
    pub fn content_hash(&self) -> String {
        hex::encode(self.digest())
    }

    /// The first 64 bits of [`Self::content_hash`], what an import keeps in memory per record.
    pub fn hash_prefix(&self) -> u64 {
        prefix_of(&self.digest())
    }

    /// SHA-256 of kind, key and fields, each part ended by a separator. The parts are gathered
    /// into one buffer hashed at once: a digest update per part (four per field) cost more
    /// than the hashing itself.
    pub fn digest(&self) -> [u8; 32] {
        digest_of(
            self.kind,
            &self.key,
            self.fields.iter().map(|(k, v)| (k.as_ref(), v)),
        )
    }

    /// A field, empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).unwrap_or("")
    }
}

/// [`Record::digest`] of the record of `kind`, `key` and `fields` (in name order, none
/// empty), without the record: an import checks the rows that repeat a professional against
/// the first without building the record again.
pub fn digest_of<'n, 'v>(
    kind: RecordKind,
    key: &str,
    fields: impl Iterator<Item = (&'n str, &'v str)> + Clone,
) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(
        kind.as_str().len()
            + key.len()
            + 2
            + fields
                .clone()
                .map(|(k, v)| k.len() + v.len() + 2)
                .sum::<usize>(),
    );
    for part in [kind.as_str(), key] {
        bytes.extend_from_slice(part.as_bytes());
        bytes.push(0);
    }
    for (k, v) in fields {
        bytes.extend_from_slice(k.as_bytes());
        bytes.push(0x1f);
        bytes.extend_from_slice(v.as_bytes());
        bytes.push(0);
    }
    let mut out = [0; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes).as_ref());
    out
}

/// The first 64 bits of a digest ([`Record::hash_prefix`]).
pub fn prefix_of(bytes: &[u8]) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(b)
}

/// The first 64 bits of a stored hex content hash ([`Record::hash_prefix`] of its record), 0
/// when it is not one.
pub fn stored_hash_prefix(hex_hash: &str) -> u64 {
    hex_hash
        .get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

/// A record's identity in an import's memory: 128 bits of SHA-256 over its kind and key
/// (16 bytes instead of the key itself; a collision among a few million keys has a
/// probability around 2⁻⁸⁵).
pub type KeyId = [u8; 16];

/// The [`KeyId`] of a record.
pub fn key_id(kind: RecordKind, key: &str) -> KeyId {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(kind.as_str().as_bytes());
    ctx.update(&[0]);
    ctx.update(key.as_bytes());
    let mut out = [0; 16];
    out.copy_from_slice(&ctx.finish().as_ref()[..16]);
    out
}

/// The stored state of one record, as [`plan`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its content hash.
    pub hash: String,
    /// Whether it is active.
    pub active: bool,
}

/// What an import does to the store.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// New records.
    pub insert: Vec<(RecordKind, String)>,
    /// Changed records, or deactivated ones present again.
    pub update: Vec<(RecordKind, String)>,
    /// Identical records.
    pub unchanged: u64,
    /// Active records absent from a complete extract.
    pub deactivate: Vec<(RecordKind, String)>,
}

/// Compares the incoming records with the stored ones. With `complete`, every active stored
/// record of one of the `kinds` the extract covers that it does not contain is deactivated.
pub fn plan(
    stored: &HashMap<(RecordKind, String), Stored>,
    incoming: &BTreeMap<(RecordKind, String), Record>,
    kinds: &[RecordKind],
    complete: bool,
) -> Plan {
    let mut out = Plan::default();
    for (id, record) in incoming {
        match stored.get(id) {
            None => out.insert.push(id.clone()),
            Some(s) if s.active && s.hash == record.content_hash() => out.unchanged += 1,
            Some(_) => out.update.push(id.clone()),
        }
    }
    if complete {
        let mut gone: Vec<_> = stored
            .iter()
            .filter(|(id, s)| s.active && kinds.contains(&id.0) && !incoming.contains_key(*id))
            .map(|(id, _)| id.clone())
            .collect();
        gone.sort();
        out.deactivate = gone;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields given in any order, a name twice, come out in the names' order with the last
    /// value of each name, equal to the same fields given in order; they serialise as a map.
    #[test]
    fn fields_are_a_map_whatever_the_order_they_are_given_in() {
        let given: Fields = [
            ("b".into(), "2"),
            ("a".into(), "premier"),
            ("é".into(), "3"),
            ("a".into(), "1"),
        ]
        .into();
        let in_order: Fields = [("a".into(), "1"), ("b".into(), "2"), ("é".into(), "3")].into();
        assert_eq!(given, in_order);
        assert_eq!(
            given.iter().collect::<Vec<_>>(),
            [(&"a".into(), "1"), (&"b".into(), "2"), (&"é".into(), "3")]
        );
        assert_eq!(given.len(), 3);
        assert_eq!(
            (given.get("a"), given.get("é"), given.get("c")),
            (Some("1"), Some("3"), None)
        );
        assert_eq!(&given["b"], "2");
        assert_ne!(given, Fields::from([("a".into(), "1"), ("b".into(), "2")]));
        assert_eq!(
            serde_json::to_string(&given).unwrap(),
            r#"{"a":"1","b":"2","é":"3"}"#
        );
        let back: Fields = serde_json::from_str(r#"{"é":"3","a":"1","b":"2"}"#).unwrap();
        assert_eq!(back, given);
        let mut changed = given.clone();
        changed.insert("b".into(), "deux".to_owned());
        changed.insert("0".into(), "zéro".to_owned());
        assert_eq!(
            changed
                .iter()
                .map(|(k, v)| (k.as_ref(), v))
                .collect::<Vec<_>>(),
            [("0", "zéro"), ("a", "1"), ("b", "deux"), ("é", "3")]
        );
        assert!(Fields::default().is_empty());
    }

    /// Stored hashes are compared with those of the records an extract gives again: the bytes
    /// hashed may never change.
    #[test]
    fn the_content_hash_covers_kind_key_and_fields_as_ever() {
        let r = Record {
            kind: RecordKind::Practitioner,
            key: "810001".into(),
            fields: [("b", "2"), ("a", "é")]
                .into_iter()
                .map(|(k, v)| (k.into(), v.to_owned()))
                .collect(),
        };
        let bytes = "practitioner\0810001\0a\u{1f}é\0b\u{1f}2\0";
        let expected = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes.as_bytes());
        assert_eq!(r.content_hash(), hex::encode(expected.as_ref()));
        assert_eq!(r.hash_prefix(), prefix_of(expected.as_ref()));
    }

    fn rec(key: &str, v: &str) -> Record {
        Record {
            kind: RecordKind::Practitioner,
            key: key.into(),
            fields: [("family".into(), v.to_owned())].into(),
        }
    }

    #[test]
    fn plan_is_idempotent_and_deactivates_absent_records() {
        let a = rec("a", "X");
        let b = rec("b", "Y");
        let incoming: BTreeMap<_, _> = [a.clone(), b.clone()]
            .into_iter()
            .map(|r| ((r.kind, r.key.clone()), r))
            .collect();
        let kinds = [RecordKind::Practitioner];
        let first = plan(&HashMap::new(), &incoming, &kinds, true);
        assert_eq!(first.insert.len(), 2);
        let stored: HashMap<_, _> = incoming
            .iter()
            .map(|(id, r)| {
                let s = Stored {
                    hash: r.content_hash(),
                    active: true,
                };
                (id.clone(), s)
            })
            .collect();
        let again = plan(&stored, &incoming, &kinds, true);
        assert_eq!(
            (again.unchanged, again.insert.len(), again.update.len()),
            (2, 0, 0)
        );
        let mut next = BTreeMap::new();
        let b2 = rec("b", "Z");
        next.insert((b2.kind, b2.key.clone()), b2);
        let p = plan(&stored, &next, &kinds, true);
        assert_eq!(p.update, [(RecordKind::Practitioner, "b".to_owned())]);
        assert_eq!(p.deactivate, [(RecordKind::Practitioner, "a".to_owned())]);
        assert!(plan(&stored, &next, &kinds, false).deactivate.is_empty());
    }
}
