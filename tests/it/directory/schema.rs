//! The directory's schema as stored: the records' keys are unique through an index of their
//! own (schema `0011`), which a first import drops and builds again at its end, and which a
//! store of the earlier form (the key as the table's primary key) gets when it is opened, its
//! records kept whole; fields are stored compactly and stored records of the earlier form
//! (a JSON object) are read as before; a batch that fails stops the writer, nothing after it
//! written.

use super::search::{idnat, import};
use super::store_url;
use crate::both_dbs;
use coeur_directory::record::{Record, RecordKind};
use coeur_directory::store::{BATCH, Change, Store, Writer};
use coeur_testkit::Db;
use sqlx::Row;

const NOW: i64 = 1_767_225_600;

/// Whether inserting a second practitioner with the key of `key` is refused.
async fn duplicate_refused(store: &Store, key: &str) -> bool {
    let mut w = Writer::new(store, NOW + 60).await.expect("writer");
    let record = Record {
        kind: RecordKind::Practitioner,
        key: key.to_owned(),
        fields: [("Nom d'exercice".to_owned(), "DOUBLON".to_owned())].into(),
    };
    w.push(Change::Insert(record)).await.expect("push");
    w.flush().await.is_err()
}

/// The names of the indexes of `directory_record`, and whether the table has a primary key.
async fn record_indexes(pool: &sqlx::AnyPool, db: Db) -> (Vec<String>, bool) {
    let (indexes, primary) = match db {
        Db::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'directory_record'",
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_autoindex_directory_record_1'",
        ),
        Db::Postgres => (
            "SELECT indexname::text FROM pg_indexes WHERE tablename = 'directory_record'",
            "SELECT 1 FROM pg_constraint WHERE conname = 'directory_record_pkey'",
        ),
    };
    let mut names: Vec<String> = sqlx::query(indexes)
        .fetch_all(pool)
        .await
        .expect("indexes")
        .iter()
        .map(|r| r.try_get(0).expect("name"))
        .collect();
    names.sort();
    let primary = sqlx::query(primary)
        .fetch_optional(pool)
        .await
        .expect("primary key")
        .is_some();
    (names, primary)
}

/// Puts the records back in the form schema `0011` replaced (the key as primary key, fields
/// as a JSON object), `0011` not applied.
async fn back_to_the_earlier_form(pool: &sqlx::AnyPool, db: Db) {
    let statements: &[&str] = match db {
        Db::Sqlite => &[
            "CREATE TABLE earlier (kind TEXT NOT NULL, record_key TEXT NOT NULL, \
             content_hash TEXT NOT NULL, fields TEXT NOT NULL, active BIGINT NOT NULL, \
             updated_at BIGINT NOT NULL, deactivated_at BIGINT, version BIGINT NOT NULL, \
             PRIMARY KEY (kind, record_key))",
            "INSERT INTO earlier SELECT kind, record_key, content_hash, fields, active, \
             updated_at, deactivated_at, version FROM directory_record",
            "DROP TABLE directory_record",
            "ALTER TABLE earlier RENAME TO directory_record",
            "CREATE INDEX directory_record_version ON directory_record (kind, version)",
            "CREATE INDEX directory_record_state \
             ON directory_record (kind, record_key, content_hash, active)",
        ],
        Db::Postgres => &[
            "DROP INDEX directory_record_key",
            "ALTER TABLE directory_record ADD PRIMARY KEY (kind, record_key)",
        ],
    };
    let mut tx = pool.begin().await.expect("transaction");
    for s in statements {
        sqlx::query(*s).execute(&mut *tx).await.expect(s);
    }
    tx.commit().await.expect("commit");
    sqlx::query(
        "UPDATE directory_record SET fields = '{\"Nom d''exercice\":\"LEFÈVRE\",\
         \"Prénom d''exercice\":\"Hélène\",\"Type d''identifiant PP\":\"8\"}' \
         WHERE kind = 'practitioner' AND record_key = $1",
    )
    .bind(idnat(1))
    .execute(pool)
    .await
    .expect("fields as an object");
    sqlx::query("DELETE FROM directory_schema WHERE file = 11")
        .execute(pool)
        .await
        .expect("0011 not applied");
}

