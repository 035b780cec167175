//! The key store in the database: rotations seen by every instance within seconds, key files
//! of earlier versions migrated by `coeur keys migrate`, the master key checked.

use crate::instances::{active, cc_spec, soon, two_instances};
use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coeur::config::Settings;
use coeur::oauth::jose::SigAlg;
use coeur::oauth::keyring::{KeyRecord, KeyStatus, Ring};
use coeur::storage::keystore::MasterKey;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The kids a server's JWKS publishes for `edit`.
async fn jwks_kids(s: &TestServer) -> Vec<String> {
    let v: Value = reqwest::get(s.endpoint("edit", "certs"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    v["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

/// The kid of a JWT.
fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("JWT header")
        .kid
        .expect("kid")
}

/// The kids of the `edit` ring of `s` in memory with `status`.
fn ring_kids(s: &TestServer, status: KeyStatus) -> Vec<String> {
    s.state
        .realm("edit")
        .expect("realm")
        .ring()
        .ring
        .keys
        .iter()
        .filter(|k| k.status == status)
        .map(|k| k.kid.clone())
        .collect()
}

// A rotation on one instance is used by the other within seconds, told by the bus (no
// housekeeping runs in the test servers, and the other instance gets no request in between);
// tokens signed by either verify at both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_on_one_instance_is_used_by_the_other() {
    let (a, b) = two_instances().await;
    a.add_client("edit", cc_spec(), Some(SECRET)).await;
    let before = b.state.realm("edit").expect("realm").ring().version;
    let old_next = ring_kids(&b, KeyStatus::Next);
    let old_token = b.client_credentials_token("edit", "cc", "openid").await;

    let version = a.state.rotate_keys("edit").await.expect("rotate");
    assert_eq!(version, before + 1, "a new version");
    assert!(
        soon(Duration::from_secs(3), || async {
            b.state.realm("edit").expect("realm").ring().version == version
        })
        .await,
        "the other instance loads the new version without being asked"
    );
    assert_eq!(
        ring_kids(&b, KeyStatus::Active),
        old_next,
        "next became active"
    );
    assert_eq!(jwks_kids(&a).await, jwks_kids(&b).await, "the same JWKS");

    let from_a = a.client_credentials_token("edit", "cc", "openid").await;
    let from_b = b.client_credentials_token("edit", "cc", "openid").await;
    assert_eq!(
        kid(&from_a),
        kid(&from_b),
        "both sign with the new active key"
    );
    assert!(old_next.contains(&kid(&from_b)), "{}", kid(&from_b));
    for s in [&a, &b] {
        for t in [&from_a, &from_b, &old_token] {
            assert!(active(s, t).await, "a token of either verifies at both");
        }
    }
}

// `coeur keys rotate` in another process: the running server serves and signs with the new
// version within seconds, without a restart (the bus on PostgreSQL, the ring's version read
// again on SQLite).
both_dbs!(
    a_rotation_by_the_cli_is_served_within_seconds,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_client("edit", cc_spec(), Some(SECRET)).await;
        let old_next = ring_kids(&s, KeyStatus::Next);
        let out = coeur_cli(&s, &["keys", "rotate", "--realm", "edit"]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            soon(Duration::from_secs(4), || async {
                // Serving the JWKS reads the ring's version again (at most once a second).
                jwks_kids(&s).await;
                ring_kids(&s, KeyStatus::Active) == old_next
            })
            .await,
            "the rotation is used"
        );
        let token = s.client_credentials_token("edit", "cc", "openid").await;
        assert!(
            old_next.contains(&kid(&token)),
            "signed with the new active key"
        );
    }
);

// Another master key than the one that sealed the database's keys is refused at start.
both_dbs!(another_master_key_is_refused, |db| async move {
    let s = TestServer::start(db).await;
    let url = s.app.cfg.database_url.clone();
    let keys = s.app.cfg.keys_dir.clone();
    let e = TestServer::try_start_with(db, &realms_dir(), |set| {
        set.common.database_url = Some(url);
        set.common.keys_dir = Some(keys);
        set.secrets.master_key = Some(STANDARD.encode([42u8; 32]));
    })
    .await
    .err()
    .expect("refused");
    assert!(
        format!("{e:#}").contains("not the one that sealed"),
        "{e:#}"
    );
});

// On PostgreSQL, a database instances may share, a start without a given master key is
// refused: each instance would generate its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_without_a_master_key_is_refused() {
    let e = TestServer::try_start_with(Db::Postgres, &realms_dir(), |set| {
        set.secrets.master_key = None;
    })
    .await
    .err()
    .expect("refused");
    assert!(format!("{e:#}").contains("COEUR_MASTER_KEY"), "{e:#}");
}

/// A PKCS#8 key for `alg`.
fn pkcs8(alg: SigAlg) -> Vec<u8> {
    use aws_lc_rs::encoding::AsDer as _;
    match alg {
        SigAlg::ES256 => aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .expect("EC key")
        .as_ref()
        .to_vec(),
        _ => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("RSA key")
            .as_der()
            .expect("DER")
            .as_ref()
            .to_vec(),
    }
}

const ROOT_ID: &str = "MOD-R-EL-TEST";

