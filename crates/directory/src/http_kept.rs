//! Searches the index decides alone ([`index_decides`]: a Practitioner by identifier, or by
//! family and given name) answered with the resources kept as JSON ([`crate::store::kept`]):
//! one statement finds the page's practitioners with their kept resources, written as they
//! are. The practitioners without one are mapped from their records with their related
//! records, answered, and kept for the next searches (in the background, and only if nothing
//! has been written since their records were read).

use super::{Directory, SCAN};
use crate::fhir::lookup::{Driver, index_decides};
use crate::fhir::map::{KEPT_FORMAT, id_of_key, kinds_of, resource};
use crate::fhir::model::{EntryResource, Resource};
use crate::fhir::page::Position;
use crate::fhir::query::Query;
use crate::record::RecordKind;
use crate::store::search::{Found, Read, RowKey};
use serde_json::value::RawValue;
use std::collections::HashMap;

/// Whether `query`'s page is answered from kept resources: the index decides its matches, and
/// it asks for no `_include`, `_revinclude` or `_elements`.
pub(super) fn answered_as_kept(query: &Query, driver: &Driver) -> bool {
    index_decides(query, driver)
        && query.include.is_empty()
        && query.revinclude.is_empty()
        && query.elements.is_empty()
        && !query.summary_count
}

/// The page of `query` after `after` (see [`answered_as_kept`]), with the position of its
/// last match when there are more.
pub(super) async fn kept_page(
    d: &Directory,
    query: &Query,
    driver: &Driver,
    after: &Position,
) -> anyhow::Result<(Vec<EntryResource>, Option<Position>)> {
    let kinds = kinds_of(query.resource.as_str());
    let mut row: Option<RowKey> = match after {
        Position::Row(r) => Some(r.clone()),
        Position::Version(0) => None,
        Position::Version(_) => anyhow::bail!("a paging position of another kind of search"),
    };
    let read = Read::Kept(KEPT_FORMAT);
    let limit = (query.count as i64 + 1).min(SCAN);
    let (mut found, mut counter) = (vec![], None);
    loop {
        let (chunk, next, _, c) = match driver {
            Driver::Index(l) => {
                d.store
                    .by_index_found(kinds, l, row.as_ref(), limit, read)
                    .await?
            }
            Driver::Names(n) => {
                d.store
                    .by_names_found(kinds, n, row.as_ref(), limit, read)
                    .await?
            }
            Driver::Keys(_) => anyhow::bail!("a search by keys is not decided by the index"),
        };
        counter = counter.or(c);
        found.extend(chunk);
        if found.len() > query.count {
            break;
        }
        match next {
            Some(next) => row = Some(next),
            None => break,
        }
    }
    let next_after = if found.len() > query.count {
        found.truncate(query.count);
        found.last().map(|(p, _)| Position::Row(p.clone()))
    } else {
        None
    };
    let missing: Vec<String> = found
        .iter()
        .filter(|(_, f)| matches!(f, Found::Kept(None)))
        .map(|(p, _)| p.key.clone())
        .collect();
    let mapped = match counter {
        Some(counter) if !missing.is_empty() => map_and_keep(d, &missing, counter).await?,
        _ => HashMap::new(),
    };
    let mut out = Vec::with_capacity(found.len());
    for (position, f) in found {
        let json = match f {
            Found::Kept(Some(json)) => json,
            Found::Kept(None) => match mapped.get(&position.key) {
                Some(json) => json.clone(),
                // Not found again by key: nothing to answer for it.
                None => continue,
            },
            Found::Record(_) => anyhow::bail!("a record where a kept resource was read"),
        };
        out.push(EntryResource::Kept {
            reference: format!("{}/{}", query.resource.as_str(), id_of_key(&position.key)),
            json: RawValue::from_string(json)?,
        });
    }
    Ok((out, next_after))
}

/// The resources of the practitioners `keys` mapped from their records and related records,
/// by key, as JSON; kept in the background when no write has been committed since `counter`.
async fn map_and_keep(
    d: &Directory,
    keys: &[String],
    counter: i64,
) -> anyhow::Result<HashMap<String, String>> {
    let records = d.store.by_key_list(RecordKind::Practitioner, keys).await?;
    let list = records
        .into_iter()
        .filter_map(|s| resource(&s).map(|r| (s, r)))
        .collect();
    let mut mapped = HashMap::with_capacity(keys.len());
    for r in super::full_resources(&d.store, list, None).await? {
        if let Resource::Practitioner(p) = &r
            && let Some(key) = crate::fhir::map::key_of_id(&p.id)
        {
            mapped.insert(key, serde_json::to_string(&r)?);
        }
    }
    let kept: Vec<(String, String)> = mapped.iter().map(|(k, j)| (k.clone(), j.clone())).collect();
    d.keeper
        .get_or_init(|| Keeper::start(d.store.clone()))
        .send(kept, counter);
    Ok(mapped)
}

/// Resources mapped by searches, to keep, with the version counter they were read at.
type ToKeep = (Vec<(String, String)>, i64);

/// Keeps the resources searches mapped, in the background: one task writes them, the
/// resources of several searches read at the same counter in one statement, one write at a
/// time (SQLite has one writer, and a write waiting for another would hold one of the pool's
/// connections the searches read with). When it falls behind, what it cannot take is dropped
/// (a later search keeps it); no search waits for it.
pub(super) struct Keeper(tokio::sync::mpsc::Sender<ToKeep>);

/// Searches' resources waiting for the keeper.
const WAITING: usize = 256;

impl Keeper {
    /// Starts the task writing into `store`.
    fn start(store: crate::store::Store) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<ToKeep>(WAITING);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(WAITING);
            while rx.recv_many(&mut batch, WAITING).await > 0 {
                // Only what was read at the newest counter can still be kept.
                let newest = batch.iter().map(|(_, c)| *c).max().unwrap_or_default();
                let mut resources: HashMap<String, String> = HashMap::new();
                for (list, counter) in batch.drain(..) {
                    if counter == newest {
                        resources.extend(list);
                    }
                }
                let resources: Vec<(String, String)> = resources.into_iter().collect();
                if let Err(e) = store.keep(KEPT_FORMAT, &resources, newest).await {
                    tracing::debug!(error = %format!("{e:#}"), "directory: resources not kept");
                }
            }
        });
        Self(tx)
    }

    /// Hands over `resources` read at `counter`; dropped when the keeper is behind.
    fn send(&self, resources: Vec<(String, String)>, counter: i64) {
        let _ = self.0.try_send((resources, counter));
    }
}
