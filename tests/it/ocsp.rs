//! coeur's OCSP responder as OpenSSL's client sees it: cached answers are keyed by the whole
//! CertID (a SHA-256 CertID never answers a SHA-1 request, and the reverse), and a CertID under
//! a root CA (which has no responder) is `unauthorized`.

use crate::both_dbs;
use crate::support::*;
use std::process::Command;

const ROOT: &str = "MOD-R-EL-TEST";
const ORG_CA: &str = "MOD-EL-ORG-TEST";

/// Runs `openssl ARGS` in `dir`; returns its success and stdout and stderr together.
fn openssl(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (scripts/test.sh installs it)");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), out)
}

/// Writes the PEM of CA `id` into `dir/ID.pem`.
async fn save_ca(s: &TestServer, dir: &std::path::Path, id: &str) {
    let r = reqwest::get(format!("{}/pki/ca/{id}.pem", s.base))
        .await
        .expect("CA certificate");
    assert_eq!(r.status(), 200);
    std::fs::write(dir.join(format!("{id}.pem")), r.bytes().await.unwrap()).unwrap();
}

/// `openssl ocsp` without nonce (so cacheable) for `serial` under `issuer`, CertID hashed with
/// `digest`.
fn ask(s: &TestServer, dir: &std::path::Path, issuer: &str, serial: &str, digest: &str) -> String {
    let url = format!("{}/pki/ocsp", s.base);
    let issuer = format!("{issuer}.pem");
    let (_, out) = openssl(
        dir,
        &[
            "ocsp",
            "-issuer",
            &issuer,
            digest,
            "-serial",
            serial,
            "-no_nonce",
            "-url",
            &url,
            "-noverify",
        ],
    );
    out
}

both_dbs!(cached_answers_match_the_certid_hash, |db| async move {
    let s = TestServer::start(db).await;
    let w = tempfile::tempdir().unwrap();
    save_ca(&s, w.path(), ORG_CA).await;
    let serial = "0x0123456789ABCDEF0123";
    // SHA-256 first fills the cache; SHA-1 (OpenSSL's default) must still find its status,
    // then the other way round for another serial.
    for (serial, first, second) in [
        (serial, "-sha256", "-sha1"),
        ("0x0123456789ABCDEF0456", "-sha1", "-sha256"),
    ] {
        for digest in [first, second, first] {
            let out = ask(&s, w.path(), ORG_CA, serial, digest);
            assert!(
                out.contains(&format!("{serial}: unknown")),
                "{digest} after {first}: {out}"
            );
            assert!(!out.contains("No Status found"), "{digest}: {out}");
        }
    }
});

both_dbs!(certid_under_a_root_is_unauthorized, |db| async move {
    let s = TestServer::start(db).await;
    let w = tempfile::tempdir().unwrap();
    save_ca(&s, w.path(), ROOT).await;
    for digest in ["-sha1", "-sha256"] {
        let out = ask(&s, w.path(), ROOT, "0x01", digest);
        assert!(
            out.contains("unauthorized"),
            "a root has no responder: {out}"
        );
        assert!(!out.contains("internalerror"), "{out}");
    }
});
