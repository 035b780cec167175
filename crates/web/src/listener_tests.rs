//! The listener on real sockets: timeouts close idle clients, the connection bound makes
//! further clients wait until a slot frees, and `accept` errors do not stop it.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Longer than any wait of these tests: reaching it means the server left a client hanging.
const PATIENCE: Duration = Duration::from_secs(10);

fn limits(handshake_ms: u64, header_ms: u64, max_connections: usize) -> Limits {
    Limits {
        handshake_timeout: Duration::from_millis(handshake_ms),
        header_read_timeout: Duration::from_millis(header_ms),
        max_connections,
        ..Limits::default()
    }
}

fn app() -> axum::Router {
    axum::Router::new().route("/", axum::routing::get(|| async { "hello" }))
}

/// Starts serving on a loopback port; returns its address.
async fn start<A: Accept>(listener: A, addr: std::net::SocketAddr, tls: Tls, l: Limits) -> String {
    tokio::spawn(serve(listener, tls, l, app(), std::future::pending()));
    addr.to_string()
}

async fn bind() -> (TcpListener, std::net::SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Waits for the server to close `tcp`; false if it is still open after [`PATIENCE`].
async fn closed_by_server(tcp: &mut TcpStream) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut sink))
        .await
        .is_ok()
}

/// One GET / over a new connection; its response, or `None` after `wait`.
async fn get(addr: &str, wait: Duration) -> Option<String> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(wait, tcp.read_to_end(&mut out))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn tls_config() -> Arc<rustls::ServerConfig> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let k = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let c =
        crate::mtls::server_config(&k.cert.pem(), k.signing_key.serialize_der(), vec![]).unwrap();
    Arc::new(c)
}

#[tokio::test]
async fn silent_and_slow_clients_are_closed() {
    let (l, a) = bind().await;
    let addr = start(l, a, Tls::Off, limits(60_000, 200, 16)).await;
    // Nothing sent at all.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    assert!(closed_by_server(&mut idle).await, "idle connection kept");
    // Headers begun, never finished.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(closed_by_server(&mut slow).await, "half-sent headers kept");
    // Served, then kept alive without a further request.
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut kept).await,
        "kept-alive connection kept"
    );
    assert!(get(&addr, PATIENCE).await.unwrap().contains("hello"));
}

#[tokio::test]
async fn a_client_that_never_says_hello_is_closed() {
    for tls in [Tls::On(tls_config()), Tls::Mutual(tls_config())] {
        let (l, a) = bind().await;
        let addr = start(l, a, tls, limits(200, 60_000, 16)).await;
        let mut idle = TcpStream::connect(&addr).await.unwrap();
        assert!(closed_by_server(&mut idle).await, "no ClientHello, kept");
    }
}

#[tokio::test]
async fn clients_beyond_the_bound_wait_for_a_free_slot() {
    let (l, a) = bind().await;
    let addr = start(l, a, Tls::Off, limits(60_000, 60_000, 2)).await;
    let idle = [
        TcpStream::connect(&addr).await.unwrap(),
        TcpStream::connect(&addr).await.unwrap(),
    ];
    // Both slots are taken: a third client is not served…
    let third = tokio::spawn({
        let addr = addr.clone();
        async move { get(&addr, PATIENCE).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!third.is_finished(), "served beyond the bound");
    // …until a slot frees.
    drop(idle);
    let r = third.await.unwrap().expect("served once a slot freed");
    assert!(r.contains("hello"), "{r}");
}

/// A listener whose first `failures` accepts fail as when no file descriptor is left.
struct Failing {
    inner: TcpListener,
    failures: Arc<AtomicUsize>,
}

impl Accept for Failing {
    async fn accept(&mut self) -> std::io::Result<TcpStream> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(std::io::Error::from_raw_os_error(24)); // EMFILE
        }
        TcpListener::accept(&self.inner).await.map(|(s, _)| s)
    }
}

#[tokio::test]
async fn accept_errors_do_not_stop_the_listener() {
    let (inner, a) = bind().await;
    let failures = Arc::new(AtomicUsize::new(5));
    let listener = Failing {
        inner,
        failures: failures.clone(),
    };
    let addr = start(listener, a, Tls::Off, limits(60_000, 60_000, 16)).await;
    let r = get(&addr, PATIENCE)
        .await
        .expect("served after accept errors");
    assert!(r.contains("hello"), "{r}");
    assert_eq!(failures.load(Ordering::SeqCst), 0);
}

/// A TLS client that negotiates `alpn` with a server whose certificate is `cert_der`.
async fn tls_connect(
    addr: &str,
    cert_der: Vec<u8>,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der.into()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut c = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    c.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(c))
        .connect(name, tcp)
        .await
        .expect("handshake")
}

#[tokio::test]
async fn a_silent_http2_connection_is_closed() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let k = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let mut config =
        crate::mtls::server_config(&k.cert.pem(), k.signing_key.serialize_der(), vec![]).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let (l, a) = bind().await;
    let addr = start(l, a, Tls::On(Arc::new(config)), limits(60_000, 200, 16)).await;
    let mut idle = tls_connect(&addr, k.cert.der().to_vec(), b"h2").await;
    assert_eq!(idle.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, idle.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "silent HTTP/2 connection kept");
}
