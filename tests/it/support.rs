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
