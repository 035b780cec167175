//! Issued certificates committed with their audit records and LDAP outbox rows, several to a
//! transaction (the CA's group committer calls [`CaStore::insert_issued`]).

use super::{AuditEntry, CaStore, CaTx, b64, consecutive, multi_row_insert, outbox};
use anyhow::Result;
use coeur_pki::csr::SubjectRequest;

/// An issued certificate to store: its row, its request's row (automatic approval), its audit
/// record and its LDAP outbox row.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// Issuing CA.
    pub ca_id: String,
    /// Profile.
    pub profile_id: String,
    /// Serial (stored form).
    pub serial: String,
    /// DER.
    pub der: Vec<u8>,
    /// Subject DN, as text.
    pub subject_text: String,
    /// Start of validity.
    pub not_before: i64,
    /// End of validity.
    pub not_after: i64,
    /// The request, when it was approved automatically (stored as issued).
    pub request: Option<IssuedRequest>,
    /// Who caused the issuance (audit).
    pub actor: String,
    /// Audit details (JSON).
    pub details: String,
    /// When.
    pub now: i64,
}

/// The request of an automatically approved issuance.
#[derive(Debug, Clone)]
pub struct IssuedRequest {
    /// Request id.
    pub id: String,
    /// The CSR (DER).
    pub csr_der: Vec<u8>,
    /// Subject attributes asked.
    pub subject: SubjectRequest,
    /// Who asked.
    pub requester: String,
}

impl CaStore {
    /// Stores issued certificates in one transaction, one multi-row statement per table: the
    /// automatically approved requests, the certificates, their audit records, their outbox
    /// rows. Fails as a whole (a serial collision, say).
    pub async fn insert_issued(&self, jobs: &[&IssuedCert]) -> Result<()> {
        let Some(first) = jobs.first() else {
            return Ok(());
        };
        let mut tx = self.begin().await?;
        tx.insert_auto_requests(jobs).await?;
        tx.insert_certificates(jobs).await?;
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
        tx.append_audit(&records).await?;
        let issued: Vec<(&str, &str)> = jobs
            .iter()
            .map(|j| (j.ca_id.as_str(), j.serial.as_str()))
            .collect();
        outbox::enqueue_issues(&mut tx, &issued, first.now).await?;
        tx.commit().await
    }
}

impl CaTx {
    /// The request rows of automatically approved issuances, stored as issued.
    async fn insert_auto_requests(&mut self, jobs: &[&IssuedCert]) -> Result<()> {
        let requests: Vec<(&IssuedCert, &IssuedRequest)> = jobs
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
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (j, r) in &requests {
                q = q
                    .bind(r.id.clone())
                    .bind(j.ca_id.clone())
                    .bind(j.profile_id.clone())
                    .bind(b64(&r.csr_der))
                    .bind(serde_json::to_string(&r.subject)?)
                    .bind(r.requester.clone())
                    .bind(j.now)
                    .bind(j.serial.clone());
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }

    /// The certificate rows.
    async fn insert_certificates(&mut self, jobs: &[&IssuedCert]) -> Result<()> {
        let sql = multi_row_insert(
            "INSERT INTO certificates (ca_id, serial, profile, subject, not_before, not_after, \
         der, request_id, issued_at)",
            jobs.len(),
            9,
            |n| consecutive(n, 9),
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for j in jobs {
            q = q
                .bind(j.ca_id.clone())
                .bind(j.serial.clone())
                .bind(j.profile_id.clone())
                .bind(j.subject_text.clone())
                .bind(j.not_before)
                .bind(j.not_after)
                .bind(b64(&j.der))
                .bind(j.request.as_ref().map(|r| r.id.clone()))
                .bind(j.now);
        }
        q.execute(self.conn()).await?;
        Ok(())
    }
}
