//! `coeur serve` under a low file limit: idle connections exhaust the process's descriptors, so
//! `accept` fails (EMFILE) on the card listener; once they are gone the listener serves again.

use crate::support::{ServeChild, free_addr, serve_command, server_log};
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpStream;

/// Longer than any wait of this test: reaching it means the listener stayed down.
const PATIENCE: Duration = Duration::from_secs(30);

/// The server's file limit: the connections below go well beyond it.
const NOFILE: u32 = 128;
const IDLE_CONNECTIONS: usize = 300;

/// Starts `coeur serve` with `ulimit -n NOFILE`, logging to `dir/server.log`.
fn start(dir: &Path, listen: &str, card: &str) -> ServeChild {
    let script = format!("ulimit -n {NOFILE} && exec \"$0\" serve");
    let child = serve_command(
        dir,
        "sh",
        &["-c", &script, env!("CARGO_BIN_EXE_coeur")],
        (listen, card),
    )
    .env("COEUR_MAX_CONNECTIONS", "100000")
    .env("COEUR_CARD_HANDSHAKE_TIMEOUT", "600")
    .spawn()
    .expect("coeur binary");
    ServeChild(child)
}

/// One GET of a CA certificate over the card listener; its status, or `None` after [`PATIENCE`].
async fn card_get(dir: &Path, card: &str) -> Option<u16> {
    let root = std::fs::read(dir.join("crl/coeur-root.pem")).ok()?;
    let client = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&root).ok()?)
        .timeout(PATIENCE)
        .build()
        .ok()?;
    let r = client
        .get(format!("https://{card}/pki/ca/MOD-R-EL-TEST.pem"))
        .send()
        .await
        .ok()?;
    Some(r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_listener_survives_running_out_of_file_descriptors() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let w = tempfile::tempdir().unwrap();
    let (listen, card) = (free_addr(), free_addr());
    let _server = start(w.path(), &listen, &card);
    // Started: the card listener answers.
    let mut up = false;
    for _ in 0..600 {
        if w.path().join("crl/coeur-root.pem").exists()
            && card_get(w.path(), &card).await == Some(200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not start:\n{}", server_log(w.path()));
    // Idle connections until the server has no descriptor left (and its backlog fills).
    let mut idle = Vec::new();
    let mut exhausted = false;
    for _ in 0..IDLE_CONNECTIONS {
        let c = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&card)).await;
        match c {
            Ok(Ok(c)) => idle.push(c),
            _ => break,
        }
        if server_log(w.path()).contains("accept failed") {
            exhausted = true;
            break;
        }
    }
    for _ in 0..50 {
        let log = server_log(w.path());
        if exhausted || log.contains("accept failed") || log.contains("card listener stopped") {
            exhausted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(exhausted, "accept never failed:\n{}", server_log(w.path()));
    // Gone: the listener serves again.
    drop(idle);
    assert_eq!(
        card_get(w.path(), &card).await,
        Some(200),
        "the card listener stayed down:\n{}",
        server_log(w.path())
    );
}
