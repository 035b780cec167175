//! Searches by name through the index's order: case- and accent-insensitive prefixes, family
//! and given name together, `:exact`; paging by name that neither skips nor repeats a record
//! changed meanwhile; versions from one counter whoever writes (an import's batch, a contact
//! change); `:contains` on organisation names.

use super::store;
use super::sync::{pa_file, pa_row};
use crate::both_dbs;
use coeur::app::SystemClock;
use coeur::common::random::Clock;
use coeur::resource_server::ratelimit::RateLimit;
use coeur::resource_server::{JwksSource, Verifier};
use coeur_directory::fhir::query::fold;
use coeur_directory::generate::{Writers, generate};
use coeur_directory::http::{Access, Config, Directory, router};
use coeur_directory::import::{Outcome, import_file};
use coeur_directory::record::{Record, RecordKind};
use coeur_directory::space::contact::Contact;
use coeur_directory::space::store::{Saved, set_contact};
use coeur_directory::store::search::{Lookup, Value as IndexValue};
use coeur_directory::store::{Change, Store, StoredRecord, Writer};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

const NOW: i64 = 1_767_225_600;

/// An IdNat_PS (`8` + RPPS) whose RPPS number, `1000000` and `n` on three digits, has its Luhn
/// key.
pub(super) fn idnat(n: u32) -> String {
    let base = format!("1000000{n:03}");
    let sum: u32 = base
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let d = d * 2;
                if d > 9 { d - 9 } else { d }
            } else {
                d
            }
        })
        .sum();
    format!("8{base}{}", (10 - sum % 10) % 10)
}

/// The professionals: (number, family name, given name).
const PEOPLE: &[(u32, &str, &str)] = &[
    (1, "LEFÈVRE", "Hélène"),
    (2, "Lefevre", "Marc"),
    (3, "LEFEBVRE", "Hélène"),
    (4, "DUPONT", "Hélène"),
    (5, "LEBRUN", "Paul"),
    (6, "LECLERC", "Anne"),
    (7, "LEDOUX", "Jean"),
    (8, "LEGRAND", "Luc"),
    (9, "LEROY", "Léa"),
    (10, "MARTIN", "Éric"),
];

async fn import_people(store: &Store) {
    import(store, PEOPLE).await
}

pub(super) async fn import(store: &Store, people: &[(u32, &str, &str)]) {
    let rows: Vec<String> = people
        .iter()
        .map(|(n, family, given)| pa_row(&idnat(*n), "M", family, given, "10"))
        .collect();
    let mut out = Outcome::default();
    import_file(
        store,
        "pa",
        pa_file(&rows).as_slice(),
        true,
        NOW,
        &mut out,
        &mut |_, _| {},
    )
    .await
    .expect("import");
    assert!(out.rejected.is_empty() && out.skipped.is_empty(), "{out:?}");
    assert_eq!(out.summary.inserted as usize, people.len() * 2, "{out:?}");
}

