//! Searches through the index (`directory_search`): candidates in the index's order
//! (value, kind, key) after a position (keyset paging), records by key in change order, a
//! professional's related records, the owners of codes.

use super::{Store, StoredRecord, stored, stored_only};
use crate::index::{
    BY_RECORD, CODE, FAMILY, FAMILY_GIVEN, OWNER, SEPARATOR, entries, family_given, prefix_end,
};
use crate::record::RecordKind;
use crate::space::contact::Contact;
use anyhow::Result;
use sqlx::Row;
use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments};
use std::collections::{BTreeSet, HashMap};

const RECORD_COLUMNS: &str =
    "r.kind, r.record_key, r.fields, r.active, r.updated_at, r.deactivated_at, r.version";

/// Keys per `IN (…)` list.
const KEYS_PER_QUERY: usize = 500;

/// One value looked up in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A token: its code, and its system (`None`: any; `Some("")`: none).
    Token {
        /// The system.
        system: Option<String>,
        /// The code.
        code: String,
    },
    /// Folded strings starting with this one.
    Prefix(String),
    /// Folded strings containing this one (no index range: the rows of the parameters are
    /// read in order and filtered).
    Contains(String),
}

impl Value {
    /// Whether an index row of system `system` and value `value` is one this value finds, as
    /// the store's condition does (bytewise).
    pub fn accepts(&self, system: &str, value: &str) -> bool {
        match self {
            Value::Token { system: s, code } => {
                code == value && s.as_deref().is_none_or(|s| s == system)
            }
            Value::Prefix(p) => value >= p.as_str() && value < prefix_end(p).as_str(),
            Value::Contains(c) => value.contains(c.as_str()),
        }
    }
}

/// Index rows of any of `params` with any of `values` (OR), of records that also have rows
/// each of `also` finds (AND; their own `also` is not looked at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// Stored parameters ([`crate::index`]).
    pub params: Vec<&'static str>,
    /// Values, any of which matches.
    pub values: Vec<Value>,
    /// Further criteria the records found meet.
    pub also: Vec<Lookup>,
}

impl Lookup {
    /// A lookup with no further criteria.
    pub fn of(params: Vec<&'static str>, values: Vec<Value>) -> Self {
        Self {
            params,
            values,
            also: vec![],
        }
    }

    /// The first of `record`'s index rows this lookup finds (ignoring `also`), in the
    /// index's order: the one row a record several rows find is returned at.
    fn first_value(&self, record: &crate::record::Record) -> Option<String> {
        entries(record)
            .into_iter()
            .filter(|e| self.params.contains(&e.param))
            .filter(|e| self.values.iter().any(|v| v.accepts(e.system, &e.value)))
            .map(|e| e.value)
            .min()
    }
}

/// Records an index search found, each at its position, the position to go on from when
/// there may be more, and the contact details of the practitioners found (by key, those who
/// gave some).
pub type FoundRows = (
    Vec<(RowKey, StoredRecord)>,
    Option<RowKey>,
    HashMap<String, Contact>,
);

/// What an index search reads of each record it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// The stored record.
    Records,
    /// The kept resource of this format, when there is one ([`super::kept`]): for searches
    /// whose index rows alone decide the matches, and a record found once.
    Kept(&'static str),
}

/// What an index search read of a record it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The stored record ([`Read::Records`]).
    Record(StoredRecord),
    /// The kept resource's JSON, `None` when none is kept ([`Read::Kept`]).
    Kept(Option<String>),
}

/// What an index search found, each at its position, the position to go on from when there
/// may be more, the contact details of the practitioners found (by key, those who gave some,
/// with [`Read::Records`]) and the version counter when the first statement that found some
/// read them (with [`Read::Kept`]; `None` when nothing was found).
pub type FoundIn = (
    Vec<(RowKey, Found)>,
    Option<RowKey>,
    HashMap<String, Contact>,
    Option<i64>,
);