/// A key store as earlier versions wrote it under `keys`: the `edit` ring (an active key per
/// algorithm, kid `legacy-<alg>`) and the TEST root's key. Returns the root's public key.
fn file_key_store(keys: &Path, master: &MasterKey) -> Vec<u8> {
    let algs = [SigAlg::ES256, SigAlg::RS256, SigAlg::PS256];
    let ring = Ring {
        version: 1,
        keys: algs
            .iter()
            .map(|alg| {
                let kid = format!("legacy-{}", alg.as_str().to_lowercase());
                KeyRecord {
                    sealed: master
                        .seal(&format!("coeur/ring/edit/{kid}"), &pkcs8(*alg))
                        .expect("seal"),
                    kid,
                    alg: *alg,
                    status: KeyStatus::Active,
                    created_at: 0,
                    verify_until: None,
                }
            })
            .collect(),
    };
    std::fs::create_dir_all(keys.join("realms")).expect("dir");
    std::fs::create_dir_all(keys.join("ca")).expect("dir");
    std::fs::write(
        keys.join("realms/edit.json"),
        serde_json::to_string_pretty(&ring).expect("json"),
    )
    .expect("ring file");
    let root = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("root key");
    std::fs::write(
        keys.join(format!("ca/{ROOT_ID}.key")),
        master
            .seal(&format!("coeur/ca/{ROOT_ID}"), &root.serialize_der())
            .expect("seal"),
    )
    .expect("key file");
    rcgen::PublicKeyData::der_bytes(&root).to_vec()
}

/// `coeur keys migrate` on `database_url` and `keys`; its standard output.
async fn migrate(database_url: &str, keys: &Path, master: Option<&str>) -> String {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_coeur"));
    for (k, _) in std::env::vars() {
        if k.starts_with("COEUR_") {
            cmd.env_remove(k);
        }
    }
    if let Some(m) = master {
        cmd.env("COEUR_MASTER_KEY", m);
    }
    let out = cmd
        .env("COEUR_LOG", "warn")
        .args(["--database-url", database_url, "--keys-dir"])
        .arg(keys)
        .arg("--realms-dir")
        .arg(realms_dir())
        .args(["keys", "migrate"])
        .output()
        .await
        .expect("coeur binary");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// A file key store moves into the database with `coeur keys migrate` (once: a second run
// writes nothing); before, the server refuses to start beside it; after, it starts, publishes
// and signs with the same kids, and its TEST root is certified with the same key.
both_dbs!(
    a_file_key_store_migrates_with_one_command,
    |db| async move {
        let dir = tempfile::tempdir().expect("dir");
        let keys = dir.path().join("keys");
        let (url, given) = match db {
            Db::Sqlite => (format!("sqlite://{}/coeur.db", dir.path().display()), None),
            Db::Postgres => (pg::new_database_url().await, Some(TEST_MASTER_KEY)),
        };
        let master = MasterKey::load(&keys, given, false).expect("master key");
        let root_public = file_key_store(&keys, &master);
        let settings = |set: &mut Settings| {
            set.common.database_url = Some(url.clone());
            set.common.keys_dir = Some(keys.clone());
        };

        let e = TestServer::try_start_with(db, &realms_dir(), settings)
            .await
            .err()
            .expect("refused before the migration");
        assert!(format!("{e:#}").contains("coeur keys migrate"), "{e:#}");

        let first = migrate(&url, &keys, given).await;
        assert!(first.contains("ring edit\tmoved"), "{first}");
        assert!(first.contains(&format!("key {ROOT_ID}\tmoved")), "{first}");
        let again = migrate(&url, &keys, given).await;
        assert!(!again.contains("moved"), "idempotent: {again}");
        assert!(again.contains("already in the database"), "{again}");

        // The files are no longer needed: the server starts without them.
        std::fs::remove_dir_all(keys.join("realms")).expect("rm");
        std::fs::remove_dir_all(keys.join("ca")).expect("rm");
        let s = TestServer::start_with(db, &realms_dir(), settings).await;
        let kids = jwks_kids(&s).await;
        for alg in ["es256", "rs256", "ps256"] {
            assert!(kids.contains(&format!("legacy-{alg}")), "{kids:?}");
        }
        s.add_client("edit", cc_spec(), Some(SECRET)).await;
        let token = s.client_credentials_token("edit", "cc", "openid").await;
        assert!(kid(&token).starts_with("legacy-"), "{}", kid(&token));
        let root = &s.ca.ca.cas[ROOT_ID];
        let (_, cert) = x509_parser::parse_x509_certificate(&root.cert_der).expect("root");
        assert_eq!(
            cert.public_key().subject_public_key.data.as_ref(),
            root_public.as_slice(),
            "the root is certified with the migrated key"
        );
    }
);

// Two instances started at the same moment on an empty database: the first creates the realm
// key rings, the CA keys and certificates while the other waits, which then reads them. Both
// publish the same keys and serve the same CA certificates, stored once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_create_keys_and_certificates_once() {
    let url = coeur_testkit::pg::new_database_url().await;
    let (ua, ub) = (url.clone(), url.clone());
    let realms = realms_dir();
    let (a, b) = tokio::join!(
        TestServer::start_with(Db::Postgres, &realms, |s| {
            s.common.database_url = Some(ua);
        }),
        TestServer::start_with(Db::Postgres, &realms, |s| {
            s.common.database_url = Some(ub);
        }),
    );
    assert_eq!(jwks_kids(&a).await, jwks_kids(&b).await, "the same JWKS");
    let (ca, cb) = (&a.app.ca.ca.cas, &b.app.ca.ca.cas);
    assert!(!ca.is_empty());
    assert_eq!(
        ca.keys().collect::<std::collections::BTreeSet<_>>(),
        cb.keys().collect::<std::collections::BTreeSet<_>>()
    );
    for (id, rt) in ca {
        assert_eq!(rt.cert_der, cb[id].cert_der, "the certificate of {id}");
    }
}
