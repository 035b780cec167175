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

/// A record's fields, name → value.
pub type Fields = BTreeMap<FieldName, String>;

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
            self.fields.iter().map(|(k, v)| (k.as_ref(), v.as_str())),
        )
    }

    /// A field, empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
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