/// The records of [`Found::Record`]s.
fn records_of(found: Vec<(RowKey, Found)>) -> Vec<(RowKey, StoredRecord)> {
    found
        .into_iter()
        .filter_map(|(p, f)| match f {
            Found::Record(s) => Some((p, s)),
            Found::Kept(_) => None,
        })
        .collect()
}

/// Practitioners by family and given name (each a folded prefix, FHIR's starts-with match):
/// for each family name the family prefix begins, in order, the [`FAMILY_GIVEN`] rows of that
/// family with the given prefix. A search reads the rows of matches only, where the family's
/// rows with a condition on the given name read every professional of a common family name.
/// The rows come in the index's order (value, kind, key): a family's rows all come before those
/// of the next family name ([`crate::index::SEPARATOR`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The family name's folded prefix.
    pub family: String,
    /// The given name's folded prefix.
    pub given: String,
    /// Further criteria the records found meet.
    pub also: Vec<Lookup>,
}

/// A position in the order of index lookups: value, kind, key (bytewise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKey {
    /// The index row's value.
    pub value: String,
    /// The record's kind.
    pub kind: RecordKind,
    /// The record's key.
    pub key: String,
}

/// SQL being written with its arguments, placeholders numbered as they are added.
pub(super) struct Sql {
    text: String,
    args: AnyArguments,
    n: usize,
    postgres: bool,
}

impl Sql {
    /// A statement for `store`'s database: parameters `$1, $2, …` on PostgreSQL, `?` on
    /// SQLite (see `write::placeholders`).
    fn new(store: &Store, text: &str) -> Self {
        Self::for_db(store.postgres, text)
    }

