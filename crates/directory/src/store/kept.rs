//! Resources kept as their JSON (`directory_resource`, schema file `0009`): a Practitioner with
//! what it shows of its exercises, qualifications, mailboxes, cards and contact details, as a
//! search mapped it, so that the next searches that find it answer it as it is instead of
//! reading its record and related records and mapping them again.
//!
//! Two rules keep a kept resource the one its records give:
//! - every write that changes what a resource shows removes the resource in its own
//!   transaction ([`forget_shown_in`], [`forget_stored`]), after taking its versions: on
//!   PostgreSQL the version counter's row is then locked until the write commits;
//! - a search keeps what it mapped only if no write has been committed since it read the
//!   records: the counter (`directory_version.last`) is read in the statement that finds them,
//!   and [`Store::keep`] writes only while the counter is still that value (on PostgreSQL it
//!   waits, `FOR SHARE`, for a write holding the counter, and then sees it moved).
//!
//! A kept row carries the format of the code that mapped it (`format`): rows of another
//! format (an instance of another version) are not read, and are replaced when kept again.

use super::Store;
use super::search::Sql;
use crate::index::{OWNER, entries};
use crate::record::{Record, RecordKind};
use anyhow::Result;
use sqlx::AnyConnection;
use std::collections::BTreeSet;

/// Keys per statement.
const KEYS: usize = 500;

/// The practitioners whose resource shows `r`: its own, or its owner's (an exercise, a
/// qualification, a mailbox, a card: their `owner` index rows).
pub fn shown_in(r: &Record) -> Vec<String> {
    if r.kind == RecordKind::Practitioner {
        return vec![r.key.clone()];
    }
    entries(r)
        .into_iter()
        .filter(|e| e.param == OWNER && !e.value.is_empty())
        .map(|e| e.value)
        .collect()
}

/// A row when any resource is kept.
pub(crate) const ANY_KEPT: &str = "SELECT 1 FROM directory_resource LIMIT 1";

/// Whether any resource is kept, read in a writing transaction after its versions are taken
/// (an import into an empty store then removes nothing, row by row).
pub(crate) async fn any_kept(tx: &mut AnyConnection) -> Result<bool> {
    Ok(sqlx::query(ANY_KEPT)
        .fetch_optional(&mut *tx)
        .await?
        .is_some())
}

/// Removes the kept resources of the practitioners `keys`.
pub(crate) async fn forget(
    tx: &mut AnyConnection,
    postgres: bool,
    keys: &BTreeSet<String>,
) -> Result<()> {
    let keys: Vec<&String> = keys.iter().collect();
    for chunk in keys.chunks(KEYS) {
        let mut q = Sql::for_db(postgres, "DELETE FROM directory_resource WHERE kind = ");
        q.bind(RecordKind::Practitioner.as_str())?;
        q.push(" AND record_key IN ")
            .list(chunk.iter().map(|k| (*k).clone()))?;
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Removes the kept resources the stored record `kind`/`key` is shown in, as stored (before
/// the write changes it: an update may give a card another holder): a practitioner's own, the
/// owners' of the others (their `owner` index rows), read from the store.
pub(crate) async fn forget_stored(
    tx: &mut AnyConnection,
    kind: RecordKind,
    key: &str,
) -> Result<()> {
    if kind == RecordKind::Practitioner {
        return forget_practitioner(tx, key).await;
    }
    match super::stored_record(&mut *tx, kind, key).await? {
        Some(stored) => forget_shown_as(tx, &stored).await,
        None => Ok(()),
    }
}

/// [`forget_stored`] for a record already read as it is stored.
pub(crate) async fn forget_shown_as(tx: &mut AnyConnection, stored: &Record) -> Result<()> {
    if stored.kind == RecordKind::Practitioner {
        return forget_practitioner(tx, &stored.key).await;
    }
    // Its owners as stored: its `owner` index rows, from its stored fields.
    for owner in entries(stored).into_iter().filter(|e| e.param == OWNER) {
        forget_practitioner(tx, &owner.value).await?;
    }
    Ok(())
}

/// Removes the kept resource of the practitioner `key`.
async fn forget_practitioner(tx: &mut AnyConnection, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM directory_resource WHERE kind = $1 AND record_key = $2")
        .bind(RecordKind::Practitioner.as_str())
        .bind(key)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

impl Store {
    /// Keeps `resources` (practitioner key, JSON; each key once) of `format`, mapped from what
    /// was read when the version counter was at `counter`, in one transaction: nothing is
    /// written if a write has been committed since. Whether they were written.
    pub async fn keep(
        &self,
        format: &str,
        resources: &[(String, String)],
        counter: i64,
    ) -> Result<bool> {
        if resources.is_empty() {
            return Ok(false);
        }
        let mut written = false;
        let mut tx = self.pool.begin().await?;
        for chunk in resources.chunks(KEYS / 4) {
            let mut q = Sql::for_db(
                self.postgres,
                "INSERT INTO directory_resource (kind, record_key, format, resource) \
                 SELECT k, r, f, j FROM (",
            );
            for (i, (key, json)) in chunk.iter().enumerate() {
                q.push(if i == 0 {
                    "SELECT "
                } else {
                    " UNION ALL SELECT "
                });
                q.bind(RecordKind::Practitioner.as_str())?;
                q.push(if i == 0 { " AS k, " } else { ", " });
                q.bind(key.clone())?;
                q.push(if i == 0 { " AS r, " } else { ", " });
                q.bind(format.to_owned())?;
                q.push(if i == 0 { " AS f, " } else { ", " });
                q.bind(json.clone())?;
                if i == 0 {
                    q.push(" AS j");
                }
            }
            q.push(if self.postgres {
                ") v WHERE (SELECT last FROM directory_version WHERE id = 1 FOR SHARE) = "
            } else {
                ") v WHERE (SELECT last FROM directory_version WHERE id = 1) = "
            });
            q.bind(counter)?;
            q.push(
                " ON CONFLICT (kind, record_key) DO UPDATE SET format = excluded.format, \
                 resource = excluded.resource",
            );
            written |= q.execute(&mut tx).await? > 0;
        }
        tx.commit().await?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::shown_in;
    use crate::record::{Record, RecordKind};

    #[test]
    fn a_record_is_shown_in_its_owners_resource() {
        let p = Record::of(RecordKind::Practitioner, "810001045367", &[]);
        assert_eq!(shown_in(&p), ["810001045367"]);
        let role = Record::of(
            RecordKind::PractitionerRole,
            "810001045367|R1|10|S||",
            &[("Code profession", "10")],
        );
        assert_eq!(shown_in(&role), ["810001045367"]);
        let card = Record::of(
            RecordKind::Card,
            "2800012345",
            &[("Identification nationale PP", "810001045367")],
        );
        assert_eq!(shown_in(&card), ["810001045367"]);
        let site = Record::of(RecordKind::Establishment, "750000001", &[]);
        assert!(shown_in(&site).is_empty());
    }
}
