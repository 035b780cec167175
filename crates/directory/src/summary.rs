//! The end-of-import summary.

use crate::extract::reader::RowError;
use crate::record::Plan;
use std::fmt;

/// Counts of one import run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Data rows read.
    pub read: u64,
    /// Records inserted.
    pub inserted: u64,
    /// Records updated.
    pub updated: u64,
    /// Records unchanged.
    pub unchanged: u64,
    /// Records deactivated.
    pub deactivated: u64,
    /// Rows rejected.
    pub rejected: u64,
}

impl Summary {
    /// Adds a file's rows and plan.
    pub fn add(&mut self, read: u64, rejected: &[RowError], plan: &Plan) {
        self.read += read;
        self.rejected += rejected.len() as u64;
        self.inserted += plan.insert.len() as u64;
        self.updated += plan.update.len() as u64;
        self.unchanged += plan.unchanged;
        self.deactivated += plan.deactivate.len() as u64;
    }
}

impl Summary {
    /// Adds the counts of another run.
    pub fn merge(&mut self, other: &Summary) {
        self.read += other.read;
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.deactivated += other.deactivated;
        self.rejected += other.rejected;
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {}, inserted {}, updated {}, unchanged {}, deactivated {}, rejected {}",
            self.read, self.inserted, self.updated, self.unchanged, self.deactivated, self.rejected
        )
    }
}
