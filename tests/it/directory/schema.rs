//! The directory's schema as stored: the records' keys are unique through an index of their
//! own (schema `0011`), which a first import drops and builds again at its end, and which a
//! store of the earlier form (the key as the table's primary key) gets when it is opened, its
//! records kept whole; fields are stored compactly and stored records of the earlier form
//! (a JSON object) are read as before; a batch that fails stops the writer, nothing after it
//! written.

use super::search::{idnat, import};
use super::store_url;
use super::sync::{pa_file, pa_row};
use crate::both_dbs;
use coeur_directory::fhir::map::SYSTEM_G15;
use coeur_directory::generate::authorisations;
use coeur_directory::import::{Outcome, import_file};
use coeur_directory::index::{CODE, FAMILY, IDENTIFIER, STORED_SYSTEMS};
use coeur_directory::record::{Record, RecordKind};
use coeur_directory::store::search::{Lookup, Value};
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
        fields: [("Nom d'exercice".into(), "DOUBLON".to_owned())].into(),
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
            fields: [("Nom d'exercice".into(), "NOUVEAU".to_owned())].into(),
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

/// The records' indexes as the schema creates them (no primary key).
fn all_record_indexes() -> (Vec<String>, bool) {
    (
        vec![
            "directory_record_key".to_owned(),
            "directory_record_state".to_owned(),
            "directory_record_version".to_owned(),
        ],
        false,
    )
}

/// Imports `bytes` as the complete extract `name`.
async fn import_bytes(store: &Store, name: &str, bytes: &[u8]) -> Outcome {
    let mut out = Outcome::default();
    import_file(store, name, bytes, true, NOW, &mut out, &mut |_, _| {})
        .await
        .expect("import");
    assert!(out.rejected.is_empty() && out.skipped.is_empty(), "{out:?}");
    out
}

/// The practitioners whose `identifier` rows hold `idnat`, through the search index.
async fn found_by_identifier(store: &Store, idnat: &str) -> usize {
    let lookup = Lookup::of(
        vec![IDENTIFIER],
        vec![Value::Token {
            system: None,
            code: idnat.to_owned(),
        }],
    );
    store
        .by_index(&[RecordKind::Practitioner], &lookup, None, 10)
        .await
        .expect("search")
        .0
        .len()
}

both_dbs!(
    directory_first_load_spans_the_files_of_other_kinds,
    |db| async move {
        let (url, _dir) = store_url(db).await;
        let store = Store::connect(&url).await.expect("store");
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("pool");

        // Into the empty store, the professionals' file then the authorisations' file: no
        // index is built until the load ends.
        assert!(store.begin_first_load().await.expect("begin"));
        import(&store, &[(1, "LEFÈVRE", "Hélène"), (2, "DUPONT", "Marc")]).await;
        assert!(store.in_first_load());
        assert_eq!(record_indexes(&pool, db).await, (vec![], false));
        let mut authorised = vec![];
        authorisations(1, 4, &mut authorised).expect("generated authorisations");
        let out = import_bytes(&store, "autorisations", &authorised).await;
        assert!(out.summary.inserted > 0, "{out:?}");
        assert_eq!(record_indexes(&pool, db).await, (vec![], false));

        store.end_first_load().await.expect("end");
        assert!(!store.in_first_load());
        assert_eq!(record_indexes(&pool, db).await, all_record_indexes());
        assert_eq!(found_by_identifier(&store, &idnat(2)).await, 1);
        assert_eq!(
            store
                .count(RecordKind::Authorisation, false)
                .await
                .expect("count"),
            i64::try_from(out.summary.inserted).expect("count")
        );
        // A store holding records begins none.
        assert!(!store.begin_first_load().await.expect("begin"));
        assert!(duplicate_refused(&store, &idnat(1)).await);
    }
);

