//! Importing extract files into the [`Store`]: read and check (pure, [`crate::extract`]),
//! compare with the stored state ([`crate::record::plan`]), apply in batches.

use crate::extract::{ExtractKind, collect, reader::RowError};
use crate::record::plan;
use crate::store::Store;
use crate::summary::Summary;
use anyhow::Result;
use std::io::BufRead;

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

/// Imports one file (decompressed, any encoding) named `name` at `now`. With `complete`, the
/// file is the whole extract: active records of its kinds absent from it are deactivated.
pub async fn import_file<R: BufRead>(
    store: &Store,
    name: &str,
    input: R,
    complete: bool,
    now: i64,
    out: &mut Outcome,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Option<ExtractKind>> {
    let (kind, collected) = match collect(input) {
        Ok(x) => x,
        Err(e) => {
            out.skipped.push((name.to_owned(), e.to_string()));
            return Ok(None);
        }
    };
    let kinds = kind.record_kinds();
    let stored = store.states(kinds).await?;
    let p = plan(&stored, &collected.records, kinds, complete);
    store.apply(&p, &collected.records, now, progress).await?;
    out.summary.add(collected.read, &collected.rejected, &p);
    out.rejected
        .extend(collected.rejected.into_iter().map(|row| Rejected {
            file: name.to_owned(),
            row,
        }));
    Ok(Some(kind))
}