    /// A statement for PostgreSQL (`postgres`) or SQLite.
    pub(super) fn for_db(postgres: bool, text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: AnyArguments::default(),
            n: 0,
            postgres,
        }
    }

    pub(super) fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    pub(super) fn bind<T>(&mut self, v: T) -> Result<&mut Self>
    where
        T: sqlx::Encode<'static, Any> + sqlx::Type<Any>,
    {
        self.n += 1;
        if self.postgres {
            self.text.push('$');
            self.text.push_str(&self.n.to_string());
        } else {
            self.text.push('?');
        }
        self.args
            .add(v)
            .map_err(|e| anyhow::anyhow!("binding a value: {e}"))?;
        Ok(self)
    }

    /// ` LIMIT n`, the number in the statement's text ([`super::limit_clause`]).
    fn limit(&mut self, n: i64) -> &mut Self {
        self.push(&super::limit_clause(n))
    }

    /// `column = ?` for one item, `column IN (…)` for more.
    fn any_of<T>(&mut self, column: &str, mut items: Vec<T>) -> Result<&mut Self>
    where
        T: sqlx::Encode<'static, Any> + sqlx::Type<Any>,
    {
        self.push(column);
        if items.len() == 1 {
            self.push(" = ");
            self.bind(items.remove(0))?;
            Ok(self)
        } else {
            self.push(" IN ");
            self.list(items)
        }
    }

    /// The condition of `lookup` (not its `also`) on the index rows of alias `a`.
    fn criterion(&mut self, a: &str, lookup: &Lookup) -> Result<&mut Self> {
        self.params(a, &lookup.params)?;
        self.push(" AND ");
        self.values(a, &lookup.values)
    }

    /// `a.param = '…'` or `a.param IN ('…', …)`: the parameters written out, never bound.
    /// They are this crate's constants ([`crate::index`]). A database chooses a partial index
    /// only for a condition that implies the index's own when it plans the statement
    /// (PostgreSQL's trigram index of names, `param = 'name'`; the index by record). And
    /// SQLite, finding a bound parameter where the index's condition has a constant, plans
    /// the statement again at every execution: measured, half of an identifier search's
    /// time went to preparing it anew.
    pub(super) fn params(&mut self, a: &str, params: &[&str]) -> Result<&mut Self> {
        anyhow::ensure!(
            params
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')),
            "an unexpected parameter"
        );
        let names: Vec<String> = params.iter().map(|p| format!("'{p}'")).collect();
        match names.as_slice() {
            [one] => self.push(&format!("{a}.param = {one}")),
            _ => self.push(&format!("{a}.param IN ({})", names.join(", "))),
        };
        Ok(self)
    }

    /// ` AND …`: the index row of alias `a` is of `system`, as stored
    /// ([`crate::index::stored_system`]); none is, of a system no row holds.
    fn system(&mut self, a: &str, system: &str) -> Result<&mut Self> {
        match crate::index::stored_system(system) {
            Some(code) => self.push(&format!(" AND {a}.system = ")).bind(code),
            None => Ok(self.push(" AND 1 = 0")),
        }
    }

    /// `(…)`: the index row of alias `a` holds one of `values`.
    fn values(&mut self, a: &str, values: &[Value]) -> Result<&mut Self> {
        self.push("(");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(" OR ");
            }
            match v {
                Value::Token { system, code } => {
                    self.push(&format!("({a}.value = ")).bind(code.clone())?;
                    if let Some(system) = system {
                        self.system(a, system)?;
                    }
                    self.push(")");
                }
                Value::Prefix(p) => {
                    self.push(&format!("({a}.value >= ")).bind(p.clone())?;
                    self.push(&format!(" AND {a}.value < "))
                        .bind(prefix_end(p))?;
                    self.push(")");
                }
                Value::Contains(c) => {
                    self.push(&format!("{a}.value LIKE "))
                        .bind(format!("%{}%", super::like_escaped(c)))?;
                    self.push(" ESCAPE '!'");
                }
            }
        }
        self.push(")");
        Ok(self)
    }

    /// `lookup` (not its `also`) as a condition on the record of the index row `s`: one
    /// `EXISTS` per parameter, and per value for tokens, so that each reads one exact row of
    /// the index's order (param, value, kind, key), or, for the parameters of
    /// [`crate::index::BY_RECORD`] (prefixes), the record's rows of that parameter in the
    /// index by record, whose condition a parameter's own term implies.
    fn of_same_record(&mut self, a: &str, lookup: &Lookup) -> Result<&mut Self> {
        let mut first = true;
        self.push("(");
        for param in &lookup.params {
            let groups: Vec<&[Value]> = if BY_RECORD.contains(param) {
                vec![&lookup.values]
            } else {
                lookup.values.chunks(1).collect()
            };
            for values in groups {
                if !first {
                    self.push(" OR ");
                }
                first = false;
                // The parameter written out ([`Sql::params`]): its own term implies the
                // condition of the index by record.
                self.push(&format!(
                    "EXISTS (SELECT 1 FROM directory_search {a} WHERE "
                ));
                self.params(a, &[param])?;
                self.push(&format!(
                    " AND {a}.kind = s.kind AND {a}.record_key = s.record_key AND "
                ));
                self.values(a, values)?;
                self.push(")");
            }
        }
        self.push(")");
        Ok(self)
    }

    pub(super) fn list<T>(&mut self, items: impl IntoIterator<Item = T>) -> Result<&mut Self>
    where
        T: sqlx::Encode<'static, Any> + sqlx::Type<Any>,
    {
        self.push("(");
        for (i, v) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v)?;
        }
        self.push(")");
        Ok(self)
    }

    async fn fetch(self, store: &Store) -> Result<Vec<sqlx::any::AnyRow>> {
        Ok(sqlx::query_with(sqlx::AssertSqlSafe(self.text), self.args)
            .fetch_all(&store.pool)
            .await?)
    }

    /// Runs the statement on `conn`: the rows it changed.
    pub(super) async fn execute(self, conn: &mut sqlx::AnyConnection) -> Result<u64> {
        Ok(sqlx::query_with(sqlx::AssertSqlSafe(self.text), self.args)
            .execute(conn)
            .await?
            .rows_affected())
    }
}