both_dbs!(
    directory_first_load_ends_before_a_file_of_kinds_it_wrote,
    |db| async move {
        let (url, _dir) = store_url(db).await;
        let store = Store::connect(&url).await.expect("store");
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
        let rows = |people: &[u32]| {
            let rows: Vec<String> = people
                .iter()
                .map(|n| pa_row(&idnat(*n), "M", "MARTIN", "Éric", "10"))
                .collect();
            pa_file(&rows)
        };

        assert!(store.begin_first_load().await.expect("begin"));
        let first = import_bytes(&store, "pa-1", &rows(&[1, 2])).await;
        assert_eq!(first.summary.inserted, 4, "{first:?}");
        // The same kinds again: the load ends, its indexes built, and the second file is
        // compared with what the first wrote (one professional absent: deactivated).
        let second = import_bytes(&store, "pa-2", &rows(&[1])).await;
        assert!(!store.in_first_load());
        assert_eq!(record_indexes(&pool, db).await, all_record_indexes());
        assert_eq!(
            (
                second.summary.inserted,
                second.summary.unchanged,
                second.summary.deactivated
            ),
            (0, 2, 2),
            "{second:?}"
        );
        assert_eq!(
            store
                .count(RecordKind::Practitioner, true)
                .await
                .expect("count"),
            1
        );
        assert_eq!(found_by_identifier(&store, &idnat(2)).await, 1);
    }
);

/// Puts the search index in the form schema `0012` replaced: a `version` column (the
/// records'), the index by record over every row, `0012` not applied.
pub(super) async fn search_before_0012(pool: &sqlx::AnyPool) {
    let mut conn = pool.acquire().await.expect("connection");
    for s in [
        "ALTER TABLE directory_search ADD COLUMN version BIGINT NOT NULL DEFAULT 0",
        "UPDATE directory_search SET version = (SELECT r.version FROM directory_record r \
         WHERE r.kind = directory_search.kind AND r.record_key = directory_search.record_key)",
        "DROP INDEX directory_search_of_record",
        "CREATE INDEX directory_search_of_record \
         ON directory_search (kind, record_key, param, value)",
        "DELETE FROM directory_schema WHERE file = 12",
    ] {
        sqlx::query(s).execute(&mut *conn).await.expect(s);
    }
}

/// Whether the index by record of `directory_search` is partial, and whether the table has a
/// `version` column.
async fn search_form(pool: &sqlx::AnyPool, db: Db) -> (bool, bool) {
    let (index, column) = match db {
        Db::Sqlite => (
            "SELECT sql FROM sqlite_master WHERE name = 'directory_search_of_record'",
            "SELECT name FROM pragma_table_info('directory_search') WHERE name = 'version'",
        ),
        Db::Postgres => (
            "SELECT indexdef::text FROM pg_indexes WHERE indexname = 'directory_search_of_record'",
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_name = 'directory_search' AND column_name = 'version'",
        ),
    };
    let sql: String = sqlx::query(index)
        .fetch_one(pool)
        .await
        .expect("the index by record")
        .try_get(0)
        .expect("text");
    let column = sqlx::query(column)
        .fetch_optional(pool)
        .await
        .expect("columns")
        .is_some();
    (sql.contains("WHERE"), column)
}

/// The practitioners the index finds by family name prefix `family`, with the further
/// criteria `also`, by number.
async fn by_family(store: &Store, family: &str, also: Vec<Lookup>) -> Vec<String> {
    let lookup = Lookup {
        params: vec![FAMILY],
        values: vec![Value::Prefix(family.to_owned())],
        also,
    };
    let mut keys: Vec<String> = store
        .by_index(&[RecordKind::Practitioner], &lookup, None, 50)
        .await
        .expect("search")
        .0
        .into_iter()
        .map(|(_, s)| s.record.key)
        .collect();
    keys.sort();
    keys
}

fn identifiers(idnats: &[String]) -> Lookup {
    Lookup::of(
        vec![IDENTIFIER],
        idnats
            .iter()
            .map(|i| Value::Token {
                system: None,
                code: i.clone(),
            })
            .collect(),
    )
}

