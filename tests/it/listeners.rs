//! The listeners against clients that hold connections: silent connections and half-sent
//! headers are closed after the configured timeouts on the main and the card listener, the
//! card listener's connection bound makes further clients wait until a slot frees, and
//! `/metrics` is served on the admin listener only.

use crate::both_dbs;
use crate::mtls::{mtls_client, wait_for_card_listener};
use crate::support::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Longer than any timeout these tests configure: reaching it means a client was left hanging.
const PATIENCE: Duration = Duration::from_secs(15);

/// A server whose listeners time out after a second and serve `max` connections at once.
async fn start(db: Db, timeout_secs: u64, max: usize) -> TestServer {
    let s = TestServer::start_with(db, &realms_dir(), |st| {
        st.serve.handshake_timeout_secs = Some(timeout_secs);
        st.serve.card_handshake_timeout_secs = Some(timeout_secs);
        st.serve.header_read_timeout_secs = Some(timeout_secs);
        st.serve.max_connections = Some(max);
    })
    .await;
    wait_for_card_listener(&s).await;
    s
}

fn host_port(base: &str) -> String {
    url::Url::parse(base)
        .expect("url")
        .socket_addrs(|| None)
        .expect("address")[0]
        .to_string()
}

/// Whether the server closes `tcp` within [`PATIENCE`].
async fn closed_by_server(tcp: &mut TcpStream) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut sink))
        .await
        .is_ok()
}

both_dbs!(
    silent_clients_are_closed_on_both_listeners,
    |db| async move {
        let s = start(db, 1, 64).await;
        let main = host_port(&s.base);
        let card = host_port(&s.card_base());
        // No ClientHello on the card listener, no request on the main one.
        for addr in [&main, &card] {
            let mut idle = TcpStream::connect(addr).await.unwrap();
            assert!(closed_by_server(&mut idle).await, "{addr}: idle, kept");
        }
        // Headers begun, never finished.
        let mut slow = TcpStream::connect(&main).await.unwrap();
        slow.write_all(b"GET /pki/ca/MOD-R-EL-TEST.pem HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        assert!(closed_by_server(&mut slow).await, "half-sent headers kept");
        // Both still serve.
        let r = reqwest::get(format!("{}/pki/ca/MOD-R-EL-TEST.pem", s.base))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = mtls_client(&s, None)
            .get(format!("{}/pki/ca/MOD-R-EL-TEST.pem", s.card_base()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
);

both_dbs!(card_clients_beyond_the_bound_wait, |db| async move {
    let s = start(db, 60, 2).await;
    let card = host_port(&s.card_base());
    let idle = [
        TcpStream::connect(&card).await.unwrap(),
        TcpStream::connect(&card).await.unwrap(),
    ];
    let url = format!("{}/pki/ca/MOD-R-EL-TEST.pem", s.card_base());
    let client = mtls_client(&s, None);
    let third = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "served beyond the bound");
    drop(idle);
    let status = tokio::time::timeout(PATIENCE, third)
        .await
        .expect("served once a slot freed")
        .unwrap()
        .expect("request");
    assert_eq!(status, 200);
});

both_dbs!(
    metrics_are_served_on_the_admin_listener_only,
    |db| async move {
        let s = start(db, 30, 64).await;
        let r = reqwest::get(format!("{}/metrics", s.base)).await.unwrap();
        assert_eq!(r.status(), 404, "the public listener shows no metrics");
        let r = mtls_client(&s, None)
            .get(format!("{}/metrics", s.card_base()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "nor does the card listener");
        let r = reqwest::get(format!("{}/metrics", s.admin_base))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(text.contains("coeur_ldap_publish_failures_total"), "{text}");
    }
);