/// Serves the directory's API over `store`, readable without a token; returns its base URL.
pub(super) async fn serve(store: Store) -> String {
    let source = JwksSource::new(
        "http://127.0.0.1:9/unused",
        "http://127.0.0.1:9/unused/jwks",
        reqwest::Client::new(),
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let verifier = Arc::new(Verifier::new(Arc::new(source), clock.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/fhir", listener.local_addr().expect("addr"));
    let config = Config {
        base_url: base.clone(),
        audiences: vec!["reader".to_owned()],
        access: Access::PublicReads,
        rate_limit: RateLimit {
            burst: 10_000,
            per_second: 1_000,
        },
        cursor_key: [42; 32],
    };
    let app = axum::Router::new().nest(
        "/fhir",
        router(Directory::new(store, verifier, clock, config)),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

pub(super) async fn get(url: &str) -> Value {
    let r = reqwest::get(url).await.expect("request");
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.expect("bundle")
}

/// The numbers of the professionals a searchset's matches are, in their order.
fn numbers(bundle: &Value) -> Vec<u32> {
    numbers_among(PEOPLE, bundle)
}

fn numbers_among(people: &[(u32, &str, &str)], bundle: &Value) -> Vec<u32> {
    bundle["entry"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| {
            let id = e["resource"]["id"].as_str().expect("id");
            people
                .iter()
                .find(|(n, _, _)| idnat(*n) == id)
                .map(|(n, _, _)| *n)
                .unwrap_or_else(|| panic!("unknown {id}"))
        })
        .collect()
}

fn next(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")
        .map(|l| l["url"].as_str().expect("url").to_owned())
}

fn set(v: &[u32]) -> BTreeSet<u32> {
    v.iter().copied().collect()
}

both_dbs!(directory_search_by_name, |db| async move {
    let (store, _dir) = store(db).await;
    import_people(&store).await;
    let base = serve(store.clone()).await;
    let search = |q: &str| {
        let url = format!("{base}/Practitioner?{q}");
        async move { numbers(&get(&url).await) }
    };

    // From the start, ignoring case and accents, on either side.
    assert_eq!(set(&search("family=lefevre").await), set(&[1, 2]));
    assert_eq!(set(&search("family=LEFÈ").await), set(&[1, 2, 3]));
    assert_eq!(set(&search("family=Lefèvr").await), set(&[1, 2]));
    assert_eq!(search("family=efevre").await, Vec::<u32>::new());
    // Family and given name together; name looks at both.
    assert_eq!(search("family=lef&given=HELENE").await.len(), 2);
    assert_eq!(set(&search("family=lef&given=helene").await), set(&[1, 3]));
    assert_eq!(set(&search("name=hél").await), set(&[1, 3, 4]));
    assert_eq!(set(&search("name=lea,eric").await), set(&[9, 10]));
    // :exact: case and accents count.
    assert_eq!(search("family:exact=LEFÈVRE").await, [1]);
    assert_eq!(search("family:exact=LEFEVRE").await, Vec::<u32>::new());
    // Results come in the order of the folded names (then of the ids).
    assert_eq!(search("family=le").await, [5, 6, 7, 3, 1, 2, 8, 9]);
});

both_dbs!(directory_paging_by_name_across_changes, |db| async move {
    let (store, _dir) = store(db).await;
    import_people(&store).await;
    let base = serve(store.clone()).await;

    // Pages of three; after the first, contact changes move the versions of a professional
    // already returned and of one still to come: each is returned once all the same.
    let mut url = format!("{base}/Practitioner?family=le&_count=3");
    let mut seen = vec![];
    let mut pages = 0;
    loop {
        let b = get(&url).await;
        let page = numbers(&b);
        assert!(page.len() <= 3, "{page:?}");
        seen.extend(page);
        pages += 1;
        if pages == 1 {
            for n in [6, 1] {
                let c = Contact::from_stored(Some(&format!("pro{n}@example.fr")), None);
                let saved = set_contact(&store, &idnat(n), &c, NOW + 60)
                    .await
                    .expect("contact");
                assert_eq!(saved, Saved::Changed);
            }
        }
        match next(&b) {
            Some(n) => url = n,
            None => break,
        }
    }
    assert_eq!(seen, [5, 6, 7, 3, 1, 2, 8, 9]);
    assert_eq!(pages, 3);
    // The changed professionals carry their new details.
    let b = get(&format!("{base}/Practitioner?family=leclerc")).await;
    assert!(b.to_string().contains("pro6@example.fr"), "{b}");
    // The contact details come with the records the index finds (one statement): those who
    // gave some, by key.
    let le = Lookup::of(
        vec![coeur_directory::index::FAMILY],
        vec![IndexValue::Prefix("le".into())],
    );
    let (found, _, contacts) = store
        .by_index_with_contacts(&[RecordKind::Practitioner], &le, None, 50)
        .await
        .expect("lookup");
    assert_eq!(found.len(), 8);
    let mut with: Vec<&str> = contacts.keys().map(String::as_str).collect();
    with.sort();
    assert_eq!(with, [idnat(1), idnat(6)]);
    assert_eq!(
        contacts[&idnat(6)]
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned()),
        Some("pro6@example.fr".to_owned())
    );
});

/// Professionals of family names one prefix begins, in no order.
const MARTINS: &[(u32, &str, &str)] = &[
    (1, "MARTIN", "Jean"),
    (2, "MARTIN", "Jeanne"),
    (3, "MARTIN", "Paul"),
    (4, "MARTIN-DUBOIS", "Jean"),
    (5, "MARTINEZ", "Jean"),
    (6, "Martin", "JEAN"),
    (7, "MARTINEAU", "Paul"),
    (8, "MARTINEAU", "Jeannot"),
    (9, "MARTEL", "Jean"),
    (10, "DUPONT", "Jean"),
];

/// Every page of a search, followed by its `next` links: the matches' numbers in order.
async fn all_pages(first: String) -> Vec<u32> {
    let (mut url, mut seen) = (first, vec![]);
    loop {
        let b = get(&url).await;
        seen.extend(numbers_among(MARTINS, &b));
        match next(&b) {
            Some(n) => url = n,
            None => return seen,
        }
    }
}

both_dbs!(directory_search_by_family_and_given, |db| async move {
    let (store, _dir) = store(db).await;
    import(&store, MARTINS).await;
    let base = serve(store.clone()).await;
    let search = |q: &str| all_pages(format!("{base}/Practitioner?{q}"));

    // Family name by family name ("martin", "martin-dubois", "martineau", "martinez"), given
    // names in order, then ids; whatever the page size, each once.
    let expected = [1, 6, 2, 4, 8, 5];
    for count in [1, 2, 4, 50] {
        let q = format!("family=martin&given=jean&_count={count}");
        assert_eq!(search(&q).await, expected, "{q}");
    }
    let b = get(&format!(
        "{base}/Practitioner?family=martin&given=jean&_summary=count"
    ))
    .await;
    assert_eq!(b["total"], 6, "{b}");
    // The family prefix reaches family names with no such given name, and beyond.
    assert_eq!(search("family=mart&given=PAUL&_count=1").await, [3, 7]);
    assert_eq!(search("family=martinez&given=j").await, [5]);
    assert_eq!(search("family=zz&given=jean").await, Vec::<u32>::new());
    assert_eq!(search("family=martin&given=luc").await, Vec::<u32>::new());
    // Other criteria hold too; `:exact` is checked on the records found.
    assert_eq!(search("family=martin&given=jean&name=jeanne").await, [2]);
    assert_eq!(search("family:exact=MARTIN&given=jean").await, [1, 2]);
});

both_dbs!(
    directory_family_and_given_rows_of_records_stored_before,
    |db| async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match db {
            coeur_testkit::Db::Sqlite => format!("sqlite://{}/annuaire.db", dir.path().display()),
            coeur_testkit::Db::Postgres => coeur_testkit::pg::new_database_url().await,
        };
        let store = Store::connect(&url).await.expect("store");
        import(&store, MARTINS).await;
        // A store of the previous schema: the records without their family-and-given rows.
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
        crate::directory::schema::search_before_0012(&pool).await;
        for s in [
            "DELETE FROM directory_search WHERE param = 'family-given'",
            "DELETE FROM directory_schema WHERE file = 8",
        ] {
            sqlx::query(s).execute(&pool).await.expect(s);
        }
        pool.close().await;
        let base = serve(store.clone()).await;
        let q = format!("{base}/Practitioner?family=martin&given=jean");
        assert_eq!(all_pages(q.clone()).await, Vec::<u32>::new());
        // Opened again: the schema's file writes them from the family and given rows.
        drop(store);
        let store = Store::connect(&url).await.expect("store again");
        let base = serve(store).await;
        let q = format!("{base}/Practitioner?family=martin&given=jean");
        assert_eq!(all_pages(q).await, [1, 6, 2, 4, 8, 5]);
    }
);

both_dbs!(directory_versions_from_one_counter, |db| async move {
    let (store, _dir) = store(db).await;
    import_people(&store).await;
    // An import under way (its writer made) while a professional changes their contact
    // details, then the import's batch: no two records share a version, and the batch's come
    // after the contact change's.
    let mut writer = Writer::new(&store, NOW + 60).await.expect("writer");
    let c = Contact::from_stored(Some("pro1@example.fr"), None);
    assert_eq!(
        set_contact(&store, &idnat(1), &c, NOW + 60)
            .await
            .expect("contact"),
        Saved::Changed
    );
    let added = Record {
        kind: RecordKind::Practitioner,
        key: idnat(11),
        fields: [("Nom d'exercice".into(), "NOUVEAU".to_owned())].into(),
    };
    writer.push(Change::Insert(added)).await.expect("push");
    writer.flush().await.expect("flush");

    let mut versions = vec![];
    for kind in [RecordKind::Practitioner, RecordKind::PractitionerRole] {
        versions.extend(
            store
                .scan(&[kind], 0, 1_000)
                .await
                .expect("scan")
                .iter()
                .map(|s| (s.version, s.record.key.clone())),
        );
    }
    let distinct: BTreeSet<i64> = versions.iter().map(|(v, _)| *v).collect();
    assert_eq!(distinct.len(), versions.len(), "{versions:?}");
    let version_of = |key: &str| {
        versions
            .iter()
            .find(|(_, k)| k == key)
            .map(|(v, _)| *v)
            .expect("stored")
    };
    assert!(version_of(&idnat(11)) > version_of(&idnat(1)));
    // Paging by `_lastUpdated` (change order) sees every professional once.
    let base = serve(store.clone()).await;
    let mut url = format!("{base}/Practitioner?_lastUpdated=ge2020-01-01&_count=4");
    let mut seen = BTreeSet::new();
    loop {
        let b = get(&url).await;
        for e in b["entry"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
        {
            let id = e["resource"]["id"].as_str().expect("id").to_owned();
            assert!(seen.insert(id.clone()), "{id} twice");
        }
        match next(&b) {
            Some(n) => url = n,
            None => break,
        }
    }
    assert_eq!(seen.len(), PEOPLE.len() + 1);
});

both_dbs!(directory_organization_name_contains, |db| async move {
    let (store, _dir) = store(db).await;
    let (mut a, mut s, mut d, mut m, mut f, mut c) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    generate(
        11,
        20,
        40,
        Writers {
            activite: &mut a,
            savoir_faire: &mut s,
            diplome: &mut d,
            mssante: &mut m,
            finess: &mut f,
            cartes: &mut c,
        },
    )
    .expect("generate");
    let mut out = Outcome::default();
    import_file(
        &store,
        "f",
        f.as_slice(),
        true,
        NOW,
        &mut out,
        &mut |_, _| {},
    )
    .await
    .expect("import");
    assert!(out.rejected.is_empty() && out.skipped.is_empty());
    let base = serve(store.clone()).await;
    let sites = store
        .scan(&[RecordKind::Establishment], 0, 1_000)
        .await
        .expect("scan");
    let name = |s: &StoredRecord| match s.record.get("rslongue") {
        "" => s.record.get("rs").to_owned(),
        long => long.to_owned(),
    };
    // A part of a name from its middle (of its town), in another case: the sites whose name
    // contains it, the same from page to page.
    let first = name(&sites[0]);
    let words: Vec<&str> = first.split_whitespace().collect();
    let town = words[words.len() - 2];
    let part: String = town
        .chars()
        .skip(1)
        .take(3)
        .collect::<String>()
        .to_lowercase();
    let wanted: BTreeSet<String> = sites
        .iter()
        .filter(|s| fold(&name(s)).contains(&fold(&part)))
        .map(|s| s.record.key.clone())
        .collect();
    assert!(
        wanted.len() > 1 && wanted.len() < sites.len(),
        "{part}: {wanted:?}"
    );
    let mut url = format!("{base}/Organization?name:contains={part}&_count=3");
    let mut found = vec![];
    loop {
        let b = get(&url).await;
        for e in b["entry"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
        {
            found.push(e["resource"]["id"].as_str().expect("id").to_owned());
        }
        match next(&b) {
            Some(n) => url = n,
            None => break,
        }
    }
    assert_eq!(found.len(), wanted.len(), "{found:?}");
    assert_eq!(found.into_iter().collect::<BTreeSet<_>>(), wanted);
    // From the start only, it is another set.
    let b = get(&format!("{base}/Organization?name={part}&_count=100")).await;
    assert!(b["entry"].as_array().is_none_or(|a| a.len() < wanted.len()));
});