both_dbs!(
    directory_search_rows_by_record_for_names_only,
    |db| async move {
        let (url, _dir) = store_url(db).await;
        let store = Store::connect(&url).await.expect("store");
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
        let file = |people: &[(u32, &str)]| {
            let rows: Vec<String> = people
                .iter()
                .map(|(n, family)| pa_row(&idnat(*n), "M", family, "Jean", "10"))
                .collect();
            pa_file(&rows)
        };
        import_bytes(
            &store,
            "pa",
            &file(&[(1, "LEFÈVRE"), (2, "LEFORT"), (3, "DUPONT")]),
        )
        .await;
        assert_eq!(search_form(&pool, db).await, (true, false));

        // A store of the earlier form: upgraded when opened.
        drop(store);
        search_before_0012(&pool).await;
        assert_eq!(search_form(&pool, db).await, (false, true));
        let store = Store::connect(&url).await.expect("store opened again");
        assert_eq!(search_form(&pool, db).await, (true, false));

        // Further criteria: tokens (one exact row each), prefixes (the rows by record).
        assert_eq!(
            by_family(&store, "lef", vec![identifiers(&[idnat(2)])]).await,
            [idnat(2)]
        );
        assert_eq!(
            by_family(&store, "", vec![identifiers(&[idnat(1), idnat(3)])]).await,
            [idnat(1), idnat(3)]
        );
        let family = |p: &str| Lookup::of(vec![FAMILY], vec![Value::Prefix(p.to_owned())]);
        assert_eq!(
            by_family(
                &store,
                "",
                vec![identifiers(&[idnat(1), idnat(3)]), family("dup")]
            )
            .await,
            [idnat(3)]
        );

        // A changed name: the record's rows are those of its new fields only.
        let out = import_bytes(
            &store,
            "pa",
            &file(&[(1, "MOREAU"), (2, "LEFORT"), (3, "DUPONT")]),
        )
        .await;
        assert!(out.summary.updated >= 1, "{out:?}");
        assert_eq!(by_family(&store, "lef", vec![]).await, [idnat(2)]);
        assert_eq!(by_family(&store, "moreau", vec![]).await, [idnat(1)]);
        assert_eq!(
            by_family(
                &store,
                "mor",
                vec![family("moreau"), identifiers(&[idnat(1)])]
            )
            .await,
            [idnat(1)]
        );

        // A professional absent from a complete extract: deactivated, still found.
        let out = import_bytes(&store, "pa", &file(&[(2, "LEFORT"), (3, "DUPONT")])).await;
        assert_eq!(out.summary.deactivated, 2, "{out:?}");
        assert_eq!(found_by_identifier(&store, &idnat(1)).await, 1);
        let one = store
            .get(RecordKind::Practitioner, &idnat(1))
            .await
            .expect("read")
            .expect("stored");
        assert!(!one.active);
    }
);

/// SQLite as built for coeur maps up to 16 GiB of a file (`.cargo/config.toml`): built with its
/// default maximum, 2 GiB, it reads a national-size store's search index one call a page.
#[tokio::test]
async fn sqlite_maps_a_national_size_file_whole() {
    let (url, _dir) = store_url(Db::Sqlite).await;
    let _store = Store::connect(&url).await.expect("store");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
    let mut conn = pool.acquire().await.expect("connection");
    let asked: i64 = 16 << 30;
    let set: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA mmap_size = {asked}")))
        .fetch_one(&mut *conn)
        .await
        .expect("mmap_size")
        .try_get(0)
        .expect("its value");
    assert_eq!(set, asked, "SQLite's maximum map size is below 16 GiB");
}

/// A new SQLite store has 16 KiB pages (`store::PAGE_SIZE`): a national-size first import
/// writes and reads its 7 GiB a page at a time.
#[tokio::test]
async fn a_new_sqlite_store_has_16_kib_pages() {
    let (url, _dir) = store_url(Db::Sqlite).await;
    let store = Store::connect(&url).await.expect("store");
    drop(store);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
    let size: i64 = sqlx::query("PRAGMA page_size")
        .fetch_one(&pool)
        .await
        .expect("page_size")
        .try_get(0)
        .expect("its value");
    assert_eq!(size, 16384);
}

