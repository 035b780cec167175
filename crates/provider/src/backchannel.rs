//! Back-Channel Logout (OpenID Connect Back-Channel Logout 1.0): when a session ends, each
//! client that took part in it and registered a `backchannel_logout_uri` receives a Logout
//! Token, posted from a spawned task so that the user's logout never waits for a relying
//! party nor fails because of one.
//!
//! Tokens are built by `coeur_oauth::logout` and signed here, as the client's ID tokens are;
//! deliveries are bounded in number at any moment, retried on 408, 429, 5xx and transport
//! errors (`RetryPolicy`), never follow redirects, and are logged at warn level when they
//! fail, with the client and the URI, never the token.

use crate::state::{AppState, RealmRt};
use crate::store::EndedSessionRow;
use crate::token::client_signer;
use anyhow::Context;
use coeur_oauth::client::Client;
use coeur_oauth::logout::{DeliveryAnswer, EndedSession, RetryPolicy};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long a connection to a relying party may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one attempt may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Logout requests in flight at once, across all sessions; others wait for a slot.
const MAX_IN_FLIGHT: usize = 32;
/// Deliveries waiting or in flight at once (each holds its token in memory); beyond, a new one
/// is dropped and logged: a storm of logouts cannot exhaust the server's memory.
const MAX_QUEUED: usize = 10_000;

/// The sender of logout requests: an HTTP client and the bound on requests in flight.
pub struct Backchannel {
    http: reqwest::Client,
    slots: Arc<Semaphore>,
    policy: RetryPolicy,
    queued: Arc<AtomicUsize>,
    max_queued: usize,
}

/// Counts a delivery as queued for as long as it lives.
struct Queued(Arc<AtomicUsize>);

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One request to post to a client's back channel.
struct Delivery {
    client_id: String,
    uri: String,
    what: Message,
}

/// What is posted.
enum Message {
    /// A Logout Token, as a form (`logout_token=…`).
    Logout(String),
    /// A CIBA ping (CIBA Core §10.2): `{"auth_req_id": …}` as JSON, with the client's
    /// notification token as bearer.
    Ping { bearer: String, auth_req_id: String },
}

impl Message {
    fn label(&self) -> &'static str {
        match self {
            Message::Logout(_) => "back-channel logout",
            Message::Ping { .. } => "CIBA ping",
        }
    }
}

impl Backchannel {
    /// A sender with the default retry policy.
    pub fn new() -> anyhow::Result<Self> {
        Self::with_policy(RetryPolicy::default())
    }

    /// A sender retrying as `policy` says.
    pub fn with_policy(policy: RetryPolicy) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // A relying party's answer is its answer: a redirect is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("coeur/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("HTTP client for back-channel logout")?;
        Ok(Self {
            http,
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            policy,
            queued: Arc::new(AtomicUsize::new(0)),
            max_queued: MAX_QUEUED,
        })
    }

    /// Deliveries waiting or in flight.
    #[cfg(test)]
    fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Counts a new delivery, unless `max_queued` are already queued.
    fn enqueue(&self) -> Option<Queued> {
        let before = self.queued.fetch_add(1, Ordering::Relaxed);
        let guard = Queued(self.queued.clone());
        (before < self.max_queued).then_some(guard)
    }

    /// Tells `client_id`, at its notification endpoint `uri`, that the CIBA request
    /// `auth_req_id` was decided, presenting its notification token `bearer`; from a spawned
    /// task, retried as logout requests are.
    pub(crate) fn ping(&self, client_id: &str, uri: &str, bearer: String, auth_req_id: String) {
        self.spawn(Delivery {
            client_id: client_id.to_owned(),
            uri: uri.to_owned(),
            what: Message::Ping {
                bearer,
                auth_req_id,
            },
        });
    }

    /// Posts `d` in a task of its own, retrying as the policy says; the outcome is logged.
    /// Dropped (and logged) when too many deliveries are already queued.
    fn spawn(&self, d: Delivery) {
        let Some(queued) = self.enqueue() else {
            tracing::warn!(client = %d.client_id, uri = %d.uri, queued = self.max_queued, "{} dropped: too many deliveries queued", d.what.label());
            return;
        };
        let (http, slots, policy) = (self.http.clone(), self.slots.clone(), self.policy);
        tokio::spawn(async move {
            let _queued = queued;
            let mut attempt = 1;
            loop {
                // A slot is held for the request only, not for the wait between attempts.
                let outcome = match slots.acquire().await {
                    Ok(_slot) => post(&http, &d).await,
                    Err(_) => return,
                };
                let failure = match outcome {
                    Ok(status) => match DeliveryAnswer::of(status) {
                        DeliveryAnswer::Delivered => {
                            tracing::debug!(client = %d.client_id, uri = %d.uri, attempt, "{} delivered", d.what.label());
                            return;
                        }
                        DeliveryAnswer::Refused => {
                            tracing::warn!(client = %d.client_id, uri = %d.uri, status, "{} refused by the relying party", d.what.label());
                            return;
                        }
                        DeliveryAnswer::TryAgain => format!("status {status}"),
                    },
                    Err(e) => e,
                };
                let Some(ms) = policy.delay_after(attempt) else {
                    tracing::warn!(client = %d.client_id, uri = %d.uri, attempts = attempt, error = %failure, "{} failed", d.what.label());
                    return;
                };
                tracing::debug!(client = %d.client_id, uri = %d.uri, attempt, error = %failure, "{} attempt failed; trying again", d.what.label());
                tokio::time::sleep(Duration::from_millis(ms)).await;
                attempt += 1;
            }
        });
    }
}

