//! The group committer: issued certificates committed with their audit records and LDAP
//! outbox rows, several issuances to a transaction (see [`CaStore::insert_issued`]).

use super::*;

pub(super) type PersistReply = tokio::sync::oneshot::Sender<Result<()>>;

/// Issuances committed together at most.
const COMMIT_BATCH: usize = 64;

/// Group commit of issuances: whatever is waiting when the previous commit ends goes into one
/// transaction with one multi-row statement per table, instead of seven statements each.
/// Every certificate is still committed with its audit record before its answer. If the batch
/// fails (a serial collision, say), each issuance is committed alone, so that the failure is
/// answered to its own caller; one found already stored as itself (a commit whose answer was
/// lost) is not stored twice.
pub(super) async fn commit_loop(
    store: CaStore,
    mut rx: tokio::sync::mpsc::Receiver<(IssuedCert, PersistReply)>,
) {
    while let Some(first) = rx.recv().await {
        // Let the issuances already running reach the queue first: each transaction is a
        // handful of round trips to the database, so the more certificates it carries the
        // less each costs (on one core, the committer would otherwise often take one alone).
        tokio::task::yield_now().await;
        let mut batch = vec![first];
        while batch.len() < COMMIT_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        // A caller that went away (request cancelled) does not get a certificate committed
        // that nobody will receive.
        batch.retain(|(_, reply)| !reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        if batch.len() > 1 {
            let jobs: Vec<&IssuedCert> = batch.iter().map(|(p, _)| p).collect();
            match store.insert_issued(&jobs).await {
                Ok(()) => {
                    for (_, reply) in batch {
                        let _ = reply.send(Ok(()));
                    }
                    continue;
                }
                Err(e) => {
                    tracing::debug!(error = %format!("{e:#}"), size = batch.len(), "batch commit failed; committing one by one");
                }
            }
        }
        for (job, reply) in batch {
            // A commit whose answer was lost may have happened: a certificate already stored
            // as this very one is not stored again.
            let r = match already_committed(&store, &job).await {
                Ok(true) => Ok(()),
                _ => store.insert_issued(&[&job]).await,
            };
            let _ = reply.send(r);
        }
    }
}

/// Whether `job`'s certificate is stored, byte for byte.
async fn already_committed(store: &CaStore, job: &IssuedCert) -> Result<bool> {
    Ok(store
        .certificate_der(&job.ca_id, &job.serial)
        .await?
        .is_some_and(|der| der == job.der))
}