fn kinds_str(kinds: &[RecordKind]) -> Vec<&'static str> {
    kinds.iter().map(|k| k.as_str()).collect()
}

/// Stored records in version order, without the repeats of a record several index rows found.
/// Only the fields named in `only`, when given ([`super::stored_only`]).
fn records(rows: &[sqlx::any::AnyRow], only: Option<&[&str]>) -> Result<Vec<StoredRecord>> {
    let mut out: Vec<StoredRecord> = Vec::with_capacity(rows.len());
    for row in rows {
        let s = stored_only(row, only)?;
        if out.last().is_none_or(|l| l.version != s.version) {
            out.push(s);
        }
    }
    Ok(out)
}

impl Store {
    /// Records of `kinds` with an index row `lookup` finds, in the index's order (value, kind,
    /// key) after `after`, each with its position, at most `limit` index rows' worth (a record
    /// several rows find comes once, at the first of them); with the position to go on from
    /// when there may be more (`limit` rows read).
    pub async fn by_index(
        &self,
        kinds: &[RecordKind],
        lookup: &Lookup,
        after: Option<&RowKey>,
        limit: i64,
    ) -> Result<(Vec<(RowKey, StoredRecord)>, Option<RowKey>)> {
        let (found, next, _) = self
            .by_index_with_contacts(kinds, lookup, after, limit)
            .await?;
        Ok((found, next))
    }

    /// [`Store::by_index_with_contacts`] for a search by family and given name: the family
    /// names the prefix begins one after the other, from the position's (`after`) on, until
    /// `limit` rows are read or no family name is left.
    pub async fn by_names_with_contacts(
        &self,
        kinds: &[RecordKind],
        names: &Names,
        after: Option<&RowKey>,
        limit: i64,
    ) -> Result<FoundRows> {
        let (found, next, contacts, _) = self
            .by_names_found(kinds, names, after, limit, Read::Records)
            .await?;
        Ok((records_of(found), next, contacts))
    }

    /// [`Store::by_names_with_contacts`], reading what `read` says of each record found; with
    /// the version counter as the first statement that found some read it.
    pub async fn by_names_found(
        &self,
        kinds: &[RecordKind],
        names: &Names,
        after: Option<&RowKey>,
        limit: i64,
        read: Read,
    ) -> Result<FoundIn> {
        // The prefix itself first: the smallest family name it begins, when one is.
        let mut family = match after {
            Some(a) => a
                .value
                .split(SEPARATOR)
                .next()
                .unwrap_or_default()
                .to_owned(),
            None => names.family.clone(),
        };
        let end = prefix_end(&names.family);
        let (mut out, mut contacts, mut counter) = (Vec::new(), HashMap::new(), None);
        loop {
            let both = family_given(&family, &names.given)
                .ok_or_else(|| anyhow::anyhow!("a family or given name without a row"))?;
            let lookup = Lookup {
                params: vec![FAMILY_GIVEN],
                values: vec![Value::Prefix(both)],
                also: names.also.clone(),
            };
            let left = limit - out.len() as i64;
            let (found, next, found_contacts, c) = self
                .by_index_found(kinds, &lookup, after, left, read)
                .await?;
            counter = counter.or(c);
            out.extend(found);
            contacts.extend(found_contacts);
            if next.is_some() {
                return Ok((out, next, contacts, counter));
            }
            // Every row of this family name is read: the next one the prefix begins.
            let mut q = Sql::new(self, "SELECT MIN(s.value) FROM directory_search s WHERE ");
            q.params("s", &[FAMILY])?;
            q.push(" AND s.value > ").bind(family)?;
            q.push(" AND s.value < ").bind(end.clone())?;
            let row =
                q.fetch(self).await?.into_iter().next().ok_or_else(|| {
                    anyhow::anyhow!("no answer to the next family name's statement")
                })?;
            match row.try_get::<Option<String>, _>(0)? {
                Some(next_family) => family = next_family,
                None => return Ok((out, None, contacts, counter)),
            }
        }
    }