/// Posts `d` (a Logout Token as a form, a ping as JSON with its bearer): the status, or why
/// there was none.
async fn post(http: &reqwest::Client, d: &Delivery) -> Result<u16, String> {
    let req = http.post(&d.uri);
    let req = match &d.what {
        Message::Logout(token) => req.form(&[("logout_token", token.as_str())]),
        Message::Ping {
            bearer,
            auth_req_id,
        } => req
            .bearer_auth(bearer)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::json!({ "auth_req_id": auth_req_id }).to_string()),
    };
    req.send()
        .await
        .map(|r| r.status().as_u16())
        // Without the URL (logged beside it) nor anything of the body.
        .map_err(|e| format!("{:#}", anyhow::Error::from(e.without_url())))
}

/// Tells the clients of `ended` (a session of realm `rt`) that it ended: signs a Logout Token
/// for each one with a `backchannel_logout_uri` and hands it to a spawned task. Never fails
/// nor waits for a relying party: a client that cannot be told is logged and skipped.
pub(crate) async fn session_ended(st: &AppState, rt: &RealmRt, ended: &EndedSessionRow) {
    let session = EndedSession {
        issuer: rt.realm.issuer.clone(),
        sub: rt.realm.subject_of(&ended.national_id),
        sid: ended.sid.clone(),
    };
    let now = st.now();
    for client_id in &ended.clients {
        let client = match st.client(rt, client_id).await {
            Ok(Some(c)) => c,
            // Removed since: nobody to tell.
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(realm = %rt.realm.name, client = %client_id, error = %format!("{e:#}"), "back-channel logout: client not read");
                continue;
            }
        };
        let Some(uri) = client.spec.backchannel_logout_uri.clone() else {
            continue;
        };
        match logout_token(st, rt, &client, &session, now) {
            Ok(token) => st.backchannel.spawn(Delivery {
                client_id: client_id.clone(),
                uri,
                what: Message::Logout(token),
            }),
            Err(e) => {
                tracing::warn!(realm = %rt.realm.name, client = %client_id, uri = %uri, error = %format!("{e:#}"), "back-channel logout: token not signed");
            }
        }
    }
}

/// The Logout Token telling `client` that `session` ended, signed as its ID tokens are.
fn logout_token(
    st: &AppState,
    rt: &RealmRt,
    client: &Client,
    session: &EndedSession,
    now: i64,
) -> anyhow::Result<String> {
    let ring = rt.ring();
    let signer = client_signer(rt, &ring, client, client.id_token_alg())?;
    Ok(session.logout_token(client.id(), signer, now, &*st.rng)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_beyond_the_queue_bound_are_dropped() {
        let mut b = Backchannel::new().unwrap();
        b.max_queued = 2;
        let first = b.enqueue().expect("room");
        let second = b.enqueue().expect("room");
        assert!(b.enqueue().is_none(), "full");
        assert_eq!(b.queued(), 2, "a refused one is not counted");
        drop(first);
        assert_eq!(b.queued(), 1);
        let third = b.enqueue().expect("room again");
        drop((second, third));
        assert_eq!(b.queued(), 0);
    }
}
