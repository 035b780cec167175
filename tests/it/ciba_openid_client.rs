//! CIBA driven by panva's `openid-client` (tests/node/ciba.mjs, its own CIBA functions with
//! their defaults: `client_secret_post`, the ID token validated): poll with `channel=MOBILE`
//! approved by `coeur ecps approve`, poll with `channel=CARD` approved with a virtual card, and
//! ping delivery. Skipped with a message when the Node peers are not installed, unless
//! `COEUR_REQUIRE_PEERS` is set (scripts/test.sh sets it): then it fails.

use crate::both_dbs;
use crate::ciba::{approve_all_by_card, lps_spec};
use crate::ecps::cli::{ecps, ok};
use crate::ecps::{activation_code, me};
use crate::support::*;
use coeur::common::random::Clock as _;
use coeur::oauth::ciba::{CibaRegistration, DeliveryMode};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};

/// Whether the Node peer is installed (or why not).
fn peer() -> Result<(), String> {
    let dir = repo_dir().join("tests/node/node_modules/openid-client");
    if dir.exists() {
        Ok(())
    } else {
        Err("tests/node/node_modules/openid-client is missing (npm ci in tests/node)".into())
    }
}

/// Runs tests/node/ciba.mjs for `client` with `args`, approving its request with `approve`
/// once it is acknowledged: the script's outcome line.
async fn run(
    s: &TestServer,
    client: &str,
    args: &[&str],
    approve: impl std::future::Future<Output = ()>,
) -> Value {
    let mut child = tokio::process::Command::new("node")
        .arg(repo_dir().join("tests/node/ciba.mjs"))
        .arg(s.issuer("edit"))
        .args([client, SECRET, NATIONAL_ID])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the request acknowledged in time")
        .expect("stdout")
        .expect("a first line");
    let ack: Value = serde_json::from_str(&first).expect("JSON");
    assert_eq!(ack["acknowledged"], true, "{ack}");
    assert_eq!(ack["expires_in"], 120, "{ack}");
    assert_eq!(ack["interval"], 1, "{ack}");
    approve.await;
    let second = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the outcome in time")
        .expect("stdout")
        .expect("a second line");
    let _ = child.wait().await;
    serde_json::from_str(&second).expect("JSON")
}

/// The server's clock brought to the system's and kept ticking: openid-client checks the ID
/// token's times against its own clock, and waits `interval` seconds between polls.
fn real_time(s: &TestServer) -> tokio::task::JoinHandle<()> {
    let behind = coeur::app::SystemClock.now() - s.clock.now();
    if behind > 0 {
        s.clock.advance(behind);
    }
    let clock = s.clock.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            clock.advance(1);
        }
    })
}

fn check(outcome: &Value, auth_mode: &str) {
    assert!(outcome.get("error").is_none(), "{outcome}");
    let c = &outcome["claims"];
    assert_eq!(c["authMode"], auth_mode, "{outcome}");
    assert_eq!(c["acr"], "eidas2", "{outcome}");
    assert!(
        c["sub"].as_str().unwrap_or_default().ends_with(NATIONAL_ID),
        "{outcome}"
    );
    assert_eq!(outcome["scope"], "openid", "{outcome}");
    assert_eq!(outcome["refresh_token"], true, "{outcome}");
}

both_dbs!(ciba_with_openid_client, |db| async move {
    if let Err(why) = peer() {
        if std::env::var_os("COEUR_REQUIRE_PEERS").is_some() {
            panic!("COEUR_REQUIRE_PEERS is set and the Node peer is missing: {why}");
        }
        eprintln!("skipped: {why}");
        return;
    }
    let s = TestServer::start(db).await;
    let ticking = real_time(&s);
    s.add_client("edit", lps_spec("node-lps", None), Some(SECRET))
        .await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let ping = CibaRegistration {
        token_delivery_mode: DeliveryMode::Ping,
        client_notification_endpoint: Some(format!("http://127.0.0.1:{port}/ping")),
        authentication_request_signing_alg: None,
    };
    s.add_client("edit", lps_spec("node-ping", Some(ping)), Some(SECRET))
        .await;

    // The command-line authenticator, enrolled with the code the card listener shows.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("device.json");
    let code = activation_code(&s, &me(&s).await).await;
    let enrol = [
        "enrol", "--server", &s.base, "--realm", "edit", "--code", &code, "--name", "cli",
    ];
    ok(&ecps(&file, &enrol).await, "enrol");
    let by_cli = || async {
        ok(&ecps(&file, &["approve"]).await, "approve");
    };

    let outcome = run(&s, "node-lps", &["MOBILE", "poll"], by_cli()).await;
    check(&outcome, "MOBILE");

    let who = me(&s).await;
    let by_card = async { assert_eq!(approve_all_by_card(&s, &who).await, 1) };
    let outcome = run(&s, "node-lps", &["CARD", "poll"], by_card).await;
    check(&outcome, "CARD");

    let port = port.to_string();
    let outcome = run(&s, "node-ping", &["MOBILE", "ping", &port], by_cli()).await;
    check(&outcome, "MOBILE");
    assert_eq!(outcome["ping_ok"], true, "{outcome}");
    ticking.abort();
});
