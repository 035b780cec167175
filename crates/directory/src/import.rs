//! Importing extract files into the [`Store`], streaming: rows are read one at a time and
//! checked ([`crate::extract`], pure), each record compared with the stored state of its key
//! (16 bytes of key and 16 of state per stored record are all the import keeps in memory) and
//! written in batches, one transaction each, with its search index rows ([`Writer`]). A
//! complete extract then deactivates the active records of its kinds it did not give.
//!
//! A crash or a read error mid-file leaves the batches written so far committed and nothing
//! deactivated: every record stays whole and queryable, and importing the file again
//! finishes the work (content hashes make it idempotent).

use crate::extract::reader::{FileError, RowError, Rows};
use crate::extract::{Collector, ExtractKind, KnownKeys, Taken};
use crate::record::key_id;
use crate::store::{Change, Store, Writer};
use crate::summary::Summary;
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

/// A row rejected during an import: file, line, reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The file's name.
    pub file: String,
    /// The row.
    pub row: RowError,
}

/// What one import of one file did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Counts.
    pub summary: Summary,
    /// Every rejected row.
    pub rejected: Vec<Rejected>,
    /// Files skipped as a whole (unknown or missing columns), with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Rows between two calls of the progress callback.
const PROGRESS_EVERY: u64 = 50_000;

/// Imports one file (decompressed, any encoding) named `name` at `now`. With `complete`, the
/// file is the whole extract: active records of its kinds absent from it are deactivated.
/// `progress` is told the rows read and the changes written so far, now and then.
pub async fn import_file<R: BufRead>(
    store: &Store,
    name: &str,
    input: R,
    complete: bool,
    now: i64,
    out: &mut Outcome,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Option<ExtractKind>> {
    let opened = Rows::open(input).and_then(|rows| {
        let kind = ExtractKind::of_header(rows.header())?;
        Ok((rows, kind))
    });
    let (mut rows, kind) = match opened {
        Ok(x) => x,
        Err(e) => {
            out.skipped.push((name.to_owned(), e.to_string()));
            return Ok(None);
        }
    };
    let kinds = kind.record_kinds();
    // Into an empty store, without the secondary indexes: the first load this import begins,
    // or the one its caller began for several files.
    let own = store.begin_first_load().await?;
    let bulk = store.join_first_load(kinds).await?;
    // A first load's store holds no record of these kinds (and has no index to list them).
    let known = if bulk {
        KnownKeys::default()
    } else {
        store.known(kinds).await?
    };
    let mut collector = Collector::with_stored(kind, rows.header().clone(), known);
    let mut writer = Writer::new(store, now).await?;
    let mut summary = Summary::default();
    loop {
        let row = match rows.next_row() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => {
                writer.flush().await?;
                if own {
                    store.end_first_load().await?;
                }
                return Err(read_error(e)).with_context(|| {
                    format!(
                        "{name}: reading stopped after {} rows ({} changes written, nothing \
                         deactivated)",
                        collector.read,
                        writer.written()
                    )
                });
            }
        };
        collector.push(row);
        for Taken {
            record,
            stored,
            digest,
        } in collector.take_records()
        {
            match stored {
                None => {
                    summary.inserted += 1;
                    writer.push_digested(Change::Insert(record), digest).await?;
                }
                Some(s) if s.unchanged() => summary.unchanged += 1,
                Some(_) => {
                    summary.updated += 1;
                    writer.push_digested(Change::Update(record), digest).await?;
                }
            }
        }
        if collector.read.is_multiple_of(PROGRESS_EVERY) {
            progress(collector.read, writer.written());
        }
    }
    writer.flush().await?;
    if bulk {
        // Every record of these kinds is one this file gave: none is absent from it.
        collector.forget_keys();
    }
    if own {
        store.end_first_load().await?;
    }
    if complete && !bulk {
        for kind in kinds {
            let mut gone = vec![];
            store
                .each_key(*kind, true, &mut |key, _, _| {
                    if !collector.in_file(&key_id(*kind, key)) {
                        gone.push(key.to_owned());
                    }
                })
                .await?;
            summary.deactivated += gone.len() as u64;
            for key in gone {
                writer.push(Change::Deactivate(*kind, key)).await?;
            }
        }
        writer.flush().await?;
    }
    if writer.written() > 0 && !bulk {
        store.analyze().await?;
    }
    progress(collector.read, writer.written());
    summary.read = collector.read;
    summary.rejected = collector.rejected.len() as u64;
    out.summary.merge(&summary);
    out.rejected
        .extend(collector.rejected.into_iter().map(|row| Rejected {
            file: name.to_owned(),
            row,
        }));
    Ok(Some(kind))
}

/// The first bytes of a ZIP archive (a local file header).
const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

/// Imports an extract as published: a ZIP archive (each of its files in turn, named
/// `name:entry`; deflate or stored) or a plain text file. Each file is handled as by
/// [`import_file`]; an archive whose directory cannot be read is an error before anything
/// is written, a damaged entry (bad deflate data, wrong CRC) stops its import as a read error.
pub async fn import_input<R: Read + Seek>(
    store: &Store,
    name: &str,
    mut input: R,
    complete: bool,
    now: i64,
    out: &mut Outcome,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<ExtractKind>> {
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut input, &mut magic).with_context(|| name.to_owned())?;
    input
        .seek(SeekFrom::Start(0))
        .with_context(|| name.to_owned())?;
    let mut kinds = vec![];
    if n < 4 || magic != ZIP_MAGIC {
        let reader = BufReader::with_capacity(1 << 16, input);
        kinds.extend(import_file(store, name, reader, complete, now, out, progress).await?);
        return Ok(kinds);
    }
    let mut archive = zip::ZipArchive::new(input)
        .with_context(|| format!("{name}: not a readable ZIP archive"))?;
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .with_context(|| format!("{name}: entry {i} of the archive"))?;
        if entry.is_dir() {
            continue;
        }
        let entry_name = match entry.name() {
            Ok(n) => format!("{name}:{n}"),
            Err(_) => format!("{name}:entry {i}"),
        };
        let reader = BufReader::with_capacity(1 << 16, entry);
        kinds.extend(import_file(store, &entry_name, reader, complete, now, out, progress).await?);
    }
    Ok(kinds)
}

/// Calls `f` with each text file of an input: the input itself, or each file of a ZIP archive
/// (named `name:entry`).
pub fn each_text_file<R: Read + Seek>(
    name: &str,
    mut input: R,
    f: &mut dyn FnMut(&str, &mut dyn BufRead) -> Result<()>,
) -> Result<()> {
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut input, &mut magic).with_context(|| name.to_owned())?;
    input
        .seek(SeekFrom::Start(0))
        .with_context(|| name.to_owned())?;
    if n < 4 || magic != ZIP_MAGIC {
        return f(name, &mut BufReader::with_capacity(1 << 16, input));
    }
    let mut archive = zip::ZipArchive::new(input)
        .with_context(|| format!("{name}: not a readable ZIP archive"))?;
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .with_context(|| format!("{name}: entry {i} of the archive"))?;
        if entry.is_dir() {
            continue;
        }
        let entry_name = match entry.name() {
            Ok(n) => format!("{name}:{n}"),
            Err(_) => format!("{name}:entry {i}"),
        };
        f(&entry_name, &mut BufReader::with_capacity(1 << 16, entry))?;
    }
    Ok(())
}

fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn read_error(e: FileError) -> anyhow::Error {
    anyhow::Error::new(e)
}
