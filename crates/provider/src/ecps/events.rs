//! Live e-CPS events as server-sent events (`text/event-stream`): the requests awaiting a
//! device's professional (`GET …/ecps/requests/events`, for the web app) and where one wallet
//! login's request stands (`GET …/auth/ecps/events?request=…`, for the waiting page).
//!
//! Cheap per idle connection: nothing polls the database. One [`Hub`] per process keeps one
//! broadcast channel per topic (a realm and national id, or a realm and request id), created
//! on first subscription and dropped once nobody listens; a change (a request created,
//! decided, a device revoked) wakes the topic's streams, which then read the store once each.
//! An idle stream holds a broadcast receiver and the keep-alive timer that writes a comment
//! line every [`HEARTBEAT`], so that proxies keep the connection and clients notice a dead one.
//!
//! Authentication of the device feed: the device credential as a bearer token, as for the rest
//! of the device API. `EventSource` cannot send an `Authorization` header, so the web app reads
//! the stream with `fetch` and a streaming body reader (every browser that has WebCrypto and
//! service workers has it); a credential in the URL (or a ticket minted for it) would end up in
//! access logs and history, and a ticket is one more secret with a lifetime to manage. The
//! waiting page's stream is authenticated like the page itself, by the browser's login cookie,
//! so it uses a plain `EventSource`.

use super::ApiError;
use super::api;
use crate::St;
use crate::error::{ProviderError, realm_or_404};
use crate::login::ecps::{browser_request, wait_state};
use crate::state::AppState;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use coeur_oauth::ecps::Channel;
use futures_util::StreamExt as _;
use futures_util::stream::{self, Stream};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::broadcast;

/// How often an idle stream writes a comment line.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(15);

/// The process's topics: one broadcast channel each, while someone listens.
#[derive(Default)]
pub(crate) struct Hub {
    topics: Mutex<Topics>,
}

#[derive(Default)]
struct Topics {
    map: HashMap<String, broadcast::Sender<()>>,
    /// The map's size after the last sweep of unheard topics (sweeps are amortised).
    swept_at: usize,
}

impl Hub {
    /// A receiver woken at each change of `topic`.
    pub(crate) fn subscribe(&self, topic: String) -> broadcast::Receiver<()> {
        let mut t = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        if t.map.len() > 2 * t.swept_at.max(64) {
            t.map.retain(|_, s| s.receiver_count() > 0);
            t.swept_at = t.map.len();
        }
        // Capacity 1: a listener that missed changes sees one `Lagged`, which means "changed".
        t.map
            .entry(topic)
            .or_insert_with(|| broadcast::channel(1).0)
            .subscribe()
    }

    /// Wakes the listeners of `topic`, if any.
    pub(crate) fn notify(&self, topic: &str) {
        let mut t = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = t.map.get(topic)
            && s.send(()).is_err()
        {
            t.map.remove(topic);
        }
    }

    /// Wakes every listener (messages from other instances may have been missed).
    pub(crate) fn notify_all(&self) {
        let t = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        for s in t.map.values() {
            let _ = s.send(());
        }
    }

    /// Topics held (tests, measurements).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }
}

/// The topic of the requests awaiting `national_id` in `realm`.
pub(crate) fn professional_topic(realm: &str, national_id: &str) -> String {
    format!("nid\n{realm}\n{national_id}")
}

/// The topic of one request.
pub(crate) fn request_topic(realm: &str, id: &str) -> String {
    format!("req\n{realm}\n{id}")
}

/// Wakes `topic`'s listeners here and, through the bus, on the other instances sharing the
/// database.
fn topic_changed(st: &AppState, topic: String) {
    st.ecps_events.notify(&topic);
    if st.bus.shared() {
        let bus = st.bus.clone();
        tokio::spawn(async move { bus.publish(&coeur_storage::Event::Ecps { topic }).await });
    }
}

/// Tells the instances sharing the database that `national_id`'s devices changed, from
/// outside a server (the operators' `coeur device`): their feeds read the store again, and a
/// revoked device's feed ends. Nothing on SQLite, where no other process listens.
pub async fn devices_changed_elsewhere(bus: &coeur_storage::Bus, realm: &str, national_id: &str) {
    let topic = professional_topic(realm, national_id);
    bus.publish(&coeur_storage::Event::Ecps { topic }).await;
}

/// A request awaiting `national_id` was created or decided, or one of their devices changed:
/// their devices' feeds read the store again.
pub(crate) fn requests_changed(st: &AppState, realm: &str, national_id: &str) {
    topic_changed(st, professional_topic(realm, national_id));
}

/// Request `id` was decided: its waiting page's stream reads it again.
pub(crate) fn request_decided(st: &AppState, realm: &str, id: &str, national_id: &str) {
    topic_changed(st, request_topic(realm, id));
    requests_changed(st, realm, national_id);
}

/// The stream as server-sent events, ended when the server starts draining (the client
/// reconnects, through the load balancer, to an instance that stays).
fn event_stream<S>(st: &AppState, s: S) -> Response
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    let s = s.take_until(st.lifecycle.draining());
    let mut res = Sse::new(s)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT))
        .into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Reverse proxies (nginx) must not buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

