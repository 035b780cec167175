//! A server's lifecycle as load balancers and orchestrators see it: the probes `/livez` and
//! `/readyz`, and the stop in three steps that a SIGTERM starts.
//!
//! 1. **Draining**: `/readyz` answers 503 so that load balancers stop sending new clients,
//!    while the listeners still accept (a balancer that has not yet noticed loses nothing).
//! 2. **Stopping**: the listeners stop accepting; open connections finish the request in
//!    progress (within [`Limits::shutdown_grace`](crate::listener::Limits)), idle ones are
//!    closed, and long-lived event streams end so that their clients reconnect elsewhere.
//! 3. The caller then stops background work (publisher leases, committers) and exits.
//!
//! `/livez` answers 200 as long as the process serves requests at all: an orchestrator
//! restarts a process whose liveness fails, so it does not depend on the database (a database
//! outage must not restart every instance). `/readyz` also asks the given [`ReadinessCheck`]
//! (the database).

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Where a server is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Serving, and ready for new clients when its dependencies are.
    Serving,
    /// Still serving, but telling load balancers to send no new clients.
    Draining,
    /// Listeners closed; in-flight requests finishing.
    Stopping,
}

/// The shared lifecycle of one server: cheap to clone, every clone sees the same phase.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    phase: Arc<watch::Sender<Phase>>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifecycle {
    /// A server in [`Phase::Serving`].
    pub fn new() -> Self {
        Self {
            phase: Arc::new(watch::Sender::new(Phase::Serving)),
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Moves to `phase` (never back: a stopping server does not drain again).
    pub fn enter(&self, phase: Phase) {
        self.phase.send_if_modified(|p| {
            let forward = phase > *p;
            if forward {
                *p = phase;
            }
            forward
        });
    }

    /// Resolves once the server has reached `phase` (at once if it already has).
    pub fn reached(&self, phase: Phase) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.phase.subscribe();
        async move {
            // The sender lives as long as any clone of the lifecycle; if all are gone, nobody
            // is left to stop the server, so waiting forever is right.
            if rx.wait_for(|p| *p >= phase).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves when the listeners are to stop accepting.
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + 'static {
        self.reached(Phase::Stopping)
    }

    /// Resolves when long-lived answers (event streams) should end: as soon as the server
    /// drains, so that their clients reconnect to another instance before this one stops.
    pub fn draining(&self) -> impl Future<Output = ()> + Send + 'static {
        self.reached(Phase::Draining)
    }
}

/// SIGTERM and Ctrl-C (SIGINT), as one stream of "stop" requests.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    /// The next stop request: its signal's name.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// The stop: on the first signal, drain (`/readyz` answers 503) for `delay`, then close the
/// listeners so that they finish the requests in progress. A second signal skips the rest of
/// the delay; a third exits at once.
async fn stop_on(mut signals: Signals, lifecycle: Lifecycle, delay: Duration) {
    let signal = signals.next().await;
    tracing::info!(
        signal,
        delay_secs = delay.as_secs(),
        "draining: /readyz answers 503 until the listeners close"
    );
    lifecycle.enter(Phase::Draining);
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        signal = signals.next() => tracing::info!(signal, "second signal: closing the listeners now"),
    }
    lifecycle.enter(Phase::Stopping);
    tracing::info!("listeners closed; finishing the requests in progress");
    let signal = signals.next().await;
    tracing::warn!(
        signal,
        "third signal: exiting without waiting for requests in progress"
    );
    std::process::exit(130);
}

