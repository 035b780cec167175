//! The CA's repository: every statement the CA runs on the database, as named operations.
//! Changes that must land together (a certificate with its audit record and its LDAP outbox
//! row, a revocation with its own, a CRL number with its announcement) are single operations
//! here, or go through a [`CaTx`] whose operations all run in one transaction.
//!
//! Certificates and CSRs are stored as base64 DER; serials as lowercase hex without leading
//! zeros (see `ca::serial_hex`).

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coeur_storage::Db;

pub mod audit;
pub mod certs;
pub mod crl;
pub mod issued;
pub mod outbox;
pub mod requests;

pub use audit::AuditEntry;
pub use certs::{CertificateSummary, ListFilter, RevokeOutcome, StoredCert};
pub use crl::CrlRecord;
pub use issued::{IssuedCert, IssuedRequest};
pub use requests::{NewRequest, RequestRecord};

/// The CA's repository, over the shared database.
#[derive(Clone)]
pub struct CaStore {
    db: Db,
}

impl CaStore {
    /// The repository over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The database underneath.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The connection pool, for tools and tests that read the tables directly; the CA itself
    /// goes through the named operations of this repository.
    pub fn pool(&self) -> &sqlx::AnyPool {
        self.db.pool()
    }

    /// Whether the database is SQLite (else PostgreSQL).
    pub fn is_sqlite(&self) -> bool {
        self.db.is_sqlite()
    }

    /// Starts a transaction for operations that must be committed together.
    pub async fn begin(&self) -> Result<CaTx> {
        Ok(CaTx(self.db.pool().begin().await?))
    }
}

/// A transaction of the CA's repository: its operations are committed by [`CaTx::commit`]
/// and rolled back if it is dropped first.
pub struct CaTx(sqlx::Transaction<'static, sqlx::Any>);

impl CaTx {
    /// Commits.
    pub async fn commit(self) -> Result<()> {
        self.0.commit().await?;
        Ok(())
    }

    /// The transaction's connection.
    fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.0
    }
}

/// Whether a failure is a conflict worth retrying with new values: a unique key taken (a
/// serial collision, a concurrent audit append) or a busy database.
pub fn is_conflict(e: &anyhow::Error) -> bool {
    e.downcast_ref::<sqlx::Error>().is_some_and(|s| match s {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.message().contains("locked")
                || d.message().contains("busy")
        }
        _ => false,
    })
}

/// DER as stored.
fn b64(der: &[u8]) -> String {
    coeur_common::encoding::b64(der)
}

/// Stored base64 back to DER.
fn unb64(text: &str) -> Result<Vec<u8>> {
    Ok(STANDARD.decode(text)?)
}

/// `INSERT … VALUES (…), (…) …` for `rows` rows of `row(first_placeholder_index)`.
fn multi_row_insert(
    head: &str,
    rows: usize,
    per_row: usize,
    row: impl Fn(usize) -> String,
) -> String {
    let values: Vec<String> = (0..rows).map(|i| row(i * per_row + 1)).collect();
    format!("{head} VALUES {}", values.join(", "))
}

/// `($n, $n+1, …)`: `width` consecutive placeholders from `$n`.
fn consecutive(n: usize, width: usize) -> String {
    let p: Vec<String> = (n..n + width).map(|i| format!("${i}")).collect();
    format!("({})", p.join(", "))
}
