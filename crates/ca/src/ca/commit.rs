//! The group committer: issued certificates committed with their audit records and LDAP
//! outbox rows, several issuances to a transaction.

use super::*;

/// An issued certificate to commit: its row, its request's row (automatic approval), its audit
/// record and its LDAP outbox row.
pub(crate) struct Persist {
    pub(super) ca_id: String,
    pub(super) profile_id: String,
    pub(super) serial: String,
    pub(super) der_b64: String,
    pub(super) subject_text: String,
    pub(super) not_before: i64,
    pub(super) not_after: i64,
    pub(super) request: Option<RequestRow>,
    pub(super) actor: String,
    pub(super) details: String,
    pub(super) now: i64,
}

/// The request row of an automatically approved issuance.
pub(crate) struct RequestRow {
    pub(super) id: String,
    pub(super) csr_b64: String,
    pub(super) subject_json: String,
    pub(super) requester: String,
}

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
    store: Store,
    mut rx: tokio::sync::mpsc::Receiver<(Persist, PersistReply)>,
) {
    while let Some(first) = rx.recv().await {
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
            let jobs: Vec<&Persist> = batch.iter().map(|(p, _)| p).collect();
            match persist_many(&store, &jobs).await {
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
                _ => persist_many(&store, &[&job]).await,
            };
            let _ = reply.send(r);
        }
    }
}

/// `INSERT … VALUES (…), (…) …` for `rows` rows of `row(first_placeholder_index)`.
pub(super) fn multi_row_insert(
    head: &str,
    rows: usize,
    per_row: usize,
    row: impl Fn(usize) -> String,
    tail: &str,
) -> String {
    let values: Vec<String> = (0..rows).map(|i| row(i * per_row + 1)).collect();
    format!("{head} VALUES {} {tail}", values.join(", "))
}

/// Whether `job`'s certificate is stored, byte for byte.
async fn already_committed(store: &Store, job: &Persist) -> Result<bool> {
    let row = sqlx::query("SELECT der FROM certificates WHERE ca_id = $1 AND serial = $2")
        .bind(&job.ca_id)
        .bind(&job.serial)
        .fetch_optional(store.pool())
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<String, _>("der")? == job.der_b64,
        None => false,
    })
}

/// `($n, $n+1, …)`: `width` consecutive placeholders from `$n`.
pub(super) fn consecutive(n: usize, width: usize) -> String {
    let p: Vec<String> = (n..n + width).map(|i| format!("${i}")).collect();
    format!("({})", p.join(", "))
}

/// Commits `jobs` in one transaction.
async fn persist_many(store: &Store, jobs: &[&Persist]) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    let requests: Vec<(&Persist, &RequestRow)> = jobs
        .iter()
        .filter_map(|j| j.request.as_ref().map(|r| (*j, r)))
        .collect();
    if !requests.is_empty() {
        let sql = multi_row_insert(
            "INSERT INTO cert_requests (id, ca_id, profile, status, csr, subject, requester, \
             created_at, decided_at, decided_by, serial)",
            requests.len(),
            8,
            |n| {
                format!(
                    "(${n}, ${}, ${}, 'issued', ${}, ${}, ${}, ${}, ${}, 'auto', ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 6,
                    n + 7
                )
            },
            "",
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (j, r) in &requests {
            q = q
                .bind(&r.id)
                .bind(&j.ca_id)
                .bind(&j.profile_id)
                .bind(&r.csr_b64)
                .bind(&r.subject_json)
                .bind(&r.requester)
                .bind(j.now)
                .bind(&j.serial);
        }
        q.execute(&mut *tx).await?;
    }
    let sql = multi_row_insert(
        "INSERT INTO certificates (ca_id, serial, profile, subject, not_before, not_after, der, \
         request_id, issued_at)",
        jobs.len(),
        9,
        |n| consecutive(n, 9),
        "",
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for j in jobs {
        q = q
            .bind(&j.ca_id)
            .bind(&j.serial)
            .bind(&j.profile_id)
            .bind(&j.subject_text)
            .bind(j.not_before)
            .bind(j.not_after)
            .bind(&j.der_b64)
            .bind(j.request.as_ref().map(|r| r.id.clone()))
            .bind(j.now);
    }
    q.execute(&mut *tx).await?;
    let subjects: Vec<String> = jobs
        .iter()
        .map(|j| format!("{}/{}", j.ca_id, j.serial))
        .collect();
    let records: Vec<AuditEntry<'_>> = jobs
        .iter()
        .zip(&subjects)
        .map(|(j, subject)| AuditEntry {
            at: j.now,
            action: "issue",
            subject,
            actor: &j.actor,
            details: &j.details,
        })
        .collect();
    append_audit_many_tx(&mut tx, &records).await?;
    let issued: Vec<(&str, &str)> = jobs
        .iter()
        .map(|j| (j.ca_id.as_str(), j.serial.as_str()))
        .collect();
    crate::ldap::outbox::enqueue_issues(&mut tx, &issued, jobs[0].now).await?;
    tx.commit().await?;
    Ok(())
}