both_dbs!(
    directory_record_keys_stay_unique_through_a_first_import_and_an_upgrade,
    |db| async move {
        let (url, _dir) = store_url(db).await;
        let store = Store::connect(&url).await.expect("store");
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
        let expected = (
            vec![
                "directory_record_key".to_owned(),
                "directory_record_state".to_owned(),
                "directory_record_version".to_owned(),
            ],
            false,
        );
        assert_eq!(record_indexes(&pool, db).await, expected);

        // A first import (into the empty store) drops the key's index and builds it again.
        import(&store, &[(1, "LEFÈVRE", "Hélène"), (2, "DUPONT", "Marc")]).await;
        assert_eq!(record_indexes(&pool, db).await, expected);
        let stored: String =
            sqlx::query("SELECT fields FROM directory_record WHERE record_key = $1")
                .bind(idnat(2))
                .fetch_one(&pool)
                .await
                .expect("fields")
                .try_get(0)
                .expect("text");
        assert!(
            stored.starts_with('[') && !stored.contains("Nom d'exercice"),
            "{stored}"
        );
        assert!(duplicate_refused(&store, &idnat(2)).await);
        assert_eq!(
            store
                .count(RecordKind::Practitioner, false)
                .await
                .expect("count"),
            2
        );
        drop(store);

        // A store of the earlier form gets the index when it is opened, its records whole.
        back_to_the_earlier_form(&pool, db).await;
        assert_ne!(record_indexes(&pool, db).await, expected);
        let store = Store::connect(&url).await.expect("store opened again");
        assert_eq!(record_indexes(&pool, db).await, expected);
        assert_eq!(
            store
                .count(RecordKind::Practitioner, false)
                .await
                .expect("count"),
            2
        );
        assert_eq!(
            store
                .count(RecordKind::PractitionerRole, false)
                .await
                .expect("count"),
            2
        );
        let one = store
            .get(RecordKind::Practitioner, &idnat(1))
            .await
            .expect("read")
            .expect("practitioner 1");
        assert_eq!(one.record.get("Nom d'exercice"), "LEFÈVRE");
        assert_eq!(one.record.get("Prénom d'exercice"), "Hélène");
        let two = store
            .get(RecordKind::Practitioner, &idnat(2))
            .await
            .expect("read")
            .expect("practitioner 2");
        assert_eq!(two.record.get("Nom d'exercice"), "DUPONT");
        assert!(duplicate_refused(&store, &idnat(1)).await);
        assert!(!duplicate_refused(&store, &idnat(3)).await);
    }
);

both_dbs!(directory_writer_stops_at_a_failed_batch, |db| async move {
    let (url, _dir) = store_url(db).await;
    let store = Store::connect(&url).await.expect("store");
    import(&store, &[(1, "LEFÈVRE", "Hélène")]).await;
    let practitioner = |key: String| {
        Change::Insert(Record {
            kind: RecordKind::Practitioner,
            key,
            fields: [("Nom d'exercice".to_owned(), "NOUVEAU".to_owned())].into(),
        })
    };
    // The first batch holds a key already stored; the second, written after it, is not.
    let mut w = Writer::new(&store, NOW + 60).await.expect("writer");
    w.push(practitioner(idnat(1))).await.expect("push");
    for n in 1..BATCH {
        w.push(practitioner(format!("fresh-{n}")))
            .await
            .expect("push");
    }
    let after = practitioner("after-the-failed-batch".to_owned());
    let pushed = w.push(after).await;
    let flushed = w.flush().await;
    assert!(
        pushed.is_err() || flushed.is_err(),
        "the failed batch was reported"
    );
    assert_eq!(w.written(), 0);
    for key in ["fresh-1", "after-the-failed-batch"] {
        let stored = store
            .get(RecordKind::Practitioner, key)
            .await
            .expect("read");
        assert!(stored.is_none(), "{key} was written");
    }
    assert_eq!(
        store
            .count(RecordKind::Practitioner, false)
            .await
            .expect("count"),
        1
    );
});
