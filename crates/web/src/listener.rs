//! Serving a router on a TCP listener, for every listener of coeur (main, card, admin): plain
//! HTTP/1.1, TLS (HTTP/2 or HTTP/1.1 as ALPN chose) or mutual TLS (the client certificate
//! reaches handlers as [`PeerCertificate`](crate::mtls::PeerCertificate)).
//!
//! A listener survives its clients: a TLS handshake must end within
//! [`Limits::handshake_timeout`], request headers must arrive within
//! [`Limits::header_read_timeout`] (also between requests of a kept-alive connection; an
//! HTTP/2 connection without a request in flight for as long is closed), at most
//! [`Limits::max_connections`] connections are served at once (further clients wait in the
//! kernel's backlog until one ends), and an `accept` error (e.g. no file descriptor left) is
//! logged and retried after a pause instead of stopping the listener.

use crate::mtls::PeerCertificate;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt as _;

/// What a listener bears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to complete the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time a client has to send a request's headers, from the connection's start or the end of
    /// the previous response (HTTP/1.1).
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Once the listener stops accepting, how long open connections have to finish the request
    /// in progress before they are cut.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// Whether and how a listener speaks TLS.
#[derive(Clone)]
pub enum Tls {
    /// Plain HTTP/1.1.
    Off,
    /// TLS, HTTP/2 or HTTP/1.1 as ALPN chose.
    On(Arc<rustls::ServerConfig>),
    /// Mutual TLS: each connection's client certificate is given to handlers.
    Mutual(Arc<rustls::ServerConfig>),
}

/// A source of connections: a [`TcpListener`], or a wrapper of one.
pub trait Accept: Send + 'static {
    /// The next connection.
    fn accept(&mut self) -> impl Future<Output = std::io::Result<TcpStream>> + Send;
}

impl Accept for TcpListener {
    async fn accept(&mut self) -> std::io::Result<TcpStream> {
        TcpListener::accept(self).await.map(|(s, _)| s)
    }
}

/// Pause after a failed `accept`, doubled on each further failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` resolves, then closes the listener and lets the
/// connections end their current request (at most [`Limits::shutdown_grace`]; idle kept-alive
/// connections are closed at once).
pub async fn serve<A: Accept>(
    mut listener: A,
    tls: Tls,
    limits: Limits,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut backoff = MIN_BACKOFF;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = next(&mut listener, &slots) => a,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((tcp, slot)) => {
                backoff = MIN_BACKOFF;
                let conn = Conn {
                    tls: tls.clone(),
                    limits,
                    app: app.clone(),
                    watcher: graceful.watcher(),
                    _slot: slot,
                    peer: None,
                    cert: None,
                };
                tokio::spawn(conn.run(tcp));
            }
            Err(e) => {
                tracing::warn!(error = %e, pause_ms = backoff.as_millis(), "accept failed, retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {},
                    () = &mut shutdown => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = limits.shutdown_grace.as_secs(),
            "requests still in progress at the end of the shutdown grace were cut"
        );
    }
}

/// A free connection slot, then the next connection.
async fn next<A: Accept>(
    listener: &mut A,
    slots: &Arc<Semaphore>,
) -> std::io::Result<(TcpStream, OwnedSemaphorePermit)> {
    // The semaphore is never closed.
    let slot = slots
        .clone()
        .acquire_owned()
        .await
        .map_err(std::io::Error::other)?;
    let tcp = listener.accept().await?;
    Ok((tcp, slot))
}

/// One accepted connection, holding its slot until it ends.
struct Conn {
    tls: Tls,
    limits: Limits,
    app: axum::Router,
    watcher: Watcher,
    _slot: OwnedSemaphorePermit,
    /// What each request of the connection gets as extensions.
    peer: Option<PeerAddr>,
    cert: Option<PeerCertificate>,
}

/// The address of the client at the other end of the connection (a request extension on
/// every listener): behind a reverse proxy, the proxy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::IpAddr);

impl Conn {
    async fn run(mut self, tcp: TcpStream) {
        self.peer = tcp.peer_addr().ok().map(|a| PeerAddr(a.ip()));
        let config = match &self.tls {
            Tls::Off => return self.http(tcp, false).await,
            Tls::On(c) | Tls::Mutual(c) => c.clone(),
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let stream =
            match tokio::time::timeout(self.limits.handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => return tracing::debug!("TLS handshake timed out"),
            };
        let session = stream.get_ref().1;
        let h2 = session.alpn_protocol() == Some(b"h2");
        let peer = PeerCertificate(
            session
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| Arc::new(c.to_vec())),
        );
        let mut conn = self;
        if matches!(conn.tls, Tls::Mutual(_)) {
            conn.cert = Some(peer);
        }
        conn.http(stream, h2).await
    }

    /// Serves HTTP/2 (`h2`) or HTTP/1.1 on `io`, headers read within the limit.
    async fn http<I>(self, io: I, h2: bool)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let builder = auto::Builder::new(TokioExecutor::new());
        let mut builder = if h2 {
            builder.http2_only()
        } else {
            builder.http1_only()
        };
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(self.limits.header_read_timeout);
        // HTTP/2 has no header-read timeout in hyper: an idle connection is closed instead.
        let activity = idle::Activity::new();
        // The connection's extensions and, on HTTP/2, its activity, added request by request
        // around the shared router (`Router::layer` per connection would rebuild every route
        // for each connection, costing tens of KiB each while it stays open).
        let tracked = h2.then(|| activity.clone());
        let (peer, cert) = (self.peer, self.cert);
        let app = self
            .app
            .map_request(move |mut req: axum::extract::Request<Incoming>| {
                if let Some(p) = peer {
                    req.extensions_mut().insert(p);
                }
                if let Some(c) = &cert {
                    req.extensions_mut().insert(c.clone());
                }
                req
            })
            .map_future(move |fut| {
                let busy = tracked.as_ref().map(idle::Activity::busy);
                async move {
                    let resp = fut.await?;
                    Ok::<_, std::convert::Infallible>(match busy {
                        Some(b) => idle::track(resp, b),
                        None => resp,
                    })
                }
            });
        let svc = hyper_util::service::TowerToHyperService::new(app);
        let conn = builder.serve_connection(TokioIo::new(io), svc);
        let served = self.watcher.watch(conn.into_owned());
        let ended = async {
            if h2 {
                activity.idle_for(self.limits.header_read_timeout).await;
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            r = served => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended");
                }
            }
            () = ended => tracing::debug!("idle HTTP/2 connection closed"),
        }
    }
}

#[path = "listener_idle.rs"]
mod idle;

#[cfg(test)]
#[path = "listener_tests.rs"]
mod tests;
