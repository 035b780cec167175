//! `coeur-annuaire serve` run as its pods run it: the probes answered, SIGTERM draining
//! (`/readyz` 503 while requests are still served) before the process exits by itself, and
//! the paging cursors' key kept in the database for the next instance.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free local port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The directory's binary serving an empty SQLite store at `db` on `port`, trusting an issuer
/// that is never reached (no request here carries a token).
fn spawn_directory(db: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_coeur-annuaire"))
        .args([
            "serve",
            &format!("--listen=127.0.0.1:{port}"),
            &format!("--database=sqlite://{}", db.display()),
            "--issuer=http://127.0.0.1:9/auth/realms/edit",
            "--jwks-url=http://127.0.0.1:9/jwks",
            "--audience=annuaire",
            "--shutdown-delay=2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("coeur-annuaire")
}

async fn status(port: u16, path: &str) -> Option<u16> {
    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    Some(r.status().as_u16())
}

async fn until_ready(port: u16) {
    let start = Instant::now();
    while status(port, "/readyz").await != Some(200) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "coeur-annuaire never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_binary_answers_the_probes_and_drains_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("coeur-annuaire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("annuaire.db");
    let port = free_port();
    let mut child = spawn_directory(&db, port);
    until_ready(port).await;
    assert_eq!(status(port, "/livez").await, Some(200));
    assert_eq!(status(port, "/metadata").await, Some(200));

    // SIGTERM: not ready, still serving, then gone by itself.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let start = Instant::now();
    while status(port, "/readyz").await != Some(503) {
        assert!(start.elapsed() < Duration::from_secs(2), "still ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status(port, "/livez").await,
        Some(200),
        "alive while draining"
    );
    assert_eq!(
        status(port, "/metadata").await,
        Some(200),
        "served while draining"
    );
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "did not stop after the delay"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "stopped before its delay"
    );

    // The next instance on the same database reads the same cursors' key.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let first: String =
        sqlx::query_scalar("SELECT value FROM directory_shared_key WHERE name = 'cursor'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(first.len(), 64);
    let port = free_port();
    let mut child = spawn_directory(&db, port);
    until_ready(port).await;
    let again: String =
        sqlx::query_scalar("SELECT value FROM directory_shared_key WHERE name = 'cursor'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(first, again, "made once, by the first instance");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
