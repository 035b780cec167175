//! The statements a [`super::Writer`] runs and their arguments, built ahead of the batch's
//! transaction: texts shared rather than copied ([`Text`], [`Texts`]), the arguments of the
//! pool's connections (`Any`) and of SQLite's own ([`Args`]), the multi-row inserts' text, and
//! PostgreSQL's `COPY` rows.

use super::{INDEX_ROWS, Prepared, Stored, Via};
use crate::index::Entry;
use anyhow::Result;
use sqlx::Arguments;
use sqlx::any::AnyArguments;
use sqlx::sqlite::SqliteArguments;
use sqlx_core::any::AnyValueKind;
use std::sync::Arc;

/// A text bound by the arguments of a batch, shared by all that bind it, in the form its
/// connection takes: `Any`'s (see [`Texts`]), or SQLite's, which binds it from where it is.
#[derive(Clone)]
pub(super) enum Text {
    Any(Arc<String>),
    Sqlite(Arc<str>),
}

impl Text {
    pub(super) fn of(s: String, via: Via) -> Self {
        match via {
            Via::Pool | Via::Postgres => Self::Any(Arc::new(s)),
            Via::Sqlite => Self::Sqlite(Arc::from(s)),
        }
    }

    pub(super) fn as_str(&self) -> &str {
        match self {
            Self::Any(t) => t,
            Self::Sqlite(t) => t,
        }
    }
}

/// The arguments of one statement, for the connection that runs it.
pub(super) enum Args {
    Any(AnyArguments),
    Sqlite(SqliteArguments),
}

impl Args {
    pub(super) fn new(via: Via) -> Self {
        match via {
            Via::Pool | Via::Postgres => Self::Any(AnyArguments::default()),
            Via::Sqlite => Self::Sqlite(SqliteArguments::default()),
        }
    }

    pub(super) fn text(&mut self, t: Text) -> Result<()> {
        match (self, t) {
            (Self::Any(args), Text::Any(t)) => args.values.0.push(AnyValueKind::Text(t)),
            (Self::Sqlite(args), Text::Sqlite(t)) => args
                .add(t)
                .map_err(|e| anyhow::anyhow!("binding a text: {e}"))?,
            _ => anyhow::bail!("a text of another connection's form"),
        }
        Ok(())
    }

    pub(super) fn integer(&mut self, i: Option<i64>) -> Result<()> {
        match self {
            Self::Any(args) => args.values.0.push(match i {
                Some(i) => AnyValueKind::BigInt(i),
                None => AnyValueKind::Null(sqlx::any::AnyTypeInfoKind::BigInt),
            }),
            Self::Sqlite(args) => args
                .add(i)
                .map_err(|e| anyhow::anyhow!("binding an integer: {e}"))?,
        }
        Ok(())
    }
}

/// The texts of a batch's arguments, shared ([`Text`]) rather than copied for each value:
/// binding a `&str` or a `String` through sqlx's `Any` driver copies the text into a new
/// `String` behind a new `Arc`, for each of the 100 M values of a national-size first import
/// (a record's key for each of its index rows, the same kind, parameter and system names again
/// and again), before SQLite's own copy. sqlx binds no shared text for `Any` but through its
/// arguments' own (hidden) value kind, taken from `sqlx-core` directly at the version sqlx
/// pins; SQLite's `Any` driver takes its `Text` (copying it once more into its own arguments,
/// which no `Any` API avoids), PostgreSQL's encodes from it. SQLite's own arguments bind an
/// `Arc<str>` as it is ([`Via::Sqlite`]). The constant texts (kinds, parameters, systems) are
/// shared within one [`Texts`], one per batch: each batch's arguments are built on one thread
/// and freed on SQLite's, so no counter of a shared text goes back and forth between threads.
pub(super) struct Texts {
    via: Via,
    constants: Vec<(&'static str, Text)>,
}

impl Texts {
    pub(super) fn new(via: Via) -> Self {
        Self {
            via,
            constants: vec![],
        }
    }

