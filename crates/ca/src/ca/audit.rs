//! The chained audit log, as operators check it.

use super::*;

/// Verifies the whole audit chain; returns the number of records, or the first broken link.
pub async fn verify_audit(store: &CaStore) -> Result<Result<i64, i64>> {
    store.verify_audit().await
}
