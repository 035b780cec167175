//! `coeur serve` under a low file limit: idle connections exhaust the process's descriptors, so
//! `accept` fails (EMFILE) on the card listener; once they are gone the listener serves again.

use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::net::TcpStream;

/// Longer than any wait of this test: reaching it means the listener stayed down.
const PATIENCE: Duration = Duration::from_secs(30);

/// The server's file limit: the connections below go well beyond it.
const NOFILE: u32 = 128;
const IDLE_CONNECTIONS: usize = 300;

/// A loopback address nobody listens on (at the time of asking).
fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// The child server, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `coeur serve` with `ulimit -n NOFILE`, logging to `dir/server.log`.
fn start(dir: &Path, listen: &str, card: &str) -> Server {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let child = Command::new("sh")
        .args(["-c", &format!("ulimit -n {NOFILE} && exec \"$0\" serve")])
        .arg(env!("CARGO_BIN_EXE_coeur"))
        .current_dir(dir)
        .env_remove("COEUR_CONFIG")
        .env_remove("COEUR_MASTER_KEY")
        .env_remove("COEUR_PKI_PRODUCTION")
        .env_remove("COEUR_PUBLIC_URL")
        .env_remove("COEUR_CA_REALM")
        .env_remove("COEUR_CARD_PUBLIC_URL")
        .env_remove("COEUR_ADMIN_LISTEN")
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
        .env("COEUR_MAX_CONNECTIONS", "100000")
        .env("COEUR_CARD_HANDSHAKE_TIMEOUT", "600")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("coeur binary");
    Server(child)
}

fn server_log(dir: &Path) -> String {
    let mut s = String::new();
    let _ = std::fs::File::open(dir.join("server.log")).and_then(|mut f| f.read_to_string(&mut s));
    s
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
