//! When each pending CIBA request was last polled, kept in memory, so that a poll costs one
//! read of the store and no write (`slow_down` needs the previous poll's time).
//!
//! Per process: with several instances, each enforces the interval on the polls it serves,
//! and the store's `last_polled_at` (written when this table is full) is read as well, the
//! later of the two counting. The table is bounded; when full, requests past their expiry are
//! dropped, and if it is still full the poll is recorded in the store instead.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Requests tracked at most (a few tens of MiB at the most).
const MAX_KEYS: usize = 1 << 18;

/// The poll clock of the pending CIBA requests.
#[derive(Default)]
pub(crate) struct PollClock {
    polled: Mutex<HashMap<String, Polled>>,
}

#[derive(Clone, Copy)]
struct Polled {
    at: i64,
    interval: i64,
    expires_at: i64,
}

impl PollClock {
    /// The last poll of request `id` seen here and the interval then required.
    pub(crate) fn last(&self, id: &str) -> Option<(i64, i64)> {
        let m = self.polled.lock().unwrap_or_else(PoisonError::into_inner);
        m.get(id).map(|p| (p.at, p.interval))
    }

    /// Records a poll of request `id` (expiring at `expires_at`) at `now`, with the interval
    /// required from now on; false when the table is full (the caller records it elsewhere).
    pub(crate) fn record(&self, id: &str, now: i64, interval: i64, expires_at: i64) -> bool {
        let mut m = self.polled.lock().unwrap_or_else(PoisonError::into_inner);
        if m.len() >= MAX_KEYS && !m.contains_key(id) {
            m.retain(|_, p| p.expires_at > now);
            if m.len() >= MAX_KEYS {
                return false;
            }
        }
        m.insert(
            id.to_owned(),
            Polled {
                at: now,
                interval,
                expires_at,
            },
        );
        true
    }

    /// Forgets request `id` (decided and redeemed, or refused for good).
    pub(crate) fn forget(&self, id: &str) {
        let mut m = self.polled.lock().unwrap_or_else(PoisonError::into_inner);
        m.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_poll_and_forgets_on_demand() {
        let c = PollClock::default();
        assert_eq!(c.last("a"), None);
        assert!(c.record("a", 100, 5, 200));
        assert_eq!(c.last("a"), Some((100, 5)));
        assert!(c.record("a", 103, 10, 200));
        assert_eq!(c.last("a"), Some((103, 10)));
        c.forget("a");
        assert_eq!(c.last("a"), None);
    }

    #[test]
    fn when_full_drops_expired_requests_then_refuses() {
        let c = PollClock::default();
        for i in 0..MAX_KEYS {
            assert!(c.record(&i.to_string(), 0, 5, if i == 0 { 10 } else { 1000 }));
        }
        // Full: the expired request makes room once it has expired.
        assert!(!c.record("new", 5, 5, 1000));
        assert!(c.record("new", 10, 5, 1000));
        assert_eq!(c.last("0"), None);
        assert!(!c.record("newer", 10, 5, 1000));
        // A request already tracked is always updated.
        assert!(c.record("new", 15, 5, 1000));
    }
}
