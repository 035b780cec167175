//! Keyset paging and searchset bundles.
//!
//! A search driven by the index walks its rows in the index's order (value, kind, key): the
//! cursor of the next page is the position of the last match returned. A record changed while
//! a client pages keeps its place unless the value it was found by changes; nothing present
//! throughout with the same value is skipped or returned twice, and records added meanwhile
//! come on later pages when they sort after the cursor. A search with no index criterion
//! (`_lastUpdated`, `active`, or none) walks records in change order (`version`, which every
//! write raises from one counter): the cursor is the version of the last match, a record changed
//! while a client pages moves behind it and is returned again later in its new state. No OFFSET.
//!
//! The cursor is opaque: the position and an HMAC-SHA256 tag over it and the search's
//! parameters, under a key of the server. A cursor altered, or replayed with other
//! parameters, is refused.

use super::model::{Bundle, BundleLink, Entry, EntryResource, EntrySearch, Resource};
use super::query::Query;
use crate::store::search::RowKey;
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Signs and checks cursors.
pub struct CursorKey(hmac::Key);

impl CursorKey {
    /// A key from 32 secret bytes.
    pub fn new(secret: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    fn tag(&self, resource: &str, canonical: &str, position: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(resource.as_bytes());
        ctx.update(&[0]);
        ctx.update(canonical.as_bytes());
        ctx.update(&[0]);
        ctx.update(position);
        ctx.sign()
    }

    /// The cursor after `position` for `query`.
    pub fn seal(&self, query: &Query, position: &Position) -> String {
        let mut b = position.encode();
        let tag = self.tag(query.resource.as_str(), &query.query_string(None), &b);
        b.extend_from_slice(&tag.as_ref()[..TAG]);
        URL_SAFE_NO_PAD.encode(b)
    }

    /// The position a cursor of `query` stands for; `None` when it was not made for it here.
    pub fn open(&self, query: &Query, cursor: &str) -> Option<Position> {
        let b = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let (position, tag) = b.split_at_checked(b.len().checked_sub(TAG)?)?;
        let want = self.tag(query.resource.as_str(), &query.query_string(None), position);
        aws_lc_rs::constant_time::verify_slices_are_equal(&want.as_ref()[..TAG], tag).ok()?;
        Position::decode(position)
    }
}

/// Bytes of the tag kept in a cursor.
const TAG: usize = 16;

/// Where a page starts: after a version (change order) or after an index row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// After this version, in change order.
    Version(i64),
    /// After this position in the index's order.
    Row(RowKey),
}

impl Position {
    fn encode(&self) -> Vec<u8> {
        match self {
            Position::Version(v) => {
                let mut b = vec![0];
                b.extend_from_slice(&v.to_be_bytes());
                b
            }
            Position::Row(r) => {
                let mut b = vec![1];
                for part in [r.value.as_str(), r.kind.as_str(), r.key.as_str()] {
                    b.extend_from_slice(&(part.len() as u32).to_be_bytes());
                    b.extend_from_slice(part.as_bytes());
                }
                b
            }
        }
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let (first, mut rest) = b.split_first()?;
        match first {
            0 => Some(Position::Version(i64::from_be_bytes(rest.try_into().ok()?))),
            1 => {
                let mut part = || -> Option<String> {
                    let (len, tail) = rest.split_at_checked(4)?;
                    let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
                    let (s, tail) = tail.split_at_checked(len)?;
                    rest = tail;
                    String::from_utf8(s.to_vec()).ok()
                };
                let value = part()?;
                let kind = crate::store::kind_of(&part()?)?;
                let key = part()?;
                rest.is_empty()
                    .then_some(Position::Row(RowKey { value, kind, key }))
            }
            _ => None,
        }
    }
}