    pub(super) fn constant(&mut self, s: &'static str) -> Text {
        if let Some((_, t)) = self
            .constants
            .iter()
            .find(|(c, _)| std::ptr::eq(c.as_ptr(), s.as_ptr()) && c.len() == s.len())
        {
            return t.clone();
        }
        let t = Text::of(s.to_owned(), self.via);
        self.constants.push((s, t.clone()));
        t
    }
}

/// A first load's batch as PostgreSQL's `COPY` data, built ahead of its transaction (by the
/// preparing task, while the batch before is written): the writing task then only adds each
/// record's version, which it takes in the transaction, and sends the bytes. Built there,
/// the records' rows kept the writing task busy while the server waited, then the server
/// while the writing task waited: at 1.25 M rows, half of both cores sat idle.
pub(super) struct CopyData {
    /// The records' rows up to their version (the last column), one after the other.
    records: Vec<u8>,
    /// Where each record's row ends in `records`.
    ends: Vec<usize>,
    /// The index rows of the records.
    pub(super) index: Vec<u8>,
}

impl CopyData {
    /// The `COPY` data of the new records of `changes` dated `now` (the index rows taken from
    /// the records).
    pub(super) fn of(changes: &mut [Prepared], now: i64) -> Self {
        let now = now.to_string();
        let mut records = Vec::with_capacity(changes.len() * 600);
        let mut ends = Vec::with_capacity(changes.len());
        let mut index = Vec::with_capacity(changes.len() * 6 * 48);
        for change in changes {
            if let Prepared::Insert(s) | Prepared::Update(s) = change {
                copy_values(
                    &mut records,
                    &[
                        Some(s.record.kind.as_str()),
                        Some(s.key.as_str()),
                        Some(s.hash.as_str()),
                        Some(s.fields.as_str()),
                        Some("1"),
                        Some(&now),
                        None,
                    ],
                );
                records.push(b'\t');
                ends.push(records.len());
                for e in std::mem::take(&mut s.entries) {
                    let system = crate::index::stored_system(e.system).unwrap_or(e.system);
                    copy_line(
                        &mut index,
                        &[
                            Some(s.record.kind.as_str()),
                            Some(s.key.as_str()),
                            Some(e.param),
                            Some(system),
                            Some(&e.value),
                        ],
                    );
                }
            }
        }
        Self {
            records,
            ends,
            index,
        }
    }

    /// The records' rows, the first with version `first`, the next ones the versions after.
    pub(super) fn records(&self, first: i64) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.records.len() + self.ends.len() * 12);
        let mut start = 0;
        for (version, &end) in (first..).zip(&self.ends) {
            out.extend_from_slice(&self.records[start..end]);
            out.extend_from_slice(version.to_string().as_bytes());
            out.push(b'\n');
            start = end;
        }
        out
    }

    /// The number of records.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }
}

/// One row of PostgreSQL's `COPY` text format: the values separated by tabs, `\N` for none,
/// a backslash, a newline, a carriage return and a tab escaped. Written here: sqlx sends
/// `COPY` data as bytes, and the format's escaping is these four characters.
pub(super) fn copy_line(out: &mut Vec<u8>, values: &[Option<&str>]) {
    copy_values(out, values);
    out.push(b'\n');
}

/// The values of a [`copy_line`], without its end.
fn copy_values(out: &mut Vec<u8>, values: &[Option<&str>]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match v {
            None => out.extend_from_slice(b"\\N"),
            Some(v) => {
                // Runs of plain bytes copied whole: most values have nothing to escape.
                let mut rest = v.as_bytes();
                while let Some(i) = rest
                    .iter()
                    .position(|b| matches!(b, b'\\' | b'\n' | b'\r' | b'\t'))
                {
                    out.extend_from_slice(&rest[..i]);
                    out.extend_from_slice(match rest[i] {
                        b'\\' => b"\\\\",
                        b'\n' => b"\\n",
                        b'\r' => b"\\r",
                        _ => b"\\t",
                    });
                    rest = &rest[i + 1..];
                }
                out.extend_from_slice(rest);
            }
        }
    }
}

/// The arguments of the multi-row inserts of the index rows of the new and changed records of
/// `changes`, in order, for `via` (the rows taken from the records).
pub(super) fn index_args(changes: &mut [Prepared], via: Via) -> Result<Vec<(usize, Args)>> {
    rows_args(
        changes.iter_mut().filter_map(|change| match change {
            Prepared::Insert(s) | Prepared::Update(s) => Some((
                s.record.kind.as_str(),
                s.key.clone(),
                std::mem::take(&mut s.entries),
            )),
            Prepared::Deactivate(..) => None,
        }),
        via,
    )
}

/// The arguments of the multi-row inserts of `rows` (each record's kind, key and index rows),
/// in order, for `via`: [`INDEX_ROWS`] rows a statement.
pub(super) fn rows_args(
    rows: impl Iterator<Item = (&'static str, Text, Vec<Entry>)>,
    via: Via,
) -> Result<Vec<(usize, Args)>> {
    let mut texts = Texts::new(via);
    let mut index = vec![];
    let mut statement = IndexRows::new(via);
    for (kind, key, entries) in rows {
        let kind = texts.constant(kind);
        for e in entries {
            statement.push(&mut texts, &kind, &key, e)?;
            if statement.rows == INDEX_ROWS {
                index.push(std::mem::replace(&mut statement, IndexRows::new(via)).done());
            }
        }
    }
    if statement.rows > 0 {
        index.push(statement.done());
    }
    Ok(index)
}

/// The arguments of one multi-row insert of index rows.
struct IndexRows {
    rows: usize,
    args: Args,
}

impl IndexRows {
    pub(super) fn new(via: Via) -> Self {
        Self {
            rows: 0,
            args: Args::new(via),
        }
    }

    pub(super) fn push(
        &mut self,
        texts: &mut Texts,
        kind: &Text,
        key: &Text,
        e: Entry,
    ) -> Result<()> {
        self.args.text(kind.clone())?;
        self.args.text(key.clone())?;
        self.args.text(texts.constant(e.param))?;
        // Every system an index row holds is listed (a unit test of `index` checks the rows of
        // each kind); one that were not would be stored as it is, and found by no search.
        let system = crate::index::stored_system(e.system).unwrap_or(e.system);
        self.args.text(texts.constant(system))?;
        self.args.text(Text::of(e.value, texts.via))?;
        self.rows += 1;
        Ok(())
    }

    pub(super) fn done(self) -> (usize, Args) {
        (self.rows, self.args)
    }
}

/// `($1, $2, …), (…)` for `rows` rows of `cols` columns on PostgreSQL, `(?, ?, …), (…)` on
/// SQLite: sqlx binds SQLite's parameters by looking up each one's name, a walk of the list
/// of named parameters, which makes numbered ones quadratic in a multi-row insert (measured:
/// three quarters of an import's time with 4,000 parameters a statement).
pub(super) fn placeholders(rows: usize, cols: usize, postgres: bool) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            if postgres {
                s.push('$');
                s.push_str(&(r * cols + c + 1).to_string());
            } else {
                s.push('?');
            }
        }
        s.push(')');
    }
    s
}

