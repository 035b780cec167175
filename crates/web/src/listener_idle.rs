//! Idleness of an HTTP/2 connection, which hyper's header-read timeout (HTTP/1 only) does not
//! cover: a connection with no request in flight (handler running or response body still
//! being sent) for the limit is closed.

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

/// Requests in flight on one connection and when the last one ended.
pub(super) struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        })
    }

    fn last(&self) -> Instant {
        self.last.lock().map_or_else(|p| *p.into_inner(), |l| *l)
    }

    /// Resolves once the connection has had no request in flight for `limit`.
    pub(super) async fn idle_for(&self, limit: Duration) {
        loop {
            if self.in_flight.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(limit).await;
                continue;
            }
            let deadline = self.last() + limit;
            if Instant::now() >= deadline && self.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }

    /// Counts a request in flight until the returned guard is dropped (see [`track`]).
    pub(super) fn busy(self: &Arc<Self>) -> Busy {
        Busy::new(self)
    }
}

/// One request in flight; its end is the connection's latest activity.
pub(super) struct Busy(Arc<Activity>);

impl Busy {
    fn new(a: &Arc<Activity>) -> Self {
        a.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(a.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut l) = self.0.last.lock() {
            *l = Instant::now();
        }
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `resp`, whose body holds `busy` until sent or dropped.
pub(super) fn track(resp: axum::response::Response, busy: Busy) -> axum::response::Response {
    resp.map(|inner| Body::new(Tracked { inner, _busy: busy }))
}

/// A response body holding its request's [`Busy`] until sent or dropped.
struct Tracked {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