/// A searchset page: `matches` (with the version of the last one when there is a next page),
/// then `included`, deduplicated. `base` is the service's base URL (no trailing `/`).
pub fn searchset(
    base: &str,
    query: &Query,
    key: &CursorKey,
    matches: Vec<EntryResource>,
    next_after: Option<Position>,
    included: Vec<Resource>,
) -> Bundle {
    let rtype = query.resource.as_str();
    let link = |extra: Option<(&str, &str)>| {
        let qs = query.query_string(extra);
        if qs.is_empty() {
            format!("{base}/{rtype}")
        } else {
            format!("{base}/{rtype}?{qs}")
        }
    };
    let mut links = vec![BundleLink {
        relation: "self".into(),
        url: link(query.page.as_deref().map(|p| ("_page", p))),
    }];
    if let Some(p) = next_after {
        links.push(BundleLink {
            relation: "next".into(),
            url: link(Some(("_page", &key.seal(query, &p)))),
        });
    }
    let mut seen = std::collections::HashSet::new();
    let mut entry = vec![];
    for (mode, r) in matches
        .into_iter()
        .map(|r| ("match", r))
        .chain(included.into_iter().map(|r| ("include", r.into())))
    {
        let Some(reference) = r.reference() else {
            continue;
        };
        if !seen.insert(reference.clone()) {
            continue;
        }
        entry.push(Entry {
            full_url: format!("{base}/{reference}"),
            resource: r,
            search: EntrySearch { mode: mode.into() },
        });
    }
    Bundle {
        type_: "searchset".into(),
        total: None,
        link: links,
        entry,
    }
}

/// The answer to `_summary=count`.
pub fn count_only(base: &str, query: &Query, total: u64) -> Bundle {
    Bundle {
        type_: "searchset".into(),
        total: Some(total),
        link: vec![BundleLink {
            relation: "self".into(),
            url: format!(
                "{base}/{}?{}",
                query.resource.as_str(),
                query.query_string(None)
            ),
        }],
        entry: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::query::{Handling, ResourceType, parse};

    fn q(pairs: &[(&str, &str)]) -> Query {
        let v: Vec<_> = pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        parse(ResourceType::Practitioner, &v, Handling::Strict).expect("query")
    }

    #[test]
    fn cursors_are_bound_to_their_search_and_key() {
        let key = CursorKey::new(&[7; 32]);
        let query = q(&[("family", "A"), ("_count", "2")]);
        let c = key.seal(&query, &Position::Version(42));
        assert_eq!(key.open(&query, &c), Some(Position::Version(42)));
        // Same parameters in another order: same search.
        assert_eq!(
            key.open(&q(&[("_count", "2"), ("family", "A")]), &c),
            Some(Position::Version(42))
        );
        assert_eq!(key.open(&q(&[("family", "B"), ("_count", "2")]), &c), None);
        assert_eq!(CursorKey::new(&[8; 32]).open(&query, &c), None);
        let mut raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
        raw[7] ^= 1;
        assert_eq!(key.open(&query, &URL_SAFE_NO_PAD.encode(&raw)), None);
        assert_eq!(key.open(&query, "not base64!"), None);
        assert_eq!(key.open(&query, ""), None);
        // A position in the index's order, made and read back; altered, refused.
        let row = Position::Row(RowKey {
            value: "lefevre".into(),
            kind: crate::record::RecordKind::Practitioner,
            key: "810001045367".into(),
        });
        let c = key.seal(&query, &row);
        assert_eq!(key.open(&query, &c), Some(row));
        let mut raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
        raw[6] ^= 1;
        assert_eq!(key.open(&query, &URL_SAFE_NO_PAD.encode(&raw)), None);
    }

    #[test]
    fn bundles_link_to_the_next_page_and_dedupe_includes() {
        let key = CursorKey::new(&[7; 32]);
        let query = q(&[("family", "A")]);
        let p = |id: &str| {
            Resource::Practitioner(crate::fhir::model::Practitioner {
                id: id.into(),
                ..Default::default()
            })
        };
        let b = searchset(
            "http://d/fhir",
            &query,
            &key,
            vec![p("1").into(), p("2").into()],
            Some(Position::Version(9)),
            vec![p("2"), p("3")],
        );
        assert_eq!(b.link[0].url, "http://d/fhir/Practitioner?family=A");
        let next = &b.link[1];
        assert_eq!(next.relation, "next");
        let cursor = next.url.split("_page=").nth(1).unwrap();
        assert_eq!(key.open(&query, cursor), Some(Position::Version(9)));
        let modes: Vec<_> = b
            .entry
            .iter()
            .map(|e| (e.full_url.as_str(), e.search.mode.as_str()))
            .collect();
        assert_eq!(
            modes,
            [
                ("http://d/fhir/Practitioner/1", "match"),
                ("http://d/fhir/Practitioner/2", "match"),
                ("http://d/fhir/Practitioner/3", "include"),
            ]
        );
        let last = searchset("http://d/fhir", &query, &key, vec![], None, vec![]);
        assert_eq!(last.link.len(), 1);
        let v = serde_json::to_value(Resource::Bundle(last)).unwrap();
        assert_eq!(v["resourceType"], "Bundle");
        assert_eq!(v["type"], "searchset");
    }
}