/// Waits for the next change of a topic; `false` once the hub is gone (never while serving).
async fn changed(rx: &mut broadcast::Receiver<()>) -> bool {
    match rx.recv().await {
        Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => true,
        Err(broadcast::error::RecvError::Closed) => false,
    }
}

/// The device feed's state between events.
struct Feed {
    st: Arc<AppState>,
    realm: String,
    device_id: String,
    national_id: String,
    rx: broadcast::Receiver<()>,
    first: bool,
    done: bool,
}

/// What the feed sends now: the requests pending (`requests`), or `revoked` when the device
/// is no longer active (the stream then ends).
async fn feed_event(f: &Feed) -> Result<(Event, bool), anyhow::Error> {
    let now = f.st.now();
    let active =
        f.st.store
            .device(&f.realm, &f.device_id)
            .await?
            .is_some_and(|d| d.active(now));
    if !active {
        return Ok((Event::default().event("revoked").data("{}"), true));
    }
    let rows =
        f.st.store
            .pending_approvals(&f.realm, &f.national_id, Channel::Mobile, now)
            .await?;
    let list: Vec<Value> = rows.iter().map(api::request_json).collect();
    let body = json!({ "now": now, "requests": list }).to_string();
    Ok((Event::default().event("requests").data(body), false))
}

/// `GET …/ecps/requests/events` (bearer device credential): an event `requests` with
/// `{now, requests}` (each request as `GET …/ecps/requests` lists it) at once and after every
/// change; `revoked` (and the end of the stream) once the device is revoked or expired;
/// a comment line every [`HEARTBEAT`] otherwise.
pub(crate) async fn request_events(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rt = api::realm_of(&st, &realm)?;
    let me = api::caller(&st, &rt, &headers).await?;
    let rx = st
        .ecps_events
        .subscribe(professional_topic(&rt.realm.name, &me.national_id));
    let feed = Feed {
        st: st.0.clone(),
        realm: rt.realm.name.clone(),
        device_id: me.device_id,
        national_id: me.national_id,
        rx,
        first: true,
        done: false,
    };
    let s = stream::unfold(feed, |mut f| async move {
        if f.done {
            return None;
        }
        if !f.first && !changed(&mut f.rx).await {
            return None;
        }
        f.first = false;
        match feed_event(&f).await {
            Ok((ev, last)) => {
                f.done = last;
                Some((Ok(ev), f))
            }
            Err(e) => {
                tracing::error!(error = %e, "e-CPS feed");
                None
            }
        }
    });
    Ok(event_stream(&st.0, s))
}

/// The waiting page stream's state between events.
struct Wait {
    st: Arc<AppState>,
    realm: String,
    id: String,
    rx: broadcast::Receiver<()>,
    first: bool,
    done: bool,
}

/// `GET …/protocol/openid-connect/auth/ecps/events?request=…` (the browser that started the
/// login, by its login cookie): an event `state` with `waiting`, then `approved`, `denied` or
/// `expired` when the request is decided or expires, and the end of the stream. On
/// `approved`, the page goes to the waiting page's URL, which completes the login.
pub(crate) async fn wait_events(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let (row, _) = browser_request(&st, &rt, &headers, q.as_deref(), st.now()).await?;
    let rx = st
        .ecps_events
        .subscribe(request_topic(&rt.realm.name, &row.id));
    let wait = Wait {
        st: st.0.clone(),
        realm: rt.realm.name.clone(),
        id: row.id,
        rx,
        first: true,
        done: false,
    };
    let s = stream::unfold(wait, |mut w| async move {
        if w.done {
            return None;
        }
        loop {
            let row = match w.st.store.approval(&w.realm, &w.id).await {
                Ok(Some(r)) => r,
                Ok(None) => return None,
                Err(e) => {
                    tracing::error!(error = %e, "e-CPS waiting stream");
                    return None;
                }
            };
            let now = w.st.now();
            let state = wait_state(&row, now);
            if state != "waiting" || w.first {
                w.first = false;
                w.done = state != "waiting";
                return Some((Ok(Event::default().event("state").data(state)), w));
            }
            // Woken by a decision, or at the request's expiry.
            let left = u64::try_from(row.expires_at - now).unwrap_or(0);
            tokio::select! {
                open = changed(&mut w.rx) => if !open { return None },
                () = tokio::time::sleep(Duration::from_secs(left)) => {}
            }
        }
    });
    Ok(event_stream(&st.0, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_change_wakes_its_topic_only_and_unheard_topics_go() {
        let hub = Hub::default();
        let mut a = hub.subscribe(professional_topic("edit", "1"));
        let mut b = hub.subscribe(professional_topic("edit", "2"));
        hub.notify(&professional_topic("edit", "1"));
        hub.notify(&professional_topic("edit", "1"));
        assert!(changed(&mut a).await, "woken (lagged counts as changed)");
        assert!(b.try_recv().is_err(), "another topic stays quiet");
        drop(a);
        hub.notify(&professional_topic("edit", "1"));
        assert_eq!(hub.len(), 1, "a topic nobody hears is dropped");
        for i in 0..200 {
            drop(hub.subscribe(request_topic("edit", &i.to_string())));
        }
        assert!(hub.len() < 200, "sweeps drop unheard topics: {}", hub.len());
    }
}