    /// [`Store::by_index`], with the contact details the practitioners found gave, by key,
    /// read in the same statement (a practitioner found and not in the map gave none).
    pub async fn by_index_with_contacts(
        &self,
        kinds: &[RecordKind],
        lookup: &Lookup,
        after: Option<&RowKey>,
        limit: i64,
    ) -> Result<FoundRows> {
        let (found, next, contacts, _) = self
            .by_index_found(kinds, lookup, after, limit, Read::Records)
            .await?;
        Ok((records_of(found), next, contacts))
    }

    /// Records of `kinds` with an index row `lookup` finds, as [`Store::by_index`], reading
    /// what `read` says of each; with the contact details of the practitioners found (read
    /// with their records, [`Read::Records`]) or the directory's version counter, read in the
    /// same statement ([`Read::Kept`]).
    pub async fn by_index_found(
        &self,
        kinds: &[RecordKind],
        lookup: &Lookup,
        after: Option<&RowKey>,
        limit: i64,
        read: Read,
    ) -> Result<FoundIn> {
        // The index rows first, their further criteria checked on the index alone, then the
        // records of the `limit` rows kept: a subquery with its own LIMIT, so that neither
        // database reads a record before the criteria have kept its row.
        let mut q = Sql::new(
            self,
            "SELECT s.value, s.kind, s.record_key FROM directory_search s WHERE ",
        );
        q.criterion("s", lookup)?;
        // The kind as an expression, not the column: SQLite leaves a column held equal to a
        // constant out of the order it reads an index in, and would then sort every row of a
        // value (a common family name) instead of reading (value, kind, key) in order.
        q.push(" AND ").any_of("s.kind || ''", kinds_str(kinds))?;
        if let Some(a) = after {
            // The bound on the value alone is the index's range; the rest breaks ties.
            q.push(" AND s.value >= ").bind(a.value.clone())?;
            q.push(" AND (s.value > ").bind(a.value.clone())?;
            q.push(" OR s.kind > ").bind(a.kind.as_str())?;
            q.push(" OR (s.kind = ").bind(a.kind.as_str())?;
            q.push(" AND s.record_key > ").bind(a.key.clone())?;
            q.push("))");
        }
        for (i, also) in lookup.also.iter().enumerate() {
            q.push(" AND ");
            q.of_same_record(&format!("a{i}"), also)?;
        }
        q.push(" ORDER BY s.value, s.kind, s.record_key")
            .limit(limit);
        const COUNTER: &str = "(SELECT last FROM directory_version WHERE id = 1)";
        q.text = match read {
            // With the contact details of practitioners (a lookup by primary key, in a table
            // holding only those professionals gave): no further statement for them.
            Read::Records => format!(
                "SELECT {RECORD_COLUMNS}, c.value, ct.email, ct.phone FROM ({}) c \
                 JOIN directory_record r ON r.kind = c.kind AND r.record_key = c.record_key \
                 LEFT JOIN directory_contact ct ON ct.practitioner_key = c.record_key \
                 AND c.kind = '{}' \
                 ORDER BY c.value, c.kind, c.record_key",
                q.text,
                RecordKind::Practitioner.as_str()
            ),
            Read::Kept(format) => {
                // The format is this crate's (`fhir::map::KEPT_FORMAT`), written out so that
                // the statement's text stays the same.
                anyhow::ensure!(
                    format
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.'),
                    "an unexpected format"
                );
                format!(
                    "SELECT c.value, c.kind, c.record_key, k.resource, {COUNTER} FROM ({}) c \
                     LEFT JOIN directory_resource k ON k.kind = c.kind \
                     AND k.record_key = c.record_key AND k.format = '{format}' \
                     ORDER BY c.value, c.kind, c.record_key",
                    q.text
                )
            }
        };
        let rows = q.fetch(self).await?;
        let mut out: Vec<(RowKey, Found)> = Vec::with_capacity(rows.len());
        let mut contacts = HashMap::new();
        let mut last = None;
        let mut counter = None;
        for row in &rows {
            let (position, found) = match read {
                Read::Records => {
                    let s = stored(row)?;
                    if s.record.kind == RecordKind::Practitioner {
                        let email: Option<String> = row.try_get(8)?;
                        let phone: Option<String> = row.try_get(9)?;
                        let c = Contact::from_stored(email.as_deref(), phone.as_deref());
                        if !c.is_empty() {
                            contacts.insert(s.record.key.clone(), c);
                        }
                    }
                    let position = RowKey {
                        value: row.try_get(7)?,
                        kind: s.record.kind,
                        key: s.record.key.clone(),
                    };
                    last = Some(position.clone());
                    // A record several rows find comes once, at the first of them.
                    let first = lookup.first_value(&s.record);
                    if first.is_some_and(|f| f != position.value) {
                        continue;
                    }
                    (position, Found::Record(s))
                }
                Read::Kept(_) => {
                    let kind: String = row.try_get(1)?;
                    let position = RowKey {
                        value: row.try_get(0)?,
                        kind: super::kind_of(&kind)
                            .ok_or_else(|| anyhow::anyhow!("unknown record kind {kind}"))?,
                        key: row.try_get(2)?,
                    };
                    counter.get_or_insert(row.try_get::<i64, _>(4)?);
                    last = Some(position.clone());
                    (position, Found::Kept(row.try_get(3)?))
                }
            };
            if out.last().is_some_and(|(p, _)| *p == position) {
                continue;
            }
            out.push((position, found));
        }
        Ok((
            out,
            last.filter(|_| rows.len() as i64 == limit),
            contacts,
            counter,
        ))
    }

