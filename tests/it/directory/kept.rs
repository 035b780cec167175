//! Resources kept as JSON (`directory_resource`): a search by identifier or by family and
//! given name answers a practitioner as kept, and every write that changes what it shows (a
//! contact change, an import's new, changed or deactivated record of the practitioner or of
//! its exercises and mailboxes) removes it in its own transaction, so that the next answer is
//! the practitioner as read. Rows of another format are not read; nothing is kept from a read
//! made before a write.

use super::search::{get, idnat, import, serve};
use super::store_url;
use crate::both_dbs;
use coeur_directory::fhir::map::KEPT_FORMAT;
use coeur_directory::record::{Record, RecordKind};
use coeur_directory::space::contact::Contact;
use coeur_directory::space::store::{Saved, set_contact};
use coeur_directory::store::{Change, Store, Writer};
use serde_json::Value;
use sqlx::Row;
use std::time::Duration;

const NOW: i64 = 1_767_225_600;

/// The kept resource of the practitioner `key` in the current format, as stored.
async fn kept(pool: &sqlx::AnyPool, key: &str) -> Option<String> {
    sqlx::query("SELECT resource FROM directory_resource WHERE record_key = $1 AND format = $2")
        .bind(key)
        .bind(KEPT_FORMAT)
        .fetch_optional(pool)
        .await
        .expect("kept")
        .map(|r| r.try_get(0).expect("resource"))
}