/// The insert of `rows` records. `OR FAIL` on SQLite: a duplicate key still fails the
/// statement, and with it the batch's transaction, but SQLite then keeps no statement journal
/// (a copy of every page the statement changes, to undo it alone): 6 % of a first import's
/// time with the default `ABORT`.
pub(super) fn records_insert(rows: usize, postgres: bool) -> String {
    format!(
        "INSERT {}INTO directory_record (kind, record_key, content_hash, fields, active, \
         updated_at, deactivated_at, version) VALUES {}",
        if postgres { "" } else { "OR FAIL " },
        placeholders(rows, 8, postgres)
    )
}

/// The arguments of the insert of new records `rows`, each with its version, for `via`.
pub(super) fn record_args(rows: &[(&Stored, i64)], now: i64, via: Via) -> Result<Args> {
    let mut args = Args::new(via);
    let mut texts = Texts::new(via);
    for (s, version) in rows {
        args.text(texts.constant(s.record.kind.as_str()))?;
        args.text(s.key.clone())?;
        args.text(s.hash.clone())?;
        args.text(s.fields.clone())?;
        args.integer(Some(1))?;
        args.integer(Some(now))?;
        args.integer(None)?;
        args.integer(Some(*version))?;
    }
    Ok(args)
}

/// The insert of `rows` index rows.
pub(super) fn index_insert(rows: usize, postgres: bool) -> String {
    format!(
        "INSERT INTO directory_search (kind, record_key, param, system, value) VALUES {}",
        placeholders(rows, 5, postgres)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_column() {
        assert_eq!(
            super::placeholders(2, 3, true),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(super::placeholders(2, 2, false), "(?, ?), (?, ?)");
    }

    #[test]
    fn copy_lines_escape_what_the_text_format_reads_as_syntax() {
        let mut out = vec![];
        super::copy_line(
            &mut out,
            &[Some("a\tb\\c"), None, Some("d\ne\rf"), Some("")],
        );
        assert_eq!(out, b"a\\tb\\\\c\t\\N\td\\ne\\rf\t\n");
    }

    #[test]
    fn a_batch_copy_data_gives_each_record_its_version_in_order() {
        use super::super::{Prepared, Stored, Via};
        use crate::record::{Record, RecordKind};
        let record = |key: &str, name: &str| {
            Record::of(RecordKind::Practitioner, key, &[("Nom d'exercice", name)])
        };
        let mut changes = vec![
            Prepared::Insert(
                Stored::of(record("810001", "A\tB"), None, Via::Postgres).expect("stored"),
            ),
            Prepared::Insert(
                Stored::of(record("810002", "C"), None, Via::Postgres).expect("stored"),
            ),
        ];
        let data = super::CopyData::of(&mut changes, 1_700_000_000);
        assert_eq!(data.len(), 2);
        let text = String::from_utf8(data.records(41)).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for (line, (key, version)) in lines.iter().zip([("810001", "41"), ("810002", "42")]) {
            let columns: Vec<&str> = line.split('\t').collect();
            assert_eq!(columns.len(), 8, "{line}");
            assert_eq!(columns[0], "practitioner");
            assert_eq!(columns[1], key);
            assert_eq!(columns[4..], ["1", "1700000000", "\\N", version]);
        }
        // A tab of a value is no column of its own: the fields' JSON escapes it, and the
        // backslash of that escape is escaped in turn.
        assert!(lines[0].contains("\"A\\\\tB\""), "{}", lines[0]);
        let index = String::from_utf8(data.index).expect("utf-8");
        assert!(index.lines().all(|l| l.split('\t').count() == 5), "{index}");
        assert!(
            index.contains("practitioner\t810002\tfamily\t\tc\n"),
            "{index}"
        );
    }
}