    /// The directory's version counter: the last version a write has taken.
    pub async fn counter(&self) -> Result<i64> {
        Ok(
            sqlx::query("SELECT last FROM directory_version WHERE id = 1")
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?,
        )
    }

    /// Records of `kinds` with one of `keys`, in change order after `after_version`, at most
    /// `limit`.
    pub async fn by_keys(
        &self,
        kinds: &[RecordKind],
        keys: &[String],
        after_version: i64,
        limit: i64,
    ) -> Result<Vec<StoredRecord>> {
        let mut out = vec![];
        for chunk in keys.chunks(KEYS_PER_QUERY) {
            let mut q = Sql::new(
                self,
                &format!("SELECT {RECORD_COLUMNS} FROM directory_record r WHERE r.kind IN "),
            );
            q.list(kinds_str(kinds))?;
            q.push(" AND r.record_key IN ")
                .list(chunk.iter().cloned())?;
            q.push(" AND r.version > ").bind(after_version)?;
            q.push(" ORDER BY r.version").limit(limit);
            out.extend(records(&q.fetch(self).await?, None)?);
        }
        out.sort_by_key(|s| s.version);
        out.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(out)
    }

    /// The records of `kind` with one of `keys`, in no order (through the primary key).
    pub async fn by_key_list(
        &self,
        kind: RecordKind,
        keys: &[String],
    ) -> Result<Vec<StoredRecord>> {
        let mut out = vec![];
        for chunk in keys.chunks(KEYS_PER_QUERY) {
            let mut q = Sql::new(
                self,
                &format!("SELECT {RECORD_COLUMNS} FROM directory_record r WHERE r.kind = "),
            );
            q.bind(kind.as_str())?;
            q.push(" AND r.record_key IN ")
                .list(chunk.iter().cloned())?;
            out.extend(records(&q.fetch(self).await?, None)?);
        }
        Ok(out)
    }

