//! The audit log's hash chain: each record commits to the previous one, so editing or removing
//! a row breaks every later link.

use aws_lc_rs::digest;

/// The hash of the record before the first one.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An audit record as chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Sequence number (1, 2, …).
    pub seq: i64,
    /// Time.
    pub at: i64,
    /// Action (`issue`, `revoke`, `crl`…).
    pub action: String,
    /// Subject of the action (CA id and serial).
    pub subject: String,
    /// Who did it.
    pub actor: String,
    /// Details (JSON).
    pub details: String,
    /// Hash of the previous record (hex).
    pub prev_hash: String,
    /// This record's hash (hex).
    pub hash: String,
}

/// The hash of a record's content chained to `prev_hash`. Fields are length-prefixed so that
/// no two different records hash the same input.
pub fn record_hash(
    seq: i64,
    at: i64,
    action: &str,
    subject: &str,
    actor: &str,
    details: &str,
    prev_hash: &str,
) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in [
        seq.to_string().as_str(),
        at.to_string().as_str(),
        action,
        subject,
        actor,
        details,
        prev_hash,
    ] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    hex::encode(ctx.finish().as_ref())
}

/// The first record (by sequence) whose link is broken, if any.
pub fn first_broken<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Option<i64> {
    let mut prev = GENESIS.to_owned();
    for (expected_seq, r) in (1..).zip(records) {
        let h = record_hash(
            r.seq,
            r.at,
            &r.action,
            &r.subject,
            &r.actor,
            &r.details,
            &r.prev_hash,
        );
        if r.seq != expected_seq || r.prev_hash != prev || r.hash != h {
            return Some(r.seq);
        }
        prev = r.hash.clone();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let hash = record_hash(seq, 100 + seq, "issue", "CA/01", "op", "{}", &prev);
                let r = AuditRecord {
                    seq,
                    at: 100 + seq,
                    action: "issue".into(),
                    subject: "CA/01".into(),
                    actor: "op".into(),
                    details: "{}".into(),
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    #[test]
    fn detects_edits_and_gaps() {
        let mut c = chain(5);
        assert_eq!(first_broken(&c), None);
        c[2].actor = "mallory".into();
        assert_eq!(first_broken(&c), Some(3));
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(first_broken(&c), Some(3));
    }
}
