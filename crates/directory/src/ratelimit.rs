//! Per-client rate limits: a token bucket per caller, in memory, the time given by the
//! caller (seconds). Pure: no clock of its own.

use std::collections::HashMap;
use std::sync::Mutex;

/// A limit: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Bucket size.
    pub burst: u32,
    /// Requests regained per second.
    pub per_second: u32,
}

/// Buckets kept at most; past this the full ones are dropped (a full bucket is the state of
/// an unknown caller anyway).
const MAX_BUCKETS: usize = 100_000;

/// The buckets of every caller.
pub struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, (f64, i64)>>,
}

impl Limiter {
    /// Limiter applying `limit` to each caller.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `caller`'s bucket at `now`; when empty, the seconds until one
    /// is available again (`Retry-After`).
    pub fn check(&self, caller: &str, now: i64) -> Result<(), u64> {
        let burst = f64::from(self.limit.burst.max(1));
        let rate = f64::from(self.limit.per_second);
        let mut m = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_BUCKETS && !m.contains_key(caller) {
            m.retain(|_, (tokens, at)| *tokens + rate * ((now - *at).max(0) as f64) < burst);
        }
        let (tokens, at) = m.entry(caller.to_owned()).or_insert((burst, now));
        let elapsed = (now - *at).max(0) as f64;
        *tokens = (*tokens + elapsed * rate).min(burst);
        *at = now.max(*at);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else if rate == 0.0 {
            Err(u64::MAX)
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_empty_per_caller_and_refill_with_time() {
        let l = Limiter::new(RateLimit {
            burst: 3,
            per_second: 1,
        });
        for _ in 0..3 {
            assert_eq!(l.check("a", 100), Ok(()));
        }
        assert_eq!(l.check("a", 100), Err(1));
        assert_eq!(
            l.check("b", 100),
            Ok(()),
            "another caller has its own bucket"
        );
        assert_eq!(l.check("a", 101), Ok(()));
        assert_eq!(l.check("a", 101), Err(1));
        assert_eq!(l.check("a", 110), Ok(()));
        let slow = Limiter::new(RateLimit {
            burst: 1,
            per_second: 0,
        });
        assert_eq!(slow.check("a", 0), Ok(()));
        assert!(slow.check("a", 1_000).is_err());
    }
}
