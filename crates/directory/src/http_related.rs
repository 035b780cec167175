//! What a resource shows from other records, and the search criteria on other records: a
//! professional's exercises, qualifications, mailboxes, cards and contact details; a
//! structure's own mailboxes; `qualification-code`, `mailbox-mss`, `number-smartcard`,
//! `data-registration-authority` turned into the ids they select, `data-information-system`
//! into none when no record can have the system asked.

use super::SCAN;
use crate::fhir::extensions::{SYSTEM_INFORMATION_SYSTEM, SYSTEM_R60};
use crate::fhir::map::{
    RELATED_FIELDS, Related, SYSTEM_G15, add_mailboxes, add_related, id_of_key, resource,
    role_practitioner,
};
use crate::fhir::model::Resource;
use crate::fhir::query::{Filter, Query, ResourceType, Token, codes_match};
use crate::index;
use crate::record::{Record, RecordKind};
use crate::space::contact::Contact;
use crate::store::search::{Lookup, Value};
use crate::store::{Store, StoredRecord};
use std::collections::{BTreeSet, HashMap};

/// The related records of practitioners (IdNat `keys`), through the index's owner rows; their
/// contact details from `contacts` when they came with the records (see [`Store::by_index`]).
async fn related_of(
    store: &Store,
    keys: &[&str],
    contacts: Option<&mut HashMap<String, Contact>>,
) -> anyhow::Result<HashMap<String, Related>> {
    let mut out: HashMap<String, Related> = keys
        .iter()
        .map(|k| ((*k).to_owned(), Related::default()))
        .collect();
    let kinds = [
        RecordKind::PractitionerRole,
        RecordKind::Qualification,
        RecordKind::Mailbox,
        RecordKind::Card,
    ];
    // Only the fields a Practitioner shows of them: an exercise has some fifty.
    for s in store
        .owned_by_any(&kinds, keys, Some(RELATED_FIELDS))
        .await?
    {
        if !s.active {
            continue;
        }
        let owner = match s.record.kind {
            RecordKind::Mailbox | RecordKind::Card => {
                s.record.get("Identification nationale PP").to_owned()
            }
            _ => role_practitioner(&s.record).to_owned(),
        };
        if let Some(rel) = out.get_mut(&owner) {
            match s.record.kind {
                RecordKind::PractitionerRole => rel.roles.push(s.record),
                RecordKind::Qualification => rel.qualifications.push(s.record),
                RecordKind::Card => rel.cards.push(s.record),
                _ => rel.mailboxes.push(s.record),
            }
        }
    }
    let mut read;
    let contacts = match contacts {
        Some(known) => known,
        None => {
            read = crate::space::store::contacts(store, keys).await?;
            &mut read
        }
    };
    for (key, rel) in out.iter_mut() {
        rel.contact = contacts.remove(key);
    }
    Ok(out)
}

/// The active index-row matches of `lookup` among the records of `kind`, every page of them.
async fn all_found(
    store: &Store,
    kind: RecordKind,
    lookup: &Lookup,
) -> anyhow::Result<Vec<StoredRecord>> {
    let mut out = vec![];
    let mut after = None;
    loop {
        let (chunk, next) = store
            .by_index(&[kind], lookup, after.as_ref(), SCAN)
            .await?;
        out.extend(chunk.into_iter().map(|(_, s)| s).filter(|s| s.active));
        match next {
            Some(next) => after = Some(next),
            None => return Ok(out),
        }
    }
}

/// The own mailboxes of structures (logical ids `ids`), by id.
async fn mailboxes_of(
    store: &Store,
    ids: &[String],
) -> anyhow::Result<HashMap<String, Vec<Record>>> {
    let mut out: HashMap<String, Vec<Record>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let lookup = Lookup::of(
        vec![index::ORGANIZATION],
        ids.iter()
            .map(|id| Value::Token {
                system: Some(String::new()),
                code: id.clone(),
            })
            .collect(),
    );
    for s in all_found(store, RecordKind::Mailbox, &lookup).await? {
        if let Some(finess) = index::mailbox_structure(&s.record) {
            out.entry(id_of_key(finess)).or_default().push(s.record);
        }
    }
    Ok(out)
}

/// The resource of a stored record, with what it shows from other records.
pub(super) async fn full_resource(
    store: &Store,
    s: &StoredRecord,
) -> anyhow::Result<Option<Resource>> {
    let Some(r) = resource(s) else {
        return Ok(None);
    };
    Ok(full_resources(store, vec![(s.clone(), r)], None)
        .await?
        .pop())
}

/// Completes the resources of stored records (each mapped once by [`resource`]) with what
/// they show from other records: practitioners with their related records and structures with
/// their mailboxes (one query each for them all), the practitioners' contact details from
/// `contacts` when these came with the records.
pub(super) async fn full_resources(
    store: &Store,
    list: Vec<(StoredRecord, Resource)>,
    contacts: Option<&mut HashMap<String, Contact>>,
) -> anyhow::Result<Vec<Resource>> {
    let keys: Vec<&str> = list
        .iter()
        .filter(|(s, _)| s.record.kind == RecordKind::Practitioner)
        .map(|(s, _)| s.record.key.as_str())
        .collect();
    let mut related = if keys.is_empty() {
        Default::default()
    } else {
        related_of(store, &keys, contacts).await?
    };
    let sites: Vec<String> = list
        .iter()
        .filter(|(s, _)| s.record.kind == RecordKind::Establishment)
        .map(|(s, _)| id_of_key(&s.record.key))
        .collect();
    let mailboxes = mailboxes_of(store, &sites).await?;
    Ok(list
        .into_iter()
        .map(|(s, mut r)| {
            match &mut r {
                Resource::Practitioner(p) => {
                    let rel = related.remove(&s.record.key).unwrap_or_default();
                    add_related(p, &s, &rel);
                }
                Resource::Organization(o) if s.record.kind == RecordKind::Establishment => {
                    if let Some(own) = mailboxes.get(&id_of_key(&s.record.key)) {
                        add_mailboxes(o, own);
                    }
                }
                _ => {}
            }
            r
        })
        .collect())
}

