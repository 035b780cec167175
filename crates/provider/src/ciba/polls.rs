//! When each pending CIBA request was last polled, kept in memory, so that a poll costs one
//! read of the store and no write (`slow_down` needs the previous poll's time), and a poll
//! that comes too early costs no read at all (`coeur_oauth::ciba::early_poll`).
//!
//! Keyed by the hash of the `auth_req_id`, as the store is. A decided request is forgotten
//! (here, and on the other instances through the bus), so that its next poll, early or not,
//! reads the decision. Per process: with several instances, each enforces the interval on
//! the polls it serves, and the store's
//! `last_polled_at` (written when this table is full) is read as well, the later of the two
//! counting. The table is bounded; when full, requests past their expiry are dropped, and if
//! it is still full the poll is recorded in the store instead.

use coeur_oauth::ciba::{PollDecision, RecentPoll, early_poll};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Requests tracked at most (a few tens of MiB at the most).
const MAX_KEYS: usize = 1 << 18;

/// The poll clock of the pending CIBA requests.
#[derive(Default)]
pub(crate) struct PollClock {
    polled: Mutex<Table>,
}

/// The polls by secret hash, and the hash of each request id (to forget a decided request).
#[derive(Default)]
struct Table {
    by_hash: HashMap<String, Polled>,
    by_id: HashMap<String, String>,
}

impl Table {
    fn remove(&mut self, hash: &str) {
        if let Some(p) = self.by_hash.remove(hash) {
            self.by_id.remove(&p.request_id);
        }
    }
}

#[derive(Clone)]
struct Polled {
    request_id: String,
    client_id: String,
    expires_at: i64,
    at: i64,
    interval: i64,
}

/// A poll to remember.
pub(crate) struct Poll<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) expires_at: i64,
    pub(crate) at: i64,
    pub(crate) interval: i64,
}

impl PollClock {
    /// Calls `f` with what is remembered of the request whose secret hashes to `hash`.
    pub(crate) fn recent<T>(&self, hash: &str, f: impl FnOnce(Option<RecentPoll<'_>>) -> T) -> T {
        let m = self.polled.lock().unwrap_or_else(PoisonError::into_inner);
        f(m.by_hash.get(hash).map(|p| RecentPoll {
            client_id: &p.client_id,
            expires_at: p.expires_at,
            polled_at: p.at,
            interval: p.interval,
        }))
    }

    /// The answer to a poll by `client_id` at `now` that comes too early after the last one
    /// seen here (`coeur_oauth::ciba::early_poll`: `slow_down`, the raised interval
    /// remembered), or `None`: the request must be read.
    pub(crate) fn early(&self, hash: &str, client_id: &str, now: i64) -> Option<PollDecision> {
        let mut m = self.polled.lock().unwrap_or_else(PoisonError::into_inner);
        let p = m.by_hash.get_mut(hash)?;
        let recent = RecentPoll {
            client_id: &p.client_id,
            expires_at: p.expires_at,
            polled_at: p.at,
            interval: p.interval,
        };
        let decision = early_poll(&recent, client_id, now)?;
        if let PollDecision::SlowDown(interval) = decision {
            p.at = now;
            p.interval = interval;
        }
        Some(decision)
    }

    /// Remembers a poll of the request whose secret hashes to `hash`; false when the table is
    /// full (the caller records it elsewhere).
    pub(crate) fn record(&self, hash: &str, p: &Poll<'_>) -> bool {
        let mut m = self.polled.lock().unwrap_or_else(PoisonError::into_inner);
        if m.by_hash.len() >= MAX_KEYS && !m.by_hash.contains_key(hash) {
            m.by_hash.retain(|_, e| e.expires_at > p.at);
            let t = &mut *m;
            t.by_id.retain(|_, h| t.by_hash.contains_key(h));
            if m.by_hash.len() >= MAX_KEYS {
                return false;
            }
        }
        m.by_id.insert(p.request_id.to_owned(), hash.to_owned());
        m.by_hash.insert(
            hash.to_owned(),
            Polled {
                request_id: p.request_id.to_owned(),
                client_id: p.client_id.to_owned(),
                expires_at: p.expires_at,
                at: p.at,
                interval: p.interval,
            },
        );
        true
    }

    /// Forgets a request (redeemed, or refused for good).
    pub(crate) fn forget(&self, hash: &str) {
        let mut m = self.polled.lock().unwrap_or_else(PoisonError::into_inner);
        m.remove(hash);
    }

    /// Forgets request `id`, decided: its next poll reads the store, whenever it comes.
    pub(crate) fn decided(&self, id: &str) {
        let mut m = self.polled.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hash) = m.by_id.get(id).cloned() {
            m.remove(&hash);
        }
    }

    /// Forgets everything (decisions on other instances may have been missed).
    pub(crate) fn clear(&self) {
        let mut m = self.polled.lock().unwrap_or_else(PoisonError::into_inner);
        *m = Table::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(at: i64, interval: i64, expires_at: i64) -> Poll<'static> {
        Poll {
            request_id: "req",
            client_id: "lps",
            expires_at,
            at,
            interval,
        }
    }

    fn last(c: &PollClock, hash: &str) -> Option<(i64, i64)> {
        c.recent(hash, |r| r.map(|r| (r.polled_at, r.interval)))
    }

    #[test]
    fn remembers_the_last_poll_and_forgets_on_demand() {
        let c = PollClock::default();
        assert_eq!(last(&c, "a"), None);
        assert!(c.record("a", &poll(100, 5, 200)));
        assert_eq!(last(&c, "a"), Some((100, 5)));
        assert!(c.record("a", &poll(103, 10, 200)));
        assert_eq!(last(&c, "a"), Some((103, 10)));
        assert_eq!(
            c.recent("a", |r| r.map(|r| r.client_id.to_owned())),
            Some("lps".into())
        );
        c.forget("a");
        assert_eq!(last(&c, "a"), None);
        // A decided request is forgotten by its id.
        assert!(c.record("a", &poll(110, 5, 200)));
        c.decided("other");
        assert_eq!(last(&c, "a"), Some((110, 5)));
        c.decided("req");
        assert_eq!(last(&c, "a"), None);
        assert!(c.record("a", &poll(120, 5, 200)));
        // Early: slowed down, the interval raised; another client or in time: read the store.
        assert!(matches!(
            c.early("a", "lps", 122),
            Some(PollDecision::SlowDown(10))
        ));
        assert_eq!(last(&c, "a"), Some((122, 10)));
        assert!(c.early("a", "other", 123).is_none());
        assert!(c.early("a", "lps", 132).is_none());
        c.clear();
        assert_eq!(last(&c, "a"), None);
    }

    #[test]
    fn when_full_drops_expired_requests_then_refuses() {
        let c = PollClock::default();
        for i in 0..MAX_KEYS {
            assert!(c.record(&i.to_string(), &poll(0, 5, if i == 0 { 10 } else { 1000 })));
        }
        // Full: the expired request makes room once it has expired.
        assert!(!c.record("new", &poll(5, 5, 1000)));
        assert!(c.record("new", &poll(10, 5, 1000)));
        assert_eq!(last(&c, "0"), None);
        assert!(!c.record("newer", &poll(10, 5, 1000)));
        // A request already tracked is always updated.
        assert!(c.record("new", &poll(15, 5, 1000)));
    }
}
