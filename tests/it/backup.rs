//! Backup and restore, as `docs/operations.md` describes it: the database (PostgreSQL:
//! `pg_dump -Fc`, then `pg_restore` into an empty database; SQLite: `VACUUM INTO`) and the key
//! store's directory, copied together. A server started on the restored copies accepts the
//! tokens issued before (access and refresh), publishes the same keys, continues the CA's
//! serials and CRL numbers, still lists the revocations, and its audit chain verifies.

use crate::both_dbs;
use crate::ca::{Api, Key, ORG_CA, Work, org_subject};
use crate::support::*;
use serde_json::{Value, json};
use x509_parser::prelude::FromDer as _;

/// Copies a directory tree (the key store: files and folders only).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// Runs `program args…`, expecting success.
fn run(program: &std::path::Path, args: &[&str]) {
    let o = std::process::Command::new(program)
        .args(args)
        .output()
        .expect("run");
    assert!(
        o.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The database of `s` copied as an operator's backup and restore would: the restored URL.
async fn backup_and_restore(s: &TestServer, db: Db, dir: &std::path::Path) -> String {
    let url = s.app.cfg.database_url.clone();
    match db {
        Db::Postgres => {
            let dump = dir.join("coeur.dump");
            let dump = dump.to_str().expect("path");
            run(
                &coeur_testkit::pg::tool("pg_dump"),
                &["--format=custom", "--file", dump, "--dbname", &url],
            );
            let restored = coeur_testkit::pg::new_database_url().await;
            run(
                &coeur_testkit::pg::tool("pg_restore"),
                &["--no-owner", "--exit-on-error", "--dbname", &restored, dump],
            );
            restored
        }
        Db::Sqlite => {
            let file = dir.join("restored.db");
            let into = file.to_str().expect("path").replace('\'', "''");
            sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO '{into}'")))
                .execute(s.state.store.db().pool())
                .await
                .expect("VACUUM INTO");
            format!("sqlite://{}", file.display())
        }
    }
}

/// The CRL number of a DER CRL.
fn crl_number(der: &[u8]) -> u64 {
    let (_, crl) =
        x509_parser::revocation_list::CertificateRevocationList::from_der(der).expect("CRL");
    let n = crl.crl_number().expect("CRL number");
    u64::try_from(n).expect("small CRL number")
}

async fn crl(s: &TestServer) -> Vec<u8> {
    let r = reqwest::get(format!("{}/pki/crl/{ORG_CA}.crl", s.base))
        .await
        .expect("crl");
    assert_eq!(r.status().as_u16(), 200);
    r.bytes().await.expect("bytes").to_vec()
}

async fn token_post(s: &TestServer, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(s.endpoint("edit", "token"))
        .basic_auth("rp", Some(SECRET))
        .form(form)
        .send()
        .await
        .expect("token")
}

async fn jwks(s: &TestServer) -> Value {
    reqwest::get(s.endpoint("edit", "certs"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json")
}

both_dbs!(a_restored_backup_carries_on, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let cb = login_code(&s, &s.browser(), &[]).await;
    let code = param(&cb, "code").expect("code");
    let tokens: Value = redeem(&s, &code, &[]).await.json().await.expect("tokens");
    let at = tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let rt = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    let csr = w.csr("leaf", Key::P256);
    let subject = |name: &str| org_subject(json!({ "service_name": name }));
    let (revoked, _) = api.issue(ORG_CA, "ORG_AUTH_CLI", &csr, &subject("A")).await;
    assert_eq!(api.revoke(ORG_CA, &revoked, "superseded").await.0, 200);
    let (kept, _) = api.issue(ORG_CA, "ORG_AUTH_CLI", &csr, &subject("B")).await;
    let crl_before = crl_number(&crl(&s).await);
    let keys_before = jwks(&s).await;
    let ca_before = reqwest::get(format!("{}/pki/ca/{ORG_CA}.pem", s.base))
        .await
        .expect("ca")
        .text()
        .await
        .expect("pem");

    // The backup: the database, and on SQLite the keys directory (its development master
    // key); on PostgreSQL the master key is given, and nothing else is on the disk.
    let backup = tempfile::tempdir().expect("dir");
    let restored_url = backup_and_restore(&s, db, backup.path()).await;
    let keys = backup.path().join("keys");
    if db == Db::Sqlite {
        copy_dir(&s.app.cfg.keys_dir, &keys);
    } else {
        assert!(!s.app.cfg.keys_dir.exists(), "no key file on PostgreSQL");
    }
    let base = s.base.clone();
    drop(api);
    drop(s);

    // The same deployment (same public URL: same issuer) on the restored copies.
    let s = TestServer::start_again(db, &base, |set| {
        set.common.database_url = Some(restored_url.clone());
        set.common.keys_dir = Some(keys.clone());
    })
    .await;
    assert_eq!(
        jwks(&s).await,
        keys_before,
        "the same signing keys are published"
    );
    let ca_after = reqwest::get(format!("{}/pki/ca/{ORG_CA}.pem", s.base))
        .await
        .expect("ca")
        .text()
        .await
        .expect("pem");
    assert_eq!(ca_after, ca_before, "the same CA certificate");
    let r = reqwest::Client::new()
        .get(s.endpoint("edit", "userinfo"))
        .bearer_auth(&at)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(r.status().as_u16(), 200, "an access token issued before");
    let r = token_post(
        &s,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(r.status().as_u16(), 200, "a refresh token issued before");

    // The CA carries on (its client restored too): new serials, a higher CRL number, the
    // revocation still listed.
    let api = Api::registered(&s, "edit").await;
    let (next, _) = api.issue(ORG_CA, "ORG_AUTH_CLI", &csr, &subject("C")).await;
    assert!(next != revoked && next != kept, "a new serial");
    assert_eq!(api.revoke(ORG_CA, &kept, "superseded").await.0, 200);
    let der = crl(&s).await;
    assert!(
        crl_number(&der) > crl_before,
        "CRL numbers continue: {} after {crl_before}",
        crl_number(&der)
    );
    let (_, list) =
        x509_parser::revocation_list::CertificateRevocationList::from_der(&der).expect("CRL");
    let listed: Vec<String> = list
        .iter_revoked_certificates()
        .map(|r| r.raw_serial_as_string().replace(':', ""))
        .collect();
    for serial in [&revoked, &kept] {
        let want = serial.trim_start_matches('0').to_ascii_lowercase();
        assert!(
            listed
                .iter()
                .any(|l| l.trim_start_matches('0').eq_ignore_ascii_case(&want)),
            "{serial} listed: {listed:?}"
        );
    }
    let o = coeur_cli(&s, &["audit", "verify"]).await;
    assert!(o.status.success(), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("audit log intact"),
        "{o:?}"
    );
});