/// The owners (IdNat_PS) of the active records of `kind` an index `lookup` finds: the
/// professional of an exercise (its key's first part), the holder of a card.
async fn owners(
    store: &Store,
    kind: RecordKind,
    lookup: &Lookup,
) -> anyhow::Result<BTreeSet<String>> {
    Ok(all_found(store, kind, lookup)
        .await?
        .iter()
        .map(|s| match kind {
            RecordKind::PractitionerRole => role_practitioner(&s.record).to_owned(),
            _ => s.record.get("Identification nationale PP").to_owned(),
        })
        .filter(|o| !o.is_empty())
        .collect())
}

/// Turns the filters on other records (`qualification-code`, `mailbox-mss`,
/// `number-smartcard`, `data-registration-authority`) into the ids of the records they
/// select, and `data-information-system` into none when no record of the type has a system
/// asked (`RPPS` for professionals, `FINESS` for structures; otherwise it stays, checked on
/// each candidate).
pub(super) async fn resolve(store: &Store, query: &mut Query) -> anyhow::Result<()> {
    let resource = query.resource;
    for f in &mut query.filters {
        let keys: BTreeSet<String> = match f {
            Filter::Mailbox(addresses) => {
                let mut keys = BTreeSet::new();
                for a in addresses.iter() {
                    let Some(m) = store.get(RecordKind::Mailbox, a).await? else {
                        continue;
                    };
                    let found = match resource {
                        _ if !m.active => None,
                        ResourceType::Organization => index::mailbox_structure(&m.record),
                        _ => Some(m.record.get("Identification nationale PP")),
                    };
                    keys.extend(found.filter(|k| !k.is_empty()).map(str::to_owned));
                }
                keys
            }
            Filter::QualificationCode(tokens) => match codes_of(tokens) {
                Some(codes) => store.owners_of_codes(&codes, SYSTEM_G15).await?,
                None => scan_owners_of_codes(store, tokens).await?,
            },
            Filter::SmartCard(numbers) => {
                let values = numbers.iter().cloned().map(Value::Prefix).collect();
                let lookup = Lookup::of(vec![index::SMARTCARD], values);
                owners(store, RecordKind::Card, &lookup).await?
            }
            Filter::RegistrationAuthority(tokens) => {
                // `system|`: any authority, when the system is TRE_R60 (the only one).
                let values: Vec<Value> = tokens
                    .iter()
                    .filter_map(|t| match &t.code {
                        Some(code) => Some(Value::Token {
                            system: t.system.clone(),
                            code: code.clone(),
                        }),
                        None => (t.system.as_deref() == Some(SYSTEM_R60))
                            .then(|| Value::Prefix(String::new())),
                    })
                    .collect();
                if values.is_empty() {
                    BTreeSet::new()
                } else {
                    let lookup = Lookup::of(vec![index::AUTHORITY], values);
                    owners(store, RecordKind::PractitionerRole, &lookup).await?
                }
            }
            Filter::InformationSystem(tokens) => {
                let possible = match resource {
                    ResourceType::Practitioner => "RPPS",
                    ResourceType::Organization => "FINESS",
                    _ => "",
                };
                let can = tokens
                    .iter()
                    .any(|t| t.matches(Some(SYSTEM_INFORMATION_SYSTEM), Some(possible)));
                if can {
                    continue;
                }
                BTreeSet::new()
            }
            _ => continue,
        };
        *f = Filter::Id(keys.into_iter().collect());
    }
    Ok(())
}

/// Tokens with a code as index values; `None` when one has none (`system|`).
fn codes_of(tokens: &[Token]) -> Option<Vec<Value>> {
    tokens
        .iter()
        .map(|t| {
            t.code.clone().map(|code| Value::Token {
                system: t.system.clone(),
                code,
            })
        })
        .collect()
}

/// `qualification-code=system|` (any code of a system): the exercises and qualifications
/// scanned, the one case the index does not answer.
async fn scan_owners_of_codes(store: &Store, tokens: &[Token]) -> anyhow::Result<BTreeSet<String>> {
    let mut keys = BTreeSet::new();
    for kind in [RecordKind::PractitionerRole, RecordKind::Qualification] {
        let mut after = 0;
        loop {
            let chunk = store.scan(&[kind], after, SCAN).await?;
            let Some(last) = chunk.last() else { break };
            after = last.version;
            for s in chunk.iter().filter(|s| s.active) {
                let rel = Related {
                    qualifications: vec![s.record.clone()],
                    ..Related::default()
                };
                let codes = crate::fhir::map::qualification_codes(&rel);
                if codes_match(tokens, &codes) {
                    let owner = role_practitioner(&s.record);
                    keys.insert(owner.to_owned());
                }
            }
        }
    }
    Ok(keys)
}
