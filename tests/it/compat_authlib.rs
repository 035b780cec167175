//! Python Authlib as a peer: `private_key_jwt` with its defaults (RS256, one-hour assertions,
//! `aud` the URL called) at the token, introspection and revocation endpoints.
//!
//! The peer is tests/python/authlib_peer.py, run with the virtualenv scripts/test.sh makes
//! (target/python-peer-venv, from tests/python/requirements.txt; `COEUR_PYTHON_PEER` names
//! another interpreter). Without it the test is skipped with a message, unless
//! `COEUR_REQUIRE_PEERS` is set (scripts/test.sh sets it): then it fails.

use crate::both_dbs;
use crate::support::*;
use coeur::common::random::Clock as _;
use coeur::oauth::client::{ClientSpec, GrantType, TokenAuthMethod};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Command, Stdio};

/// Runs the peer against `s`'s client `id`: registers the key it generates, then lets it go.
/// Blocking (a child process): call from `spawn_blocking`.
fn run_peer(python: &std::path::Path, s: &TestServer, id: &str) -> Value {
    let mut child = Command::new(python)
        .arg(repo_dir().join("tests/python/authlib_peer.py"))
        .args([
            s.endpoint("edit", "token"),
            s.endpoint("edit", "token/introspect"),
            s.endpoint("edit", "revoke"),
            id.to_owned(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python peer");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("the peer's key");
    let first: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        let mut err = String::new();
        let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
        panic!("the peer's first line {line:?} is not JSON ({e}); stderr: {err}")
    });
    let mut jwk = first["jwk"].clone();
    jwk["kid"] = "authlib".into();
    jwk["use"] = "sig".into();
    let spec = ClientSpec {
        token_endpoint_auth_method: TokenAuthMethod::PrivateKeyJwt,
        grant_types: vec![GrantType::ClientCredentials],
        jwks: Some(json!({ "keys": [jwk] })),
        ..rp_spec(id)
    };
    let handle = tokio::runtime::Handle::current();
    handle.block_on(s.add_client("edit", spec, None));
    // The server's clock is fixed at its start: bring it to the peer's time, so that its
    // one-hour assertions are judged at the time it signs them.
    let behind = coeur::app::SystemClock.now() - s.clock.now();
    if behind > 0 {
        s.clock.advance(behind);
    }
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "go").expect("go-ahead");
    drop(stdin);
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("the peer's report");
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    let status = child.wait().expect("the peer ends");
    assert!(
        status.success(),
        "the Authlib peer failed ({status}): {err}\n{rest}"
    );
    serde_json::from_str(rest.trim()).unwrap_or_else(|e| panic!("peer report {rest:?}: {e}"))
}

both_dbs!(authlib_private_key_jwt, |db| async move {
    let Some(python) = python_peer("the Authlib peer") else {
        return;
    };
    let s = std::sync::Arc::new(TestServer::start(db).await);
    let server = s.clone();
    let report = tokio::task::spawn_blocking(move || run_peer(&python, &server, "authlib-rp"))
        .await
        .expect("peer task");
    assert_eq!(report["token_type"], "Bearer", "{report}");
    let before = &report["introspected"];
    assert_eq!(before["active"], true, "{report}");
    assert_eq!(before["client_id"], "authlib-rp", "{report}");
    assert_eq!(
        report["introspected_after_revocation"]["active"], false,
        "{report}"
    );
});
