use super::*;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

async fn db(dir: &Path) -> Db {
    Db::connect(&format!("sqlite://{}/k.db", dir.display()))
        .await
        .unwrap()
}

fn master(b: u8) -> MasterKey {
    MasterKey::from_bytes(&[b; 32]).unwrap()
}

#[test]
fn sealing_is_bound_to_its_context_and_key() {
    let mk = master(1);
    let s = mk.seal("ctx", b"hello").unwrap();
    assert_eq!(mk.open("ctx", &s).unwrap(), b"hello");
    assert!(mk.open("other", &s).is_err(), "context is bound");
    assert!(
        master(2).open("ctx", &s).is_err(),
        "another key cannot open"
    );
    assert_ne!(mk.seal("ctx", b"hello").unwrap(), s, "a nonce per sealing");
}

#[test]
fn a_generated_master_key_is_refused_for_a_shared_database() {
    let dir = tempfile::tempdir().unwrap();
    let e = MasterKey::load(dir.path(), None, true).unwrap_err();
    assert!(e.to_string().contains("COEUR_MASTER_KEY"), "{e}");
    assert!(!dir.path().join("master.key").exists(), "nothing generated");
    MasterKey::load(dir.path(), None, false).unwrap();
    assert!(dir.path().join("master.key").exists());
    let given = STANDARD.encode([7u8; 32]);
    MasterKey::load(dir.path(), Some(&given), true).unwrap();
}

#[test]
fn rings_are_versioned_and_sealed_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    block_on(async {
        let db = db(dir.path()).await;
        let ks = KeyStore::open(&db, master(1), 0).await.unwrap();
        assert_eq!(ks.version("r").await.unwrap(), 0);
        assert_eq!(ks.ensure("r", &[SigAlg::ES256], 0).await.unwrap(), 1);
        assert_eq!(
            ks.ensure("r", &[SigAlg::ES256], 1).await.unwrap(),
            1,
            "no change"
        );
        let l = ks.load("r").await.unwrap();
        assert_eq!(l.version, 1);
        assert_eq!(l.jwks["keys"].as_array().unwrap().len(), 2);
        let old = l.signer(SigAlg::ES256).unwrap().kid().to_owned();

        let (v, _) = ks.rotate("r", &[SigAlg::ES256], 10, 100).await.unwrap();
        assert_eq!(v, 2, "a rotation is a new version");
        let l = ks.load("r").await.unwrap();
        assert_eq!(l.version, 2);
        assert_ne!(l.signer(SigAlg::ES256).unwrap().kid(), old);
        assert!(l.by_kid.contains_key(&old), "retired key still verifies");
        assert_eq!(l.jwks["keys"].as_array().unwrap().len(), 3);

        // History is kept: version 1 is still there, as it was.
        let rows = KeyRows::new(db.clone());
        let (v1, json) = rows.latest_ring("r").await.unwrap().unwrap();
        assert_eq!(v1, 2);
        assert!(!json.contains("PRIVATE"), "no clear key material");
        assert_eq!(
            rows.insert_ring("r", 1, "{}", 0).await.unwrap(),
            Inserted::Taken,
            "a version is never rewritten"
        );
        // Expired retired keys go in a version of their own.
        assert_eq!(ks.ensure("r", &[SigAlg::ES256], 1_000).await.unwrap(), 3);
        assert_eq!(ks.load("r").await.unwrap().ring.keys.len(), 2);
    });
}

#[test]
fn another_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    block_on(async {
        let db = db(dir.path()).await;
        KeyStore::open(&db, master(1), 0).await.unwrap();
        let e = KeyStore::open(&db, master(2), 0).await.err().unwrap();
        assert!(e.to_string().contains("not the one that sealed"), "{e}");
        KeyStore::open(&db, master(1), 0).await.unwrap();
    });
}

#[test]
fn held_keys_first_version_wins() {
    let dir = tempfile::tempdir().unwrap();
    block_on(async {
        let db = db(dir.path()).await;
        let ks = KeyStore::open(&db, master(1), 0).await.unwrap();
        assert_eq!(ks.held_key("CA").await.unwrap(), None);
        assert_eq!(ks.hold_first_key("CA", b"one", 0).await.unwrap(), b"one");
        assert_eq!(
            ks.hold_first_key("CA", b"two", 0).await.unwrap(),
            b"one",
            "the key held first is everyone's"
        );
        assert_eq!(ks.held_key("CA").await.unwrap().unwrap(), b"one");
    });
}

/// Writes a file key store as earlier versions did.
fn file_store(dir: &Path, mk: &MasterKey) -> Ring {
    let der = generate(SigAlg::ES256).unwrap();
    let ring = Ring {
        version: 1,
        keys: vec![KeyRecord {
            kid: "es256-a".into(),
            alg: SigAlg::ES256,
            status: KeyStatus::Active,
            created_at: 0,
            verify_until: None,
            sealed: mk.seal(&ring_context("edit", "es256-a"), &der).unwrap(),
        }],
    };
    std::fs::create_dir_all(dir.join("realms")).unwrap();
    std::fs::create_dir_all(dir.join("ca")).unwrap();
    std::fs::write(
        dir.join("realms/edit.json"),
        serde_json::to_string(&ring).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("ca/ROOT.key"),
        mk.seal(&held_context("ROOT"), b"root key").unwrap(),
    )
    .unwrap();
    ring
}

#[test]
fn key_files_migrate_once_and_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let ring = file_store(&keys, &master(1));
    block_on(async {
        let db = db(dir.path()).await;
        let ks = KeyStore::open(&db, master(1), 0).await.unwrap();
        assert_eq!(legacy::pending(&keys, &ks).await.unwrap().len(), 2);
        assert!(legacy::refuse_pending(&keys, &ks).await.is_err());
        let moved = legacy::migrate(&keys, &ks, 5).await.unwrap();
        assert!(moved.iter().all(|m| m.written), "{moved:?}");
        assert_eq!(moved.len(), 2);
        let again = legacy::migrate(&keys, &ks, 6).await.unwrap();
        assert!(again.iter().all(|m| !m.written), "idempotent: {again:?}");
        legacy::refuse_pending(&keys, &ks).await.unwrap();
        let l = ks.load("edit").await.unwrap();
        assert_eq!(l.ring, ring, "moved as it was");
        assert_eq!(l.version, 1);
        assert_eq!(ks.held_key("ROOT").await.unwrap().unwrap(), b"root key");
    });
}

#[test]
fn a_migration_that_cannot_open_a_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    file_store(&keys, &master(1));
    block_on(async {
        let db = db(dir.path()).await;
        let ks = KeyStore::open(&db, master(2), 0).await.unwrap();
        assert!(legacy::migrate(&keys, &ks, 5).await.is_err());
        assert_eq!(ks.version("edit").await.unwrap(), 0, "no partial write");
        assert_eq!(ks.held_key("ROOT").await.unwrap(), None);
    });
}

#[test]
fn a_migration_never_replaces_another_ring() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    file_store(&keys, &master(1));
    block_on(async {
        let db = db(dir.path()).await;
        let ks = KeyStore::open(&db, master(1), 0).await.unwrap();
        ks.ensure("edit", &[SigAlg::ES256], 0).await.unwrap();
        let e = legacy::migrate(&keys, &ks, 5).await.unwrap_err();
        assert!(e.to_string().contains("another key ring"), "{e}");
        assert_eq!(ks.held_key("ROOT").await.unwrap(), None, "nothing written");
    });
}
