//! Re-export of the test harness crate, so tests keep `crate::support::…` paths.
pub use coeur_testkit::*;

/// Runs the `coeur` binary on the test server's database, keys and realms (the operators'
/// commands), with no other `COEUR_*` setting of the environment.
pub async fn coeur_cli(s: &TestServer, args: &[&str]) -> std::process::Output {
    let cfg = &s.app.cfg;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_coeur"));
    for (k, _) in std::env::vars() {
        if k.starts_with("COEUR_") {
            cmd.env_remove(k);
        }
    }
    if let Some(key) = &cfg.master_key {
        cmd.env("COEUR_MASTER_KEY", key);
    }
    cmd.env("COEUR_LOG", "warn")
        .arg("--database-url")
        .arg(&cfg.database_url)
        .arg("--keys-dir")
        .arg(&cfg.keys_dir)
        .arg("--realms-dir")
        .arg(&cfg.realms_dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("coeur binary")
}

/// A `coeur serve` child process, killed when dropped.
pub struct ServeChild(pub std::process::Child);

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `program args…` set up to run `coeur serve` on the embedded default in `dir` (SQLite, keys,
/// CRLs there; the repository's realms and modern TEST hierarchy), listening on `listen` and
/// the card listener on `card`, logging warnings and above to `dir/server.log`, with no other
/// `COEUR_*` setting of the environment. `program` is the coeur binary itself or a shell
/// that `exec`s it (given as `$0`).
pub fn serve_command(
    dir: &std::path::Path,
    program: &str,
    args: &[&str],
    (listen, card): (&str, &str),
) -> std::process::Command {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let log = std::fs::File::create(dir.join("server.log")).expect("server log");
    let mut cmd = std::process::Command::new(program);
    for (k, _) in std::env::vars() {
        if k.starts_with("COEUR_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .current_dir(dir)
        .env("COEUR_LOG", "warn")
        .env(
            "COEUR_DATABASE_URL",
            format!("sqlite://{}", dir.join("coeur.db").display()),
        )
        .env("COEUR_KEYS_DIR", dir.join("keys"))
        .env("COEUR_CRL_DIR", dir.join("crl"))
        .env("COEUR_REALMS_DIR", repo.join("realms"))
        .env("COEUR_PKI_DIR", repo.join("pki"))
        .env("COEUR_PKI_HIERARCHY", "modern")
        .env("COEUR_LISTEN", listen)
        .env("COEUR_CARD_LISTEN", card)
        // The directory listens on a fixed default port: tests that want it turn it on with
        // their own port (`tests/it/directory/serve.rs`).
        .env("COEUR_NO_DIRECTORY", "true")
        // Likewise the offer service (`tests/it/offer/`).
        .env("COEUR_NO_OFFER", "true")
        .stdout(std::process::Stdio::null())
        .stderr(log);
    cmd
}

/// The log of a [`serve_command`] server so far.
pub fn server_log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

/// A loopback address nobody listens on (at the time of asking).
pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}