/// The practitioners' exercises the index finds by code `code` of system `system`.
async fn roles_by_code(store: &Store, system: Option<&str>, code: &str) -> usize {
    let lookup = Lookup::of(
        vec![CODE],
        vec![Value::Token {
            system: system.map(str::to_owned),
            code: code.to_owned(),
        }],
    );
    store
        .by_index(&[RecordKind::PractitionerRole], &lookup, None, 10)
        .await
        .expect("search")
        .0
        .len()
}

/// How many of the search index's rows hold a system longer than a code.
async fn long_systems(pool: &sqlx::AnyPool) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM directory_search WHERE length(system) > 2")
        .fetch_one(pool)
        .await
        .expect("systems")
        .try_get(0)
        .expect("count")
}

both_dbs!(
    directory_index_rows_hold_systems_as_short_codes,
    |db| async move {
        let (url, _dir) = store_url(db).await;
        let store = Store::connect(&url).await.expect("store");
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
        import(&store, &[(1, "LEFÈVRE", "Hélène"), (2, "DUPONT", "Marc")]).await;
        assert_eq!(long_systems(&pool).await, 0);
        assert_eq!(roles_by_code(&store, Some(SYSTEM_G15), "10").await, 2);
        assert_eq!(roles_by_code(&store, None, "10").await, 2);
        assert_eq!(
            roles_by_code(&store, Some("https://example.org"), "10").await,
            0
        );
        assert_eq!(roles_by_code(&store, Some("6"), "10").await, 0);

        // A store of the earlier form (systems written out, 0013 not applied): its rows get
        // their codes when it is opened.
        drop(store);
        let mut back = String::from("UPDATE directory_search SET system = CASE system");
        for (system, code) in STORED_SYSTEMS {
            back.push_str(&format!(" WHEN '{code}' THEN '{system}'"));
        }
        back.push_str(" ELSE system END");
        sqlx::query(sqlx::AssertSqlSafe(back))
            .execute(&pool)
            .await
            .expect("systems written out");
        sqlx::query("DELETE FROM directory_schema WHERE file = 13")
            .execute(&pool)
            .await
            .expect("0013 not applied");
        assert!(long_systems(&pool).await > 0);
        let store = Store::connect(&url).await.expect("store opened again");
        assert_eq!(long_systems(&pool).await, 0);
        assert_eq!(roles_by_code(&store, Some(SYSTEM_G15), "10").await, 2);
        assert_eq!(found_by_identifier(&store, &idnat(1)).await, 1);
    }
);

both_dbs!(directory_first_load_keeps_values_whole, |db| async move {
    // A first load writes on a connection of its own (SQLite's arguments, PostgreSQL's
    // COPY): a value with a tab, a backslash or a line break is stored as it is.
    let (url, _dir) = store_url(db).await;
    let store = Store::connect(&url).await.expect("store");
    assert!(store.begin_first_load().await.expect("begin"));
    let family = "O\\BRIEN\tDE\nLA\rCOUR";
    let record = Record {
        kind: RecordKind::Practitioner,
        key: idnat(7),
        fields: [
            ("Nom d'exercice".into(), family.to_owned()),
            ("Prénom d'exercice".into(), "Jean".to_owned()),
        ]
        .into(),
    };
    let mut w = Writer::new(&store, NOW).await.expect("writer");
    w.push(Change::Insert(record.clone())).await.expect("push");
    w.flush().await.expect("flush");
    store.end_first_load().await.expect("end");
    let stored = store
        .get(RecordKind::Practitioner, &idnat(7))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.record, record);
    assert_eq!(by_family(&store, "o", vec![]).await, [idnat(7)]);
    assert_eq!(found_by_identifier(&store, &idnat(7)).await, 1);
});