/// Searches `url` until the practitioner `key` is kept (searches keep in the background).
async fn search_until_kept(pool: &sqlx::AnyPool, url: &str, key: &str) -> Value {
    for _ in 0..100 {
        let b = get(url).await;
        if kept(pool, key).await.is_some() {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{key} was never kept");
}

/// Marks the kept resource of `key` (a field no mapping writes), so that an answer shows
/// whether it came from it.
async fn mark(pool: &sqlx::AnyPool, key: &str) {
    let mut v: Value = serde_json::from_str(&kept(pool, key).await.expect("kept")).expect("json");
    v["language"] = "kept".into();
    sqlx::query("UPDATE directory_resource SET resource = $1 WHERE record_key = $2")
        .bind(v.to_string())
        .bind(key)
        .execute(pool)
        .await
        .expect("mark");
}

/// The one match of a searchset.
fn only(b: &Value) -> &Value {
    let entries = b["entry"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{b}");
    &entries[0]["resource"]
}

async fn write(store: &Store, change: Change) {
    let mut w = Writer::new(store, NOW + 120).await.expect("writer");
    w.push(change).await.expect("push");
    w.flush().await.expect("flush");
}

both_dbs!(
    directory_kept_resources_follow_every_write,
    |db| async move {
        let (url, _dir) = store_url(db).await;
        let store = Store::connect(&url).await.expect("store");
        import(&store, &[(1, "LEFÈVRE", "Hélène"), (2, "DUPONT", "Marc")]).await;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
        let base = serve(store.clone()).await;
        let (one, two) = (idnat(1), idnat(2));
        let by_id = |key: &str| {
            format!(
                "{base}/Practitioner?identifier=https://rpps.esante.gouv.fr%7C{}",
                &key[1..]
            )
        };
        let by_name = format!("{base}/Practitioner?family=lefevre&given=HELENE");
        let read = format!("{base}/Practitioner/{one}");

        // The first search maps the practitioner (as a read does) and keeps it.
        let b = search_until_kept(&pool, &by_id(&one), &one).await;
        assert_eq!(only(&b), &get(&read).await);
        search_until_kept(&pool, &by_id(&two), &two).await;
        // Later searches, by identifier and by name, answer it as kept.
        mark(&pool, &one).await;
        assert_eq!(only(&get(&by_id(&one)).await)["language"], "kept");
        assert_eq!(only(&get(&by_name).await)["language"], "kept");
        // A read maps it.
        assert!(get(&read).await.get("language").is_none());

        // Each write that changes what it shows: the next answer is the practitioner as read.
        let answers_as_read = |what: &'static str| {
            let (by_id, by_name, read) = (by_id(&one), by_name.clone(), read.clone());
            async move {
                let now = get(&read).await;
                assert!(now.get("language").is_none(), "{what}: {now}");
                assert_eq!(only(&get(&by_id).await), &now, "{what}");
                assert_eq!(only(&get(&by_name).await), &now, "{what}");
                now
            }
        };
        // A contact change.
        let c = Contact::from_stored(Some("helene@example.fr"), None);
        assert_eq!(
            set_contact(&store, &one, &c, NOW + 60)
                .await
                .expect("contact"),
            Saved::Changed
        );
        let now = answers_as_read("contact").await;
        assert!(now.to_string().contains("helene@example.fr"), "{now}");
        // Another practitioner's kept resource stays.
        assert!(kept(&pool, &two).await.is_some());

        // A new mailbox of the practitioner.
        search_until_kept(&pool, &by_id(&one), &one).await;
        mark(&pool, &one).await;
        let mailbox = Record {
            kind: RecordKind::Mailbox,
            key: "helene.lefevre@pro.mssante.fr".to_owned(),
            fields: [("Identification nationale PP".into(), one.clone())].into(),
        };
        write(&store, Change::Insert(mailbox.clone())).await;
        let now = answers_as_read("new mailbox").await;
        assert!(
            now.to_string().contains("helene.lefevre@pro.mssante.fr"),
            "{now}"
        );

        // A changed exercise (another profession).
        search_until_kept(&pool, &by_id(&one), &one).await;
        mark(&pool, &one).await;
        let role = store
            .scan(&[RecordKind::PractitionerRole], 0, 100)
            .await
            .expect("roles")
            .into_iter()
            .find(|s| s.record.key.starts_with(&one))
            .expect("role")
            .record;
        let before = get(&read).await["qualification"].clone();
        let mut changed = role.clone();
        changed
            .fields
            .insert("Code profession".into(), "21".to_owned());
        write(&store, Change::Update(changed)).await;
        let now = answers_as_read("changed exercise").await;
        assert_ne!(now["qualification"], before);

        // A deactivated mailbox.
        search_until_kept(&pool, &by_id(&one), &one).await;
        mark(&pool, &one).await;
        write(&store, Change::Deactivate(RecordKind::Mailbox, mailbox.key)).await;
        let now = answers_as_read("deactivated mailbox").await;
        assert!(!now.to_string().contains("@pro.mssante.fr"), "{now}");

        // The practitioner deactivated.
        search_until_kept(&pool, &by_id(&one), &one).await;
        mark(&pool, &one).await;
        write(
            &store,
            Change::Deactivate(RecordKind::Practitioner, one.clone()),
        )
        .await;
        let now = answers_as_read("deactivated practitioner").await;
        assert_eq!(now["active"], false);

        // A row of another format is not read.
        search_until_kept(&pool, &by_id(&one), &one).await;
        sqlx::query("UPDATE directory_resource SET format = '0.other', resource = $1")
            .bind(r#"{"resourceType":"Practitioner","id":"other"}"#)
            .execute(&pool)
            .await
            .expect("other format");
        answers_as_read("another format").await;

        // Nothing is kept from what was read before a write.
        let counter = store.counter().await.expect("counter");
        let json = get(&read).await.to_string();
        let kept_now = [(one.clone(), json)];
        write(
            &store,
            Change::Insert(Record {
                kind: RecordKind::Practitioner,
                key: idnat(3),
                fields: [("Nom d'exercice".into(), "NOUVEAU".to_owned())].into(),
            }),
        )
        .await;
        sqlx::query("DELETE FROM directory_resource")
            .execute(&pool)
            .await
            .expect("forget all");
        assert!(
            !store
                .keep(KEPT_FORMAT, &kept_now, counter)
                .await
                .expect("keep")
        );
        assert_eq!(kept(&pool, &one).await, None);
        let counter = store.counter().await.expect("counter");
        assert!(
            store
                .keep(KEPT_FORMAT, &kept_now, counter)
                .await
                .expect("keep")
        );
        assert!(kept(&pool, &one).await.is_some());
        pool.close().await;
    }
);

both_dbs!(
    directory_first_load_removes_what_is_kept_meanwhile,
    |db| async move {
        // A first load's batches of new records go on SQLite's own connection; one written
        // while a resource is kept (a search during the load) goes through the pool, which
        // removes the kept resources its records are shown in.
        let (url, _dir) = store_url(db).await;
        let store = Store::connect(&url).await.expect("store");
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
        assert!(store.begin_first_load().await.expect("begin"));
        import(&store, &[(1, "LEFÈVRE", "Hélène"), (2, "DUPONT", "Marc")]).await;
        let (one, two) = (idnat(1), idnat(2));
        for key in [&one, &two] {
            sqlx::query(
                "INSERT INTO directory_resource (kind, record_key, format, resource) \
                 VALUES ($1, $2, $3, '{}')",
            )
            .bind(RecordKind::Practitioner.as_str())
            .bind(key.as_str())
            .bind(KEPT_FORMAT)
            .execute(&pool)
            .await
            .expect("kept");
        }
        let mut w = Writer::new(&store, NOW + 60).await.expect("writer");
        w.push(Change::Insert(Record {
            kind: RecordKind::Mailbox,
            key: "helene.lefevre@pro.mssante.fr".to_owned(),
            fields: [("Identification nationale PP".into(), one.clone())].into(),
        }))
        .await
        .expect("push");
        w.flush().await.expect("flush");
        assert!(kept(&pool, &one).await.is_none(), "shown in: removed");
        assert!(kept(&pool, &two).await.is_some(), "another: kept");
        store.end_first_load().await.expect("end");
        assert!(
            store
                .get(RecordKind::Mailbox, "helene.lefevre@pro.mssante.fr")
                .await
                .expect("read")
                .is_some()
        );
    }
);
