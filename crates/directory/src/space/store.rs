//! The professionals' space's statements over the directory's store (`directory_contact`,
//! `migrations/directory/0003_contact.sql`): contact details read, and written in one
//! transaction with the practitioner's new `updated_at` and `version`, so that a search by
//! `_lastUpdated` (the provider's synchronisation) sees the change.

use crate::record::RecordKind;
use crate::space::contact::Contact;
use crate::store::Store;
use anyhow::Result;
use sqlx::any::AnyArguments;
use sqlx::{Arguments, Row};
use std::collections::HashMap;

/// The contact details of the practitioner `key` (IdNat_PS), if any were given.
pub async fn contact(store: &Store, key: &str) -> Result<Option<Contact>> {
    let row = sqlx::query("SELECT email, phone FROM directory_contact WHERE practitioner_key = $1")
        .bind(key)
        .fetch_optional(store.pool())
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let email: Option<String> = row.try_get(0)?;
    let phone: Option<String> = row.try_get(1)?;
    let c = Contact::from_stored(email.as_deref(), phone.as_deref());
    Ok((!c.is_empty()).then_some(c))
}

/// The contact details of the practitioners `keys` that gave some, by key (one query per
/// 500 keys).
pub async fn contacts(store: &Store, keys: &[&str]) -> Result<HashMap<String, Contact>> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(500) {
        let mut args = AnyArguments::default();
        let mut list = String::new();
        for (i, k) in chunk.iter().enumerate() {
            if i > 0 {
                list.push_str(", ");
            }
            if store.is_postgres() {
                list.push_str(&format!("${}", i + 1));
            } else {
                list.push('?');
            }
            args.add((*k).to_owned())
                .map_err(|e| anyhow::anyhow!("binding a key: {e}"))?;
        }
        let sql = format!(
            "SELECT practitioner_key, email, phone FROM directory_contact \
             WHERE practitioner_key IN ({list})"
        );
        for row in sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .fetch_all(store.pool())
            .await?
        {
            let key: String = row.try_get(0)?;
            let email: Option<String> = row.try_get(1)?;
            let phone: Option<String> = row.try_get(2)?;
            let c = Contact::from_stored(email.as_deref(), phone.as_deref());
            if !c.is_empty() {
                out.insert(key, c);
            }
        }
    }
    Ok(out)
}

/// What saving contact details did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Written, the practitioner's version moved.
    Changed,
    /// The same as stored: nothing written.
    Unchanged,
    /// No such practitioner: nothing written.
    NoPractitioner,
}

/// Replaces the contact details of the practitioner `key` at `now`, and moves its
/// `updated_at` and `version`, in one transaction; nothing is written when they are the
/// stored ones or the practitioner is unknown.
pub async fn set_contact(store: &Store, key: &str, c: &Contact, now: i64) -> Result<Saved> {
    let mut tx = store.pool().begin().await?;
    let version = crate::store::take_versions(&mut tx, 1).await?;
    let moved = sqlx::query(
        "UPDATE directory_record SET updated_at = $1, version = $4 \
         WHERE kind = $2 AND record_key = $3",
    )
    .bind(now)
    .bind(RecordKind::Practitioner.as_str())
    .bind(key)
    .bind(version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved != 1 {
        tx.rollback().await?;
        return Ok(Saved::NoPractitioner);
    }
    let old = sqlx::query("SELECT email, phone FROM directory_contact WHERE practitioner_key = $1")
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
    let old = match old {
        Some(r) => {
            let email: Option<String> = r.try_get(0)?;
            let phone: Option<String> = r.try_get(1)?;
            Contact::from_stored(email.as_deref(), phone.as_deref())
        }
        None => Contact::default(),
    };
    if &old == c {
        tx.rollback().await?;
        return Ok(Saved::Unchanged);
    }
    // The practitioner's kept resource shows its contact details and its date.
    crate::store::kept::forget_stored(&mut tx, RecordKind::Practitioner, key).await?;
    sqlx::query(
        "INSERT INTO directory_contact (practitioner_key, email, phone, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (practitioner_key) DO UPDATE SET \
         email = excluded.email, phone = excluded.phone, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(c.email.as_ref().map(|e| e.as_str().to_owned()))
    .bind(c.phone.as_ref().map(|p| p.as_str().to_owned()))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Saved::Changed)
}