    /// The records of `kinds` that belong to one of the professionals `idnats` (exercises,
    /// qualifications, mailboxes, cards), in change order per group of keys; with only the
    /// fields named in `only`, when given.
    pub async fn owned_by_any(
        &self,
        kinds: &[RecordKind],
        idnats: &[&str],
        only: Option<&[&str]>,
    ) -> Result<Vec<StoredRecord>> {
        let mut out = vec![];
        for chunk in idnats.chunks(KEYS_PER_QUERY) {
            let mut q = Sql::new(
                self,
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM directory_search s JOIN directory_record r \
                 ON r.kind = s.kind AND r.record_key = s.record_key WHERE "
                ),
            );
            q.params("s", &[OWNER])?;
            q.push(" AND s.value IN ")
                .list(chunk.iter().map(|k| (*k).to_owned()))?;
            q.push(" AND s.kind IN ").list(kinds_str(kinds))?;
            q.push(" ORDER BY r.version");
            out.extend(records(&q.fetch(self).await?, only)?);
        }
        Ok(out)
    }

    /// The professionals (IdNat_PS) with an active exercise whose profession is one of
    /// `codes`, or an active qualification with one of `codes` (profession or savoir-faire).
    pub async fn owners_of_codes(
        &self,
        codes: &[Value],
        profession_system: &str,
    ) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for v in codes {
            let mut q = Sql::new(
                self,
                "SELECT s.record_key FROM directory_search s JOIN directory_record r \
                 ON r.kind = s.kind AND r.record_key = s.record_key WHERE ",
            );
            q.params("s", &[CODE])?;
            match v {
                Value::Token { system, code } => {
                    q.push(" AND s.value = ").bind(code.clone())?;
                    if let Some(system) = system {
                        q.system("s", system)?;
                    }
                }
                Value::Prefix(_) | Value::Contains(_) => anyhow::bail!("codes are tokens"),
            }
            q.push(" AND (s.kind = ")
                .bind(RecordKind::Qualification.as_str())?;
            q.push(" OR (s.kind = ")
                .bind(RecordKind::PractitionerRole.as_str())?;
            q.system("s", profession_system)?;
            q.push(")) AND r.active = 1");
            for row in q.fetch(self).await? {
                let key: String = row.try_get(0)?;
                out.insert(key.split('|').next().unwrap_or("").to_owned());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::{Lookup, Sql, Value};
    use crate::index::{CODE, FAMILY, GIVEN, IDENTIFIER};

    /// The parameters are written out in every condition on the index, never bound: SQLite
    /// would otherwise plan the statement again at every execution (see [`Sql::params`]).
    #[test]
    fn parameters_are_written_out() {
        let lookup = Lookup {
            params: vec![FAMILY, GIVEN],
            values: vec![Value::Prefix("dup".into())],
            also: vec![
                Lookup::of(
                    vec![CODE],
                    vec![
                        Value::Token {
                            system: Some("s".into()),
                            code: "10".into(),
                        },
                        Value::Token {
                            system: None,
                            code: "21".into(),
                        },
                    ],
                ),
                Lookup::of(vec![FAMILY], vec![Value::Prefix("dupo".into())]),
            ],
        };
        for postgres in [false, true] {
            let mut q = Sql::for_db(postgres, "");
            q.criterion("s", &lookup).expect("criterion");
            for also in &lookup.also {
                q.push(" AND ");
                q.of_same_record("a", also).expect("also");
            }
            let text = q.text;
            assert!(
                text.starts_with("s.param IN ('family', 'given') AND "),
                "{text}"
            );
            // One exact row per token, the prefix among the record's rows of its parameter.
            assert_eq!(text.matches("a.param = 'code'").count(), 2, "{text}");
            assert_eq!(text.matches("a.param = 'family'").count(), 1, "{text}");
            assert!(
                !text.contains("param = ?") && !text.contains("param = $"),
                "{text}"
            );
        }
        let mut q = Sql::for_db(false, "");
        assert!(q.params("s", &[IDENTIFIER, "x'; --"]).is_err());
    }
}
