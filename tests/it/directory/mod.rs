//! The directory (coeur-directory): crafted extracts with their edge cases imported into its
//! own store, on SQLite and PostgreSQL; re-imports idempotent; deactivation by a new extract;
//! the professionals' own space (`space`); the provider's identity sync (`sync`), and the two
//! together (`contact_sync`); the FINESS authorised care activities and their
//! HealthcareService API (`services`); Annuaire Santé v2's further parameters (`params`:
//! cards, data trace, structures' mailboxes).

mod contact_sync;
pub(crate) mod fhir;
mod import;
mod kept;
mod params;
mod schema;
mod search;
mod serve;
mod services;
mod space;
mod sync;

use coeur_directory::store::Store;
use coeur_testkit::Db;

/// A fresh directory store on `db`, with the directory that holds it (SQLite) kept alive.
pub(crate) async fn store(db: Db) -> (Store, tempfile::TempDir) {
    let (url, dir) = store_url(db).await;
    (Store::connect(&url).await.expect("directory store"), dir)
}

/// The URL of a fresh database for a directory store on `db`, with the directory that holds
/// it (SQLite).
pub(crate) async fn store_url(db: Db) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match db {
        Db::Sqlite => format!("sqlite://{}/annuaire.db", dir.path().display()),
        Db::Postgres => coeur_testkit::pg::new_database_url().await,
    };
    (url, dir)
}
