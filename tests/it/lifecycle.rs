//! Probes and the stop: `/livez` and `/readyz` on the main and admin listeners, readiness lost
//! with the database (PostgreSQL) and while draining, e-CPS event streams ended by draining,
//! and `coeur serve` on SIGTERM: draining for `--shutdown-delay`, then listeners closed while
//! a request in progress still gets its whole answer, then a clean exit.

use crate::both_dbs;
use crate::support::*;
use coeur_web::lifecycle::Phase;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// (status, body) of a GET.
async fn probe(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("probe");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default().trim().to_owned())
}

both_dbs!(probes_follow_the_lifecycle, |db| async move {
    let s = TestServer::start(db).await;
    for base in [&s.base, &s.admin_base] {
        assert_eq!(probe(&format!("{base}/livez")).await, (200, "ok".into()));
        assert_eq!(probe(&format!("{base}/readyz")).await, (200, "ok".into()));
    }
    s.app.lifecycle.enter(Phase::Draining);
    for base in [&s.base, &s.admin_base] {
        assert_eq!(
            probe(&format!("{base}/readyz")).await,
            (503, "shutting down".into()),
            "a draining server tells balancers to send no new clients"
        );
        assert_eq!(probe(&format!("{base}/livez")).await.0, 200);
    }
});

/// PostgreSQL only: its database can be taken away from under a running server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_lost_with_the_database_and_liveness_is_not() {
    let s = TestServer::start(Db::Postgres).await;
    assert_eq!(probe(&format!("{}/readyz", s.base)).await.0, 200);
    let url = s.app.cfg.database_url.clone();
    let (cluster, name) = url.rsplit_once('/').expect("database name");
    let admin = sqlx::PgPool::connect(&format!("{cluster}/postgres"))
        .await
        .expect("cluster");
    // The name is the harness's own `t_<hex>`.
    assert!(name.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric()));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .expect("drop");
    let (status, body) = probe(&format!("{}/readyz", s.base)).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("database unreachable"), "{body}");
    assert!(!body.contains(name), "the probe names no database: {body}");
    assert_eq!(
        probe(&format!("{}/livez", s.base)).await,
        (200, "ok".into()),
        "a database outage must not make orchestrators restart the instance"
    );
}

/// Sends SIGTERM to `pid`.
fn sigterm(pid: u32) {
    let ok = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -TERM {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_then_finishes_requests_in_progress_and_exits() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let w = tempfile::tempdir().expect("dir");
    let (listen, card, admin) = (free_addr(), free_addr(), free_addr());
    let mut server = ServeChild(
        serve_command(
            w.path(),
            env!("CARGO_BIN_EXE_coeur"),
            &["serve"],
            (&listen, &card),
        )
        .env("COEUR_LOG", "info")
        .env("COEUR_ADMIN_LISTEN", &admin)
        .env("COEUR_SHUTDOWN_DELAY", "2")
        .env("COEUR_SHUTDOWN_GRACE", "20")
        .spawn()
        .expect("coeur binary"),
    );
    let log = || server_log(w.path());
    let ready = format!("http://{listen}/readyz");
    let mut up = false;
    for _ in 0..600 {
        if reqwest::get(&ready)
            .await
            .is_ok_and(|r| r.status().as_u16() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not become ready:\n{}", log());

    // A token request whose body is still on its way when the stop begins.
    let body = "grant_type=client_credentials&client_id=nobody&client_secret=nothing";
    let mut slow = tokio::net::TcpStream::connect(&listen)
        .await
        .expect("connect");
    let head = format!(
        "POST /auth/realms/edit/protocol/openid-connect/token HTTP/1.1\r\nHost: {listen}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.expect("head");
    slow.write_all(&body.as_bytes()[..10]).await.expect("start");
    slow.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(200)).await;

    sigterm(server.0.id());
    // Draining: still accepting, but not ready; alive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for base in [&listen, &admin] {
        let (status, text) = probe(&format!("http://{base}/readyz")).await;
        assert_eq!((status, text.as_str()), (503, "shutting down"), "{}", log());
        assert_eq!(probe(&format!("http://{base}/livez")).await.0, 200);
    }
    // After the delay the listeners are closed.
    let mut closed = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&listen).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "the main listener still accepts:\n{}", log());
    assert!(
        server.0.try_wait().expect("wait").is_none(),
        "the server exited with a request in progress:\n{}",
        log()
    );

    // The request in progress gets its whole answer (an OAuth error: unknown client).
    slow.write_all(&body.as_bytes()[10..]).await.expect("rest");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut answer))
        .await
        .expect("the answer came in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}\n{}", log());
    assert!(answer.contains("invalid_client"), "{answer}");

    // Then the process ends by itself, cleanly.
    let mut status = None;
    for _ in 0..100 {
        status = server.0.try_wait().expect("wait");
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.unwrap_or_else(|| panic!("the server did not exit:\n{}", log()));
    assert!(status.success(), "exit {status}:\n{}", log());
    let log = log();
    assert!(log.contains("draining"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}