/// Listens for SIGTERM and Ctrl-C and walks `lifecycle` through the stop on them: the first
/// starts [`Phase::Draining`] for `delay`, then [`Phase::Stopping`]; a second skips the rest
/// of the delay; a third exits the process at once (status 130). Fails only when the signals
/// cannot be listened to.
pub fn stop_on_signals(lifecycle: Lifecycle, delay: Duration) -> std::io::Result<()> {
    let signals = Signals::new()?;
    tokio::spawn(stop_on(signals, lifecycle, delay));
    Ok(())
}
/// The whole life of a service run on its own (the directory's and the offer's binaries):
/// serves `app` in plain HTTP on `listener`, with `/livez` and `/readyz` (asking `check`),
/// until SIGTERM or Ctrl-C stops it as [`stop_on_signals`] does (`delay` of draining, then
/// the in-flight requests finish within `limits`' grace).
pub async fn serve_until_signalled(
    listener: tokio::net::TcpListener,
    app: Router,
    check: ReadinessCheck,
    delay: Duration,
    limits: crate::listener::Limits,
) -> std::io::Result<()> {
    let lifecycle = Lifecycle::new();
    stop_on_signals(lifecycle.clone(), delay)?;
    let app = app.merge(probes(lifecycle.clone(), check));
    crate::listener::serve(
        listener,
        crate::listener::Tls::Off,
        limits,
        app,
        lifecycle.stopping(),
    )
    .await;
    Ok(())
}

/// What `/readyz` asks besides the phase: `Err` says what is not ready (no secret in it).
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// A [`ReadinessCheck`] from `probe` (a cheap query of a database, say): ready when it
/// succeeds, else not ready, saying `unready` (the error itself is not shown: it may name
/// hosts or users).
pub fn readiness_check<F, Fut, T, E>(unready: &'static str, probe: F) -> ReadinessCheck
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    Arc::new(move || {
        let answer = probe();
        Box::pin(async move { answer.await.map(|_| ()).map_err(|_| unready.to_owned()) })
    })
}

/// How long a readiness check may take before the answer is "not ready".
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `/livez` and `/readyz`, answered as plain text (`ok`, or what is not ready).
pub fn probes(lifecycle: Lifecycle, check: ReadinessCheck) -> Router {
    Router::new()
        .route("/livez", get(|| async { plain(StatusCode::OK, "ok") }))
        .route(
            "/readyz",
            get(move || {
                let (lifecycle, check) = (lifecycle.clone(), check.clone());
                async move { readiness(&lifecycle, &check).await }
            }),
        )
}

async fn readiness(lifecycle: &Lifecycle, check: &ReadinessCheck) -> Response {
    match lifecycle.phase() {
        Phase::Serving => {}
        Phase::Draining | Phase::Stopping => {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
        }
    }
    match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
        Ok(Ok(())) => plain(StatusCode::OK, "ok"),
        Ok(Err(why)) => plain(StatusCode::SERVICE_UNAVAILABLE, &why),
        Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "readiness check timed out"),
    }
}

fn plain(status: StatusCode, body: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!("{body}\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    async fn get_status(app: &Router, path: &str) -> (u16, String) {
        let r = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = axum::body::to_bytes(r.into_body(), 1024).await.unwrap();
        (status, String::from_utf8_lossy(&body).trim().to_owned())
    }

    fn check(result: Result<(), &'static str>) -> ReadinessCheck {
        Arc::new(move || Box::pin(async move { result.map_err(str::to_owned) }))
    }

    #[tokio::test]
    async fn ready_while_serving_and_the_check_passes() {
        let l = Lifecycle::new();
        let app = probes(l.clone(), check(Ok(())));
        assert_eq!(get_status(&app, "/readyz").await, (200, "ok".into()));
        assert_eq!(get_status(&app, "/livez").await, (200, "ok".into()));
    }

    #[tokio::test]
    async fn a_failing_check_is_not_ready_but_alive() {
        let app = probes(Lifecycle::new(), check(Err("database unreachable")));
        assert_eq!(
            get_status(&app, "/readyz").await,
            (503, "database unreachable".into())
        );
        assert_eq!(get_status(&app, "/livez").await.0, 200);
    }

    #[tokio::test]
    async fn draining_is_not_ready_and_phases_only_move_forward() {
        let l = Lifecycle::new();
        let app = probes(l.clone(), check(Ok(())));
        let draining = l.draining();
        let stopping = l.stopping();
        l.enter(Phase::Draining);
        draining.await;
        assert_eq!(get_status(&app, "/readyz").await.0, 503);
        assert_eq!(get_status(&app, "/livez").await.0, 200);
        l.enter(Phase::Stopping);
        stopping.await;
        l.enter(Phase::Draining);
        assert_eq!(l.phase(), Phase::Stopping);
        // A waiter created after the phase was reached resolves at once.
        l.draining().await;
    }
}
